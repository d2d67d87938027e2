/* Ethernet II frames as SNP hands them over (no preamble, no FCS). Pure: no EFI calls.
 * 802.1Q/802.1ad tagged frames are refused: the stub joins no VLAN, and the firmware's own
 * stack, which configured the NIC, sends and expects untagged frames on it. 802.3 frames
 * (a length where the type goes) are refused too. */
#ifndef STUB_ETHER_H
#define STUB_ETHER_H

#include <stddef.h>
#include <stdint.h>

#define ETHER_ADDR_LEN 6
#define ETHER_HEADER_LEN 14
#define ETHER_MIN_FRAME 60 /* without the FCS; shorter frames are padded when sent */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_IPV6 0x86dd

typedef struct {
    uint8_t dst[ETHER_ADDR_LEN];
    uint8_t src[ETHER_ADDR_LEN];
    uint16_t type;
    const uint8_t *payload; /* inside the frame; may end in padding the next layer trims */
    size_t payload_len;
} ether_frame;

/* Returns NULL or a static reason (too short, tagged, 802.3, a multicast source). */
const char *ether_parse(const uint8_t *frame, size_t len, ether_frame *out);

/* Whether a frame addressed to dst is for a NIC with address mac: its own, or broadcast. */
int ether_for_us(const uint8_t dst[ETHER_ADDR_LEN], const uint8_t mac[ETHER_ADDR_LEN]);

/* Write the 14-byte header at out; returns ETHER_HEADER_LEN, or 0 when cap is too small. */
size_t ether_build(uint8_t *out, size_t cap, const uint8_t dst[ETHER_ADDR_LEN],
                   const uint8_t src[ETHER_ADDR_LEN], uint16_t type);

extern const uint8_t ether_broadcast[ETHER_ADDR_LEN];

#endif
