#include "tftp_rx.h"

#include "bytes.h"
#include "tftp_error.h"
#include "tftp_oack.h"

#define WINDOW_LIMIT 0x8000 /* block numbers further ahead than this count as behind */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void tftp_rx_init(tftp_rx *rx, uint8_t *buf, size_t cap, uint32_t blksize, uint32_t windowsize,
                  uint32_t timeout, unsigned max_retries, uint32_t now)
{
    *rx = (tftp_rx){0};
    rx->buf = buf;
    rx->cap = buf ? cap : 0;
    if (blksize && blksize != TFTP_DEFAULT_BLKSIZE)
        rx->blksize_asked = blksize < 8 ? 8 : blksize > 65464 ? 65464 : blksize;
    if (windowsize > 1)
        rx->windowsize_asked = windowsize > 65535 ? 65535 : windowsize;
    rx->blksize = TFTP_DEFAULT_BLKSIZE;
    rx->windowsize = 1;
    rx->timeout = timeout;
    rx->max_retries = max_retries;
    rx->last_activity = now;
    rx->state = TFTP_RX_REQUESTED;
}

int tftp_rx_attach(tftp_rx *rx, uint8_t *buf, size_t cap)
{
    if (rx->state != TFTP_RX_REQUESTED || !buf)
        return 0;
    rx->buf = buf;
    rx->cap = cap;
    return 1;
}

/* Appends to a packet under construction; `ok` turns 0 once something did not fit. */
typedef struct {
    uint8_t *out;
    size_t cap, len;
    int ok;
} packet_writer;

static void put_bytes(packet_writer *w, const char *s, size_t n)
{
    if (!w->ok || n > w->cap - w->len) {
        w->ok = 0;
        return;
    }
    for (size_t i = 0; i < n; i++)
        w->out[w->len++] = (uint8_t)s[i];
}

static void put_string(packet_writer *w, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    put_bytes(w, s, n + 1);
}

static void put_number(packet_writer *w, uint32_t v)
{
    char digits[11];
    size_t n = sizeof digits;
    digits[--n] = 0;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_string(w, digits + n);
}

size_t tftp_rx_build_rrq(const tftp_rx *rx, const char *name, uint8_t *out, size_t cap)
{
    if (!name || !name[0] || !out)
        return 0;
    packet_writer w = {out, cap, 0, 1};
    put_bytes(&w, "\0\1", 2);
    put_string(&w, name);
    put_string(&w, "octet");
    put_string(&w, "tsize");
    put_string(&w, "0");
    if (rx->blksize_asked) {
        put_string(&w, "blksize");
        put_number(&w, rx->blksize_asked);
    }
    if (rx->windowsize_asked) {
        put_string(&w, "windowsize");
        put_number(&w, rx->windowsize_asked);
    }
    return w.ok ? w.len : 0;
}

size_t tftp_build_ack(uint8_t *out, size_t cap, uint16_t block)
{
    if (!out || cap < 4)
        return 0;
    put_be16(out, TFTP_OP_ACK);
    put_be16(out + 2, block);
    return 4;
}

size_t tftp_build_error(uint8_t *out, size_t cap, uint16_t code, const char *message)
{
    if (!out || cap < 4)
        return 0;
    packet_writer w = {out, cap, 4, 1};
    put_be16(out, TFTP_OP_ERROR);
    put_be16(out + 2, code);
    put_string(&w, message ? message : "");
    return w.ok ? w.len : 0;
}

static uint16_t last_block(const tftp_rx *rx)
{
    return (uint16_t)rx->blocks;
}

/* ACK the last block in order. The retry clock is not touched here: only progress (the
 * first OACK, a new block in order) or a retry moves it, so that nothing the peer repeats or
 * forges can keep a dead transfer alive. */
static void send_ack(tftp_rx *rx, tftp_rx_event *ev)
{
    ev->send = TFTP_RX_SEND_ACK;
    ev->port = rx->tid;
    ev->ack_block = last_block(rx);
    rx->since_ack = 0;
}

/* Fail; when `code` is set, tell the server why (an ERROR ends its side too). */
static tftp_rx_state fail(tftp_rx *rx, tftp_rx_event *ev, const char *why, int code)
{
    rx->state = TFTP_RX_FAILED;
    rx->failure = why;
    if (code >= 0 && rx->tid_known) {
        ev->send = TFTP_RX_SEND_ERROR;
        ev->port = rx->tid;
        ev->error_code = (uint16_t)code;
        ev->error_message = why;
    }
    return rx->state;
}

