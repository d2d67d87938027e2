/* The HTTP response parser on any bytes, split anywhere: the first two input bytes pick the
 * piece sizes. Whatever the split, the outcome (state, failure, length, body) is the same as
 * with the whole input at once; body bytes land only in the buffer, are the input's bytes after
 * the head, and DONE means exactly Content-Length of them. The rest of the input is also a
 * host and path for the request builder, whose output keeps the request's shape. */
#include <assert.h>
#include <string.h>

#include "http_rx.h"

#define MAX_BODY 4096

static http_rx_state parse(http_rx *rx, const uint8_t *data, size_t size, size_t step,
                           uint8_t *body, size_t *head_end)
{
    http_rx_init(rx, MAX_BODY);
    size_t at = 0;
    *head_end = 0;
    while (at < size) {
        size_t n = size - at > step ? step : size - at;
        size_t used;
        const uint8_t *got;
        size_t got_len;
        http_rx_state st = http_rx_feed(rx, data + at, n, &used, &got, &got_len);
        assert(used <= n);
        if (got_len) {
            assert(got == body + (rx->received - got_len));
            assert(rx->received <= rx->length && rx->length <= MAX_BODY);
            assert(memcmp(got, data + at + (used - got_len), got_len) == 0);
        }
        at += used;
        if (st == HTTP_RX_NEED_BUFFER) {
            *head_end = at;
            assert(rx->length > 0 && rx->length <= MAX_BODY && rx->status == 200);
            http_rx_set_body(rx, body, MAX_BODY);
            continue;
        }
        if (st == HTTP_RX_FAILED)
            break;
        assert(used == n);
    }
    http_rx_state st = http_rx_end(rx);
    if (st == HTTP_RX_DONE) {
        assert(rx->received == rx->length && *head_end + rx->length == size);
        assert(memcmp(body, data + *head_end, rx->length) == 0);
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static http_rx whole, pieces;
    static uint8_t body_whole[MAX_BODY], body_pieces[MAX_BODY];
    if (size < 2)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    data += 2, size -= 2;
    size_t end_whole, end_pieces;
    http_rx_state a = parse(&whole, data, size, size ? size : 1, body_whole, &end_whole);
    http_rx_state b = parse(&pieces, data, size, step, body_pieces, &end_pieces);
    assert(a == b);
    if (a == HTTP_RX_FAILED) {
        assert(whole.failure && pieces.failure && strcmp(whole.failure, pieces.failure) == 0);
    } else {
        assert(end_whole == end_pieces && whole.length == pieces.length);
        assert(memcmp(body_whole, body_pieces, whole.received) == 0);
    }

    char text[300], out[700];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = 0;
    char *path = memchr(text, '/', n);
    if (path && path > text) {
        path[-1] = 0; /* host: text up to the byte before the path */
        size_t len = http_rx_build_get(out, sizeof out, text, path);
        if (len) {
            assert(len < sizeof out && out[len] == 0 && strlen(out) == len);
            assert(memcmp(out, "GET /", 5) == 0 && memcmp(out + len - 4, "\r\n\r\n", 4) == 0);
            size_t lines = 0;
            for (size_t i = 0; i < len; i++)
                if (out[i] == '\n')
                    lines++, assert(i > 0 && out[i - 1] == '\r');
            assert(lines == 6);
        }
    }
    return 0;
}
