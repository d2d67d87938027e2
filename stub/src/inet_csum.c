#include "inet_csum.h"

static uint32_t fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint32_t)sum;
}

static uint32_t swap16(uint32_t v)
{
    return ((v & 0xff) << 8) | (v >> 8);
}

/* RFC 1071 2(B): the sum is byte-order independent, so words are added in the CPU's order,
 * four bytes at a time, and the folded result is swapped to network order once at the end. */
uint32_t inet_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t native = 0;
    for (; len >= 4; p += 4, len -= 4) {
        uint32_t word;
        __builtin_memcpy(&word, p, 4);
        native += word;
    }
    if (len >= 2) {
        uint16_t half;
        __builtin_memcpy(&half, p, 2);
        native += half;
        p += 2;
        len -= 2;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len)
        native += p[0];
    return fold((uint64_t)sum + swap16(fold(native)));
#else
    if (len)
        native += (uint32_t)p[0] << 8;
    (void)swap16;
    return fold((uint64_t)sum + fold(native));
#endif
}

uint16_t inet_csum_finish(uint32_t sum)
{
    return (uint16_t)~fold(sum);
}

uint16_t inet_csum(const void *data, size_t len)
{
    return inet_csum_finish(inet_csum_add(0, data, len));
}
