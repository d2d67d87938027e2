#include "http_rx.h"

#include "bytes.h"

#include "http_status.h"
#include "textbuf.h"

#ifndef STUB_VERSION
#define STUB_VERSION "0.0.0"
#endif

static int plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

/* Appends s at *at; 0 once it does not fit (the request is then refused whole). */
static int append(char *out, size_t cap, size_t *at, const char *s)
{
    for (; *s; s++) {
        if (*at + 1 >= cap)
            return 0;
        out[(*at)++] = *s;
    }
    out[*at] = 0;
    return 1;
}

size_t http_rx_build_get(char *out, size_t cap, const char *host, const char *path)
{
    if (!out || !cap || !host || !path || !host[0] || path[0] != '/' || !plain(host) ||
        !plain(path))
        return 0;
    size_t at = 0;
    const char *parts[] = {"GET ", path, " HTTP/1.1\r\nHost: ", host,
                           "\r\nAccept: */*\r\nUser-Agent: stub-workbench/" STUB_VERSION
                           "\r\nConnection: close\r\n\r\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (!append(out, cap, &at, parts[i]))
            return 0;
    return at;
}

void http_rx_init(http_rx *rx, uint64_t max_length)
{
    rx->state = HTTP_RX_HEAD;
    rx->max_length = max_length;
    rx->head_len = rx->line_start = 0;
    rx->line_count = 0;
    rx->head_flags = 0;
    rx->status = 0;
    rx->length_known = 0;
    rx->length = 0;
    rx->body = NULL;
    rx->received = 0;
    rx->failure = NULL;
    rx->reason[0] = 0;
}

static http_rx_state fail(http_rx *rx, const char *why)
{
    rx->state = HTTP_RX_FAILED;
    rx->failure = why;
    return rx->state;
}

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *status_line(http_rx *rx, const char *line)
{
    if (line[0] != 'H' || line[1] != 'T' || line[2] != 'T' || line[3] != 'P' || line[4] != '/' ||
        line[5] != '1' || line[6] != '.' || !digit(line[7]) || line[8] != ' ')
        return "not an HTTP/1.x response";
    const char *code = line + 9;
    if (!digit(code[0]) || !digit(code[1]) || !digit(code[2]) || (code[3] && code[3] != ' '))
        return "bad HTTP status line";
    rx->status = (unsigned)(code[0] - '0') * 100 + (unsigned)(code[1] - '0') * 10 +
                 (unsigned)(code[2] - '0');
    return NULL;
}

/* Flags kept while the headers come; judged once they are complete. */
#define LENGTH_BAD 1
#define LENGTH_CONFLICT 2
#define TRANSFER_ENCODING 4
#define TRANSFER_ENCODING_REFUSED \
    "Transfer-Encoding in the response (the size must be known before the body)"

static const char *header_line(http_rx *rx, char *line, unsigned *flags)
{
    if (line[0] == ' ' || line[0] == '\t')
        return "folded HTTP header line";
    char *colon = line;
    while (*colon && *colon != ':') {
        if (*colon == ' ' || *colon == '\t')
            return "blank in an HTTP header name";
        colon++;
    }
    if (!*colon || colon == line)
        return "HTTP header line without a name and a colon";
    *colon = 0;
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (http_header_is(line, "Transfer-Encoding")) {
        *flags |= TRANSFER_ENCODING;
    } else if (http_header_is(line, "Content-Length")) {
        uint64_t n;
        if (!http_content_length(value, &n)) {
            *flags |= LENGTH_BAD;
        } else {
            if (rx->length_known && n != rx->length)
                *flags |= LENGTH_CONFLICT;
            rx->length = n;
            rx->length_known = 1;
        }
    }
    return NULL;
}

static const char *status_reason(http_rx *rx)
{
    const char *phrase = "";
    unsigned number;
    for (unsigned i = 1; (number = http_status_number(i)) != 0; i++)
        if (number == rx->status)
            phrase = http_status_phrase(i);
    text_buf tb;
    tb_init(&tb, rx->reason, sizeof rx->reason);
    tb_str(&tb, "HTTP ");
    tb_u64(&tb, rx->status);
    if (phrase[0]) {
        tb_str(&tb, " ");
        tb_str(&tb, phrase);
    }
    return rx->reason;
}

/* The head is complete: the firmware path's rules, in its order. */
static http_rx_state judge(http_rx *rx, unsigned flags)
{
    if (rx->status != 200)
        return fail(rx, status_reason(rx));
    if (flags & TRANSFER_ENCODING)
        return fail(rx, TRANSFER_ENCODING_REFUSED);
    if (flags & LENGTH_CONFLICT)
        return fail(rx, "Content-Length headers that differ");
    if (flags & LENGTH_BAD)
        return fail(rx, "bad Content-Length header");
    if (!rx->length_known)
        return fail(rx, "no Content-Length header (the size must be known before the body)");
    if (rx->length == 0)
        return fail(rx, "empty file");
    if (rx->length > rx->max_length)
        return fail(rx, "file too large");
    rx->state = HTTP_RX_NEED_BUFFER;
    return rx->state;
}

/* One more line ended at head[end] ('\n'): parse it; the blank one ends the head. */
static http_rx_state take_line(http_rx *rx, size_t end, unsigned *flags)
{
    char *line = rx->head + rx->line_start;
    size_t n = end - rx->line_start;
    if (n && line[n - 1] == '\r')
        n--;
    line[n] = 0;
    rx->line_start = end + 1;
    const char *bad = NULL;
    if (rx->line_count++ == 0)
        bad = status_line(rx, line);
    else if (n == 0)
        return judge(rx, *flags);
    else
        bad = header_line(rx, line, flags);
    return bad ? fail(rx, bad) : rx->state;
}

static size_t feed_head(http_rx *rx, const uint8_t *data, size_t len)
{
    unsigned flags = rx->head_flags;
    size_t i = 0;
    while (i < len && rx->state == HTTP_RX_HEAD) {
        if (rx->head_len == HTTP_RX_HEAD_MAX) {
            fail(rx, "HTTP response headers longer than 8192 bytes");
            break;
        }
        char c = (char)data[i++];
        if (c == 0) {
            fail(rx, "NUL in the HTTP response headers");
            break;
        }
        rx->head[rx->head_len++] = c;
        if (c == '\n')
            take_line(rx, rx->head_len - 1, &flags);
    }
    rx->head_flags = flags;
    return i;
}

http_rx_state http_rx_feed(http_rx *rx, const uint8_t *data, size_t len, size_t *used,
                           const uint8_t **body_at, size_t *body_len)
{
    *used = 0;
    if (body_at)
        *body_at = NULL;
    if (body_len)
        *body_len = 0;
    if (!data)
        len = 0;
    if (rx->state == HTTP_RX_HEAD)
        *used = feed_head(rx, data, len);
    if (rx->state == HTTP_RX_DONE && len)
        return fail(rx, "the server sent more than Content-Length bytes");
    if (rx->state != HTTP_RX_BODY || *used == len)
        return rx->state;
    uint64_t left = rx->length - rx->received;
    size_t n = len - *used;
    size_t take = n > left ? (size_t)left : n;
    uint8_t *to = rx->body + rx->received;
    bytes_copy(to, data + *used, take);
    rx->received += take;
    *used += take;
    if (body_at)
        *body_at = to;
    if (body_len)
        *body_len = take;
    if (n > take)
        return fail(rx, "the server sent more than Content-Length bytes");
    if (rx->received == rx->length)
        rx->state = HTTP_RX_DONE;
    return rx->state;
}

http_rx_state http_rx_set_body(http_rx *rx, uint8_t *buf, uint64_t cap)
{
    if (rx->state != HTTP_RX_NEED_BUFFER)
        return rx->state;
    if (!buf || cap < rx->length)
        return fail(rx, "no buffer for the body");
    rx->body = buf;
    rx->state = HTTP_RX_BODY;
    return rx->state;
}

http_rx_state http_rx_end(http_rx *rx)
{
    if (rx->state == HTTP_RX_DONE || rx->state == HTTP_RX_FAILED)
        return rx->state;
    if (rx->state == HTTP_RX_HEAD)
        return fail(rx, "the connection closed before the HTTP response headers ended");
    text_buf tb;
    tb_init(&tb, rx->reason, sizeof rx->reason);
    tb_str(&tb, "the body ended after ");
    tb_u64(&tb, rx->received);
    tb_str(&tb, " of ");
    tb_u64(&tb, rx->length);
    tb_str(&tb, " bytes (Content-Length)");
    return fail(rx, rx->reason);
}
