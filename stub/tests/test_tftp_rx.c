/* The TFTP receiver (tftp_rx.c) against a scripted server: windows, gaps, duplicates, foreign
 * ports, errors, sizes that lie, block-number rollover, timeouts. */
#include <stdlib.h>

#include "check.h"
#include "tftp_rx.h"

#define SERVER 3000
#define STRANGER 4000

static uint8_t file[600000];

static void fill_file(void)
{
    for (size_t i = 0; i < sizeof file; i++)
        file[i] = (uint8_t)(i * 7 + i / 511);
}

/* Sends packets to rx from a malloc'd copy of exactly their size (ASan sees over-reads), and
 * keeps what it delivered. */
typedef struct {
    tftp_rx rx;
    uint8_t *buf;
    size_t delivered; /* bytes the events handed out, checked to be the buffer's next bytes */
    int out_of_order;
    tftp_rx_event ev;
    uint32_t now;
} session;

static tftp_rx_state deliver(session *s, uint16_t port, const uint8_t *bytes, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    tftp_rx_state st = tftp_rx_receive(&s->rx, port, copy, len, s->now, &s->ev);
    free(copy);
    if (s->ev.data_len) {
        if (s->ev.data != s->buf + s->delivered)
            s->out_of_order = 1;
        s->delivered += s->ev.data_len;
    }
    return st;
}

static tftp_rx_state oack(session *s, uint16_t port, const char *options, size_t len)
{
    uint8_t p[128] = {0, TFTP_OP_OACK};
    memcpy(p + 2, options, len);
    return deliver(s, port, p, 2 + len);
}
#define OACK(s, port, literal) oack(s, port, literal, sizeof literal - 1)

/* DATA block `block` (wire number) holding file[offset, offset + len). */
static tftp_rx_state data(session *s, uint16_t port, uint16_t block, size_t offset, size_t len)
{
    uint8_t *p = malloc(4 + len);
    p[0] = 0, p[1] = TFTP_OP_DATA, p[2] = (uint8_t)(block >> 8), p[3] = (uint8_t)block;
    memcpy(p + 4, file + offset, len);
    tftp_rx_state st = deliver(s, port, p, 4 + len);
    free(p);
    return st;
}

/* Block n (1-based) of a file of `size` bytes cut in `blksize` pieces. */
static tftp_rx_state block(session *s, uint32_t n, uint32_t blksize, size_t size)
{
    size_t offset = (size_t)(n - 1) * blksize;
    size_t len = offset >= size ? 0 : size - offset < blksize ? size - offset : blksize;
    return data(s, SERVER, (uint16_t)n, offset, len);
}

static void start(session *s, size_t cap, uint32_t blksize, uint32_t windowsize)
{
    memset(s, 0, sizeof *s);
    s->buf = malloc(cap ? cap : 1);
    tftp_rx_init(&s->rx, s->buf, cap, blksize, windowsize, 10, 3, 0);
}

static int acked(const session *s, uint16_t blk)
{
    return s->ev.send == TFTP_RX_SEND_ACK && s->ev.port == SERVER && s->ev.ack_block == blk;
}

static void finish(session *s)
{
    free(s->buf);
}

