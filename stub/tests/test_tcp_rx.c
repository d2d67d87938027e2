/* The TCP receive side (tcp_rx.c) against a scripted server: handshake, request
 * retransmission, ACK pacing, gaps, duplicates, overlapping retransmits, windows, RST and SYN
 * injection, FIN, timeouts, and a lossy reordering server end to end. */
#include <stdlib.h>

#include "check.h"
#include "tcp_rx.h"

void test_tcp_rx(void);

#define OURS 2000
#define SERVER 80
#define ISS 1000u
#define IRS 50000u
#define MSS 1460

static const tcp_rx_timing timing = {.rto_ms = 100, .rto_max_ms = 1000, .max_retries = 3,
                                     .idle_ms = 5000};
static const uint8_t request[] = "GET / HTTP/1.1\r\n\r\n";
#define REQUEST_LEN (sizeof request - 1)

static uint8_t stream[400000];

static void fill_stream(void)
{
    for (size_t i = 0; i < sizeof stream; i++)
        stream[i] = (uint8_t)(i * 7 + i / 1021);
}

typedef struct {
    tcp_rx rx;
    tcp_rx_event ev;
    uint8_t store[16 * TCP_RX_SLOT_BYTES];
    uint32_t irs; /* the server's initial sequence number */
    size_t got;   /* stream bytes delivered, each checked against stream[] at its place */
    int wrong;    /* a delivered byte was not the next one of the stream */
    int eos;
    uint32_t now;
} session;

static void collect(session *s)
{
    size_t total = 0;
    for (size_t i = 0; i < s->ev.piece_count; i++) {
        const tcp_rx_piece *p = &s->ev.pieces[i];
        if (s->got + p->len > sizeof stream || memcmp(p->data, stream + s->got, p->len) != 0)
            s->wrong = 1;
        s->got += p->len;
        total += p->len;
    }
    if (total != s->ev.data_len)
        s->wrong = 1;
    s->eos |= s->ev.end_of_stream;
}

/* A segment from the server as frame_rx hands it over; its payload an exact-size copy. */
static tcp_rx_state segment(session *s, uint8_t flags, uint32_t seq, uint32_t ack,
                            const uint8_t *data, size_t len, uint16_t src_port)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    tcp_segment seg = {.src_port = src_port, .dst_port = OURS, .seq = seq, .ack = ack,
                       .flags = flags, .window = 1000, .payload = copy, .payload_len = len};
    tcp_rx_state st = tcp_rx_receive(&s->rx, &seg, s->now, &s->ev);
    collect(s);
    free(copy);
    return st;
}

/* Stream bytes [offset, offset + len) with ACK of the whole request. */
static tcp_rx_state data(session *s, size_t offset, size_t len, uint8_t extra)
{
    return segment(s, TCP_ACK | extra, s->irs + 1 + (uint32_t)offset,
                   ISS + 1 + (uint32_t)REQUEST_LEN, stream + offset, len, SERVER);
}

static int acked(const session *s, size_t offset)
{
    return s->ev.send && s->ev.segment.flags == TCP_ACK &&
           s->ev.segment.ack == s->irs + 1 + (uint32_t)offset &&
           s->ev.segment.seq == ISS + 1 + REQUEST_LEN;
}

/* Open, take the SYN-ACK (with window scaling unless told), see the request go out, ACK it. */
static void open_session(session *s, uint32_t irs, unsigned slots, int scale)
{
    memset(s, 0, sizeof *s);
    s->irs = irs;
    CHECK(tcp_rx_init(&s->rx, OURS, SERVER, ISS, request, REQUEST_LEN, s->store,
                      slots * TCP_RX_SLOT_BYTES, &timing, 0, &s->ev) == TCP_RX_SYN_SENT);
    tcp_segment synack = {.src_port = SERVER, .dst_port = OURS, .seq = irs, .ack = ISS + 1,
                          .flags = TCP_SYN | TCP_ACK, .window = 65535, .has_mss = 1,
                          .mss = MSS, .has_wscale = scale, .wscale = 7};
    CHECK(tcp_rx_receive(&s->rx, &synack, 0, &s->ev) == TCP_RX_ESTABLISHED);
    CHECK(s->ev.send && s->ev.payload_len == REQUEST_LEN);
    CHECK(segment(s, TCP_ACK, irs + 1, ISS + 1 + REQUEST_LEN, NULL, 0, SERVER) ==
          TCP_RX_ESTABLISHED);
    CHECK(!s->ev.send && !s->rx.timer_on);
}

