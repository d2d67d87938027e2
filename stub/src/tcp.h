/* TCP segments over IPv4 (RFC 9293): parse one received, build one to send. The parser
 * refuses a segment shorter than its header, a data offset below 5 words or past the bytes, a
 * wrong pseudo-header checksum (never optional in TCP), port 0, SYN together with FIN or RST,
 * and options that lie: a length below 2 or past the header, MSS not 4 bytes long or 0,
 * window scale not 3 bytes long. Other options are skipped by their length; window scales
 * above 14 are clamped to 14 (RFC 7323). Pure: no EFI calls, no allocation. */
#ifndef STUB_TCP_H
#define STUB_TCP_H

#include <stddef.h>
#include <stdint.h>

#define TCP_HEADER_LEN 20 /* without options */
#define TCP_IPV4_PROTO 6
#define TCP_OPTIONS_MAX 40
#define TCP_DEFAULT_MSS 536 /* what a peer that sends no MSS option takes (RFC 9293 3.7.1) */
#define TCP_WSCALE_MAX 14

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

typedef struct {
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    uint16_t window; /* as on the wire: unscaled */
    int has_mss;
    uint16_t mss;
    int has_wscale;
    uint8_t wscale;
    size_t header_len;
    const uint8_t *payload; /* inside the segment */
    size_t payload_len;
} tcp_segment;

/* What tcp_build writes: options only when asked (mss 0: none; wscale < 0: none). */
typedef struct {
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    uint16_t window;
    uint16_t mss;
    int wscale;
} tcp_header_out;

/* `len` is the IP payload's length (the IPv4 total length already trimmed it). Returns NULL
 * or a static reason. */
const char *tcp_parse(const uint8_t *bytes, size_t len, const uint8_t src_ip[4],
                      const uint8_t dst_ip[4], tcp_segment *out);

/* The header's length with the options h asks for. */
size_t tcp_header_len(const tcp_header_out *h);

/* Write header, options and the payload (copied; it may already be in place at
 * out + tcp_header_len(h)) with the checksum. Returns the segment's length, or 0 when it does
 * not fit cap or would pass 65535 - 20 bytes. */
size_t tcp_build(uint8_t *out, size_t cap, const uint8_t src_ip[4], const uint8_t dst_ip[4],
                 const tcp_header_out *h, const uint8_t *payload, size_t payload_len);

/* Sequence-number order modulo 2^32 (RFC 9293 3.4). */
static inline int tcp_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline int tcp_seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

#endif
