/* UDP over IPv4 (RFC 768): parse a datagram with its pseudo-header checksum, build a header.
 * Pure: no EFI calls. */
#ifndef STUB_UDP_H
#define STUB_UDP_H

#include <stddef.h>
#include <stdint.h>

#define UDP_HEADER_LEN 8

typedef struct {
    uint16_t src_port;
    uint16_t dst_port;
    int checksummed; /* 0: the sender sent none (checksum field 0, allowed over IPv4) */
    const uint8_t *payload;
    size_t payload_len;
} udp_datagram;

/* `len` is the IP payload's length. The UDP length must be at least 8 and at most len (bytes
 * past it are ignored, as Linux does); a non-zero checksum must verify, and with
 * checksum_required (a datagram put together from fragments) a zero one is refused too; port
 * 0 is refused either way. Returns NULL or a static reason. */
const char *udp_parse(const uint8_t *bytes, size_t len, const uint8_t src_ip[4],
                      const uint8_t dst_ip[4], int checksum_required, udp_datagram *out);

/* Write the 8-byte header at out, for the payload_len bytes that already follow it there, with
 * the checksum over the pseudo-header (a computed 0 goes out as 0xffff). Returns
 * UDP_HEADER_LEN, or 0 when the datagram would pass 65535 bytes. */
size_t udp_build(uint8_t *out, const uint8_t src_ip[4], const uint8_t dst_ip[4],
                 uint16_t src_port, uint16_t dst_port, size_t payload_len);

#endif
