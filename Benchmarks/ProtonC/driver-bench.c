/*
 * driver-bench.c - baseline for the Swift AMQP engine benchmarks, measuring
 * Qpid Proton C's connection engine (pn_connection_driver_t) with no sockets:
 * two drivers in one thread, bytes copied between them in memory.
 *
 * Build:  gcc -std=c11 -O2 -Wall -Wextra -o driver-bench driver-bench.c -lqpid-proton
 *         (only core-library symbols are used, but Debian's libqpid-proton11-dev
 *         ships no libqpid-proton-core.so link, so -lqpid-proton-core fails there)
 * Usage:  driver-bench [MESSAGES] [REPEATS] [IDLE_CONNECTIONS]   (default 1000000 5 1000)
 *         driver-bench --info   (encoded message, frame sizes and windows that
 *                                Proton negotiated, for checking the Swift side
 *                                does the same work; not machine-readable)
 *
 * Output (stdout, one "<case> <value>" pair per line, like codec-bench, always
 * in this order; values are integers):
 *   idle-connection-bytes <bytes>          heap per connection, one side
 *   idle-pair-bytes <bytes>                heap per client+server pair
 *   throughput <messages per second>       one line per repeat, REPEATS lines
 *   message-throughput <messages per second>   the message case (3.), REPEATS lines
 *   allocations-per-message <case> <side> <n>  heap allocations per message (4.)
 * A script takes the median of the throughput lines, e.g.
 *   grep '^throughput ' | awk '{print $2}' | sort -n | ...
 * Errors go to stderr and exit status 1; nothing else is printed.
 *
 * 1. Throughput. A client driver and a server driver (pn_transport_set_server
 *    on the server's transport before the driver binds it), no SASL, no TLS.
 *    The client opens its connection (container "client"), a session and a
 *    sender link "sender" with target address "q". The server opens its
 *    connection (container "server"), session and a receiver link with the
 *    peer's source/target copied, and grants 1000 credit. Untimed: pumping
 *    until the sender holds that credit. Timed: the sender sends MESSAGES
 *    messages at-least-once (unsettled, default settle modes). The message is
 *    a 100-byte string body ('x' * 100, so an amqp-value section) and nothing
 *    else set, encoded once with pn_message_encode; every send reuses those
 *    bytes. Proton 0.37 always writes an empty header and an empty properties
 *    section too, so the payload is 113 bytes:
 *      00 53 70 45 | 00 53 73 45 | 00 53 77 a1 64 'x'*100
 *    (--info prints it). Each send:
 *    pn_delivery with an 8-byte tag (a uint64 counter in host byte order),
 *    pn_link_send, pn_link_advance, for as long as the sender has credit
 *    (at the start and on each PN_LINK_FLOW). The receiver, on PN_DELIVERY for
 *    a complete (!pn_delivery_partial) delivery, copies the bytes out with
 *    pn_link_recv until PN_EOS, checks the length, advances, sets PN_ACCEPTED,
 *    settles, and tops its credit back up to 1000 with pn_link_flow (so every
 *    delivery tops up; Proton sends one flow frame per output batch, not per
 *    call). The sender, on PN_DELIVERY with pn_delivery_updated, requires the
 *    remote state to be PN_ACCEPTED, counts it and settles its side. The
 *    clock (CLOCK_MONOTONIC) stops when the sender has seen all MESSAGES
 *    accepted. Untimed afterwards: every count is checked (sent, received,
 *    accepted, nothing left unsettled or queued), and the connection is closed
 *    from the client and pumped until both drivers are finished, with no
 *    transport or remote error conditions anywhere. One untimed warm-up run of
 *    MESSAGES/10 messages comes first.
 *
 *    The pump, one round: drain client events (pn_connection_driver_next_event
 *    until NULL, handling each), copy client write buffer into server read
 *    buffer (min of the two sizes per chunk, then _write_done/_read_done, until
 *    either is empty), drain server events, copy server -> client. Rounds
 *    repeat until the goal is reached; a round that moves no byte and handles
 *    no event before the goal is a stall, and fails the run. When a side's
 *    write side is closed and its bytes are all delivered, the peer's read side
 *    is closed (EOF).
 *
 *    Frame sizes and windows: pn_transport_set_max_frame is left alone. In
 *    Proton 0.37 the default local max frame is 0 = no limit: the open frame
 *    leaves max-frame-size out, so the peer sees the AMQP default 4294967295
 *    (pn_transport_get_remote_max_frame). Each 113-byte message is one
 *    transfer frame anyway. Session incoming capacity is also left at its
 *    default, 0, with which Proton does no session-level flow control; the
 *    outgoing window is 2147483647. Channel-max is 32767 both
 *    ways. --info prints all of these.
 *    Frames per run of N messages with this pump, measured: client -> server
 *    N + 3 (open, begin, attach, one transfer per message; the sender's settle
 *    sends no disposition, since the receiver had already settled). Server -> client
 *    about 2 per 1000 messages, plus 4 for set-up: Proton merges consecutive
 *    settled dispositions into one range frame, and folds all pn_link_flow
 *    calls between two writes into one flow frame.
 *
 * 3. The message case: the same run, except that each side does what a
 *    quiver arrow does per message (as Benchmarks/ProtonC/proton-c-arrow.c):
 *    the sender keeps one pn_message_t whose body is the 100-byte string and,
 *    per message, clears its application properties, puts the map
 *    {"SendTime": long} (the count of messages sent so far, so the receiver
 *    can check it) and sends with pn_delivery + pn_message_send; the
 *    receiver copies the bytes out as in 1., clears its own pn_message_t,
 *    pn_message_decode's them, finds SendTime in the properties map and
 *    checks it and the body's length.
 *
 * 4. Allocations per message: one extra run of 1. and one of 3. with
 *    every malloc, calloc, realloc and aligned allocation of the part that is
 *    timed counted
 *    (Benchmarks/CMallocStats/counting.c, linked in, interposes them), charged
 *    to the side the pump is working for: the client's event handling, its
 *    output and its input are the sender's; the server's, the receiver's.
 *
 * 2. Idle connection memory. IDLE_CONNECTIONS pairs set up exactly as above
 *    (connection, session and link open on both sides, 1000 credit granted and
 *    seen by the sender), each pumped until nothing more moves, and left open.
 *    Heap growth is mallinfo2() uordblks + hblkhd (bytes in use from the heap
 *    plus mmapped chunks; glibc only) after minus before. One pair is created
 *    and destroyed first so one-time allocations are not counted, and the
 *    array holding the K driver structs is allocated before the "before"
 *    snapshot, so only Proton's allocations (connection, session, link,
 *    transport with its I/O buffers, collector, terminus/condition data,
 *    malloc chunk overhead) are counted. For scale (measured separately, glibc
 *    2.36 x86-64): a bare driver (connection, transport, collector, nothing
 *    opened yet) already takes about 22.8 KB, and its read buffer capacity is
 *    8 KiB; a side with everything open takes about 31.5 KB.
 *    idle-pair-bytes is growth / K; idle-connection-bytes is growth / (2K),
 *    an approximation of one side (a
 *    driver with its connection, one session, one link), since the client
 *    (sender) and server (receiver) sides are near-symmetric but not measured
 *    separately.
 */