static void test_handshake(void)
{
    session s = {0};
    tcp_rx *rx = &s.rx;
    tcp_rx_event *ev = &s.ev;
    CHECK(tcp_rx_init(rx, OURS, SERVER, ISS, request, REQUEST_LEN, NULL, 0, &timing, 0, ev) ==
          TCP_RX_SYN_SENT);
    CHECK(ev->send && ev->segment.flags == TCP_SYN && ev->segment.seq == ISS);
    CHECK(ev->segment.src_port == OURS && ev->segment.dst_port == SERVER);
    CHECK(ev->segment.mss == 1460 && ev->segment.wscale == 3 && ev->segment.window == 0xffff);
    CHECK(!ev->payload_len);

    /* SYN-ACKs that do not ACK exactly our SYN, or come from elsewhere, or RSTs without it. */
    CHECK(segment(&s, TCP_SYN | TCP_ACK, IRS, ISS + 2, NULL, 0, SERVER) == TCP_RX_SYN_SENT);
    CHECK(!ev->send);
    CHECK_STR(ev->ignored, "TCP segment does not ACK our SYN");
    CHECK(segment(&s, TCP_SYN | TCP_ACK, IRS, ISS, NULL, 0, SERVER) == TCP_RX_SYN_SENT);
    CHECK(segment(&s, TCP_SYN, IRS, 0, NULL, 0, SERVER) == TCP_RX_SYN_SENT);
    CHECK(segment(&s, TCP_SYN | TCP_ACK, IRS, ISS + 1, NULL, 0, 81) == TCP_RX_SYN_SENT);
    CHECK_STR(ev->ignored, "TCP segment from another connection");
    CHECK(segment(&s, TCP_RST, 0, 0, NULL, 0, SERVER) == TCP_RX_SYN_SENT);
    CHECK(segment(&s, TCP_RST | TCP_ACK, 0, ISS + 7, NULL, 0, SERVER) == TCP_RX_SYN_SENT);
    CHECK(segment(&s, TCP_ACK, IRS, ISS + 1, NULL, 0, SERVER) == TCP_RX_SYN_SENT);
    CHECK_STR(ev->ignored, "TCP segment before the SYN-ACK");

    /* SYN retransmission with doubling timeouts. */
    CHECK(tcp_rx_tick(rx, 99, ev) == TCP_RX_SYN_SENT && !ev->send);
    CHECK(tcp_rx_tick(rx, 100, ev) == TCP_RX_SYN_SENT && ev->send);
    CHECK(ev->segment.flags == TCP_SYN && ev->segment.seq == ISS && ev->segment.mss == 1460);
    CHECK(tcp_rx_tick(rx, 299, ev) == TCP_RX_SYN_SENT && !ev->send);
    CHECK(tcp_rx_tick(rx, 300, ev) == TCP_RX_SYN_SENT && ev->send);

    /* The SYN-ACK: ACK + the request, window scaled by 3. Data on it is not taken. */
    s.now = 310;
    CHECK(segment(&s, TCP_SYN | TCP_ACK, IRS, ISS + 1, (const uint8_t *)"early", 5, SERVER) ==
          TCP_RX_ESTABLISHED);
    CHECK(s.got == 0);
    CHECK(ev->send && ev->segment.flags == (TCP_ACK | TCP_PSH) && ev->segment.seq == ISS + 1);
    CHECK(ev->segment.ack == IRS + 1 && ev->segment.window == 0xffff >> 0);
    CHECK(ev->payload == request && ev->payload_len == REQUEST_LEN);
    CHECK(ev->segment.mss == 0 && ev->segment.wscale < 0);

    /* The request again, until ACKed; a partial ACK resends the rest. */
    CHECK(tcp_rx_tick(rx, 409, ev) == TCP_RX_ESTABLISHED && !ev->send);
    CHECK(tcp_rx_tick(rx, 410, ev) == TCP_RX_ESTABLISHED && ev->send);
    CHECK(ev->payload == request && ev->payload_len == REQUEST_LEN && ev->segment.seq == ISS + 1);
    s.now = 420;
    CHECK(segment(&s, TCP_ACK, IRS + 1, ISS + 1 + 4, NULL, 0, SERVER) == TCP_RX_ESTABLISHED);
    CHECK(!ev->send);
    CHECK(tcp_rx_tick(rx, 520, ev) == TCP_RX_ESTABLISHED && ev->send);
    CHECK(ev->payload == request + 4 && ev->payload_len == REQUEST_LEN - 4);
    CHECK(ev->segment.seq == ISS + 5);
    /* A duplicate SYN-ACK (our ACK was lost): ACKed again, nothing else. */
    CHECK(segment(&s, TCP_SYN | TCP_ACK, IRS, ISS + 1, NULL, 0, SERVER) == TCP_RX_ESTABLISHED);
    CHECK(ev->send && ev->segment.flags == TCP_ACK && ev->segment.ack == IRS + 1);
    CHECK(segment(&s, TCP_ACK, IRS + 1, ISS + 1 + REQUEST_LEN, NULL, 0, SERVER) ==
          TCP_RX_ESTABLISHED);
    CHECK(!rx->timer_on);
    CHECK(tcp_rx_tick(rx, 3000, ev) == TCP_RX_ESTABLISHED && !ev->send);

    /* The server did not scale: the window stays unscaled, at most 65535. */
    session u;
    open_session(&u, IRS, 0, 0);
    CHECK(data(&u, 0, 100, 0) == TCP_RX_ESTABLISHED && u.got == 100);
    CHECK(tcp_rx_flush(&u.rx, &u.ev) == TCP_RX_ESTABLISHED && u.ev.segment.window == 0xffff);
    CHECK(data(&u, 65535 + 100, 10, 0) == TCP_RX_ESTABLISHED && acked(&u, 100));
    CHECK_STR(u.ev.ignored, "TCP segment outside the receive window");
}

