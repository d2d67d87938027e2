/* HTTP/1.1 over the stub's own TCP: the GET request (Host, Accept, User-Agent naming the stub,
 * Connection: close), and an incremental parser of the response, fed the in-order stream as
 * it comes: status line and headers (at most HTTP_RX_HEAD_MAX bytes), then an event when the
 * body's length is known (the caller gets its buffer), then the body copied into that buffer,
 * done exactly at Content-Length. The rules are the firmware path's (http.c): only 200 is
 * taken, with the reason "HTTP <number> <phrase>" otherwise; Content-Length must be present,
 * valid and non-zero and not past the caller's limit. Refused besides: a status line that is
 * not HTTP/1.x, header lines without a colon, with blanks before it or folded, Content-Length
 * headers that differ, any Transfer-Encoding (the size must be known before the body), bytes
 * past Content-Length, and an end of stream before it. Pure: no EFI calls, no allocation. */
#ifndef STUB_HTTP_RX_H
#define STUB_HTTP_RX_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_RX_HEAD_MAX 8192
#define HTTP_RX_REASON_MAX 160

typedef enum {
    HTTP_RX_HEAD,        /* reading the status line and headers */
    HTTP_RX_NEED_BUFFER, /* length known: call http_rx_set_body before more bytes */
    HTTP_RX_BODY,
    HTTP_RX_DONE,   /* exactly Content-Length bytes are in the buffer */
    HTTP_RX_FAILED, /* failure says why */
} http_rx_state;

typedef struct {
    http_rx_state state;
    uint64_t max_length;
    char head[HTTP_RX_HEAD_MAX + 1]; /* + the NUL put after each line as it is parsed */
    size_t head_len, line_start;
    unsigned line_count;
    unsigned head_flags; /* what the headers so far said, judged when they end */
    unsigned status;   /* the number of the status line */
    int length_known;  /* a Content-Length header was seen */
    uint64_t length;
    uint8_t *body;
    uint64_t received;
    const char *failure;
    char reason[HTTP_RX_REASON_MAX];
} http_rx;

/* GET path HTTP/1.1 with Host: host. path must start with '/'; neither may hold blanks or
 * control characters. Returns the request's length, or 0 when refused or past cap. */
size_t http_rx_build_get(char *out, size_t cap, const char *host, const char *path);

/* max_length: the largest body the caller takes ("file too large" past it). */
void http_rx_init(http_rx *rx, uint64_t max_length);

/* Stream bytes in order. *used says how many were taken: fewer than len only when the head
 * ended inside them (state NEED_BUFFER: set the buffer, then feed the rest) or the response
 * failed. body_at/body_len (either may be NULL) get the body bytes this call wrote, inside the
 * caller's buffer (to hash them as they come). */
http_rx_state http_rx_feed(http_rx *rx, const uint8_t *data, size_t len, size_t *used,
                           const uint8_t **body_at, size_t *body_len);

/* The buffer for the body: at least rx->length bytes (else FAILED). */
http_rx_state http_rx_set_body(http_rx *rx, uint8_t *buf, uint64_t cap);

/* The server closed the stream: DONE stays DONE, anything else fails (short body). */
http_rx_state http_rx_end(http_rx *rx);

#endif