#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/error.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include "CMallocStats.h"

#define BODY_LEN 100
#define CREDIT_WINDOW 1000
#define TARGET_ADDRESS "q"
#define MSG_BUF_CAP 4096 /* encode and receive buffer; the message is 113 bytes */
#define SENDER 0
#define RECEIVER 1

static void die(const char *what)
{
    fprintf(stderr, "driver-bench: %s\n", what);
    exit(1);
}

static void die_condition(const char *where, pn_condition_t *cond)
{
    const char *name = pn_condition_get_name(cond);
    const char *desc = pn_condition_get_description(cond);
    fprintf(stderr, "driver-bench: %s: %s: %s\n", where,
            name ? name : "(no name)", desc ? desc : "(no description)");
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime(CLOCK_MONOTONIC) failed");
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static unsigned long parse_count(const char *arg, const char *what)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || n == 0 || arg[0] == '-') {
        fprintf(stderr, "driver-bench: invalid %s '%s'\n", what, arg);
        exit(1);
    }
    return n;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* ---- the message ------------------------------------------------------- */

static char encoded[MSG_BUF_CAP];
static size_t encoded_len;

/* The message case (3.): one message object per side, reused as the arrow does. */
static bool message_mode;
static pn_message_t *send_msg, *recv_msg;
static pn_rwbytes_t send_buf;

