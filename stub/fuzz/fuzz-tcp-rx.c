/* The TCP receive side on segments and clock ticks: whatever the server sends, the stream comes
 * out in order, each byte once (segment contents are a function of their stream offset, so a
 * byte out of place shows), pieces stay inside the segment or the store, ACKs carry rcv_nxt,
 * and a connection without progress ends idle_ms after its last progress. Input: records of
 * [op][tick steps][...]: op 0 a segment from fields [flags][seq offset, 3 bytes][ack choice]
 * [length, 2 bytes][port choice]; op 1 a raw segment [length, 2 bytes][bytes] through tcp_parse
 * (checksum fixed), its payload replaced by the stream's bytes; op 2 a flush; op 3 an abort. */
#include <assert.h>
#include <string.h>

#include "inet_csum.h"
#include "tcp_rx.h"

#define ISS 0xfffffff0u
#define IRS 0xffffff00u /* the seed corpus's; the SYN-ACK the fuzzer sends decides */
#define IDLE 500
#define SLOTS 4

static const uint8_t server_ip[4] = {10, 0, 2, 2};
static const uint8_t our_ip[4] = {10, 0, 2, 15};
static const uint8_t request[] = "GET / HTTP/1.1\r\n\r\n";
static uint8_t store[SLOTS * TCP_RX_SLOT_BYTES];

static uint8_t stream_byte(uint32_t offset)
{
    return (uint8_t)(offset * 31 + (offset >> 8));
}

