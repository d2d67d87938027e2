/* Ethernet II headers (ether.c): what is refused, what a padded frame carries. */
#include <stdlib.h>

#include "check.h"
#include "ether.h"

static const uint8_t mac_a[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t mac_b[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

static const char *parse(const uint8_t *bytes, size_t len, ether_frame *out)
{
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan catches over-reads */
    memcpy(copy, bytes, len);
    const char *reason = ether_parse(copy, len, out);
    int points_inside = !reason ? out->payload == copy + ETHER_HEADER_LEN : 1;
    free(copy);
    CHECK(points_inside);
    return reason;
}

void test_ether(void)
{
    uint8_t frame[ETHER_MIN_FRAME] = {0};
    CHECK(ether_build(frame, sizeof frame, mac_a, mac_b, ETHERTYPE_IPV4) == ETHER_HEADER_LEN);
    CHECK(ether_build(frame, ETHER_HEADER_LEN - 1, mac_a, mac_b, ETHERTYPE_IPV4) == 0);
    ether_frame f;
    CHECK_STR(parse(frame, sizeof frame, &f), NULL);
    CHECK(memcmp(f.dst, mac_a, 6) == 0 && memcmp(f.src, mac_b, 6) == 0);
    CHECK(f.type == ETHERTYPE_IPV4 && f.payload_len == ETHER_MIN_FRAME - ETHER_HEADER_LEN);
    CHECK_STR(parse(frame, ETHER_HEADER_LEN, &f), NULL);
    CHECK(f.payload_len == 0);
    CHECK_STR(parse(frame, ETHER_HEADER_LEN - 1, &f), "Ethernet frame shorter than its header");
    CHECK_STR(parse(frame, 0, &f), "Ethernet frame shorter than its header");
    CHECK(ether_parse(NULL, 60, &f) != NULL);

    frame[12] = 0x81, frame[13] = 0x00;
    CHECK_STR(parse(frame, sizeof frame, &f), "Ethernet frame is VLAN-tagged");
    frame[12] = 0x88, frame[13] = 0xa8;
    CHECK_STR(parse(frame, sizeof frame, &f), "Ethernet frame is VLAN-tagged");
    frame[12] = 0x05, frame[13] = 0xdc; /* 1500: an 802.3 length */
    CHECK_STR(parse(frame, sizeof frame, &f), "Ethernet frame is 802.3 (length, not type)");
    frame[12] = 0x08, frame[13] = 0x06;
    CHECK_STR(parse(frame, sizeof frame, &f), NULL);
    CHECK(f.type == ETHERTYPE_ARP);
    frame[6] |= 1;
    CHECK_STR(parse(frame, sizeof frame, &f), "Ethernet source address is multicast");

    CHECK(ether_for_us(mac_a, mac_a));
    CHECK(ether_for_us(ether_broadcast, mac_a));
    CHECK(!ether_for_us(mac_b, mac_a));
    static const uint8_t multicast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    CHECK(!ether_for_us(multicast, mac_a));
}
