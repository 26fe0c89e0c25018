/*
 * codec-bench.c - baseline for the Swift AMQP codec benchmarks, measuring
 * Qpid Proton C's message encode/decode on the same two message shapes.
 *
 * Build:  gcc -std=c11 -O2 -Wall -Wextra -o codec-bench codec-bench.c -lqpid-proton
 * Usage:  codec-bench [ITERATIONS_SMALL] [ITERATIONS_LARGE]   (default 200000 200)
 *         codec-bench --dump-small   (hex of the encoded small message, for
 *                                     byte-for-byte comparison with Swift)
 *
 * Output (ns per message, one line per case, always in this order):
 *   small-encode <ns>
 *   small-decode <ns>
 *   large-encode <ns>
 *   large-decode <ns>
 */

#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/codec.h>
#include <proton/error.h>
#include <proton/message.h>

#define SMALL_BODY_LEN 100
#define SEND_TIME_KEY "SendTime"
#define SEND_TIME_VALUE INT64_C(1700000000000)
#define LARGE_BODY_LEN (1024 * 1024)

/* Headroom over the 1 MiB payload; the section framing is only a few bytes. */
#define SMALL_BUF_CAP 4096
#define LARGE_BUF_CAP (2 * 1024 * 1024)

/* Written to by the decode loops so the reads of the decoded body cannot be
 * optimised away (and with them any reason to fully decode). */
static volatile uint64_t sink;

static void die(const char *what)
{
    fprintf(stderr, "codec-bench: %s\n", what);
    exit(1);
}

static void check(int rc, const char *what, pn_message_t *msg)
{
    if (rc == 0)
        return;
    const char *detail = msg ? pn_error_text(pn_message_error(msg)) : NULL;
    fprintf(stderr, "codec-bench: %s failed: %s (%d)%s%s\n", what,
            pn_code(rc), rc, detail && *detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime(CLOCK_MONOTONIC) failed");
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static unsigned long parse_iterations(const char *arg)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || n == 0 || arg[0] == '-') {
        fprintf(stderr, "codec-bench: invalid iteration count '%s'\n", arg);
        exit(1);
    }
    return n;
}

/* True if `needle` occurs in `hay`; used to confirm which body section
 * Proton actually chose, since that depends on the inferred flag. */
static bool contains(const char *hay, size_t hay_len,
                     const unsigned char *needle, size_t needle_len)
{
    if (needle_len > hay_len)
        return false;
    for (size_t i = 0; i + needle_len <= hay_len; i++)
        if (memcmp(hay + i, needle, needle_len) == 0)
            return true;
    return false;
}

/* ---- message construction ---------------------------------------------- */

static pn_message_t *make_small(void)
{
    pn_message_t *msg = pn_message();
    if (!msg)
        die("pn_message() returned NULL");

    /* Not inferred (the default), so the string body becomes an amqp-value
     * section. */
    char body[SMALL_BODY_LEN];
    memset(body, 'x', sizeof body);
    check(pn_data_put_string(pn_message_body(msg), pn_bytes(sizeof body, body)),
          "put small body", msg);

    pn_data_t *props = pn_message_properties(msg);
    check(pn_data_put_map(props), "put properties map", msg);
    pn_data_enter(props);
    check(pn_data_put_string(props, pn_bytes(strlen(SEND_TIME_KEY), SEND_TIME_KEY)),
          "put property key", msg);
    check(pn_data_put_long(props, SEND_TIME_VALUE), "put property value", msg);
    pn_data_exit(props);
    return msg;
}

static pn_message_t *make_large(char *payload)
{
    pn_message_t *msg = pn_message();
    if (!msg)
        die("pn_message() returned NULL");

    for (size_t i = 0; i < LARGE_BODY_LEN; i++)
        payload[i] = (char)(i & 0xff);

    /* Inferred + binary body is how Proton is told to emit a data section
     * rather than an amqp-value wrapping a binary. */
    check(pn_message_set_inferred(msg, true), "set inferred", msg);
    check(pn_data_put_binary(pn_message_body(msg), pn_bytes(LARGE_BODY_LEN, payload)),
          "put large body", msg);
    return msg;
}

static size_t encode_once(pn_message_t *msg, char *buf, size_t cap, const char *what)
{
    size_t size = cap;
    check(pn_message_encode(msg, buf, &size), what, msg);
    return size;
}

/* ---- reading decoded messages ------------------------------------------ */

/* The small decode "consumer" work: what a receiver does to get at the body
 * and the SendTime property. Returns false if either is absent. */
static bool read_small(pn_message_t *msg, size_t *body_len, int64_t *send_time)
{
    pn_data_t *body = pn_message_body(msg);
    pn_data_rewind(body);
    if (!pn_data_next(body) || pn_data_type(body) != PN_STRING)
        return false;
    *body_len = pn_data_get_string(body).size;

    pn_data_t *props = pn_message_properties(msg);
    pn_data_rewind(props);
    if (!pn_data_next(props) || pn_data_type(props) != PN_MAP)
        return false;
    pn_data_enter(props);
    bool found = false;
    while (pn_data_next(props)) {
        pn_bytes_t key = pn_data_get_string(props);
        if (!pn_data_next(props))
            break;
        if (key.size == strlen(SEND_TIME_KEY) &&
            memcmp(key.start, SEND_TIME_KEY, key.size) == 0 &&
            pn_data_type(props) == PN_LONG) {
            *send_time = pn_data_get_long(props);
            found = true;
            break;
        }
    }
    pn_data_exit(props);
    return found;
}

static bool read_large(pn_message_t *msg, size_t *body_len)
{
    pn_data_t *body = pn_message_body(msg);
    pn_data_rewind(body);
    if (!pn_data_next(body) || pn_data_type(body) != PN_BINARY)
        return false;
    *body_len = pn_data_get_binary(body).size;
    return true;
}

