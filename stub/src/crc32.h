/* CRC-32 as UEFI's CalculateCrc32 computes it (IEEE 802.3, reflected, initial and final XOR
 * 0xffffffff). Pure: the exit guard recomputes the boot services table's CRC with it after a
 * failed ExitBootServices, when no boot service may be called any more. */
#ifndef STUB_CRC32_H
#define STUB_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_compute(const void *data, size_t len);

#endif