static tftp_rx_state ignore(tftp_rx *rx, tftp_rx_event *ev, const char *why)
{
    ev->ignored = why;
    return rx->state;
}

static tftp_rx_state take_error(tftp_rx *rx, const uint8_t *p, size_t len)
{
    rx->state = TFTP_RX_FAILED;
    rx->failure = "the server sent an ERROR";
    rx->server_error = 1;
    rx->error_code = len >= 4 ? be16(p + 2) : 0;
    size_t n = 0;
    while (4 + n < len && p[4 + n] && n < TFTP_RX_MESSAGE_MAX) {
        rx->error_message[n] = p[4 + n];
        n++;
    }
    rx->error_message_len = n;
    return rx->state;
}

static tftp_rx_state take_oack(tftp_rx *rx, const uint8_t *p, size_t len, uint32_t now,
                               tftp_rx_event *ev)
{
    tftp_oack o;
    const char *bad = tftp_oack_parse(p + 2, len - 2, &o);
    if (bad)
        return fail(rx, ev, bad, TFTP_ERROR_OPTIONS);
    if ((o.present & TFTP_OACK_BLKSIZE) && (!rx->blksize_asked || o.blksize > rx->blksize_asked))
        return fail(rx, ev, "OACK blksize larger than asked", TFTP_ERROR_OPTIONS);
    if ((o.present & TFTP_OACK_WINDOWSIZE) &&
        (!rx->windowsize_asked || o.windowsize > rx->windowsize_asked))
        return fail(rx, ev, "OACK windowsize larger than asked", TFTP_ERROR_OPTIONS);
    if (o.present & TFTP_OACK_TIMEOUT)
        return fail(rx, ev, "OACK timeout was not asked", TFTP_ERROR_OPTIONS);
    if (o.present & TFTP_OACK_BLKSIZE)
        rx->blksize = o.blksize;
    if (o.present & TFTP_OACK_WINDOWSIZE)
        rx->windowsize = o.windowsize;
    if (o.present & TFTP_OACK_TSIZE) {
        rx->tsize_known = 1;
        rx->tsize = o.tsize;
        if (o.tsize > rx->cap)
            return fail(rx, ev, "file larger than the buffer", TFTP_ERROR_DISK_FULL);
    }
    rx->state = TFTP_RX_RECEIVING;
    rx->retries = 0;
    rx->last_activity = now;
    send_ack(rx, ev);
    return rx->state;
}

static tftp_rx_state take_data(tftp_rx *rx, const uint8_t *p, size_t len, uint32_t now,
                               tftp_rx_event *ev)
{
    if (rx->state == TFTP_RX_REQUESTED) {
        /* No OACK: the server ignored every option, and block 1 opens the transfer. */
        if (be16(p + 2) != 1)
            return ignore(rx, ev, "DATA before the transfer started");
        rx->state = TFTP_RX_RECEIVING;
    }
    size_t data_len = len - 4;
    uint16_t expected = (uint16_t)(rx->blocks + 1);
    uint16_t ahead = (uint16_t)(be16(p + 2) - expected);
    if (ahead >= WINDOW_LIMIT)
        return ignore(rx, ev, "duplicate DATA block");
    if (ahead) {
        uint32_t window = rx->windowsize < WINDOW_LIMIT ? rx->windowsize : WINDOW_LIMIT;
        if (ahead >= window)
            return ignore(rx, ev, "DATA block outside the window");
        if (!rx->gap_acked) {
            rx->gap_acked = 1;
            send_ack(rx, ev); /* RFC 7440: restart from the last block in order */
        }
        return ignore(rx, ev, "DATA block after a gap");
    }
    if (data_len > rx->blksize)
        return fail(rx, ev, "DATA block longer than the block size", TFTP_ERROR_ILLEGAL);
    if (data_len > rx->cap - rx->received)
        return fail(rx, ev, "file larger than the buffer", TFTP_ERROR_DISK_FULL);
    if (rx->tsize_known && rx->received + data_len > rx->tsize)
        return fail(rx, ev, "more data than the tsize the server announced", TFTP_ERROR_ILLEGAL);
    if (data_len) {
        bytes_copy(rx->buf + rx->received, p + 4, data_len);
        ev->data = rx->buf + rx->received;
        ev->data_len = data_len;
        rx->received += data_len;
    }
    rx->blocks++;
    rx->since_ack++;
    rx->gap_acked = 0;
    rx->retries = 0;
    rx->last_activity = now;
    if (data_len < rx->blksize) {
        send_ack(rx, ev);
        if (rx->tsize_known && rx->received != rx->tsize) {
            rx->state = TFTP_RX_FAILED;
            rx->failure = "transfer ended short of the tsize the server announced";
            return rx->state;
        }
        rx->state = TFTP_RX_DONE;
        return rx->state;
    }
    if (rx->since_ack >= rx->windowsize)
        send_ack(rx, ev);
    return rx->state;
}

