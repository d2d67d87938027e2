#include "tcp_rx.h"

#include "bytes.h"

static void clear_event(tcp_rx_event *ev)
{
    ev->piece_count = 0;
    ev->data_len = 0;
    ev->end_of_stream = 0;
    ev->send = 0;
    ev->payload = NULL;
    ev->payload_len = 0;
    ev->ignored = NULL;
}

static tcp_rx_state fail(tcp_rx *rx, tcp_rx_failure by, const char *why)
{
    rx->state = TCP_RX_FAILED;
    rx->failure = why;
    rx->failed_by = by;
    rx->timer_on = 0;
    rx->ack_pending = 0;
    return rx->state;
}

static void send_segment(tcp_rx *rx, tcp_rx_event *ev, uint32_t seq, uint8_t flags,
                         const uint8_t *payload, size_t payload_len)
{
    ev->send = 1;
    ev->segment = (tcp_header_out){
        .src_port = rx->our_port,
        .dst_port = rx->server_port,
        .seq = seq,
        .ack = flags & TCP_ACK ? rx->rcv_nxt : 0,
        .flags = flags,
        .window = (uint16_t)(rx->rcv_wnd >> rx->rcv_wscale),
        .wscale = -1,
    };
    ev->payload = payload;
    ev->payload_len = payload_len;
    if (flags & TCP_ACK) {
        rx->ack_pending = 0;
        rx->unacked_bytes = 0;
    }
}

static void send_syn(tcp_rx *rx, tcp_rx_event *ev)
{
    send_segment(rx, ev, rx->iss, TCP_SYN, NULL, 0);
    ev->segment.window = 0xffff; /* a SYN's window is never scaled (RFC 7323 2.2) */
    ev->segment.mss = TCP_RX_MSS;
    ev->segment.wscale = TCP_RX_WSCALE;
}

static void send_ack(tcp_rx *rx, tcp_rx_event *ev)
{
    send_segment(rx, ev, rx->snd_nxt, TCP_ACK, NULL, 0);
}

static void start_timer(tcp_rx *rx, uint32_t now)
{
    rx->timer_on = 1;
    rx->timer_start = now;
    rx->rto = rx->timing.rto_ms;
    rx->retries = 0;
}

static void progress(tcp_rx *rx, uint32_t now)
{
    rx->last_progress = now;
}

tcp_rx_state tcp_rx_init(tcp_rx *rx, uint16_t our_port, uint16_t server_port, uint32_t iss,
                         const uint8_t *request, size_t request_len, uint8_t *store,
                         size_t store_len, const tcp_rx_timing *timing, uint32_t now,
                         tcp_rx_event *ev)
{
    *rx = (tcp_rx){0};
    clear_event(ev);
    rx->our_port = our_port;
    rx->server_port = server_port;
    rx->iss = iss;
    rx->snd_una = iss;
    rx->snd_nxt = iss + 1;
    rx->rcv_wnd = 0xffff;
    rx->request = request;
    rx->request_len = request ? request_len : 0;
    rx->store = store;
    rx->slot_count = store ? (unsigned)(store_len / TCP_RX_SLOT_BYTES) : 0;
    if (rx->slot_count > TCP_RX_SLOTS_MAX)
        rx->slot_count = TCP_RX_SLOTS_MAX;
    rx->timing = *timing;
    rx->last_progress = now;
    rx->state = TCP_RX_SYN_SENT;
    if (!our_port || !server_port)
        return fail(rx, TCP_RX_BY_REQUEST, "TCP port 0");
    if (rx->request_len > TCP_RX_REQUEST_MAX)
        return fail(rx, TCP_RX_BY_REQUEST, "request longer than one TCP segment");
    send_syn(rx, ev);
    start_timer(rx, now);
    return rx->state;
}

static tcp_rx_state ignore(tcp_rx *rx, tcp_rx_event *ev, const char *why)
{
    ev->ignored = why;
    return rx->state;
}

