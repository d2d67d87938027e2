/* CRC-32 against published check values (the same algorithm as UEFI's CalculateCrc32). */
#include "check.h"
#include "crc32.h"

void test_crc32(void)
{
    CHECK(crc32_compute("", 0) == 0);
    CHECK(crc32_compute("123456789", 9) == 0xcbf43926u);  /* the CRC-32/ISO-HDLC check value */
    CHECK(crc32_compute("a", 1) == 0xe8b7be43u);
    CHECK(crc32_compute("The quick brown fox jumps over the lazy dog", 43) == 0x414fa339u);
    static const uint8_t zeros[32] = {0};
    CHECK(crc32_compute(zeros, sizeof zeros) == 0x190a55adu);
    /* A table header with its CRC field zeroed, as the firmware checks it: a field change shows. */
    uint8_t header[24] = {'B', 'O', 'O', 'T', 'S', 'E', 'R', 'V', 0, 0, 2, 0, 24, 0, 0, 0};
    uint32_t before = crc32_compute(header, sizeof header);
    header[20] = 1;
    CHECK(crc32_compute(header, sizeof header) != before);
}