static void make_message_objects(void)
{
    send_msg = pn_message();
    recv_msg = pn_message();
    if (!send_msg || !recv_msg)
        die("pn_message() returned NULL");
    char body[BODY_LEN];
    memset(body, 'x', sizeof body);
    if (pn_data_put_string(pn_message_body(send_msg), pn_bytes(sizeof body, body)) != 0)
        die("put body failed");
}

static void send_message(pn_link_t *snd, int64_t send_time)
{
    pn_data_t *props = pn_message_properties(send_msg);
    pn_data_clear(props);
    pn_data_put_map(props);
    pn_data_enter(props);
    pn_data_put_string(props, pn_bytes(8, "SendTime"));
    pn_data_put_long(props, send_time);
    pn_data_exit(props);
    if (pn_message_send(send_msg, snd, &send_buf) < 0)
        die("pn_message_send failed");
}

/* Decodes a received message; checks SendTime and the body's length. */
static void check_message(const char *bytes, size_t size, int64_t expected_send_time)
{
    pn_message_clear(recv_msg);
    if (pn_message_decode(recv_msg, bytes, size) != 0)
        die("pn_message_decode failed");
    int64_t send_time = -1;
    pn_data_t *props = pn_message_properties(recv_msg);
    pn_data_rewind(props);
    if (pn_data_next(props) && pn_data_type(props) == PN_MAP) {
        pn_data_enter(props);
        while (pn_data_next(props)) {
            pn_bytes_t k = pn_data_get_string(props);
            pn_data_next(props);
            if (k.size == 8 && memcmp(k.start, "SendTime", 8) == 0)
                send_time = pn_data_get_long(props);
        }
        pn_data_exit(props);
    }
    if (send_time != expected_send_time)
        die("received message has the wrong SendTime");
    pn_data_t *body = pn_message_body(recv_msg);
    pn_data_rewind(body);
    if (!pn_data_next(body) || pn_data_type(body) != PN_STRING ||
        pn_data_get_string(body).size != BODY_LEN)
        die("received message has the wrong body");
}

static void encode_message(void)
{
    pn_message_t *msg = pn_message();
    if (!msg)
        die("pn_message() returned NULL");
    char body[BODY_LEN];
    memset(body, 'x', sizeof body);
    /* Not inferred (the default), so the string becomes an amqp-value
     * section: 00 53 77 a1 64 'x'*100. Proton adds empty header and
     * properties sections in front: 113 bytes in all. */
    if (pn_data_put_string(pn_message_body(msg), pn_bytes(sizeof body, body)) != 0)
        die("put body failed");
    encoded_len = sizeof encoded;
    int rc = pn_message_encode(msg, encoded, &encoded_len);
    if (rc != 0) {
        fprintf(stderr, "driver-bench: pn_message_encode failed: %s (%d)\n", pn_code(rc), rc);
        exit(1);
    }
    pn_message_free(msg);
}

/* ---- one client/server pair --------------------------------------------- */

typedef struct pair {
    pn_connection_driver_t client, server;
    pn_link_t *sender;   /* client side */
    pn_link_t *receiver; /* server side, once the peer's attach arrived */
    unsigned long target;   /* messages to send */
    unsigned long sent, received, accepted;
    bool sending;           /* false during set-up, so set-up is untimed */
    bool server_closed;
} pair_t;

