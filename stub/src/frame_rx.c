#include "frame_rx.h"

#include "udp.h"

static int same4(const uint8_t *a, const uint8_t *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

void frame_rx_init(frame_rx *rx, const uint8_t our_mac[ETHER_ADDR_LEN], const uint8_t our_ip[4],
                   const uint8_t server_ip[4], uint16_t our_port, uint8_t *storage,
                   size_t storage_len, uint32_t reasm_timeout)
{
    for (int i = 0; i < ETHER_ADDR_LEN; i++)
        rx->our_mac[i] = our_mac[i];
    for (int i = 0; i < 4; i++) {
        rx->our_ip[i] = our_ip[i];
        rx->server_ip[i] = server_ip[i];
    }
    rx->our_port = our_port;
    arp_cache_init(&rx->arp);
    ipv4_reasm_init(&rx->reasm, storage, storage_len, reasm_timeout);
}

static frame_rx_kind dropped(frame_rx_result *r, const char *why)
{
    r->reason = why;
    return FRAME_RX_DROPPED;
}

static frame_rx_kind take_arp(frame_rx *rx, const ether_frame *f, frame_rx_result *r)
{
    arp_packet in, reply;
    const char *bad = arp_parse(f->payload, f->payload_len, &in);
    if (bad)
        return dropped(r, bad);
    if (!arp_receive(&rx->arp, &in, f->src, rx->our_mac, rx->our_ip, &reply))
        return FRAME_RX_ARP;
    r->reply_len = frame_build_arp(r->reply, ETHER_MIN_FRAME, in.sender_mac, &reply);
    return r->reply_len ? FRAME_RX_ARP_REPLY : dropped(r, "no buffer for the ARP reply");
}

static frame_rx_kind take_tcp(frame_rx *rx, const ipv4_header *h, frame_rx_result *r)
{
    if (!same4(h->src, rx->server_ip))
        return dropped(r, "TCP not from the server");
    if (ipv4_is_fragment(h))
        return dropped(r, "TCP in IPv4 fragments");
    const char *bad = tcp_parse(h->payload, h->payload_len, h->src, h->dst, &r->tcp);
    if (bad)
        return dropped(r, bad);
    if (r->tcp.dst_port != rx->our_port)
        return dropped(r, "TCP not to our port");
    r->src_port = r->tcp.src_port;
    r->payload = r->tcp.payload;
    r->payload_len = r->tcp.payload_len;
    return FRAME_RX_TCP;
}

static frame_rx_kind take_ipv4(frame_rx *rx, const ether_frame *f, uint32_t now,
                               frame_rx_result *r)
{
    ipv4_header h;
    const char *bad = ipv4_parse(f->payload, f->payload_len, &h);
    if (bad)
        return dropped(r, bad);
    if (!same4(h.dst, rx->our_ip))
        return dropped(r, "IPv4 packet not to our address");
    if (h.protocol == TCP_IPV4_PROTO)
        return take_tcp(rx, &h, r);
    if (h.protocol != IPV4_PROTO_UDP)
        return dropped(r, "IPv4 packet is not UDP");
    if (!same4(h.src, rx->server_ip))
        return dropped(r, "UDP not from the server");
    const uint8_t *datagram;
    size_t len;
    switch (ipv4_reasm_add(&rx->reasm, &h, now, &datagram, &len, &bad)) {
    case IPV4_REASM_DROPPED:
        return dropped(r, bad);
    case IPV4_REASM_PENDING:
        return FRAME_RX_PENDING;
    case IPV4_REASM_COMPLETE:
        break;
    }
    udp_datagram u;
    /* Fragments are checked one by one only by their IP headers: the UDP checksum is all that
     * vouches for the reassembled whole, so it may not be left out. */
    bad = udp_parse(datagram, len, h.src, h.dst, ipv4_is_fragment(&h), &u);
    if (bad)
        return dropped(r, bad);
    if (u.dst_port != rx->our_port)
        return dropped(r, "UDP not to our port");
    r->src_port = u.src_port;
    r->payload = u.payload;
    r->payload_len = u.payload_len;
    return FRAME_RX_UDP;
}

frame_rx_kind frame_rx_take(frame_rx *rx, const uint8_t *frame, size_t len, uint32_t now,
                            frame_rx_result *r)
{
    uint8_t *reply = r->reply;
    *r = (frame_rx_result){.reply = reply};
    ether_frame f;
    const char *bad = ether_parse(frame, len, &f);
    if (bad)
        return dropped(r, bad);
    if (!ether_for_us(f.dst, rx->our_mac))
        return dropped(r, "Ethernet frame not to our address");
    if (f.type == ETHERTYPE_ARP)
        return take_arp(rx, &f, r);
    if (f.type == ETHERTYPE_IPV4)
        return take_ipv4(rx, &f, now, r);
    return dropped(r, "Ethernet type is neither IPv4 nor ARP");
}

static size_t pad(uint8_t *out, size_t len)
{
    while (len < ETHER_MIN_FRAME)
        out[len++] = 0;
    return len;
}

size_t frame_rx_resolve(frame_rx *rx, const uint8_t ip[4], uint8_t *out, size_t cap)
{
    if (!out || cap < ETHER_MIN_FRAME)
        return 0;
    arp_packet request;
    arp_request(&request, rx->our_mac, rx->our_ip, ip);
    arp_cache_resolve(&rx->arp, ip);
    return frame_build_arp(out, cap, ether_broadcast, &request);
}

size_t frame_build_arp(uint8_t *out, size_t cap, const uint8_t dst_mac[ETHER_ADDR_LEN],
                       const arp_packet *packet)
{
    if (!out || cap < ETHER_MIN_FRAME)
        return 0;
    ether_build(out, cap, dst_mac, packet->sender_mac, ETHERTYPE_ARP);
    arp_build(out + ETHER_HEADER_LEN, cap - ETHER_HEADER_LEN, packet);
    return pad(out, ETHER_HEADER_LEN + ARP_PACKET_LEN);
}

size_t frame_build_udp(uint8_t *out, size_t cap, const uint8_t dst_mac[ETHER_ADDR_LEN],
                       const frame_rx *rx, uint16_t ip_id, uint16_t dst_port, size_t payload_len)
{
    if (!out || cap < ETHER_MIN_FRAME || payload_len > cap - FRAME_UDP_PAYLOAD_OFFSET)
        return 0;
    uint8_t *ip = out + ETHER_HEADER_LEN, *udp = ip + IPV4_HEADER_LEN;
    if (!udp_build(udp, rx->our_ip, rx->server_ip, rx->our_port, dst_port, payload_len) ||
        !ipv4_build(ip, cap - ETHER_HEADER_LEN, rx->our_ip, rx->server_ip, IPV4_PROTO_UDP, ip_id,
                    UDP_HEADER_LEN + payload_len))
        return 0;
    ether_build(out, cap, dst_mac, rx->our_mac, ETHERTYPE_IPV4);
    return pad(out, FRAME_UDP_PAYLOAD_OFFSET + payload_len);
}

size_t frame_build_tcp(uint8_t *out, size_t cap, const uint8_t dst_mac[ETHER_ADDR_LEN],
                       const frame_rx *rx, uint16_t ip_id, const tcp_header_out *h,
                       const uint8_t *payload, size_t payload_len)
{
    size_t at = ETHER_HEADER_LEN + IPV4_HEADER_LEN;
    if (!out || cap < ETHER_MIN_FRAME || cap < at)
        return 0;
    uint8_t *ip = out + ETHER_HEADER_LEN, *tcp = out + at;
    size_t len = tcp_build(tcp, cap - at, rx->our_ip, rx->server_ip, h, payload, payload_len);
    if (!len || !ipv4_build(ip, cap - ETHER_HEADER_LEN, rx->our_ip, rx->server_ip,
                            TCP_IPV4_PROTO, ip_id, len))
        return 0;
    ether_build(out, cap, dst_mac, rx->our_mac, ETHERTYPE_IPV4);
    return pad(out, at + len);
}
