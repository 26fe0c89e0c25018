/* proton-c-arrow: a quiver arrow on Qpid Proton C's proactor (pn_proactor). It is the Proton C
 * peer of the interop tests (the interop.sh of Integrations/DriverLoop and ProactorArrow,
 * Tests/SharedFixtures/ProtonArrow.swift, Integrations/NIO/test.sh) and Proton C's side of the
 * benchmarks (Scripts/run.sh, Benchmarks/p2p.sh, proactor.sh, broker.sh).
 *
 * Arguments are key=value, as quiver passes them to an arrow (ssorj/quiver, impls/README.md):
 *   connection-mode=client|server  connect to host:port, or listen there    (client)
 *   operation=send|receive                                                   (send)
 *   host= port=                    address                                   (127.0.0.1, 5672)
 *   path=                          the sender's target or receiver's source  (q)
 *   count=                         transfers before closing and exiting      (100000)
 *   body-size=                     bytes in the string body                  (100)
 *   credit-window=                 credit the receiver keeps topped up       (1000)
 *   quiet=1                        no line per transfer
 *   rate=                          messages per second, sent on a fixed
 *                                  schedule (millisecond timer); 0: as fast
 *                                  as credit allows                          (0)
 *   timestamps=ms|us               unit of SendTime and of the printed times;
 *                                  give both arrows of a pair the same unit  (ms)
 *   id=                            container id                              (proton-c-arrow)
 * quiver's channel-mode=active, duration=0 and transaction-size=0 are accepted; other values, and
 * unknown keys, print a usage line and exit 2.
 *
 * Messages are sent unsettled (the receiver settles first), each with a string body of body-size
 * 'x's and the application property SendTime (a long: the wall-clock send time). The receiver
 * accepts and settles each one. Output, kept exactly so because the consumers above read it:
 *   stdout, unless quiet: one line per transfer, "<send-time>,0" when sending and
 *           "<send-time>,<receive-time>" when receiving (0 when a message has no SendTime);
 *   stderr: any error (a peer's error condition, a rejected delivery, an unusable address) on
 *           lines starting "proton-c-arrow: ", then always, last, "proton-c-arrow: N transfers",
 *           N being deliveries accepted (sending) or received (receiving).
 * Exit status: 0 when count transfers were done and nothing failed, 1 otherwise, 2 for bad
 * arguments. A server takes every connection that comes; one that leaves without opening AMQP
 * (a port probe) is not a failure. Once count is reached it closes the connection and the listener
 * and exits once the connections are closed; 10 s later it cuts any still open, failing the run if
 * one of them is an AMQP peer's (not a probe's).
 *
 * Build (Debian: apt-get install libqpid-proton11-dev; Proton 0.37 and later):
 *   gcc -O2 -Wall -o proton-c-arrow Benchmarks/ProtonC/proton-c-arrow.c -lqpid-proton
 */
#define _POSIX_C_SOURCE 200809L
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/listener.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME "proton-c-arrow"
#define CLOSE_GRACE_MS 10000

static struct {
  bool server, sending, quiet, micros;
  const char *host, *port, *path, *id;
  long long count, body_size, credit_window, rate;
} opt = {false, true, false, false, "127.0.0.1", "5672", "q", NAME, 100000, 100, 1000, 0};

static struct {
  pn_proactor_t *proactor;
  pn_listener_t *listener;
  pn_message_t *message;        /* one message, reused: the sender rewrites its SendTime */
  pn_rwbytes_t encoded;         /* pn_message_send's buffer, grown by it as needed */
  char *incoming;               /* the bytes of the delivery being received */
  size_t incoming_size, incoming_capacity;
  long long sent, accepted, received;
  bool finished, failed;
  int connections;              /* initialised and not yet closed */
  int amqp_connections;         /* of those, the ones the peer opened (not port probes) */
  long long rate_start;         /* when the fixed-rate schedule began (timestamp unit), or -1 */
  pn_connection_t *rate_connection; /* the connection the rate timer wakes, until it closes */
} arrow = {.rate_start = -1};