static void pair_init(pair_t *p)
{
    memset(p, 0, sizeof *p);

    if (pn_connection_driver_init(&p->client, NULL, NULL) != 0)
        die("pn_connection_driver_init (client) failed");
    pn_transport_t *st = pn_transport();
    if (!st)
        die("pn_transport() returned NULL");
    pn_transport_set_server(st); /* before the driver binds it */
    if (pn_connection_driver_init(&p->server, NULL, st) != 0)
        die("pn_connection_driver_init (server) failed");

    pn_connection_set_container(p->client.connection, "client");
    pn_connection_set_container(p->server.connection, "server");

    pn_connection_t *c = p->client.connection;
    pn_connection_open(c);
    pn_session_t *ssn = pn_session(c);
    if (!ssn)
        die("pn_session() returned NULL");
    pn_session_open(ssn);
    p->sender = pn_sender(ssn, "sender");
    if (!p->sender)
        die("pn_sender() returned NULL");
    pn_terminus_set_address(pn_link_target(p->sender), TARGET_ADDRESS);
    pn_link_open(p->sender);
}

static void pair_destroy(pair_t *p)
{
    pn_connection_driver_destroy(&p->client);
    pn_connection_driver_destroy(&p->server);
}

/* ---- event handling ----------------------------------------------------- */

static void send_available(pair_t *p)
{
    pn_link_t *snd = p->sender;
    while (p->sent < p->target && pn_link_credit(snd) > 0) {
        uint64_t tag = p->sent;
        pn_delivery(snd, pn_dtag((const char *)&tag, sizeof tag));
        if (message_mode) {
            send_message(snd, (int64_t)p->sent);
        } else {
            ssize_t n = pn_link_send(snd, encoded, encoded_len);
            if (n != (ssize_t)encoded_len)
                die("pn_link_send did not take the whole message");
            if (!pn_link_advance(snd))
                die("pn_link_advance (sender) did not advance");
        }
        p->sent++;
    }
}

static void check_remote_condition(const char *where, pn_condition_t *cond)
{
    if (pn_condition_is_set(cond))
        die_condition(where, cond);
}

static void handle_common(pn_event_t *e, const char *side)
{
    char where[64];
    switch (pn_event_type(e)) {
    case PN_TRANSPORT_ERROR:
        snprintf(where, sizeof where, "%s transport error", side);
        die_condition(where, pn_transport_condition(pn_event_transport(e)));
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        snprintf(where, sizeof where, "%s: peer closed connection with error", side);
        check_remote_condition(where, pn_connection_remote_condition(pn_event_connection(e)));
        break;
    case PN_SESSION_REMOTE_CLOSE:
        snprintf(where, sizeof where, "%s: peer ended session", side);
        die_condition(where, pn_session_remote_condition(pn_event_session(e)));
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        snprintf(where, sizeof where, "%s: peer detached link", side);
        die_condition(where, pn_link_remote_condition(pn_event_link(e)));
        break;
    default:
        break;
    }
}

static void handle_client(pair_t *p, pn_event_t *e)
{
    handle_common(e, "client");
    switch (pn_event_type(e)) {
    case PN_LINK_FLOW:
        if (p->sending && pn_event_link(e) == p->sender)
            send_available(p);
        break;
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(e);
        if (!pn_delivery_updated(d))
            break;
        if (pn_delivery_remote_state(d) != PN_ACCEPTED) {
            fprintf(stderr, "driver-bench: delivery not accepted: remote state 0x%" PRIx64 "\n",
                    pn_delivery_remote_state(d));
            exit(1);
        }
        p->accepted++;
        pn_delivery_settle(d);
        break;
    }
    default:
        break;
    }
}