static void test_packets(void)
{
    tftp_rx rx;
    uint8_t out[128];
    tftp_rx_init(&rx, out, sizeof out, 1468, 4, 10, 3, 0);
    static const char want[] = "\0\1boot/vmlinuz\0octet\0tsize\0" "0\0blksize\0" "1468\0windowsize\0" "4";
    size_t n = tftp_rx_build_rrq(&rx, "boot/vmlinuz", out, sizeof out);
    CHECK(n == sizeof want && memcmp(out, want, sizeof want) == 0);
    CHECK(tftp_rx_build_rrq(&rx, "boot/vmlinuz", out, sizeof want - 1) == 0);
    CHECK(tftp_rx_build_rrq(&rx, "", out, sizeof out) == 0);
    /* Defaults are not asked for; silly values are clamped. */
    tftp_rx_init(&rx, out, sizeof out, 512, 1, 10, 3, 0);
    static const char plain[] = "\0\1k\0octet\0tsize\0" "0";
    CHECK(tftp_rx_build_rrq(&rx, "k", out, sizeof out) == sizeof plain);
    CHECK(memcmp(out, plain, sizeof plain) == 0);
    tftp_rx_init(&rx, out, sizeof out, 100000, 100000, 10, 3, 0);
    CHECK(rx.blksize_asked == 65464 && rx.windowsize_asked == 65535);

    CHECK(tftp_build_ack(out, sizeof out, 0x1234) == 4);
    CHECK(memcmp(out, "\0\4\x12\x34", 4) == 0);
    CHECK(tftp_build_ack(out, 3, 1) == 0);
    static const char err[] = "\0\5\0\5unknown transfer ID";
    CHECK(tftp_build_error(out, sizeof out, 5, "unknown transfer ID") == sizeof err);
    CHECK(memcmp(out, err, sizeof err) == 0);
    CHECK(tftp_build_error(out, 10, 5, "unknown transfer ID") == 0);
}

static void test_windows(void)
{
    session s;
    /* OACK, then 6 blocks of 8 in windows of 4: ACK 0, ACK 4, ACK 6 at the short end. */
    start(&s, 100, 8, 4);
    CHECK(OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0tsize\0" "45\0") == TFTP_RX_RECEIVING);
    CHECK(acked(&s, 0) && s.rx.blksize == 8 && s.rx.windowsize == 4 && s.rx.tsize == 45);
    for (uint32_t n = 1; n <= 5; n++) {
        CHECK(block(&s, n, 8, 45) == TFTP_RX_RECEIVING);
        CHECK(n == 4 ? acked(&s, 4) : s.ev.send == TFTP_RX_SEND_NOTHING);
    }
    CHECK(block(&s, 6, 8, 45) == TFTP_RX_DONE && acked(&s, 6));
    CHECK(s.delivered == 45 && !s.out_of_order && memcmp(s.buf, file, 45) == 0);
    /* Our last ACK was lost: the last block again is ACKed again; anything else ignored. */
    CHECK(block(&s, 6, 8, 45) == TFTP_RX_DONE && acked(&s, 6) && s.delivered == 45);
    CHECK(block(&s, 5, 8, 45) == TFTP_RX_DONE && s.ev.send == TFTP_RX_SEND_NOTHING);
    finish(&s);

    /* A gap: one ACK of the last block in order, then the server restarts from there. */
    start(&s, 100, 8, 4);
    OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0");
    block(&s, 1, 8, 80);
    CHECK(block(&s, 3, 8, 80) == TFTP_RX_RECEIVING && acked(&s, 1));
    CHECK_STR(s.ev.ignored, "DATA block after a gap");
    CHECK(block(&s, 4, 8, 80) == TFTP_RX_RECEIVING && s.ev.send == TFTP_RX_SEND_NOTHING);
    CHECK(s.delivered == 8);
    for (uint32_t n = 2; n <= 5; n++)
        block(&s, n, 8, 80);
    CHECK(acked(&s, 5) && s.delivered == 40);
    /* Duplicates are ignored without an ACK; beyond the window, too. */
    CHECK(block(&s, 3, 8, 80) == TFTP_RX_RECEIVING && s.ev.send == TFTP_RX_SEND_NOTHING);
    CHECK_STR(s.ev.ignored, "duplicate DATA block");
    CHECK(block(&s, 10, 8, 80) == TFTP_RX_RECEIVING && s.ev.send == TFTP_RX_SEND_NOTHING);
    CHECK_STR(s.ev.ignored, "DATA block outside the window");
    CHECK(s.delivered == 40);
    for (uint32_t n = 6; n <= 11; n++)
        block(&s, n, 8, 80);
    CHECK(s.rx.state == TFTP_RX_DONE && s.delivered == 80 && memcmp(s.buf, file, 80) == 0);
    CHECK(!s.out_of_order);
    finish(&s);

    /* A file that is a whole number of blocks ends with an empty block. */
    start(&s, 16, 8, 1);
    OACK(&s, SERVER, "blksize\0" "8\0tsize\0" "16\0");
    CHECK(block(&s, 1, 8, 16) == TFTP_RX_RECEIVING && acked(&s, 1));
    CHECK(block(&s, 2, 8, 16) == TFTP_RX_RECEIVING && acked(&s, 2));
    CHECK(block(&s, 3, 8, 16) == TFTP_RX_DONE && acked(&s, 3) && s.delivered == 16);
    finish(&s);

    /* A server that ignores the options: 512-byte blocks, lock-step, block 1 first. */
    start(&s, 2000, 1468, 8);
    CHECK(data(&s, SERVER, 2, 512, 512) == TFTP_RX_REQUESTED && !s.rx.tid_known);
    CHECK_STR(s.ev.ignored, "DATA before the transfer started");
    CHECK(data(&s, SERVER, 1, 0, 512) == TFTP_RX_RECEIVING && acked(&s, 1));
    CHECK(s.rx.blksize == 512 && s.rx.windowsize == 1 && !s.rx.tsize_known);
    CHECK(data(&s, SERVER, 2, 512, 100) == TFTP_RX_DONE && acked(&s, 2) && s.delivered == 612);
    finish(&s);

    /* The OACK again (our ACK 0 was lost) is ACKed again, but not once data flows. */
    start(&s, 100, 8, 2);
    OACK(&s, SERVER, "blksize\0" "8\0");
    CHECK(OACK(&s, SERVER, "blksize\0" "8\0") == TFTP_RX_RECEIVING && acked(&s, 0));
    block(&s, 1, 8, 80);
    CHECK(OACK(&s, SERVER, "blksize\0" "8\0") == TFTP_RX_RECEIVING);
    CHECK(s.ev.send == TFTP_RX_SEND_NOTHING);
    finish(&s);
}

static void test_rollover(void)
{
    /* 65538 blocks of 8 bytes: the block number wraps from 65535 to 0. */
    session s;
    size_t size = 65538u * 8 + 3;
    start(&s, size, 8, 16);
    OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "16\0");
    int acks_ok = 1;
    for (uint32_t n = 1; n <= 65539; n++) {
        tftp_rx_state st = block(&s, n, 8, size);
        int window_end = n % 16 == 0 || n == 65539;
        if ((s.ev.send == TFTP_RX_SEND_ACK) != window_end ||
            (window_end && s.ev.ack_block != (uint16_t)n))
            acks_ok = 0;
        if (st != (n == 65539 ? TFTP_RX_DONE : TFTP_RX_RECEIVING))
            acks_ok = 0;
    }
    CHECK(acks_ok);
    CHECK(s.rx.state == TFTP_RX_DONE && s.delivered == size && !s.out_of_order);
    CHECK(memcmp(s.buf, file, size) == 0);
    finish(&s);
}

