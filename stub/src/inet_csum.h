/* The internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
 * 16-bit big-endian words. Pure: no EFI calls. */
#ifndef STUB_INET_CSUM_H
#define STUB_INET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add bytes to a running sum (start from 0). Only the last piece may have an odd length:
 * its final byte counts as the high half of a word padded with zero. */
uint32_t inet_csum_add(uint32_t sum, const void *data, size_t len);

/* Fold a running sum to 16 bits and complement it: the value that goes on the wire. A packet
 * whose checksum field is included verifies when this is 0. */
uint16_t inet_csum_finish(uint32_t sum);

/* inet_csum_finish(inet_csum_add(0, data, len)). */
uint16_t inet_csum(const void *data, size_t len);

#endif
