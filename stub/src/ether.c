#include "ether.h"

const uint8_t ether_broadcast[ETHER_ADDR_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static int same_mac(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < ETHER_ADDR_LEN; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

const char *ether_parse(const uint8_t *frame, size_t len, ether_frame *out)
{
    *out = (ether_frame){0};
    if (!frame || len < ETHER_HEADER_LEN)
        return "Ethernet frame shorter than its header";
    for (int i = 0; i < ETHER_ADDR_LEN; i++) {
        out->dst[i] = frame[i];
        out->src[i] = frame[ETHER_ADDR_LEN + i];
    }
    out->type = (uint16_t)(frame[12] << 8 | frame[13]);
    if (out->type == ETHERTYPE_VLAN || out->type == ETHERTYPE_QINQ)
        return "Ethernet frame is VLAN-tagged";
    if (out->type < 0x0600)
        return "Ethernet frame is 802.3 (length, not type)";
    if (out->src[0] & 1)
        return "Ethernet source address is multicast";
    out->payload = frame + ETHER_HEADER_LEN;
    out->payload_len = len - ETHER_HEADER_LEN;
    return NULL;
}

int ether_for_us(const uint8_t dst[ETHER_ADDR_LEN], const uint8_t mac[ETHER_ADDR_LEN])
{
    return same_mac(dst, mac) || same_mac(dst, ether_broadcast);
}

size_t ether_build(uint8_t *out, size_t cap, const uint8_t dst[ETHER_ADDR_LEN],
                   const uint8_t src[ETHER_ADDR_LEN], uint16_t type)
{
    if (!out || cap < ETHER_HEADER_LEN)
        return 0;
    for (int i = 0; i < ETHER_ADDR_LEN; i++) {
        out[i] = dst[i];
        out[ETHER_ADDR_LEN + i] = src[i];
    }
    out[12] = (uint8_t)(type >> 8);
    out[13] = (uint8_t)type;
    return ETHER_HEADER_LEN;
}