static void test_hostile(void)
{
    session s;
    /* A foreign port: ERROR 5 to it, and the transfer goes on; its ERRORs are not answered. */
    start(&s, 100, 8, 4);
    OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0");
    CHECK(data(&s, STRANGER, 1, 0, 8) == TFTP_RX_RECEIVING);
    CHECK(s.ev.send == TFTP_RX_SEND_ERROR && s.ev.port == STRANGER);
    CHECK(s.ev.error_code == TFTP_ERROR_UNKNOWN_TID && s.delivered == 0);
    static const uint8_t stranger_error[] = {0, 5, 0, 1, 'x', 0};
    CHECK(deliver(&s, STRANGER, stranger_error, sizeof stranger_error) == TFTP_RX_RECEIVING);
    CHECK(s.ev.send == TFTP_RX_SEND_NOTHING);
    CHECK(OACK(&s, STRANGER, "blksize\0" "512\0") == TFTP_RX_RECEIVING && s.rx.blksize == 8);
    CHECK(block(&s, 1, 8, 80) == TFTP_RX_RECEIVING && s.delivered == 8);
    /* Packets too short to read, and opcodes a reader never gets, change nothing. */
    static const uint8_t tiny[] = {0, 3, 0};
    CHECK(deliver(&s, SERVER, tiny, sizeof tiny) == TFTP_RX_RECEIVING);
    CHECK_STR(s.ev.ignored, "TFTP packet shorter than 4 bytes");
    static const uint8_t ack[] = {0, 4, 0, 2};
    CHECK(deliver(&s, SERVER, ack, sizeof ack) == TFTP_RX_RECEIVING && s.ev.send == 0);
    CHECK(s.delivered == 8);
    /* A block longer than the agreed size ends the transfer with ERROR 4. */
    CHECK(data(&s, SERVER, 2, 8, 9) == TFTP_RX_FAILED);
    CHECK(s.ev.send == TFTP_RX_SEND_ERROR && s.ev.error_code == TFTP_ERROR_ILLEGAL);
    CHECK(s.ev.port == SERVER && s.delivered == 8);
    CHECK(block(&s, 2, 8, 80) == TFTP_RX_FAILED && s.delivered == 8);
    finish(&s);

    /* A tsize larger than the buffer: refused at the OACK with ERROR 3. */
    start(&s, 100, 8, 4);
    CHECK(OACK(&s, SERVER, "tsize\0" "101\0") == TFTP_RX_FAILED);
    CHECK(s.ev.send == TFTP_RX_SEND_ERROR && s.ev.error_code == TFTP_ERROR_DISK_FULL);
    CHECK_STR(s.rx.failure, "file larger than the buffer");
    finish(&s);
    /* No tsize, more data than the buffer: refused before a byte past it is written. */
    start(&s, 20, 8, 4);
    OACK(&s, SERVER, "blksize\0" "8\0");
    block(&s, 1, 8, 80);
    block(&s, 2, 8, 80);
    CHECK(block(&s, 3, 8, 80) == TFTP_RX_FAILED && s.delivered == 16);
    CHECK(s.ev.error_code == TFTP_ERROR_DISK_FULL);
    finish(&s);
    /* tsize that lies, both ways. */
    start(&s, 100, 8, 4);
    OACK(&s, SERVER, "blksize\0" "8\0tsize\0" "12\0");
    block(&s, 1, 8, 80);
    CHECK(block(&s, 2, 8, 80) == TFTP_RX_FAILED && s.delivered == 8);
    CHECK_STR(s.rx.failure, "more data than the tsize the server announced");
    finish(&s);
    start(&s, 100, 8, 4);
    OACK(&s, SERVER, "blksize\0" "8\0tsize\0" "20\0");
    block(&s, 1, 8, 13);
    CHECK(block(&s, 2, 8, 13) == TFTP_RX_FAILED);
    CHECK_STR(s.rx.failure, "transfer ended short of the tsize the server announced");
    finish(&s);

    /* Options the server may not raise or add. */
    start(&s, 100, 1024, 4);
    CHECK(OACK(&s, SERVER, "blksize\0" "1025\0") == TFTP_RX_FAILED);
    CHECK(s.ev.error_code == TFTP_ERROR_OPTIONS && s.ev.port == SERVER);
    finish(&s);
    start(&s, 100, 1024, 1);
    CHECK(OACK(&s, SERVER, "windowsize\0" "2\0") == TFTP_RX_FAILED);
    finish(&s);
    start(&s, 100, 512, 4);
    CHECK(OACK(&s, SERVER, "blksize\0" "256\0") == TFTP_RX_FAILED);
    finish(&s);
    start(&s, 100, 1024, 4);
    CHECK(OACK(&s, SERVER, "blksize\0" "10") == TFTP_RX_FAILED);
    CHECK_STR(s.rx.failure, "OACK option cut short");
    finish(&s);
    start(&s, 100, 1024, 4);
    CHECK(OACK(&s, SERVER, "timeout\0" "3\0") == TFTP_RX_FAILED);
    finish(&s);
}