static int inside(const uint8_t *p, size_t len, const uint8_t *base, size_t cap)
{
    return p >= base && len <= cap && (size_t)(p - base) <= cap - len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t payload[70000], raw[70000];
    const tcp_rx_timing timing = {.rto_ms = 20, .rto_max_ms = 80, .max_retries = 3,
                                  .idle_ms = IDLE};
    tcp_rx rx;
    tcp_rx_event ev;
    uint32_t now = 0, progress_at = 0;
    tcp_rx_init(&rx, 2000, 80, ISS, request, sizeof request - 1, store, sizeof store, &timing,
                0, &ev);
    uint64_t delivered = 0;
    uint32_t irs = IRS;
    size_t at = 0;
    while (at + 2 <= size) {
        uint8_t op = data[at] & 3, steps = data[at + 1] & 15;
        at += 2;
        for (uint8_t i = 0; i < steps; i++) {
            now += 10;
            tcp_rx_state before = rx.state;
            tcp_rx_tick(&rx, now, &ev);
            assert(ev.data_len == 0);
            if (before == TCP_RX_CLOSED || before == TCP_RX_FAILED)
                assert(rx.state == before && !ev.send);
            if (rx.state != TCP_RX_CLOSED && rx.state != TCP_RX_FAILED)
                assert(now - progress_at < IDLE);
        }
        tcp_segment seg;
        const uint8_t *segment_bytes = NULL;
        size_t segment_len = 0;
        if (op == 0) {
            if (at + 8 > size)
                break;
            const uint8_t *f = data + at;
            at += 8;
            uint32_t rel = (uint32_t)(f[1] << 16 | f[2] << 8 | f[3]) - 0x1000;
            uint32_t sent = (uint32_t)sizeof request; /* SYN + request */
            uint32_t acks[4] = {ISS + 1, ISS + sent, ISS + sent + 1, ISS + (uint32_t)f[4] * 4};
            seg = (tcp_segment){.src_port = f[7] & 1 ? 81 : 80, .dst_port = f[7] & 2 ? 2001 : 2000,
                                .seq = IRS + rel, .ack = acks[f[4] & 3], .flags = f[0] & 0x3f,
                                .payload_len = (size_t)(f[5] << 8 | f[6]) % 3000};
            if ((seg.flags & TCP_SYN) && (seg.flags & (TCP_FIN | TCP_RST)))
                seg.flags &= (uint8_t)~(TCP_FIN | TCP_RST); /* tcp_parse refuses those */
        } else if (op == 1) {
            if (at + 2 > size)
                break;
            size_t len = (size_t)(data[at] << 8 | data[at + 1]);
            at += 2;
            if (len > size - at)
                len = size - at;
            memcpy(raw, data + at, len);
            at += len;
            if (len >= 18) {
                uint8_t pseudo[12] = {10, 0, 2, 2, 10, 0, 2, 15, 0, 6, (uint8_t)(len >> 8),
                                      (uint8_t)len};
                raw[16] = raw[17] = 0;
                uint32_t sum = inet_csum_add(inet_csum_add(0, pseudo, 12), raw, len);
                uint16_t c = inet_csum_finish(sum);
                raw[16] = (uint8_t)(c >> 8), raw[17] = (uint8_t)c;
            }
            if (tcp_parse(raw, len, server_ip, our_ip, &seg))
                continue;
            assert(seg.header_len >= TCP_HEADER_LEN && seg.header_len <= len);
            assert(seg.payload == raw + seg.header_len && seg.payload_len == len - seg.header_len);
            assert(!seg.has_wscale || seg.wscale <= TCP_WSCALE_MAX);
            segment_bytes = raw;
            segment_len = len;
        }
        tcp_rx_state before = rx.state;
        uint32_t una = rx.snd_una;
        if (op == 2) {
            tcp_rx_flush(&rx, &ev);
        } else if (op == 3) {
            tcp_rx_abort(&rx, &ev);
            assert(rx.state == TCP_RX_CLOSED || rx.state == TCP_RX_FAILED);
        } else {
            /* The stream's bytes at the segment's place: any byte delivered out of place
             * differs from what is expected there. */
            uint32_t offset = seg.seq - irs - 1;
            for (size_t i = 0; i < seg.payload_len; i++)
                payload[i] = stream_byte(offset + (uint32_t)i);
            seg.payload = payload;
            (void)segment_bytes, (void)segment_len;
            tcp_rx_receive(&rx, &seg, now, &ev);
        }
        assert(ev.piece_count <= 1 + SLOTS);
        size_t total = 0;
        for (size_t i = 0; i < ev.piece_count; i++) {
            const tcp_rx_piece *p = &ev.pieces[i];
            assert(p->len > 0);
            assert(inside(p->data, p->len, payload, sizeof payload) ||
                   inside(p->data, p->len, store, sizeof store));
            for (size_t j = 0; j < p->len; j++)
                assert(p->data[j] == stream_byte((uint32_t)(delivered + total + j)));
            total += p->len;
        }
        assert(total == ev.data_len);
        delivered += total;
        assert(delivered == rx.delivered);
        if (before == TCP_RX_SYN_SENT && rx.state == TCP_RX_ESTABLISHED)
            irs = rx.rcv_nxt - 1;
        if (rx.state == TCP_RX_ESTABLISHED)
            assert(rx.rcv_nxt == irs + 1 + (uint32_t)delivered);
        if (ev.end_of_stream)
            assert(rx.state == TCP_RX_LAST_ACK && rx.rcv_nxt == irs + 2 + (uint32_t)delivered);
        if (ev.send && (ev.segment.flags & TCP_ACK))
            assert(ev.segment.ack == rx.rcv_nxt);
        if (ev.send)
            assert(ev.segment.src_port == 2000 && ev.segment.dst_port == 80);
        if (ev.payload_len)
            assert(inside(ev.payload, ev.payload_len, request, sizeof request - 1));
        assert(tcp_seq_le(rx.snd_una, rx.snd_nxt));
        /* Over is over; only an abort may still reset a server that knows the connection. */
        if (before == TCP_RX_CLOSED || before == TCP_RX_FAILED)
            assert(rx.state == before && !ev.data_len &&
                   (!ev.send || (op == 3 && ev.segment.flags == (TCP_RST | TCP_ACK))));
        if (total || (before == TCP_RX_SYN_SENT && rx.state != before) || rx.snd_una != una ||
            ev.end_of_stream)
            progress_at = now;
    }
    return 0;
}
