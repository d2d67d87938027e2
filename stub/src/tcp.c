#include "tcp.h"

#include "inet_csum.h"
#include "ipv4.h"

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint32_t pseudo_header_sum(const uint8_t src_ip[4], const uint8_t dst_ip[4], size_t len)
{
    uint8_t pseudo[12] = {
        src_ip[0], src_ip[1], src_ip[2], src_ip[3], dst_ip[0], dst_ip[1], dst_ip[2], dst_ip[3],
        0, TCP_IPV4_PROTO, (uint8_t)(len >> 8), (uint8_t)len,
    };
    return inet_csum_add(0, pseudo, sizeof pseudo);
}

static const char *parse_options(const uint8_t *o, size_t len, tcp_segment *out)
{
    size_t i = 0;
    while (i < len) {
        uint8_t kind = o[i];
        if (kind == 0) /* end of option list */
            break;
        if (kind == 1) { /* no-operation */
            i++;
            continue;
        }
        if (len - i < 2 || o[i + 1] < 2 || o[i + 1] > len - i)
            return "TCP option length past the header";
        uint8_t n = o[i + 1];
        if (kind == 2) {
            if (n != 4)
                return "TCP MSS option is not 4 bytes long";
            out->mss = be16(o + i + 2);
            if (!out->mss)
                return "TCP MSS option is 0";
            out->has_mss = 1;
        } else if (kind == 3) {
            if (n != 3)
                return "TCP window scale option is not 3 bytes long";
            out->has_wscale = 1;
            out->wscale = o[i + 2] > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : o[i + 2];
        }
        i += n;
    }
    return NULL;
}

const char *tcp_parse(const uint8_t *b, size_t len, const uint8_t src_ip[4],
                      const uint8_t dst_ip[4], tcp_segment *out)
{
    *out = (tcp_segment){0};
    if (!b || len < TCP_HEADER_LEN)
        return "TCP segment shorter than its header";
    if (len > IPV4_MAX_TOTAL - IPV4_HEADER_LEN)
        return "TCP segment longer than an IPv4 packet";
    size_t header_len = (size_t)(b[12] >> 4) * 4;
    if (header_len < TCP_HEADER_LEN)
        return "TCP data offset shorter than the header";
    if (header_len > len)
        return "TCP data offset past the segment";
    if (inet_csum_finish(inet_csum_add(pseudo_header_sum(src_ip, dst_ip, len), b, len)) != 0)
        return "TCP checksum is wrong";
    out->src_port = be16(b);
    out->dst_port = be16(b + 2);
    if (!out->src_port || !out->dst_port)
        return "TCP port 0";
    out->seq = be32(b + 4);
    out->ack = be32(b + 8);
    out->flags = b[13] & 0x3f;
    if ((out->flags & TCP_SYN) && (out->flags & (TCP_FIN | TCP_RST)))
        return "TCP SYN with FIN or RST";
    out->window = be16(b + 14);
    const char *bad = parse_options(b + TCP_HEADER_LEN, header_len - TCP_HEADER_LEN, out);
    if (bad)
        return bad;
    out->header_len = header_len;
    out->payload = b + header_len;
    out->payload_len = len - header_len;
    return NULL;
}

size_t tcp_header_len(const tcp_header_out *h)
{
    /* MSS (4) and NOP + window scale (4): both keep the header a multiple of 4. */
    return TCP_HEADER_LEN + (h->mss ? 4 : 0) + (h->wscale >= 0 ? 4 : 0);
}

size_t tcp_build(uint8_t *out, size_t cap, const uint8_t src_ip[4], const uint8_t dst_ip[4],
                 const tcp_header_out *h, const uint8_t *payload, size_t payload_len)
{
    size_t hl = tcp_header_len(h);
    if (!out || cap < hl || payload_len > cap - hl ||
        payload_len > IPV4_MAX_TOTAL - IPV4_HEADER_LEN - hl || (payload_len && !payload))
        return 0;
    uint8_t *data = out + hl;
    if (payload != data)
        for (size_t i = 0; i < payload_len; i++) /* the caller's payload never overlaps otherwise */
            data[i] = payload[i];
    put16(out, h->src_port);
    put16(out + 2, h->dst_port);
    put32(out + 4, h->seq);
    put32(out + 8, h->ack);
    out[12] = (uint8_t)(hl / 4 << 4);
    out[13] = h->flags;
    put16(out + 14, h->window);
    out[16] = out[17] = out[18] = out[19] = 0;
    uint8_t *o = out + TCP_HEADER_LEN;
    if (h->mss) {
        o[0] = 2, o[1] = 4;
        put16(o + 2, h->mss);
        o += 4;
    }
    if (h->wscale >= 0) {
        o[0] = 1, o[1] = 3, o[2] = 3;
        o[3] = (uint8_t)(h->wscale > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : h->wscale);
    }
    size_t len = hl + payload_len;
    uint32_t sum = inet_csum_add(pseudo_header_sum(src_ip, dst_ip, len), out, len);
    put16(out + 16, inet_csum_finish(sum));
    return len;
}
