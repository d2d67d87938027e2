/* The internet checksum (inet_csum.c) against RFC 1071's example and a plain reference. */
#include <stdlib.h>

#include "check.h"
#include "inet_csum.h"

/* RFC 1071 section 1's definition, word by word, for comparison. */
static uint16_t reference(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i += 2) {
        sum += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

void test_inet_csum(void)
{
    /* RFC 1071 3: 0001 f203 f4f5 f6f7 sums to ddf2; the checksum is its complement. */
    static const uint8_t rfc1071[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(inet_csum(rfc1071, sizeof rfc1071) == 0x220d);
    CHECK(inet_csum_add(0, rfc1071, sizeof rfc1071) == 0xddf2);
    /* Summed in pieces (even lengths), the same. */
    CHECK(inet_csum_finish(inet_csum_add(inet_csum_add(0, rfc1071, 2), rfc1071 + 2, 6)) == 0x220d);
    CHECK(inet_csum(rfc1071, 0) == 0xffff);
    static const uint8_t odd[] = {0x01};
    CHECK(inet_csum(odd, 1) == 0xfeff); /* the last byte is a word's high half */

    /* A known IPv4 header with its checksum b861 verifies to 0. */
    static const uint8_t header[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                       0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(inet_csum(header, sizeof header) == 0);
    uint8_t zeroed[20];
    memcpy(zeroed, header, sizeof zeroed);
    zeroed[10] = zeroed[11] = 0;
    CHECK(inet_csum(zeroed, sizeof zeroed) == 0xb861);

    /* Every length 0..300 at every alignment against the reference; carries included. */
    uint8_t *buf = malloc(304);
    CHECK(buf != NULL);
    if (!buf)
        return;
    int mismatches = 0;
    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < 304; i++)
            buf[i] = fill ? 0xff : (uint8_t)(i * 37 + 11);
        for (size_t start = 0; start < 4; start++)
            for (size_t len = 0; len <= 300; len++)
                mismatches += inet_csum(buf + start, len) != reference(buf + start, len);
    }
    CHECK(mismatches == 0);
    free(buf);
}