/* SYN-SENT (RFC 9293 3.10.7.3): only the SYN-ACK of exactly our SYN, or an RST that ACKs it. */
static tcp_rx_state receive_syn_ack(tcp_rx *rx, const tcp_segment *s, uint32_t now,
                                    tcp_rx_event *ev)
{
    if (!(s->flags & TCP_ACK) || s->ack != rx->iss + 1)
        return ignore(rx, ev, "TCP segment does not ACK our SYN");
    if (s->flags & TCP_RST)
        return fail(rx, TCP_RX_BY_RESET, "connection refused by the server (TCP RST)");
    if (!(s->flags & TCP_SYN))
        return ignore(rx, ev, "TCP segment before the SYN-ACK");
    rx->synchronized = 1;
    rx->rcv_nxt = s->seq + 1; /* data on a SYN-ACK is not taken: it comes again */
    rx->snd_una = s->ack;
    rx->server_mss = s->has_mss ? s->mss : TCP_DEFAULT_MSS;
    if (s->has_wscale) {
        rx->rcv_wscale = TCP_RX_WSCALE;
        rx->rcv_wnd = TCP_RX_WINDOW;
    }
    rx->state = TCP_RX_ESTABLISHED;
    progress(rx, now);
    if (rx->request_len > rx->server_mss) {
        send_segment(rx, ev, rx->snd_nxt, TCP_RST | TCP_ACK, NULL, 0);
        rx->synchronized = 0;
        return fail(rx, TCP_RX_BY_REQUEST, "request longer than the server's MSS");
    }
    if (!rx->request_len) {
        rx->timer_on = 0;
        send_ack(rx, ev);
        return rx->state;
    }
    send_segment(rx, ev, rx->snd_nxt, TCP_ACK | TCP_PSH, rx->request, rx->request_len);
    rx->snd_nxt += (uint32_t)rx->request_len;
    start_timer(rx, now);
    return rx->state;
}

static int in_window(const tcp_rx *rx, uint32_t seq)
{
    return seq - rx->rcv_nxt < rx->rcv_wnd;
}

/* RFC 9293 3.10.7.4, first check: does the segment hold anything at or past rcv_nxt? */
static int acceptable(const tcp_rx *rx, uint32_t seq, uint32_t seg_len)
{
    if (!seg_len)
        return in_window(rx, seq);
    return in_window(rx, seq) || in_window(rx, seq + seg_len - 1);
}

static void keep_out_of_order(tcp_rx *rx, uint32_t seq, const uint8_t *data, size_t len,
                              tcp_rx_event *ev)
{
    if (len > TCP_RX_SLOT_BYTES)
        len = TCP_RX_SLOT_BYTES; /* the rest comes again */
    tcp_rx_slot *free_slot = NULL;
    for (unsigned i = 0; i < rx->slot_count; i++) {
        tcp_rx_slot *slot = &rx->slots[i];
        if (slot->len && slot->seq == seq) {
            if (slot->len >= len) {
                ev->ignored = "TCP segment out of order, already kept";
                return;
            }
            free_slot = slot; /* a longer retransmission replaces it */
            break;
        }
        if (!slot->len && !free_slot)
            free_slot = slot;
    }
    if (!free_slot) {
        ev->ignored = "TCP segment out of order, no room to keep it";
        return;
    }
    uint8_t *to = rx->store + (size_t)(free_slot - rx->slots) * TCP_RX_SLOT_BYTES;
    bytes_copy(to, data, len);
    free_slot->seq = seq;
    free_slot->len = (uint16_t)len;
    ev->ignored = "TCP segment out of order, kept";
}

static void deliver(tcp_rx *rx, const uint8_t *data, size_t len, tcp_rx_event *ev)
{
    if (rx->fin_known && len > rx->fin_seq - rx->rcv_nxt)
        len = rx->fin_seq - rx->rcv_nxt;
    if (!len)
        return;
    ev->pieces[ev->piece_count++] = (tcp_rx_piece){data, len};
    ev->data_len += len;
    rx->rcv_nxt += (uint32_t)len;
    rx->delivered += len;
}

/* Kept segments that now continue the stream; returns whether any did. Each slot is read at
 * most once per call, so the pieces array cannot overflow. */
static int drain_store(tcp_rx *rx, tcp_rx_event *ev)
{
    int any = 0, found;
    do {
        found = 0;
        for (unsigned i = 0; i < rx->slot_count; i++) {
            tcp_rx_slot *slot = &rx->slots[i];
            if (!slot->len)
                continue;
            if (tcp_seq_le(slot->seq + slot->len, rx->rcv_nxt)) {
                slot->len = 0; /* all of it came in another segment */
                continue;
            }
            if (tcp_seq_lt(rx->rcv_nxt, slot->seq))
                continue;
            uint32_t skip = rx->rcv_nxt - slot->seq;
            deliver(rx, rx->store + (size_t)i * TCP_RX_SLOT_BYTES + skip, slot->len - skip, ev);
            slot->len = 0;
            found = any = 1;
        }
    } while (found);
    return any;
}

