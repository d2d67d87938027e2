#include "ipv4.h"

#include "inet_csum.h"

#define FLAG_RESERVED 0x8000
#define FLAG_DONT_FRAGMENT 0x4000
#define FLAG_MORE_FRAGMENTS 0x2000
#define OFFSET_MASK 0x1fff

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

const char *ipv4_parse(const uint8_t *p, size_t len, ipv4_header *out)
{
    *out = (ipv4_header){0};
    if (!p || len < IPV4_HEADER_LEN)
        return "IPv4 packet shorter than its header";
    if (p[0] >> 4 != 4)
        return "IP version is not 4";
    size_t header_len = (size_t)(p[0] & 15) * 4;
    if (header_len < IPV4_HEADER_LEN)
        return "IPv4 header length below 20";
    if (header_len > len)
        return "IPv4 header longer than the packet";
    size_t total = be16(p + 2);
    if (total < header_len)
        return "IPv4 total length shorter than its header";
    if (total > len)
        return "IPv4 total length past the received bytes";
    if (inet_csum(p, header_len) != 0)
        return "IPv4 header checksum is wrong";
    uint16_t flags = be16(p + 6);
    if (flags & FLAG_RESERVED)
        return "IPv4 reserved flag set";
    if (p[8] == 0)
        return "IPv4 TTL is 0";
    out->fragment_offset = (uint32_t)(flags & OFFSET_MASK) * 8;
    out->payload_len = total - header_len;
    if (out->fragment_offset + out->payload_len + header_len > IPV4_MAX_TOTAL)
        return "IPv4 fragment reaches past 65535 bytes";
    for (int i = 0; i < 4; i++) {
        out->src[i] = p[12 + i];
        out->dst[i] = p[16 + i];
    }
    if (out->src[0] >= 224)
        return "IPv4 source is multicast or broadcast";
    out->dont_fragment = !!(flags & FLAG_DONT_FRAGMENT);
    out->more_fragments = !!(flags & FLAG_MORE_FRAGMENTS);
    out->id = be16(p + 4);
    out->ttl = p[8];
    out->protocol = p[9];
    out->header_len = header_len;
    out->payload = p + header_len;
    return NULL;
}

int ipv4_is_fragment(const ipv4_header *h)
{
    return h->more_fragments || h->fragment_offset != 0;
}

size_t ipv4_build(uint8_t *out, size_t cap, const uint8_t src[4], const uint8_t dst[4],
                  uint8_t protocol, uint16_t id, size_t payload_len)
{
    if (!out || cap < IPV4_HEADER_LEN || payload_len > IPV4_MAX_TOTAL - IPV4_HEADER_LEN)
        return 0;
    out[0] = 0x45;
    out[1] = 0;
    put_be16(out + 2, (uint16_t)(IPV4_HEADER_LEN + payload_len));
    put_be16(out + 4, id);
    put_be16(out + 6, FLAG_DONT_FRAGMENT);
    out[8] = IPV4_DEFAULT_TTL;
    out[9] = protocol;
    out[10] = out[11] = 0;
    for (int i = 0; i < 4; i++) {
        out[12 + i] = src[i];
        out[16 + i] = dst[i];
    }
    put_be16(out + 10, inet_csum(out, IPV4_HEADER_LEN));
    return IPV4_HEADER_LEN;
}
