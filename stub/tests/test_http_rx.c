/* The HTTP/1.1 request and response parser of the stub's own path (http_rx.c): the firmware
 * path's rules (status, Content-Length), fed whole, byte by byte, and split anywhere. */
#include <stdlib.h>

#include "check.h"
#include "frame_rx.h"
#include "http_rx.h"
#include "tcp_rx.h"

void test_http_rx(void);

static uint8_t body[4096];

/* Feed the whole text in pieces of `step` bytes (0: at once), giving the buffer when asked.
 * Returns the final state after the stream ends when `close` is set. */
static http_rx_state run(http_rx *rx, const char *text, size_t len, size_t step, int close,
                         size_t *body_seen)
{
    http_rx_init(rx, sizeof body);
    memset(body, 0, sizeof body);
    size_t at = 0, seen = 0;
    http_rx_state st = rx->state;
    while (at < len && st != HTTP_RX_FAILED) {
        size_t n = step && len - at > step ? step : len - at;
        uint8_t *copy = malloc(n);
        memcpy(copy, text + at, n);
        size_t used;
        const uint8_t *got;
        size_t got_len;
        st = http_rx_feed(rx, copy, n, &used, &got, &got_len);
        if (got_len) {
            if (got != body + seen)
                seen = (size_t)-1;
            else
                seen += got_len;
        }
        free(copy);
        at += used;
        if (st == HTTP_RX_NEED_BUFFER)
            st = http_rx_set_body(rx, body, sizeof body);
        else if (used < n && st != HTTP_RX_FAILED)
            break; /* no progress: a bug */
    }
    if (close)
        st = http_rx_end(rx);
    if (body_seen)
        *body_seen = seen;
    return st;
}
#define RUN(rx, literal, step, close) run(rx, literal, sizeof literal - 1, step, close, NULL)

static void test_request(void)
{
    char out[512];
    size_t n = http_rx_build_get(out, sizeof out, "10.0.2.2:8080", "/boot/vmlinuz?x=1");
    static const char want[] = "GET /boot/vmlinuz?x=1 HTTP/1.1\r\nHost: 10.0.2.2:8080\r\n"
                               "Accept: */*\r\nUser-Agent: stub-workbench/0.0.0\r\n"
                               "Connection: close\r\n\r\n";
    CHECK(n == sizeof want - 1);
    CHECK_STR(out, want);
    CHECK(http_rx_build_get(out, n + 1, "10.0.2.2:8080", "/boot/vmlinuz?x=1") == n);
    CHECK(http_rx_build_get(out, n, "10.0.2.2:8080", "/boot/vmlinuz?x=1") == 0);
    CHECK(http_rx_build_get(out, sizeof out, "h", "boot") == 0);
    CHECK(http_rx_build_get(out, sizeof out, "h", "/a b") == 0);
    CHECK(http_rx_build_get(out, sizeof out, "h", "/a\r\nX: y") == 0);
    CHECK(http_rx_build_get(out, sizeof out, "h\r\nX: y", "/") == 0);
    CHECK(http_rx_build_get(out, sizeof out, "", "/") == 0);
    CHECK(http_rx_build_get(out, sizeof out, "h", "/\x7f") == 0);
    CHECK(http_rx_build_get(NULL, 10, "h", "/") == 0);
}

static void test_good(void)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nServer: lab\r\nContent-Length: 11\r\n"
                             "content-length:11 \r\nConnection: close\r\n\r\nhello world";
    http_rx rx;
    size_t seen;
    for (size_t step = 0; step <= 20; step++) {
        CHECK(run(&rx, ok, sizeof ok - 1, step, 0, &seen) == HTTP_RX_DONE);
        CHECK(seen == 11 && memcmp(body, "hello world", 11) == 0 && rx.length == 11);
        CHECK(rx.status == 200 && http_rx_end(&rx) == HTTP_RX_DONE);
    }
    /* LF alone ends lines too; HTTP/1.0; a status line without a phrase. */
    CHECK(RUN(&rx, "HTTP/1.0 200\nContent-Length: 2\n\nhi", 0, 1) == HTTP_RX_DONE);
    CHECK(memcmp(body, "hi", 2) == 0);
    /* The head ends inside a feed: NEED_BUFFER, the rest is not taken yet. */
    static const char split[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    http_rx_init(&rx, 100);
    size_t used, got_len;
    const uint8_t *got;
    CHECK(http_rx_feed(&rx, (const uint8_t *)split, sizeof split - 1, &used, &got, &got_len) ==
          HTTP_RX_NEED_BUFFER);
    CHECK(used == sizeof split - 4 && !got && !got_len && rx.length == 3);
    CHECK(http_rx_feed(&rx, (const uint8_t *)"abc", 3, &used, NULL, NULL) == HTTP_RX_NEED_BUFFER);
    CHECK(used == 0);
    uint8_t small[2];
    CHECK(http_rx_set_body(&rx, small, sizeof small) == HTTP_RX_FAILED);
    CHECK_STR(rx.failure, "no buffer for the body");
}