static void test_errors(void)
{
    session s;
    char text[160];
    text_buf tb;
    start(&s, 100, 8, 4);
    static const uint8_t not_found[] = {0, 5, 0, 1, 'F', 'i', 'l', 'e', ' ', 'n', 'o', 't', 0};
    CHECK(deliver(&s, SERVER, not_found, sizeof not_found) == TFTP_RX_FAILED);
    CHECK(s.rx.server_error && s.rx.error_code == 1 && s.rx.error_message_len == 8);
    tb_init(&tb, text, sizeof text);
    tftp_rx_describe_failure(&s.rx, &tb);
    CHECK_STR(text, "TFTP error: file not found");
    CHECK(s.ev.send == TFTP_RX_SEND_NOTHING);
    finish(&s);
    /* A message without its NUL, and one longer than we keep. */
    start(&s, 100, 8, 4);
    uint8_t long_error[4 + 300];
    long_error[0] = 0, long_error[1] = 5, long_error[2] = 0, long_error[3] = 0;
    memset(long_error + 4, 'z', 300);
    CHECK(deliver(&s, SERVER, long_error, sizeof long_error) == TFTP_RX_FAILED);
    CHECK(s.rx.error_message_len == TFTP_RX_MESSAGE_MAX);
    finish(&s);
    start(&s, 100, 8, 4);
    static const uint8_t bare[] = {0, 5, 0, 3};
    CHECK(deliver(&s, SERVER, bare, sizeof bare) == TFTP_RX_FAILED);
    tb_init(&tb, text, sizeof text);
    tftp_rx_describe_failure(&s.rx, &tb);
    CHECK_STR(text, "TFTP error: disk full");
    /* After failing, nothing more happens. */
    CHECK(block(&s, 1, 8, 80) == TFTP_RX_FAILED && s.delivered == 0);
    finish(&s);
}