static void handle_server(pair_t *p, pn_event_t *e)
{
    static char buf[MSG_BUF_CAP];

    handle_common(e, "server");
    switch (pn_event_type(e)) {
    case PN_CONNECTION_REMOTE_OPEN: {
        pn_connection_t *c = pn_event_connection(e);
        if (pn_connection_state(c) & PN_LOCAL_UNINIT)
            pn_connection_open(c);
        break;
    }
    case PN_CONNECTION_REMOTE_CLOSE: {
        pn_connection_t *c = pn_event_connection(e);
        if (!(pn_connection_state(c) & PN_LOCAL_CLOSED))
            pn_connection_close(c);
        p->server_closed = true;
        break;
    }
    case PN_SESSION_REMOTE_OPEN: {
        pn_session_t *s = pn_event_session(e);
        if (pn_session_state(s) & PN_LOCAL_UNINIT)
            pn_session_open(s);
        break;
    }
    case PN_LINK_REMOTE_OPEN: {
        pn_link_t *l = pn_event_link(e);
        if (!(pn_link_state(l) & PN_LOCAL_UNINIT))
            break;
        if (!pn_link_is_receiver(l))
            die("server: peer attached something other than a sender");
        pn_terminus_copy(pn_link_source(l), pn_link_remote_source(l));
        pn_terminus_copy(pn_link_target(l), pn_link_remote_target(l));
        pn_link_open(l);
        pn_link_flow(l, CREDIT_WINDOW);
        p->receiver = l;
        break;
    }
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(e);
        pn_link_t *l = pn_delivery_link(d);
        if (!pn_delivery_readable(d) || pn_delivery_partial(d))
            break; /* partial: wait for the rest (never happens at 113 bytes) */
        if (pn_link_current(l) != d)
            die("server: complete delivery is not the link's current one");
        size_t total = 0;
        ssize_t n;
        while ((n = pn_link_recv(l, buf + total, sizeof buf - total)) > 0)
            total += (size_t)n;
        if (n != PN_EOS) {
            fprintf(stderr, "driver-bench: pn_link_recv failed: %s (%zd)\n", pn_code((int)n), n);
            exit(1);
        }
        if (message_mode)
            check_message(buf, total, (int64_t)p->received);
        else if (total != encoded_len)
            die("server: received message has the wrong length");
        pn_link_advance(l);
        pn_delivery_update(d, PN_ACCEPTED);
        pn_delivery_settle(d);
        p->received++;
        int credit = pn_link_credit(l);
        if (credit < CREDIT_WINDOW)
            pn_link_flow(l, CREDIT_WINDOW - credit);
        break;
    }
    default:
        break;
    }
}

/* ---- the pump ----------------------------------------------------------- */

/* Handle every event the driver has now. True if there was at least one. */
static bool dispatch_client(pair_t *p)
{
    bool any = false;
    pn_event_t *e;
    while ((e = pn_connection_driver_next_event(&p->client)) != NULL) {
        any = true;
        handle_client(p, e);
    }
    return any;
}

static bool dispatch_server(pair_t *p)
{
    bool any = false;
    pn_event_t *e;
    while ((e = pn_connection_driver_next_event(&p->server)) != NULL) {
        any = true;
        handle_server(p, e);
    }
    return any;
}

/* Copy `from`'s pending output into `to`'s input, chunk by chunk, each chunk
 * as large as both buffers allow. True if anything moved or closed. */
static bool transfer(pn_connection_driver_t *from, int from_side, pn_connection_driver_t *to, int to_side)
{
    bool moved = false;
    for (;;) {
        cmallocstats_side(from_side);
        pn_bytes_t wb = pn_connection_driver_write_buffer(from);
        if (wb.size == 0)
            break;
        cmallocstats_side(to_side);
        pn_rwbytes_t rb = pn_connection_driver_read_buffer(to);
        if (rb.size == 0)
            break;
        size_t n = wb.size < rb.size ? wb.size : rb.size;
        memcpy(rb.start, wb.start, n);
        cmallocstats_side(from_side);
        pn_connection_driver_write_done(from, n);
        cmallocstats_side(to_side);
        pn_connection_driver_read_done(to, n);
        moved = true;
    }
    cmallocstats_side(from_side);
    if (pn_connection_driver_write_closed(from) &&
        pn_connection_driver_write_buffer(from).size == 0 &&
        !pn_connection_driver_read_closed(to)) {
        cmallocstats_side(to_side);
        pn_connection_driver_read_close(to);
        moved = true;
    }
    return moved;
}

static bool pump_round(pair_t *p)
{
    cmallocstats_side(SENDER);
    bool progress = dispatch_client(p);
    progress |= transfer(&p->client, SENDER, &p->server, RECEIVER);
    cmallocstats_side(RECEIVER);
    progress |= dispatch_server(p);
    progress |= transfer(&p->server, RECEIVER, &p->client, SENDER);
    return progress;
}