static void expect_failure(const char *text, size_t step, int close, const char *reason)
{
    http_rx rx;
    CHECK(run(&rx, text, strlen(text), step, close, NULL) == HTTP_RX_FAILED);
    CHECK_STR(rx.failure, reason);
}

static void test_refusals(void)
{
    for (size_t step = 0; step <= 3; step += 3) {
        expect_failure("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", step, 1,
                       "HTTP 404 Not Found");
        expect_failure("HTTP/1.1 500 Whatever\r\n\r\n", step, 1, "HTTP 500 Internal Server Error");
        expect_failure("HTTP/1.1 418 I'm a teapot\r\n\r\n", step, 1, "HTTP 418");
        expect_failure("HTTP/1.1 100 Continue\r\n\r\n", step, 1, "HTTP 100 Continue");
        expect_failure("HTTP/1.1 206 Partial Content\r\nContent-Length: 1\r\n\r\nx", step, 1,
                       "HTTP 206 Partial Content");
        /* The status is judged first, as the firmware path does. */
        expect_failure("HTTP/1.1 302 Found\r\nTransfer-Encoding: chunked\r\n\r\n", step, 1,
                       "HTTP 302 Found");
        expect_failure("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", step, 1,
                       "no Content-Length header (the size must be known before the body)");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", step, 1,
                       "bad Content-Length header");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\nabc", step, 1,
                       "bad Content-Length header");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", step,
                       1, "bad Content-Length header");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: +\r\ncontent-length: 3\r\n\r\nabc",
                       step, 1, "bad Content-Length header");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
                       step, 1, "Content-Length headers that differ");
        expect_failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"
                       "\r\n3\r\nabc\r\n0\r\n\r\n", step, 1,
                       "Transfer-Encoding in the response (the size must be known before "
                       "the body)");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", step, 1, "empty file");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n", step, 1,
                       "file too large");
        /* Lengths that lie: more bytes than said (an endless server), fewer, none at all. */
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcd", step, 0,
                       "the server sent more than Content-Length bytes");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", step, 1,
                       "the body ended after 3 of 5 bytes (Content-Length)");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", step, 1,
                       "the body ended after 0 of 5 bytes (Content-Length)");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", step, 1,
                       "the connection closed before the HTTP response headers ended");
        expect_failure("", step, 1, "the connection closed before the HTTP response headers ended");
        /* Heads that are not HTTP/1.x or lie about their shape. */
        expect_failure("HTTP/2 200 OK\r\n\r\n", step, 1, "not an HTTP/1.x response");
        expect_failure("SSH-2.0-OpenSSH\r\n\r\n", step, 1, "not an HTTP/1.x response");
        expect_failure("HTTP/1.1 20 OK\r\n\r\n", step, 1, "bad HTTP status line");
        expect_failure("HTTP/1.1 2000 OK\r\n\r\n", step, 1, "bad HTTP status line");
        expect_failure("HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc", step, 1,
                       "blank in an HTTP header name");
        expect_failure("HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\n\r\n", step, 1,
                       "folded HTTP header line");
        expect_failure("HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", step, 1,
                       "HTTP header line without a name and a colon");
        expect_failure("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", step, 1,
                       "HTTP header line without a name and a colon");
    }
    http_rx rx;
    static const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
    CHECK(run(&rx, nul, sizeof nul - 1, 0, 1, NULL) == HTTP_RX_FAILED);
    CHECK_STR(rx.failure, "NUL in the HTTP response headers");

    /* A head of exactly 8192 bytes is taken; one byte more is not. */
    static char head[HTTP_RX_HEAD_MAX + 64];
    static const char start[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX: ";
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t total = HTTP_RX_HEAD_MAX + extra;
        memcpy(head, start, sizeof start - 1);
        memset(head + sizeof start - 1, 'a', total - (sizeof start - 1) - 4);
        memcpy(head + total - 4, "\r\n\r\nz", 5);
        http_rx_state st = run(&rx, head, total + 1, 1000, 0, NULL);
        CHECK(st == (extra ? HTTP_RX_FAILED : HTTP_RX_DONE));
        if (extra)
            CHECK_STR(rx.failure, "HTTP response headers longer than 8192 bytes");
    }
    /* Once failed or done, nothing more is taken. */
    size_t used;
    CHECK(http_rx_feed(&rx, (const uint8_t *)"x", 1, &used, NULL, NULL) == HTTP_RX_FAILED);
    CHECK(used == 0 && http_rx_end(&rx) == HTTP_RX_FAILED);
}

/* The whole own path on frames: frame_rx and tcp_rx and http_rx on the client, a server
 * built from frame_build_tcp; the file comes out whole, the request goes out as built. */