static void drop_store(tcp_rx *rx)
{
    for (unsigned i = 0; i < rx->slot_count; i++)
        rx->slots[i].len = 0;
}

/* The ACK field of a synchronized-state segment (RFC 9293 3.10.7.4, fifth check; RFC 5961 5). */
static int take_ack(tcp_rx *rx, uint32_t ack, uint32_t now)
{
    if (tcp_seq_lt(ack, rx->iss + 1) || tcp_seq_lt(rx->snd_nxt, ack))
        return 0;
    if (tcp_seq_lt(rx->snd_una, ack)) {
        rx->snd_una = ack;
        progress(rx, now);
        if (ack == rx->snd_nxt)
            rx->timer_on = 0;
        else
            start_timer(rx, now);
    }
    return 1;
}

static tcp_rx_state receive_synchronized(tcp_rx *rx, const tcp_segment *s, uint32_t now,
                                         tcp_rx_event *ev)
{
    uint32_t seg_len = (uint32_t)s->payload_len + !!(s->flags & TCP_FIN);
    if (!acceptable(rx, s->seq, seg_len)) {
        if (s->flags & TCP_RST)
            return ignore(rx, ev, "TCP RST outside the window");
        send_ack(rx, ev);
        return ignore(rx, ev, tcp_seq_le(s->seq + seg_len, rx->rcv_nxt)
                                  ? "TCP segment already received"
                                  : "TCP segment outside the receive window");
    }
    if (s->flags & TCP_RST) {
        if (s->seq != rx->rcv_nxt) {
            send_ack(rx, ev); /* challenge ACK: a real RST comes again with the right number */
            return ignore(rx, ev, "TCP RST not at the expected sequence number");
        }
        rx->synchronized = 0;
        return fail(rx, TCP_RX_BY_RESET, "connection reset by the server (TCP RST)");
    }
    if (s->flags & TCP_SYN) {
        send_ack(rx, ev);
        return ignore(rx, ev, "TCP SYN on a synchronized connection");
    }
    if (!(s->flags & TCP_ACK))
        return ignore(rx, ev, "TCP segment without ACK");
    if (!take_ack(rx, s->ack, now)) {
        send_ack(rx, ev);
        return ignore(rx, ev, "TCP ACK of data never sent");
    }
    if (rx->state == TCP_RX_LAST_ACK) {
        if (rx->snd_una == rx->snd_nxt) {
            rx->state = TCP_RX_CLOSED;
            rx->synchronized = 0;
            return rx->state;
        }
        if (seg_len) /* past the FIN: nothing more can come */
            send_ack(rx, ev);
        return rx->state;
    }

    /* Cut the segment to what is new and inside the window. */
    uint32_t seq = s->seq;
    const uint8_t *data = s->payload;
    size_t len = s->payload_len;
    int fin = !!(s->flags & TCP_FIN);
    if (tcp_seq_lt(seq, rx->rcv_nxt)) {
        uint32_t skip = rx->rcv_nxt - seq;
        skip = skip > len ? (uint32_t)len : skip;
        seq += skip, data += skip, len -= skip;
    }
    if (len > rx->rcv_wnd - (seq - rx->rcv_nxt)) {
        len = rx->rcv_wnd - (seq - rx->rcv_nxt);
        fin = 0;
    }
    if (fin && !rx->fin_known) {
        rx->fin_known = 1;
        rx->fin_seq = seq + (uint32_t)len;
    }
    if (rx->fin_known && tcp_seq_lt(rx->fin_seq, seq + (uint32_t)len))
        len = tcp_seq_lt(seq, rx->fin_seq) ? rx->fin_seq - seq : 0; /* nothing after the FIN */

    int gap_filled = 0;
    if (seq == rx->rcv_nxt && len) {
        if (len > rx->largest_segment)
            rx->largest_segment = (uint32_t)len;
        deliver(rx, data, len, ev);
        gap_filled = drain_store(rx, ev);
        rx->unacked_bytes += (uint32_t)ev->data_len;
        progress(rx, now);
    } else if (len) {
        keep_out_of_order(rx, seq, data, len, ev);
        send_ack(rx, ev); /* the dup-ACK that makes the server retransmit the gap */
        return rx->state;
    }
    if (rx->fin_known && rx->rcv_nxt == rx->fin_seq) {
        rx->rcv_nxt++;
        ev->end_of_stream = 1;
        drop_store(rx);
        rx->state = TCP_RX_LAST_ACK;
        progress(rx, now);
        send_segment(rx, ev, rx->snd_nxt, TCP_FIN | TCP_ACK, NULL, 0);
        rx->snd_nxt++;
        start_timer(rx, now);
        return rx->state;
    }
    if (!ev->data_len) {
        if (fin) /* a FIN after a gap: ACK what we have */
            send_ack(rx, ev);
        return rx->state;
    }
    if (gap_filled || rx->unacked_bytes > rx->largest_segment)
        send_ack(rx, ev);
    else
        rx->ack_pending = 1;
    return rx->state;
}