static void test_timeouts(void)
{
    session s;
    start(&s, 100, 8, 4); /* timeout 10 ticks, 3 retries */
    tftp_rx_event ev;
    CHECK(tftp_rx_tick(&s.rx, 9, &ev) == TFTP_RX_REQUESTED && ev.send == TFTP_RX_SEND_NOTHING);
    CHECK(tftp_rx_tick(&s.rx, 10, &ev) == TFTP_RX_REQUESTED && ev.send == TFTP_RX_SEND_RRQ);
    CHECK(ev.port == TFTP_PORT);
    CHECK(tftp_rx_tick(&s.rx, 19, &ev) == TFTP_RX_REQUESTED && ev.send == TFTP_RX_SEND_NOTHING);
    CHECK(tftp_rx_tick(&s.rx, 20, &ev) == TFTP_RX_REQUESTED && ev.send == TFTP_RX_SEND_RRQ);
    s.now = 25;
    OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0");
    s.now = 30;
    block(&s, 1, 8, 80);
    block(&s, 2, 8, 80);
    /* Silence: the last block in order is ACKed again (RFC 7440), three times, then failure. */
    CHECK(tftp_rx_tick(&s.rx, 39, &ev) == TFTP_RX_RECEIVING && ev.send == TFTP_RX_SEND_NOTHING);
    CHECK(tftp_rx_tick(&s.rx, 40, &ev) == TFTP_RX_RECEIVING && ev.send == TFTP_RX_SEND_ACK);
    CHECK(ev.ack_block == 2 && ev.port == SERVER);
    /* Progress resets the count. */
    s.now = 45;
    block(&s, 3, 8, 80);
    CHECK(tftp_rx_tick(&s.rx, 55, &ev) == TFTP_RX_RECEIVING && ev.ack_block == 3);
    CHECK(tftp_rx_tick(&s.rx, 65, &ev) == TFTP_RX_RECEIVING && ev.ack_block == 3);
    /* A server that only repeats itself makes no progress: the retries still run out. */
    s.now = 70;
    block(&s, 3, 8, 80);
    CHECK(tftp_rx_tick(&s.rx, 75, &ev) == TFTP_RX_RECEIVING && ev.send == TFTP_RX_SEND_ACK);
    CHECK(tftp_rx_tick(&s.rx, 85, &ev) == TFTP_RX_FAILED);
    CHECK_STR(s.rx.failure, "TFTP server stopped answering");
    CHECK(tftp_rx_tick(&s.rx, 95, &ev) == TFTP_RX_FAILED && ev.send == TFTP_RX_SEND_NOTHING);
    finish(&s);

    /* Repeated OACKs (the server's, or forged from its address and port) faster than the
     * timeout: each is answered with ACK 0, none postpones the clock. The transfer fails after
     * max_retries ACKs again, at 10, 20, 30; the tick at 40 gives up. */
    start(&s, 100, 8, 4);
    OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0");
    int failed_at = 0;
    for (uint32_t t = 1; t <= 100 && !failed_at; t++) {
        s.now = t;
        if (t % 3 == 0) {
            CHECK(OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0") == TFTP_RX_RECEIVING);
            CHECK(acked(&s, 0));
            CHECK_STR(s.ev.ignored, "OACK again");
        }
        if (tftp_rx_tick(&s.rx, t, &ev) == TFTP_RX_FAILED)
            failed_at = (int)t;
    }
    CHECK(failed_at == 40 && s.delivered == 0);
    finish(&s);

    /* The same for blocks after a gap, duplicates and outside the window: the gap is ACKed
     * once per retry, yet the clock runs from the last block in order (t = 0). */
    start(&s, 100, 8, 4);
    OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0");
    block(&s, 1, 8, 80);
    failed_at = 0;
    for (uint32_t t = 1; t <= 100 && !failed_at; t++) {
        s.now = t;
        block(&s, 3 + t % 2, 8, 80); /* after the gap at 2 */
        block(&s, 1, 8, 80);         /* a duplicate */
        block(&s, 9, 8, 80);         /* outside the window */
        if (tftp_rx_tick(&s.rx, t, &ev) == TFTP_RX_FAILED)
            failed_at = (int)t;
    }
    CHECK(failed_at == 40 && s.delivered == 8);
    finish(&s);

    /* The tick wraps around. */
    session w;
    memset(&w, 0, sizeof w);
    w.buf = malloc(10);
    tftp_rx_init(&w.rx, w.buf, 10, 0, 0, 10, 1, 4294967295u);
    CHECK(tftp_rx_tick(&w.rx, 8, &ev) == TFTP_RX_REQUESTED && ev.send == TFTP_RX_SEND_NOTHING);
    CHECK(tftp_rx_tick(&w.rx, 9, &ev) == TFTP_RX_REQUESTED && ev.send == TFTP_RX_SEND_RRQ);
    finish(&w);
}

/* A buffer sized from the OACK's tsize: attached before the transfer begins, never after. */
static void test_attach(void)
{
    session s;
    memset(&s, 0, sizeof s);
    tftp_rx_init(&s.rx, NULL, 0, 8, 4, 10, 3, 0);
    CHECK(!tftp_rx_attach(&s.rx, NULL, 10));
    s.buf = malloc(20);
    CHECK(tftp_rx_attach(&s.rx, s.buf, 20));
    CHECK(OACK(&s, SERVER, "blksize\0" "8\0windowsize\0" "4\0tsize\0" "20\0") == TFTP_RX_RECEIVING);
    uint8_t other[4];
    CHECK(!tftp_rx_attach(&s.rx, other, sizeof other));
    block(&s, 1, 8, 20);
    block(&s, 2, 8, 20);
    CHECK(block(&s, 3, 8, 20) == TFTP_RX_DONE && s.delivered == 20);
    CHECK(memcmp(s.buf, file, 20) == 0);
    finish(&s);
    /* Without a buffer, the OACK's tsize does not fit: the transfer fails, nothing written. */
    memset(&s, 0, sizeof s);
    tftp_rx_init(&s.rx, NULL, 0, 8, 4, 10, 3, 0);
    CHECK(OACK(&s, SERVER, "blksize\0" "8\0tsize\0" "20\0") == TFTP_RX_FAILED);
}

void test_tftp_rx(void)
{
    fill_file();
    test_attach();
    test_packets();
    test_windows();
    test_rollover();
    test_hostile();
    test_errors();
    test_timeouts();
}