static void test_refusals_at_start(void)
{
    session s;
    uint8_t big[TCP_RX_REQUEST_MAX + 1] = {0};
    CHECK(tcp_rx_init(&s.rx, OURS, SERVER, ISS, big, sizeof big, NULL, 0, &timing, 0, &s.ev) ==
          TCP_RX_FAILED);
    CHECK(!s.ev.send);
    CHECK_STR(s.rx.failure, "request longer than one TCP segment");
    CHECK(s.rx.failed_by == TCP_RX_BY_REQUEST);
    CHECK(tcp_rx_init(&s.rx, 0, SERVER, ISS, NULL, 0, NULL, 0, &timing, 0, &s.ev) ==
          TCP_RX_FAILED);
    /* A request past the server's MSS (536 when it names none): reset. */
    memset(&s, 0, sizeof s);
    CHECK(tcp_rx_init(&s.rx, OURS, SERVER, ISS, big, 600, NULL, 0, &timing, 0, &s.ev) ==
          TCP_RX_SYN_SENT);
    CHECK(segment(&s, TCP_SYN | TCP_ACK, IRS, ISS + 1, NULL, 0, SERVER) == TCP_RX_FAILED);
    CHECK(s.ev.send && (s.ev.segment.flags & TCP_RST) && s.ev.segment.seq == ISS + 1);
    CHECK_STR(s.rx.failure, "request longer than the server's MSS");
    CHECK(s.rx.failed_by == TCP_RX_BY_REQUEST);
    /* An RST that ACKs our SYN: refused. */
    memset(&s, 0, sizeof s);
    tcp_rx_init(&s.rx, OURS, SERVER, ISS, request, REQUEST_LEN, NULL, 0, &timing, 0, &s.ev);
    CHECK(segment(&s, TCP_RST | TCP_ACK, 0, ISS + 1, NULL, 0, SERVER) == TCP_RX_FAILED);
    CHECK_STR(s.rx.failure, "connection refused by the server (TCP RST)");
    CHECK(s.rx.failed_by == TCP_RX_BY_RESET);
    CHECK(segment(&s, TCP_SYN | TCP_ACK, IRS, ISS + 1, NULL, 0, SERVER) == TCP_RX_FAILED);
    CHECK_STR(s.ev.ignored, "TCP connection is over");
    CHECK(tcp_rx_abort(&s.rx, &s.ev) == TCP_RX_FAILED && !s.ev.send);
}