/* ---- timed loops ------------------------------------------------------- */

static unsigned long warmup_count(unsigned long iterations)
{
    unsigned long w = iterations / 10;
    return w ? w : 1;
}

static double bench_encode(pn_message_t *msg, char *buf, size_t cap,
                           unsigned long iterations)
{
    size_t size;
    for (unsigned long i = 0, w = warmup_count(iterations); i < w; i++) {
        size = cap;
        check(pn_message_encode(msg, buf, &size), "encode (warm-up)", msg);
    }

    /* Resetting `size` is part of the API contract (it is in/out), so a real
     * sender pays for it too; it is negligible next to the encode. */
    uint64_t start = now_ns();
    for (unsigned long i = 0; i < iterations; i++) {
        size = cap;
        check(pn_message_encode(msg, buf, &size), "encode", msg);
    }
    uint64_t elapsed = now_ns() - start;

    sink += size;
    return (double)elapsed / (double)iterations;
}

static void decode_small_once(pn_message_t *msg, const char *bytes, size_t len)
{
    size_t body_len;
    int64_t send_time;
    check(pn_message_decode(msg, bytes, len), "decode small", msg);
    if (!read_small(msg, &body_len, &send_time))
        die("decoded small message is missing its body or SendTime");
    sink += body_len + (uint64_t)send_time;
}

static void decode_large_once(pn_message_t *msg, const char *bytes, size_t len)
{
    size_t body_len;
    check(pn_message_decode(msg, bytes, len), "decode large", msg);
    if (!read_large(msg, &body_len))
        die("decoded large message has no binary body");
    sink += body_len;
}

static double bench_decode(void (*decode_once)(pn_message_t *, const char *, size_t),
                           pn_message_t *msg, const char *bytes, size_t len,
                           unsigned long iterations)
{
    for (unsigned long i = 0, w = warmup_count(iterations); i < w; i++)
        decode_once(msg, bytes, len);

    uint64_t start = now_ns();
    for (unsigned long i = 0; i < iterations; i++)
        decode_once(msg, bytes, len);
    return (double)(now_ns() - start) / (double)iterations;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static char small_buf[SMALL_BUF_CAP];

    if (argc == 2 && strcmp(argv[1], "--dump-small") == 0) {
        pn_message_t *msg = make_small();
        size_t len = encode_once(msg, small_buf, sizeof small_buf, "encode small");
        for (size_t i = 0; i < len; i++)
            printf("%02x", (unsigned char)small_buf[i]);
        putchar('\n');
        pn_message_free(msg);
        return 0;
    }
    if (argc > 3) {
        fprintf(stderr, "usage: %s [ITERATIONS_SMALL] [ITERATIONS_LARGE]\n"
                        "       %s --dump-small\n", argv[0], argv[0]);
        return 1;
    }
    unsigned long iters_small = argc > 1 ? parse_iterations(argv[1]) : 200000;
    unsigned long iters_large = argc > 2 ? parse_iterations(argv[2]) : 200;

    char *large_buf = malloc(LARGE_BUF_CAP);
    char *payload = malloc(LARGE_BODY_LEN);
    if (!large_buf || !payload)
        die("out of memory");

    pn_message_t *decoded = pn_message(); /* reused, as a receiver would */
    if (!decoded)
        die("pn_message() returned NULL");

    /* Small: verify the encoding and a decode round trip once, untimed, so a
     * wrong message shape fails loudly instead of skewing the numbers. */
    pn_message_t *small = make_small();
    size_t small_len = encode_once(small, small_buf, sizeof small_buf, "encode small");
    static const unsigned char amqp_value[] = {0x00, 0x53, 0x77};
    if (!contains(small_buf, small_len, amqp_value, sizeof amqp_value))
        die("small message was not encoded with an amqp-value section");
    {
        size_t body_len = 0;
        int64_t send_time = 0;
        check(pn_message_decode(decoded, small_buf, small_len), "decode small", decoded);
        if (!read_small(decoded, &body_len, &send_time))
            die("decoded small message is missing its body or SendTime");
        if (body_len != SMALL_BODY_LEN)
            die("decoded small body is not 100 bytes");
        if (send_time != SEND_TIME_VALUE)
            die("decoded SendTime does not match");
    }

    printf("small-encode %.1f\n", bench_encode(small, small_buf, sizeof small_buf, iters_small));
    printf("small-decode %.1f\n",
           bench_decode(decode_small_once, decoded, small_buf, small_len, iters_small));

    /* Large: same idea; the data-section descriptor (0x00 0x53 0x75) must be
     * followed by a binary (vbin32, 0xb0), or Proton did not do what we meant. */
    pn_message_t *large = make_large(payload);
    size_t large_len = encode_once(large, large_buf, LARGE_BUF_CAP, "encode large");
    static const unsigned char data_section[] = {0x00, 0x53, 0x75, 0xb0};
    if (!contains(large_buf, large_len, data_section, sizeof data_section))
        die("large message was not encoded as a data section");
    {
        size_t body_len = 0;
        check(pn_message_decode(decoded, large_buf, large_len), "decode large", decoded);
        if (!read_large(decoded, &body_len) || body_len != LARGE_BODY_LEN)
            die("decoded large body is not 1048576 bytes");
    }

    printf("large-encode %.1f\n", bench_encode(large, large_buf, LARGE_BUF_CAP, iters_large));
    printf("large-decode %.1f\n",
           bench_decode(decode_large_once, decoded, large_buf, large_len, iters_large));

    pn_message_free(small);
    pn_message_free(large);
    pn_message_free(decoded);
    free(payload);
    free(large_buf);
    return 0;
}