tftp_rx_state tftp_rx_receive(tftp_rx *rx, uint16_t src_port, const uint8_t *p, size_t len,
                              uint32_t now, tftp_rx_event *ev)
{
    *ev = (tftp_rx_event){0};
    if (!p || len < 4)
        return ignore(rx, ev, "TFTP packet shorter than 4 bytes");
    uint16_t op = be16(p);
    if (rx->tid_known && src_port != rx->tid) {
        if (op == TFTP_OP_ERROR)
            return ignore(rx, ev, "ERROR from a foreign port"); /* errors are never answered */
        ev->send = TFTP_RX_SEND_ERROR;
        ev->port = src_port;
        ev->error_code = TFTP_ERROR_UNKNOWN_TID;
        ev->error_message = "unknown transfer ID";
        return ignore(rx, ev, "packet from a foreign port");
    }
    if (rx->state == TFTP_RX_DONE) {
        /* Our last ACK was lost: the server sends the last block again. */
        if (op == TFTP_OP_DATA && be16(p + 2) == last_block(rx))
            send_ack(rx, ev);
        return ignore(rx, ev, "transfer already over");
    }
    if (rx->state == TFTP_RX_FAILED)
        return ignore(rx, ev, "transfer already failed");
    if (op != TFTP_OP_DATA && op != TFTP_OP_OACK && op != TFTP_OP_ERROR)
        return ignore(rx, ev, "TFTP opcode a reader does not expect");
    /* The first reply names the server's port for the rest of the transfer (RFC 1350). */
    if (!rx->tid_known && !(op == TFTP_OP_DATA && be16(p + 2) != 1)) {
        rx->tid_known = 1;
        rx->tid = src_port;
    }
    if (op == TFTP_OP_ERROR)
        return take_error(rx, p, len);
    if (op == TFTP_OP_OACK) {
        if (rx->state == TFTP_RX_REQUESTED)
            return take_oack(rx, p, len, now, ev);
        if (rx->blocks == 0) {
            /* Our ACK of the OACK was lost: ACK 0 again, but a repeated OACK is no progress
             * (the clock and the window count stay as they are). */
            ev->send = TFTP_RX_SEND_ACK;
            ev->port = rx->tid;
            ev->ack_block = 0;
            return ignore(rx, ev, "OACK again");
        }
        return ignore(rx, ev, "OACK after DATA");
    }
    return take_data(rx, p, len, now, ev);
}

tftp_rx_state tftp_rx_tick(tftp_rx *rx, uint32_t now, tftp_rx_event *ev)
{
    *ev = (tftp_rx_event){0};
    if (rx->state != TFTP_RX_REQUESTED && rx->state != TFTP_RX_RECEIVING)
        return rx->state;
    if (now - rx->last_activity < rx->timeout)
        return rx->state;
    if (++rx->retries > rx->max_retries) {
        rx->state = TFTP_RX_FAILED;
        rx->failure = "TFTP server stopped answering";
        rx->timed_out = 1;
        return rx->state;
    }
    if (rx->state == TFTP_RX_REQUESTED) {
        ev->send = TFTP_RX_SEND_RRQ;
        ev->port = TFTP_PORT;
        rx->last_activity = now;
    } else {
        rx->gap_acked = 0;
        rx->last_activity = now;
        send_ack(rx, ev);
    }
    return rx->state;
}

void tftp_rx_describe_failure(const tftp_rx *rx, text_buf *tb)
{
    if (rx->server_error)
        tftp_error_describe(tb, rx->error_code, rx->error_message, rx->error_message_len);
    else
        tb_str(tb, rx->failure ? rx->failure : "no failure");
}