tcp_rx_state tcp_rx_receive(tcp_rx *rx, const tcp_segment *s, uint32_t now, tcp_rx_event *ev)
{
    clear_event(ev);
    if (rx->state == TCP_RX_CLOSED || rx->state == TCP_RX_FAILED)
        return ignore(rx, ev, "TCP connection is over");
    if (s->src_port != rx->server_port || s->dst_port != rx->our_port)
        return ignore(rx, ev, "TCP segment from another connection");
    if (rx->state == TCP_RX_SYN_SENT)
        return receive_syn_ack(rx, s, now, ev);
    return receive_synchronized(rx, s, now, ev);
}

static void retransmit(tcp_rx *rx, tcp_rx_event *ev)
{
    if (rx->state == TCP_RX_SYN_SENT)
        send_syn(rx, ev);
    else if (rx->state == TCP_RX_LAST_ACK)
        send_segment(rx, ev, rx->snd_nxt - 1, TCP_FIN | TCP_ACK, NULL, 0);
    else
        send_segment(rx, ev, rx->snd_una, TCP_ACK | TCP_PSH,
                     rx->request + (rx->snd_una - rx->iss - 1), rx->snd_nxt - rx->snd_una);
}

tcp_rx_state tcp_rx_tick(tcp_rx *rx, uint32_t now, tcp_rx_event *ev)
{
    clear_event(ev);
    if (rx->state == TCP_RX_CLOSED || rx->state == TCP_RX_FAILED)
        return rx->state;
    if (now - rx->last_progress >= rx->timing.idle_ms) {
        if (rx->state == TCP_RX_LAST_ACK) { /* the stream is complete: only our FIN is lost */
            rx->state = TCP_RX_CLOSED;
            return rx->state;
        }
        return fail(rx, TCP_RX_BY_TIMEOUT,
                    rx->state == TCP_RX_SYN_SENT ? "no answer to the TCP SYN (timeout)"
                                                 : "no progress from the server (timeout)");
    }
    if (rx->timer_on && now - rx->timer_start >= rx->rto) {
        if (rx->retries >= rx->timing.max_retries) {
            if (rx->state == TCP_RX_LAST_ACK) {
                rx->state = TCP_RX_CLOSED;
                return rx->state;
            }
            return fail(rx, TCP_RX_BY_RETRIES,
                        rx->state == TCP_RX_SYN_SENT ? "no answer to the TCP SYN"
                                                     : "the server never ACKed the request");
        }
        rx->retries++;
        rx->timer_start = now;
        rx->rto = rx->rto > rx->timing.rto_max_ms / 2 ? rx->timing.rto_max_ms : rx->rto * 2;
        retransmit(rx, ev);
        return rx->state;
    }
    return tcp_rx_flush(rx, ev);
}

tcp_rx_state tcp_rx_flush(tcp_rx *rx, tcp_rx_event *ev)
{
    clear_event(ev);
    if (rx->ack_pending && rx->state == TCP_RX_ESTABLISHED)
        send_ack(rx, ev);
    return rx->state;
}

tcp_rx_state tcp_rx_abort(tcp_rx *rx, tcp_rx_event *ev)
{
    clear_event(ev);
    if (rx->synchronized)
        send_segment(rx, ev, rx->snd_nxt, TCP_RST | TCP_ACK, NULL, 0);
    rx->synchronized = 0;
    rx->timer_on = 0;
    rx->ack_pending = 0;
    if (rx->state != TCP_RX_FAILED)
        rx->state = TCP_RX_CLOSED;
    return rx->state;
}