/* Pump until nothing moves. */
static void pump_quiet(pair_t *p)
{
    while (pump_round(p))
        ;
}

static void check_conditions(pair_t *p)
{
    if (pn_condition_is_set(pn_transport_condition(p->client.transport)))
        die_condition("client transport", pn_transport_condition(p->client.transport));
    if (pn_condition_is_set(pn_transport_condition(p->server.transport)))
        die_condition("server transport", pn_transport_condition(p->server.transport));
    check_remote_condition("client: peer's connection condition",
                           pn_connection_remote_condition(p->client.connection));
    check_remote_condition("server: peer's connection condition",
                           pn_connection_remote_condition(p->server.connection));
}

/* Set up a pair and pump until the sender holds the full credit window. */
static void pair_open(pair_t *p)
{
    pair_init(p);
    pump_quiet(p);
    check_conditions(p);
    if (!p->receiver)
        die("server never saw the link attach");
    pn_state_t want = PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE;
    if (pn_connection_state(p->client.connection) != want ||
        pn_connection_state(p->server.connection) != want ||
        pn_link_state(p->sender) != want || pn_link_state(p->receiver) != want)
        die("connection or link did not open on both sides");
    if (pn_link_credit(p->sender) != CREDIT_WINDOW)
        die("sender does not hold the full credit window after set-up");
}

/* ---- throughput ----------------------------------------------------------- */

/* Whether run_throughput counts the allocations of its timed part. */
static bool counting_allocations;

static double run_throughput(unsigned long messages)
{
    pair_t p;
    pair_open(&p);
    p.target = messages;

    uint64_t start = now_ns();
    cmallocstats_count(counting_allocations);
    p.sending = true;
    cmallocstats_side(SENDER);
    send_available(&p);
    while (p.accepted < messages) {
        if (!pump_round(&p)) {
            fprintf(stderr, "driver-bench: stalled: sent %lu received %lu accepted %lu of %lu\n",
                    p.sent, p.received, p.accepted, messages);
            exit(1);
        }
    }
    cmallocstats_count(0);
    uint64_t elapsed = now_ns() - start;

    /* Untimed: let the last flow frames settle, then verify. */
    pump_quiet(&p);
    check_conditions(&p);
    if (p.sent != messages || p.received != messages || p.accepted != messages) {
        fprintf(stderr, "driver-bench: count mismatch: sent %lu received %lu accepted %lu, wanted %lu\n",
                p.sent, p.received, p.accepted, messages);
        exit(1);
    }
    if (pn_link_unsettled(p.sender) != 0 || pn_link_queued(p.sender) != 0 ||
        pn_link_unsettled(p.receiver) != 0)
        die("deliveries left unsettled or queued after the run");
    if (pn_link_credit(p.receiver) != CREDIT_WINDOW)
        die("receiver credit did not stay topped up");

    /* Graceful close from the client; both drivers must finish cleanly. */
    pn_connection_close(p.client.connection);
    pump_quiet(&p);
    check_conditions(&p);
    if (!p.server_closed || !pn_connection_driver_finished(&p.client) ||
        !pn_connection_driver_finished(&p.server))
        die("connection did not close cleanly on both sides");

    pair_destroy(&p);
    return (double)messages * 1e9 / (double)elapsed;
}

/* Runs `messages` through a fresh pair with every allocation counted (untimed)
 * and prints the allocations per message on each side. */
static void count_allocations(const char *name, unsigned long messages)
{
    (void)run_throughput(messages); /* first-use allocations out of the way */
    cmallocstats_reset();
    counting_allocations = true;
    (void)run_throughput(messages); /* counts the part that is timed, not set-up and close */
    counting_allocations = false;
    printf("allocations-per-message %s sender %.2f\n", name,
           (double)cmallocstats_allocations(SENDER) / (double)messages);
    printf("allocations-per-message %s receiver %.2f\n", name,
           (double)cmallocstats_allocations(RECEIVER) / (double)messages);
}