static void test_in_order_and_pacing(void)
{
    session s;
    open_session(&s, IRS, 16, 1);
    tcp_rx_event *ev = &s.ev;
    /* Every second full segment is ACKed; the first one waits. */
    CHECK(data(&s, 0, MSS, 0) == TCP_RX_ESTABLISHED && s.got == MSS && !ev->send);
    CHECK(ev->piece_count == 1 && ev->pieces[0].len == MSS);
    CHECK(data(&s, MSS, MSS, 0) == TCP_RX_ESTABLISHED && acked(&s, 2 * MSS));
    CHECK(ev->segment.window == TCP_RX_WINDOW >> 3);
    CHECK(data(&s, 2 * MSS, MSS, TCP_PSH) == TCP_RX_ESTABLISHED && !ev->send);
    /* The caller's queue ran empty: the pending ACK now, and only once. */
    CHECK(tcp_rx_flush(&s.rx, ev) == TCP_RX_ESTABLISHED && acked(&s, 3 * MSS));
    CHECK(tcp_rx_flush(&s.rx, ev) == TCP_RX_ESTABLISHED && !ev->send);
    /* Small segments: ACKed once more than a full segment's worth waits. */
    size_t at = 3 * MSS;
    int sends = 0;
    for (int i = 0; i < 30; i++, at += 100) {
        data(&s, at, 100, 0);
        sends += ev->send;
    }
    CHECK(sends == 2 && s.got == at && !s.wrong);
    data(&s, at, 100, 0);
    at += 100;
    CHECK(!ev->send);
    /* A tick flushes what waits too. */
    CHECK(tcp_rx_tick(&s.rx, 10, ev) == TCP_RX_ESTABLISHED && acked(&s, at));
    CHECK(tcp_rx_tick(&s.rx, 11, ev) == TCP_RX_ESTABLISHED && !ev->send);
    /* An empty ACK changes nothing and sends nothing. */
    CHECK(segment(&s, TCP_ACK, s.irs + 1 + (uint32_t)at, ISS + 1 + REQUEST_LEN, NULL, 0, SERVER) ==
          TCP_RX_ESTABLISHED && !ev->send && s.got == at);
    CHECK(s.rx.delivered == at);
}

