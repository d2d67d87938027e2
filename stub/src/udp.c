#include "udp.h"

#include "inet_csum.h"
#include "ipv4.h"

static uint32_t pseudo_header_sum(const uint8_t src_ip[4], const uint8_t dst_ip[4],
                                  size_t udp_len)
{
    uint8_t pseudo[12] = {
        src_ip[0], src_ip[1], src_ip[2], src_ip[3], dst_ip[0], dst_ip[1], dst_ip[2], dst_ip[3],
        0, IPV4_PROTO_UDP, (uint8_t)(udp_len >> 8), (uint8_t)udp_len,
    };
    return inet_csum_add(0, pseudo, sizeof pseudo);
}

const char *udp_parse(const uint8_t *b, size_t len, const uint8_t src_ip[4],
                      const uint8_t dst_ip[4], int checksum_required, udp_datagram *out)
{
    *out = (udp_datagram){0};
    if (!b || len < UDP_HEADER_LEN)
        return "UDP datagram shorter than its header";
    size_t udp_len = (size_t)(b[4] << 8 | b[5]);
    if (udp_len < UDP_HEADER_LEN)
        return "UDP length shorter than its header";
    if (udp_len > len)
        return "UDP length past the IP payload";
    uint16_t checksum = (uint16_t)(b[6] << 8 | b[7]);
    if (!checksum && checksum_required)
        return "UDP datagram without a checksum";
    if (checksum) {
        uint32_t sum = inet_csum_add(pseudo_header_sum(src_ip, dst_ip, udp_len), b, udp_len);
        if (inet_csum_finish(sum) != 0)
            return "UDP checksum is wrong";
    }
    out->src_port = (uint16_t)(b[0] << 8 | b[1]);
    out->dst_port = (uint16_t)(b[2] << 8 | b[3]);
    if (!out->src_port || !out->dst_port)
        return "UDP port 0";
    out->checksummed = checksum != 0;
    out->payload = b + UDP_HEADER_LEN;
    out->payload_len = udp_len - UDP_HEADER_LEN;
    return NULL;
}

size_t udp_build(uint8_t *out, const uint8_t src_ip[4], const uint8_t dst_ip[4],
                 uint16_t src_port, uint16_t dst_port, size_t payload_len)
{
    if (!out || payload_len > IPV4_MAX_TOTAL - IPV4_HEADER_LEN - UDP_HEADER_LEN)
        return 0;
    size_t udp_len = UDP_HEADER_LEN + payload_len;
    out[0] = (uint8_t)(src_port >> 8);
    out[1] = (uint8_t)src_port;
    out[2] = (uint8_t)(dst_port >> 8);
    out[3] = (uint8_t)dst_port;
    out[4] = (uint8_t)(udp_len >> 8);
    out[5] = (uint8_t)udp_len;
    out[6] = out[7] = 0;
    uint16_t checksum =
        inet_csum_finish(inet_csum_add(pseudo_header_sum(src_ip, dst_ip, udp_len), out, udp_len));
    if (checksum == 0)
        checksum = 0xffff;
    out[6] = (uint8_t)(checksum >> 8);
    out[7] = (uint8_t)checksum;
    return UDP_HEADER_LEN;
}