/* ---- idle connection memory ---------------------------------------------- */

static void run_idle(unsigned long k)
{
    /* One-time allocations (Proton's class/logger set-up and the like). */
    pair_t warm;
    pair_open(&warm);
    pair_destroy(&warm);

    pair_t *pairs = calloc(k, sizeof *pairs);
    if (!pairs)
        die("out of memory");

    size_t before = heap_in_use();
    for (unsigned long i = 0; i < k; i++)
        pair_open(&pairs[i]);
    size_t after = heap_in_use();

    if (after < before)
        die("heap shrank while opening idle connections");
    double growth = (double)(after - before);
    printf("idle-connection-bytes %.0f\n", growth / (2.0 * (double)k));
    printf("idle-pair-bytes %.0f\n", growth / (double)k);

    for (unsigned long i = 0; i < k; i++) {
        check_conditions(&pairs[i]);
        pair_destroy(&pairs[i]);
    }
    free(pairs);
}

/* ---- --info ---------------------------------------------------------------- */

static void print_info(void)
{
    printf("encoded message: %zu bytes: ", encoded_len);
    for (size_t i = 0; i < encoded_len; i++)
        printf("%02x", (unsigned char)encoded[i]);
    putchar('\n');

    pair_t p;
    pair_open(&p);
    pn_session_t *cs = pn_link_session(p.sender);
    pn_session_t *ss = pn_link_session(p.receiver);
    printf("client max-frame local %" PRIu32 " remote %" PRIu32 "\n",
           pn_transport_get_max_frame(p.client.transport),
           pn_transport_get_remote_max_frame(p.client.transport));
    printf("server max-frame local %" PRIu32 " remote %" PRIu32 "\n",
           pn_transport_get_max_frame(p.server.transport),
           pn_transport_get_remote_max_frame(p.server.transport));
    printf("client channel-max local %u remote %u\n",
           (unsigned)pn_transport_get_channel_max(p.client.transport),
           (unsigned)pn_transport_remote_channel_max(p.client.transport));
    printf("session incoming capacity client %zu server %zu\n",
           pn_session_get_incoming_capacity(cs), pn_session_get_incoming_capacity(ss));
    printf("session outgoing window client %zu server %zu\n",
           pn_session_get_outgoing_window(cs), pn_session_get_outgoing_window(ss));
    printf("sender credit %d, receiver credit %d\n",
           pn_link_credit(p.sender), pn_link_credit(p.receiver));
    printf("frames client out %" PRIu64 " in %" PRIu64 "\n",
           pn_transport_get_frames_output(p.client.transport),
           pn_transport_get_frames_input(p.client.transport));
    pair_destroy(&p);
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    encode_message();

    if (argc == 2 && strcmp(argv[1], "--info") == 0) {
        print_info();
        return 0;
    }
    if (argc > 4) {
        fprintf(stderr, "usage: %s [MESSAGES] [REPEATS] [IDLE_CONNECTIONS]\n"
                        "       %s --info\n", argv[0], argv[0]);
        return 1;
    }
    unsigned long messages = argc > 1 ? parse_count(argv[1], "message count") : 1000000;
    unsigned long repeats = argc > 2 ? parse_count(argv[2], "repeat count") : 5;
    unsigned long idle = argc > 3 ? parse_count(argv[3], "idle connection count") : 1000;

    /* Memory first, on a heap that the throughput runs have not churned. */
    run_idle(idle);
    fflush(stdout);

    unsigned long warmup = messages / 10 ? messages / 10 : 1;
    (void)run_throughput(warmup);
    for (unsigned long r = 0; r < repeats; r++) {
        printf("throughput %.0f\n", run_throughput(messages));
        fflush(stdout);
    }

    make_message_objects();
    message_mode = true;
    (void)run_throughput(warmup);
    for (unsigned long r = 0; r < repeats; r++) {
        printf("message-throughput %.0f\n", run_throughput(messages));
        fflush(stdout);
    }

    message_mode = false;
    count_allocations("bytes", 10000);
    message_mode = true;
    count_allocations("message", 10000);
    return 0;
}