static void test_gaps_and_duplicates(void)
{
    session s;
    open_session(&s, 0xffffff00u, 3, 1); /* sequence numbers wrap during the test */
    tcp_rx_event *ev = &s.ev;
    CHECK(data(&s, 0, MSS, 0) == TCP_RX_ESTABLISHED && s.got == MSS);
    /* Segment 3 before 2: kept, dup-ACK at once for the gap. */
    CHECK(data(&s, 2 * MSS, MSS, 0) == TCP_RX_ESTABLISHED && s.got == MSS && acked(&s, MSS));
    CHECK_STR(ev->ignored, "TCP segment out of order, kept");
    CHECK(data(&s, 2 * MSS, MSS, 0) == TCP_RX_ESTABLISHED && acked(&s, MSS));
    CHECK_STR(ev->ignored, "TCP segment out of order, already kept");
    CHECK(data(&s, 4 * MSS, MSS, 0) == TCP_RX_ESTABLISHED && acked(&s, MSS));
    CHECK(data(&s, 3 * MSS + 100, 50, 0) == TCP_RX_ESTABLISHED && acked(&s, MSS));
    /* The store holds 3: a fourth is dropped (and dup-ACKed all the same). */
    CHECK(data(&s, 6 * MSS, MSS, 0) == TCP_RX_ESTABLISHED && acked(&s, MSS));
    CHECK_STR(ev->ignored, "TCP segment out of order, no room to keep it");
    /* Segment 2 fills the first gap: 2 and 3 come out, ACKed at once. */
    CHECK(data(&s, MSS, MSS, 0) == TCP_RX_ESTABLISHED && s.got == 3 * MSS && !s.wrong);
    CHECK(ev->piece_count == 2 && acked(&s, 3 * MSS));
    /* An overlapping retransmit: only its new bytes, then the kept pieces that follow. */
    CHECK(data(&s, 2 * MSS + 10, MSS + 200, 0) == TCP_RX_ESTABLISHED && !s.wrong);
    CHECK(s.got == 3 * MSS + 210 && ev->pieces[0].len == 210 && ev->piece_count == 1);
    CHECK(!ev->send); /* the kept piece inside it was stale, no gap filled */
    CHECK(data(&s, 3 * MSS, MSS, 0) == TCP_RX_ESTABLISHED && !s.wrong);
    CHECK(s.got == 5 * MSS && ev->piece_count == 2 && acked(&s, 5 * MSS));
    /* Wholly old data: ACKed again (the server may have lost our ACK), nothing delivered. */
    CHECK(data(&s, MSS, MSS, 0) == TCP_RX_ESTABLISHED && s.got == 5 * MSS && acked(&s, 5 * MSS));
    CHECK_STR(ev->ignored, "TCP segment already received");
    CHECK(data(&s, 5 * MSS, 2 * MSS, 0) == TCP_RX_ESTABLISHED && s.got == 7 * MSS && !s.wrong);
    CHECK(s.rx.delivered == 7 * MSS);
}

static void test_window(void)
{
    session s;
    open_session(&s, IRS, 4, 1);
    tcp_rx_event *ev = &s.ev;
    /* Past the window: ACKed, dropped. Straddling its end: cut there, kept. */
    CHECK(data(&s, TCP_RX_WINDOW, 10, 0) == TCP_RX_ESTABLISHED && acked(&s, 0) && !s.got);
    CHECK_STR(ev->ignored, "TCP segment outside the receive window");
    CHECK(data(&s, TCP_RX_WINDOW - 5, 10, TCP_FIN) == TCP_RX_ESTABLISHED && acked(&s, 0));
    CHECK(s.rx.slots[0].len == 5 && !s.rx.fin_known);
    /* Far behind (more than the window): old. */
    CHECK(segment(&s, TCP_ACK, IRS - 100000, ISS + 1 + REQUEST_LEN, stream, 10, SERVER) ==
          TCP_RX_ESTABLISHED && acked(&s, 0) && !s.got);
    /* An ACK of bytes we never sent: ACK, and the data on it is not taken. */
    CHECK(segment(&s, TCP_ACK, IRS + 1, ISS + 100, stream, 10, SERVER) == TCP_RX_ESTABLISHED);
    CHECK(acked(&s, 0) && !s.got);
    CHECK_STR(ev->ignored, "TCP ACK of data never sent");
    CHECK(segment(&s, TCP_ACK, IRS + 1, ISS, stream, 10, SERVER) == TCP_RX_ESTABLISHED);
    CHECK(acked(&s, 0) && !s.got);
    /* No ACK flag: dropped. */
    CHECK(segment(&s, TCP_PSH, IRS + 1, 0, stream, 10, SERVER) == TCP_RX_ESTABLISHED && !s.got);
    CHECK_STR(ev->ignored, "TCP segment without ACK");
    /* Foreign port pair. */
    CHECK(segment(&s, TCP_ACK, IRS + 1, ISS + 1 + REQUEST_LEN, stream, 10, 8080) ==
          TCP_RX_ESTABLISHED && !s.got && !ev->send);
}

