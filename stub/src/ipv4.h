/* IPv4 headers (RFC 791): parse one received, build one to send. Pure: no EFI calls.
 * Reassembly of fragments is ipv4_reasm.[ch]. */
#ifndef STUB_IPV4_H
#define STUB_IPV4_H

#include <stddef.h>
#include <stdint.h>

#define IPV4_HEADER_LEN 20 /* without options; what ipv4_build writes */
#define IPV4_MAX_TOTAL 65535
#define IPV4_PROTO_ICMP 1
#define IPV4_PROTO_UDP 17
#define IPV4_DEFAULT_TTL 64

typedef struct {
    uint8_t src[4];
    uint8_t dst[4];
    uint8_t protocol;
    uint8_t ttl;
    uint16_t id;
    int dont_fragment;
    int more_fragments;
    uint32_t fragment_offset; /* in bytes (the field counts 8-byte units) */
    size_t header_len;        /* with options, which are skipped */
    const uint8_t *payload;   /* inside the packet, trimmed to the total length */
    size_t payload_len;
} ipv4_header;

/* `len` is what the link layer delivered (it may carry Ethernet padding past the total
 * length). Refused: a version other than 4, a header length below 20 or past the bytes, a
 * total length below the header or past the bytes, a bad header checksum, the reserved flag,
 * TTL 0, a fragment reaching past 65535 bytes, a multicast or broadcast source. Returns NULL
 * or a static reason. */
const char *ipv4_parse(const uint8_t *packet, size_t len, ipv4_header *out);

/* Whether a packet is one fragment of a larger datagram. */
int ipv4_is_fragment(const ipv4_header *h);

/* Write a 20-byte header (no options, DF set: the stub never sends anything big) with its
 * checksum for a payload of payload_len bytes. Returns IPV4_HEADER_LEN, or 0 when cap is too
 * small or the total would pass 65535. */
size_t ipv4_build(uint8_t *out, size_t cap, const uint8_t src[4], const uint8_t dst[4],
                  uint8_t protocol, uint16_t id, size_t payload_len);

#endif