static void test_end_to_end(void)
{
    static const uint8_t cmac[6] = {2, 0, 0, 0, 0, 1}, smac[6] = {2, 0, 0, 0, 0, 2};
    static const uint8_t cip[4] = {10, 0, 2, 15}, sip[4] = {10, 0, 2, 2};
    static uint8_t reasm[2 * IPV4_REASM_MAX_PAYLOAD], store[8 * TCP_RX_SLOT_BYTES];
    static uint8_t file[100000], got[sizeof file], response[sizeof file + 200];
    static uint8_t frame[1600], reply[ETHER_MIN_FRAME];
    static frame_rx client, server;
    static http_rx http;
    frame_rx_init(&client, cmac, cip, sip, 40000, reasm, sizeof reasm, 50);
    frame_rx_init(&server, smac, sip, cip, 80, NULL, 0, 50);
    for (size_t i = 0; i < sizeof file; i++)
        file[i] = (uint8_t)(i ^ i >> 9);
    char request[256];
    size_t request_len = http_rx_build_get(request, sizeof request, "10.0.2.2", "/initrd");
    const tcp_rx_timing timing = {100, 1000, 3, 5000};
    tcp_rx tcp;
    tcp_rx_event ev;
    http_rx_init(&http, sizeof got);
    tcp_rx_init(&tcp, 40000, 80, 12345, (const uint8_t *)request, request_len, store,
                sizeof store, &timing, 0, &ev);
    frame_rx_result r = {.reply = reply};

    /* The client's frames, as the server sees them. */
    size_t n = frame_build_tcp(frame, sizeof frame, smac, &client, 1, &ev.segment, ev.payload,
                               ev.payload_len);
    CHECK(frame_rx_take(&server, frame, n, 0, &r) == FRAME_RX_TCP && r.tcp.flags == TCP_SYN);
    CHECK(r.tcp.mss == TCP_RX_MSS && r.tcp.wscale == TCP_RX_WSCALE);
    tcp_header_out h = {.src_port = 80, .dst_port = 40000, .seq = 777, .ack = r.tcp.seq + 1,
                        .flags = TCP_SYN | TCP_ACK, .window = 65535, .mss = 1460, .wscale = 7};
    n = frame_build_tcp(frame, sizeof frame, cmac, &server, 1, &h, NULL, 0);
    CHECK(frame_rx_take(&client, frame, n, 0, &r) == FRAME_RX_TCP);
    CHECK(tcp_rx_receive(&tcp, &r.tcp, 0, &ev) == TCP_RX_ESTABLISHED && ev.send);
    n = frame_build_tcp(frame, sizeof frame, smac, &client, 2, &ev.segment, ev.payload,
                        ev.payload_len);
    CHECK(frame_rx_take(&server, frame, n, 0, &r) == FRAME_RX_TCP);
    CHECK(r.payload_len == request_len && memcmp(r.payload, request, request_len) == 0);
    uint32_t ack = r.tcp.seq + (uint32_t)r.payload_len;

    /* The response in full segments, the last one with FIN; every ACK is counted. */
    int head = snprintf((char *)response, 200, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                        sizeof file);
    memcpy(response + head, file, sizeof file);
    size_t total = (size_t)head + sizeof file, sent = 0, body = 0, acks = 0, segments = 0;
    int eos = 0;
    while (sent < total) {
        size_t len = total - sent < 1460 ? total - sent : 1460;
        h = (tcp_header_out){.src_port = 80, .dst_port = 40000, .seq = 778 + (uint32_t)sent,
                             .ack = ack, .flags = TCP_ACK, .window = 1000, .wscale = -1};
        if (sent + len == total)
            h.flags |= TCP_FIN;
        n = frame_build_tcp(frame, sizeof frame, cmac, &server, 3, &h, response + sent, len);
        sent += len;
        segments++;
        CHECK(frame_rx_take(&client, frame, n, 0, &r) == FRAME_RX_TCP);
        tcp_rx_receive(&tcp, &r.tcp, 1, &ev);
        acks += ev.send;
        eos |= ev.end_of_stream;
        for (size_t i = 0; i < ev.piece_count; i++) {
            const uint8_t *at = ev.pieces[i].data;
            size_t left = ev.pieces[i].len;
            while (left) {
                size_t used, got_len;
                const uint8_t *body_at;
                http_rx_state st = http_rx_feed(&http, at, left, &used, &body_at, &got_len);
                if (st == HTTP_RX_NEED_BUFFER)
                    http_rx_set_body(&http, got, sizeof got);
                else if (st == HTTP_RX_FAILED)
                    break;
                at += used, left -= used, body += got_len;
            }
        }
    }
    CHECK(eos && http_rx_end(&http) == HTTP_RX_DONE && body == sizeof file);
    CHECK(memcmp(got, file, sizeof file) == 0 && tcp.state == TCP_RX_LAST_ACK);
    CHECK(acks == segments / 2 + 1); /* every second segment, and the FIN */
}

void test_http_rx(void)
{
    test_request();
    test_good();
    test_refusals();
    test_end_to_end();
}

/* run_tests.c's main() does not list this file's tests: they run before it, and the counts
 * they add are in its last line. */