static void test_rst_and_syn(void)
{
    session s;
    open_session(&s, IRS, 4, 1);
    tcp_rx_event *ev = &s.ev;
    data(&s, 0, 1000, 0);
    uint32_t next = IRS + 1 + 1000;
    /* In the window but not exactly next: challenge ACK, still open. */
    CHECK(segment(&s, TCP_RST, next + 1, 0, NULL, 0, SERVER) == TCP_RX_ESTABLISHED);
    CHECK(acked(&s, 1000));
    CHECK_STR(ev->ignored, "TCP RST not at the expected sequence number");
    CHECK(segment(&s, TCP_RST | TCP_ACK, next + 5000, ISS + 1 + REQUEST_LEN, NULL, 0, SERVER) ==
          TCP_RX_ESTABLISHED && acked(&s, 1000));
    /* Outside the window (before or after): dropped without a word. */
    CHECK(segment(&s, TCP_RST, next - 1, 0, NULL, 0, SERVER) == TCP_RX_ESTABLISHED && !ev->send);
    CHECK(segment(&s, TCP_RST, next + TCP_RX_WINDOW, 0, NULL, 0, SERVER) ==
          TCP_RX_ESTABLISHED && !ev->send);
    CHECK(segment(&s, TCP_RST, next, 0, NULL, 0, 81) == TCP_RX_ESTABLISHED && !ev->send);
    /* A SYN in the window: challenge ACK. */
    CHECK(segment(&s, TCP_SYN | TCP_ACK, next, ISS + 1, NULL, 0, SERVER) == TCP_RX_ESTABLISHED);
    CHECK(acked(&s, 1000));
    CHECK_STR(ev->ignored, "TCP SYN on a synchronized connection");
    CHECK(s.got == 1000 && !s.wrong);
    /* Exactly next: the connection is reset; nothing is sent back, not even on abort. */
    CHECK(segment(&s, TCP_RST, next, 0, NULL, 0, SERVER) == TCP_RX_FAILED && !ev->send);
    CHECK_STR(s.rx.failure, "connection reset by the server (TCP RST)");
    CHECK(s.rx.failed_by == TCP_RX_BY_RESET);
    CHECK(tcp_rx_abort(&s.rx, ev) == TCP_RX_FAILED && !ev->send);
    CHECK(tcp_rx_tick(&s.rx, 100000, ev) == TCP_RX_FAILED && !ev->send);
}