static void complain(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs(NAME ": ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
}

static void usage(const char *why) {
  complain("%s", why);
  fprintf(stderr, "usage: " NAME " connection-mode=client|server operation=send|receive [host=H] [port=P]"
                  " [path=Q] [count=N] [body-size=B] [credit-window=C] [quiet=1] [rate=R]"
                  " [timestamps=ms|us] [id=ID]\n");
  exit(2);
}

/* Wall-clock time (SendTime is compared across processes), in the chosen unit. */
static long long now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return opt.micros ? (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000
                    : (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long long number(const char *key, const char *value, long long least, long long most) {
  char *end;
  errno = 0;
  long long n = strtoll(value, &end, 10);
  if (*value == '\0' || *end != '\0' || errno || n < least || n > most) {
    char why[200];
    snprintf(why, sizeof why, "%s=%s is not a number from %lld to %lld", key, value, least, most);
    usage(why);
  }
  return n;
}

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char *key = argv[i], *eq = strchr(key, '=');
    if (!eq) usage("arguments are key=value");
    *eq = '\0';
    const char *value = eq + 1;
    bool yes = !strcmp(value, "1") || !strcmp(value, "true");
    if (!strcmp(key, "connection-mode") && (!strcmp(value, "client") || !strcmp(value, "server")))
      opt.server = !strcmp(value, "server");
    else if (!strcmp(key, "operation") && (!strcmp(value, "send") || !strcmp(value, "receive")))
      opt.sending = !strcmp(value, "send");
    else if (!strcmp(key, "host")) opt.host = value;
    else if (!strcmp(key, "port")) opt.port = value;
    else if (!strcmp(key, "path")) opt.path = value;
    else if (!strcmp(key, "id")) opt.id = value;
    else if (!strcmp(key, "count")) opt.count = number(key, value, 1, LLONG_MAX);
    else if (!strcmp(key, "body-size")) opt.body_size = number(key, value, 0, INT32_MAX);
    else if (!strcmp(key, "credit-window")) opt.credit_window = number(key, value, 1, INT32_MAX);
    else if (!strcmp(key, "rate")) opt.rate = number(key, value, 0, 100000000);
    else if (!strcmp(key, "quiet")) opt.quiet = yes;
    else if (!strcmp(key, "timestamps") && (!strcmp(value, "ms") || !strcmp(value, "us")))
      opt.micros = !strcmp(value, "us");
    else if ((!strcmp(key, "channel-mode") && !strcmp(value, "active")) ||
             ((!strcmp(key, "duration") || !strcmp(key, "transaction-size")) && !strcmp(value, "0")))
      continue;                 /* quiver's defaults, which are all this arrow does */
    else {
      char why[160];
      snprintf(why, sizeof why, "unsupported argument %s=%s", key, value);
      usage(why);
    }
  }
}

/* Reports a condition that is set; true if it was. */
static bool report(const char *what, pn_condition_t *condition) {
  if (!pn_condition_is_set(condition)) return false;
  const char *description = pn_condition_get_description(condition);
  complain("%s: %s: %s", what, pn_condition_get_name(condition), description ? description : "");
  return true;
}

static long long done(void) { return opt.sending ? arrow.accepted : arrow.received; }

/* Once finished and every connection is gone, the grace timer must go too: a pending timeout
 * keeps the proactor from becoming inactive. */
static void stop_grace_timer_if_idle(void) {
  if (arrow.finished && arrow.connections == 0) pn_proactor_cancel_timeout(arrow.proactor);
}

/* Closes the connection (when given) and the listener once the count is reached or on failure;
 * the proactor then runs out of work. The grace timer cuts connections still open 10 s later. */
static void finish(pn_connection_t *connection) {
  if (connection && !(pn_connection_state(connection) & PN_LOCAL_CLOSED)) pn_connection_close(connection);
  if (arrow.listener) { pn_listener_close(arrow.listener); arrow.listener = NULL; }
  if (!arrow.finished) pn_proactor_set_timeout(arrow.proactor, CLOSE_GRACE_MS);
  arrow.finished = true;
  stop_grace_timer_if_idle();
}

/* Reports a failure of our own and closes the connection with it as the error condition. */
static void fail(pn_connection_t *connection, const char *name, const char *description) {
  complain("%s", description);
  arrow.failed = true;
  if (connection && !(pn_connection_state(connection) & PN_LOCAL_CLOSED)) {
    pn_condition_t *condition = pn_connection_condition(connection);
    pn_condition_set_name(condition, name);
    pn_condition_set_description(condition, description);
  }
  finish(connection);
}

static void send_one(pn_link_t *link) {
  long long send_time = now();
  arrow.sent++;
  pn_delivery(link, pn_dtag((const char *)&arrow.sent, sizeof arrow.sent));
  pn_data_t *properties = pn_message_properties(arrow.message); /* application-properties */
  pn_data_clear(properties);
  pn_data_put_map(properties);
  pn_data_enter(properties);
  pn_data_put_string(properties, pn_bytes(strlen("SendTime"), "SendTime"));
  pn_data_put_long(properties, send_time);
  pn_data_exit(properties);
  if (pn_message_send(arrow.message, link, &arrow.encoded) < 0) {
    char why[200];
    snprintf(why, sizeof why, "cannot send message %lld: %s", arrow.sent,
             pn_error_text(pn_message_error(arrow.message)));
    fail(pn_session_connection(pn_link_session(link)), "amqp:internal-error", why);
    return;
  }
  if (!opt.quiet) printf("%lld,0\n", send_time);
}

/* How many messages the fixed-rate schedule has made due by `t`: message k is due k/rate seconds
 * after the first. */
static long long due_by(long long t) {
  long long per_second = opt.micros ? 1000000 : 1000;
  return (t - arrow.rate_start) * opt.rate / per_second + 1;
}

/* Sends what credit allows and, with rate=, what the schedule has made due; then, if the schedule
 * is ahead, wakes the connection when the next message falls due (the PN_PROACTOR_TIMEOUT case). */
static void send_available(pn_link_t *link) {
  if (arrow.finished || pn_link_credit(link) <= 0) return;
  long long limit = opt.count;
  if (opt.rate > 0) {
    long long t = now();
    if (arrow.rate_start < 0) arrow.rate_start = t;
    if (due_by(t) < limit) limit = due_by(t);
    arrow.rate_connection = pn_session_connection(pn_link_session(link));
  }
  while (arrow.sent < limit && pn_link_credit(link) > 0 && !arrow.finished) send_one(link);
  /* Behind only for lack of credit: PN_LINK_FLOW resumes, no timer (it would spin). */
  if (opt.rate > 0 && arrow.sent == limit && arrow.sent < opt.count && !arrow.finished) {
    long long per_ms = opt.micros ? 1000 : 1;
    long long next = arrow.rate_start + arrow.sent * (per_ms * 1000) / opt.rate;
    long long wait = (next - now() + per_ms - 1) / per_ms;
    pn_proactor_set_timeout(arrow.proactor, wait > 0 ? (pn_millis_t)wait : 0);
  }
}

static pn_link_t *sending_link(pn_connection_t *connection) {
  for (pn_link_t *l = pn_link_head(connection, PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE); l;
       l = pn_link_next(l, PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE))
    if (pn_link_is_sender(l)) return l;
  return NULL;
}

/* A sender's delivery: counted once the receiver accepted it (or settled it with no outcome, the
 * receiver's default); any other outcome fails the run. */
static void sender_delivery(pn_event_t *event, pn_delivery_t *delivery) {
  uint64_t state = pn_delivery_remote_state(delivery);
  bool settled = pn_delivery_settled(delivery);
  if (state == PN_ACCEPTED || (state == 0 && settled)) {
    pn_delivery_settle(delivery);
    if (++arrow.accepted == opt.count) finish(pn_event_connection(event));
  } else if (state == PN_REJECTED || state == PN_RELEASED || state == PN_MODIFIED) {
    const char *outcome = state == PN_REJECTED ? "rejected" : state == PN_RELEASED ? "released" : "modified";
    report("the rejection", pn_disposition_condition(pn_delivery_remote(delivery)));
    pn_delivery_settle(delivery);
    char why[120];
    snprintf(why, sizeof why, "a delivery was %s by the peer after %lld accepted", outcome, arrow.accepted);
    fail(pn_event_connection(event), "amqp:precondition-failed", why);
  }
  /* else: an interim state (received), or settled later; wait for the outcome */
}

static bool take_bytes(pn_link_t *link, size_t pending) {
  if (arrow.incoming_size + pending > arrow.incoming_capacity) {
    size_t capacity = arrow.incoming_capacity ? arrow.incoming_capacity : 1024;
    while (capacity < arrow.incoming_size + pending) capacity *= 2;
    char *grown = realloc(arrow.incoming, capacity);
    if (!grown) return false;
    arrow.incoming = grown;
    arrow.incoming_capacity = capacity;
  }
  ssize_t n = pn_link_recv(link, arrow.incoming + arrow.incoming_size, pending);
  if (n > 0) arrow.incoming_size += (size_t)n;
  return true;
}

/* The SendTime application property of the decoded message, or 0. */
static long long send_time_of(pn_message_t *message) {
  pn_data_t *properties = pn_message_properties(message);
  pn_data_rewind(properties);
  if (!pn_data_next(properties) || pn_data_type(properties) != PN_MAP) return 0;
  long long found = 0;
  pn_data_enter(properties);
  while (pn_data_next(properties)) {
    bool is_key = pn_data_type(properties) == PN_STRING &&
                  pn_data_get_string(properties).size == strlen("SendTime") &&
                  !memcmp(pn_data_get_string(properties).start, "SendTime", strlen("SendTime"));
    if (!pn_data_next(properties)) break;
    if (is_key && pn_data_type(properties) == PN_LONG) found = pn_data_get_long(properties);
  }
  pn_data_exit(properties);
  return found;
}

/* A receiver's delivery: its bytes are collected frame by frame; once complete it is decoded,
 * accepted, settled and printed, and the credit window topped up. */
static void receiver_delivery(pn_event_t *event, pn_delivery_t *delivery) {
  pn_link_t *link = pn_delivery_link(delivery);
  pn_connection_t *connection = pn_event_connection(event);
  if (arrow.finished || !pn_delivery_readable(delivery)) return;
  if (!take_bytes(link, pn_delivery_pending(delivery))) {
    fail(connection, "amqp:resource-limit-exceeded", "out of memory for an incoming message");
    return;
  }
  if (pn_delivery_partial(delivery)) return;
  long long receive_time = now();
  pn_message_clear(arrow.message);
  int decoded = pn_message_decode(arrow.message, arrow.incoming, arrow.incoming_size);
  arrow.incoming_size = 0;
  if (decoded != 0) {
    char why[200];
    snprintf(why, sizeof why, "cannot decode message %lld: %s", arrow.received + 1,
             pn_error_text(pn_message_error(arrow.message)));
    pn_delivery_update(delivery, PN_REJECTED);
    pn_delivery_settle(delivery);
    fail(connection, "amqp:decode-error", why);
    return;
  }
  pn_delivery_update(delivery, PN_ACCEPTED);
  pn_delivery_settle(delivery);
  if (!opt.quiet) printf("%lld,%lld\n", send_time_of(arrow.message), receive_time);
  if (++arrow.received == opt.count) finish(connection);
  else pn_link_flow(link, (int)(opt.credit_window - pn_link_credit(link)));
}

/* The client's connection: one session, one link in the direction of `operation`. */
static void open_client(pn_connection_t *connection) {
  pn_connection_open(connection);
  pn_session_t *session = pn_session(connection);
  pn_session_open(session);
  pn_link_t *link = opt.sending ? pn_sender(session, NAME "-sender") : pn_receiver(session, NAME "-receiver");
  pn_link_set_snd_settle_mode(link, PN_SND_UNSETTLED);
  pn_link_set_rcv_settle_mode(link, PN_RCV_FIRST);
  pn_terminus_set_address(opt.sending ? pn_link_target(link) : pn_link_source(link), opt.path);
  pn_link_open(link);
}

/* A link the peer opened (server) or answered (client). A server refuses a link in the wrong
 * direction: the run would never reach its count. */
static void link_opened(pn_link_t *link) {
  if (opt.server) {
    if (pn_link_is_sender(link) != opt.sending) {
      pn_condition_set_name(pn_link_condition(link), "amqp:not-allowed");
      pn_condition_set_description(pn_link_condition(link), opt.sending ? NAME " only sends" : NAME " only receives");
      pn_link_open(link);
      pn_link_close(link);
      return;
    }
    pn_terminus_copy(pn_link_source(link), pn_link_remote_source(link));
    pn_terminus_copy(pn_link_target(link), pn_link_remote_target(link));
    pn_link_open(link);
  }
  if (pn_link_is_receiver(link)) pn_link_flow(link, (int)opt.credit_window);
}

/* The connection's transport has closed: the end of the run, a port probe, or a connection that
 * ended early. A client fails then; a server keeps listening (a reconnecting client comes back)
 * and fails only for an error condition. */
static void transport_closed(pn_event_t *event) {
  pn_connection_t *connection = pn_event_connection(event);
  bool probe = opt.server && (pn_connection_state(connection) & PN_REMOTE_UNINIT);
  arrow.connections--;
  if (!(pn_connection_state(connection) & PN_REMOTE_UNINIT)) arrow.amqp_connections--;
  if (connection == arrow.rate_connection) arrow.rate_connection = NULL;
  if (done() < opt.count && !probe && !arrow.finished) {
    if (report("transport", pn_transport_condition(pn_event_transport(event)))) arrow.failed = true;
    else complain("the connection closed after %lld of %lld transfers%s", done(), opt.count,
                  opt.server ? "; listening for another" : "");
    if (!opt.server) {
      arrow.failed = true;
      finish(NULL);
    }
  }
  stop_grace_timer_if_idle();
}

/* The peer closed our link or its session: a client has no other, so it fails and closes; a
 * server waits for the peer to open another or to close the connection. */
static void link_or_session_ended(pn_connection_t *connection) {
  if (opt.server || done() >= opt.count || arrow.finished) return;
  complain("the link closed after %lld of %lld transfers", done(), opt.count);
  arrow.failed = true;
  finish(connection);
}

/* Handles one event; false once the proactor has nothing left to do. */
static bool handle(pn_event_t *event) {
  switch (pn_event_type(event)) {
  case PN_LISTENER_ACCEPT:
    pn_listener_accept2(pn_event_listener(event), NULL, NULL);
    break;
  case PN_LISTENER_CLOSE:       /* after finish, or when the address could not be used */
    if (report("listener", pn_listener_condition(pn_event_listener(event)))) {
      arrow.failed = true;
      arrow.listener = NULL;
      finish(NULL);
    }
    break;
  case PN_CONNECTION_INIT:
    arrow.connections++;
    pn_connection_set_container(pn_event_connection(event), opt.id);
    if (!opt.server) open_client(pn_event_connection(event));
    break;
  case PN_CONNECTION_REMOTE_OPEN:
    arrow.amqp_connections++;
    if (opt.server) pn_connection_open(pn_event_connection(event));
    break;
  case PN_SESSION_REMOTE_OPEN:
    if (opt.server) pn_session_open(pn_event_session(event));
    break;
  case PN_LINK_REMOTE_OPEN:
    link_opened(pn_event_link(event));
    break;
  case PN_LINK_FLOW:
    if (pn_link_is_sender(pn_event_link(event))) send_available(pn_event_link(event));
    break;
  case PN_CONNECTION_WAKE: {    /* the rate timer: more messages are due */
    pn_link_t *link = sending_link(pn_event_connection(event));
    if (link) send_available(link);
    break;
  }
  case PN_PROACTOR_TIMEOUT:
    if (arrow.finished) {         /* the grace timer: probes are cut quietly, AMQP peers fail */
      if (arrow.amqp_connections > 0) {
        complain("a peer had not closed %d s after the end: disconnecting", CLOSE_GRACE_MS / 1000);
        arrow.failed = true;
      }
      pn_proactor_disconnect(arrow.proactor, NULL);
    } else if (arrow.rate_connection) {
      pn_connection_wake(arrow.rate_connection); /* its own batch may touch it, not this one */
    }
    break;
  case PN_DELIVERY: {
    pn_delivery_t *delivery = pn_event_delivery(event);
    if (pn_link_is_sender(pn_delivery_link(delivery))) sender_delivery(event, delivery);
    else receiver_delivery(event, delivery);
    break;
  }
  case PN_LINK_REMOTE_CLOSE:
    if (report("the peer closed the link", pn_link_remote_condition(pn_event_link(event)))) arrow.failed = true;
    pn_link_close(pn_event_link(event));
    link_or_session_ended(pn_event_connection(event));
    break;
  case PN_SESSION_REMOTE_CLOSE:
    if (report("the peer ended the session", pn_session_remote_condition(pn_event_session(event)))) arrow.failed = true;
    pn_session_close(pn_event_session(event));
    link_or_session_ended(pn_event_connection(event));
    break;
  case PN_CONNECTION_REMOTE_CLOSE:
    if (report("the peer closed the connection", pn_connection_remote_condition(pn_event_connection(event))))
      arrow.failed = true;
    pn_connection_close(pn_event_connection(event));
    break;
  case PN_TRANSPORT_CLOSED:
    transport_closed(event);
    break;
  case PN_PROACTOR_INACTIVE:
    return false;
  default:
    break;
  }
  return true;
}

int main(int argc, char **argv) {
  parse(argc, argv);
  arrow.message = pn_message();
  char *body = malloc((size_t)opt.body_size + 1);
  if (!arrow.message || !body) { complain("out of memory"); return 1; }
  memset(body, 'x', (size_t)opt.body_size);
  pn_data_put_string(pn_message_body(arrow.message), pn_bytes((size_t)opt.body_size, body));
  free(body);                   /* pn_data copied it */

  char address[PN_MAX_ADDR];
  pn_proactor_addr(address, sizeof address, opt.host, opt.port);
  arrow.proactor = pn_proactor();
  if (!arrow.proactor) { complain("cannot create a proactor"); return 1; }
  if (opt.server) {
    arrow.listener = pn_listener();
    pn_proactor_listen(arrow.proactor, arrow.listener, address, 16);
  } else {
    pn_proactor_connect2(arrow.proactor, NULL, NULL, address);
  }
  for (bool running = true; running;) {
    pn_event_batch_t *batch = pn_proactor_wait(arrow.proactor);
    for (pn_event_t *event; running && (event = pn_event_batch_next(batch));) running = handle(event);
    pn_proactor_done(arrow.proactor, batch);
  }
  fflush(stdout);
  fprintf(stderr, NAME ": %lld transfers\n", done());
  pn_proactor_free(arrow.proactor);
  pn_message_free(arrow.message);
  free(arrow.encoded.start);
  free(arrow.incoming);
  return arrow.failed || done() < opt.count ? 1 : 0;
}