static void test_fin(void)
{
    session s;
    open_session(&s, IRS, 4, 1);
    tcp_rx_event *ev = &s.ev;
    /* The FIN after a gap: dup-ACK; the gap filled: everything, end of stream, our FIN. */
    CHECK(data(&s, 0, MSS, 0) == TCP_RX_ESTABLISHED);
    CHECK(data(&s, 2 * MSS, 300, TCP_FIN) == TCP_RX_ESTABLISHED && acked(&s, MSS) && !s.eos);
    CHECK(s.rx.fin_known && s.rx.fin_seq == IRS + 1 + 2 * MSS + 300);
    /* Data claimed past the FIN is never delivered. */
    CHECK(data(&s, 2 * MSS + 300, 10, 0) == TCP_RX_ESTABLISHED && s.got == MSS);
    s.now = 50;
    CHECK(data(&s, MSS, MSS, 0) == TCP_RX_LAST_ACK && s.eos && s.got == 2 * MSS + 300);
    CHECK(!s.wrong && ev->end_of_stream);
    CHECK(ev->send && ev->segment.flags == (TCP_FIN | TCP_ACK));
    CHECK(ev->segment.seq == ISS + 1 + REQUEST_LEN && ev->segment.ack == IRS + 2 + 2 * MSS + 300);
    /* The server's FIN again (our ACK lost): ACKed; data past it: ACKed, not taken. */
    CHECK(data(&s, 2 * MSS, 300, TCP_FIN) == TCP_RX_LAST_ACK && ev->send);
    CHECK(ev->segment.ack == IRS + 2 + 2 * MSS + 300 && s.got == 2 * MSS + 300);
    /* Our FIN again on the timer; then its ACK closes. */
    CHECK(tcp_rx_tick(&s.rx, 150, ev) == TCP_RX_LAST_ACK && ev->send);
    CHECK(ev->segment.flags == (TCP_FIN | TCP_ACK) && ev->segment.seq == ISS + 1 + REQUEST_LEN);
    CHECK(segment(&s, TCP_ACK, IRS + 2 + 2 * MSS + 300, ISS + 2 + REQUEST_LEN, NULL, 0,
                  SERVER) == TCP_RX_CLOSED);
    CHECK(tcp_rx_abort(&s.rx, ev) == TCP_RX_CLOSED && !ev->send);

    /* A FIN with the data in order; the server never ACKs our FIN: closed all the same. */
    open_session(&s, IRS, 0, 1);
    CHECK(data(&s, 0, 10, TCP_FIN | TCP_PSH) == TCP_RX_LAST_ACK && s.eos && s.got == 10);
    uint32_t t = 0;
    int resent = 0;
    while (s.rx.state == TCP_RX_LAST_ACK && t < 100000) {
        tcp_rx_tick(&s.rx, ++t, ev);
        resent += ev->send;
    }
    CHECK(s.rx.state == TCP_RX_CLOSED && resent == 3);
    /* The caller stops early: RST at our next sequence number. */
    open_session(&s, IRS, 0, 1);
    data(&s, 0, 10, 0);
    CHECK(tcp_rx_abort(&s.rx, ev) == TCP_RX_CLOSED && ev->send);
    CHECK(ev->segment.flags == (TCP_RST | TCP_ACK) && ev->segment.seq == ISS + 1 + REQUEST_LEN);
    CHECK(data(&s, 10, 10, 0) == TCP_RX_CLOSED && !ev->send && s.got == 10);
}

static void test_timeouts(void)
{
    session s;
    memset(&s, 0, sizeof s);
    tcp_rx_init(&s.rx, OURS, SERVER, ISS, request, REQUEST_LEN, NULL, 0, &timing, 0, &s.ev);
    /* SYN at 0, then 100, 300, 700 (doubling); the fourth silence fails. */
    uint32_t sent_at[8];
    int sends = 0;
    for (uint32_t t = 1; t < 5000 && s.rx.state == TCP_RX_SYN_SENT; t++) {
        tcp_rx_tick(&s.rx, t, &s.ev);
        if (s.ev.send && sends < 8)
            sent_at[sends++] = t;
    }
    CHECK(sends == 3 && sent_at[0] == 100 && sent_at[1] == 300 && sent_at[2] == 700);
    CHECK(s.rx.state == TCP_RX_FAILED);
    CHECK_STR(s.rx.failure, "no answer to the TCP SYN");
    CHECK(s.rx.failed_by == TCP_RX_BY_RETRIES);

    /* The request never ACKed. */
    open_session(&s, IRS, 0, 1);
    memset(&s, 0, sizeof s);
    tcp_rx_init(&s.rx, OURS, SERVER, ISS, request, REQUEST_LEN, NULL, 0, &timing, 0, &s.ev);
    segment(&s, TCP_SYN | TCP_ACK, IRS, ISS + 1, NULL, 0, SERVER);
    for (uint32_t t = 1; t < 5000 && s.rx.state == TCP_RX_ESTABLISHED; t++)
        tcp_rx_tick(&s.rx, t, &s.ev);
    CHECK_STR(s.rx.failure, "the server never ACKed the request");
    CHECK(s.rx.failed_by == TCP_RX_BY_RETRIES);

    /* An endless server that repeats itself, sends outside the window, injects RSTs: none of
     * it is progress, so the connection fails idle_ms after the last new byte. */
    open_session(&s, IRS, 4, 1);
    s.now = 10;
    data(&s, 0, 100, 0);
    uint32_t t = 10;
    while (s.rx.state == TCP_RX_ESTABLISHED && t < 20000) {
        s.now = ++t;
        data(&s, 0, 100, 0);
        data(&s, TCP_RX_WINDOW + 5, 100, 0);
        data(&s, 500, 100, 0); /* out of order: kept once, never progress */
        segment(&s, TCP_RST, IRS + 1000, 0, NULL, 0, SERVER);
        tcp_rx_tick(&s.rx, t, &s.ev);
    }
    CHECK(s.rx.state == TCP_RX_FAILED && t == 10 + timing.idle_ms && s.got == 100);
    CHECK_STR(s.rx.failure, "no progress from the server (timeout)");
    CHECK(s.rx.failed_by == TCP_RX_BY_TIMEOUT);
}

/* A server that sends the stream in MSS pieces, a window at a time, reordering, duplicating,
 * overlapping and losing some; it goes back to our last ACK when we dup-ACK three times or
 * time passes. The bytes must come out whole, in order, once. */
static void test_lossy_server(unsigned seed)
{
    session s;
    open_session(&s, 0xfffff000u + seed, 8, 1);
    srand(seed);
    const size_t total = sizeof stream;
    size_t acked_at = 0, next = 0;
    int dupacks = 0, rounds = 0, fin_sent = 0;
    while (!s.eos && rounds++ < 200000) {
        if (next >= total || next > acked_at + 40 * MSS || dupacks >= 3 || rand() % 200 == 0) {
            next = acked_at; /* retransmit from the hole */
            dupacks = 0;
        }
        size_t len = (size_t)(rand() % 4 ? MSS : 1 + rand() % MSS);
        size_t at = next;
        int r = rand() % 10;
        if (r == 0)
            at = next + MSS * (size_t)(1 + rand() % 5); /* reordered: a later one first */
        else if (r == 1 && at > 300)
            at -= (size_t)(rand() % 300); /* overlapping what came before */
        if (at >= total)
            at = next;
        if (at + len > total)
            len = total - at;
        int fin = at + len == total;
        fin_sent |= fin;
        if (rand() % 10) /* one in ten is lost */
            data(&s, at, len, fin ? TCP_FIN : 0);
        else
            s.ev.send = 0;
        if (at == next)
            next += len;
        if (!s.ev.send)
            tcp_rx_flush(&s.rx, &s.ev);
        if (s.ev.send && (s.ev.segment.flags & TCP_ACK)) {
            size_t ack = s.ev.segment.ack - s.irs - 1;
            if (ack > total)
                ack = total; /* our FIN's ACK counts the server's FIN */
            dupacks = ack == acked_at ? dupacks + 1 : 0;
            if (ack > acked_at)
                acked_at = ack;
        }
    }
    CHECK(s.eos && s.got == total && !s.wrong && fin_sent);
    CHECK(s.rx.state == TCP_RX_LAST_ACK && s.rx.delivered == total);
}

void test_tcp_rx(void)
{
    fill_stream();
    test_handshake();
    test_refusals_at_start();
    test_in_order_and_pacing();
    test_gaps_and_duplicates();
    test_window();
    test_rst_and_syn();
    test_fin();
    test_timeouts();
    for (unsigned seed = 1; seed <= 8; seed++)
        test_lossy_server(seed);
}

/* run_tests.c's main() does not list this file's tests: they run before it, and the counts
 * they add are in its last line. */
