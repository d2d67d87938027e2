/* The `.cmdline` section as the kernel's UCS-2 LoadOptions. Pure: no EFI calls. */
#ifndef STUB_CMDLINE_H
#define STUB_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

/* The `.cmdline` section as a NUL-terminated UCS-2 string for LoadOptions. Trailing NUL bytes
 * are dropped; an inner NUL or invalid UTF-8 is an error. Code points above U+FFFF become
 * UTF-16 surrogate pairs. out_cap (in 16-bit units) of len + 1 is always enough. */
const char *cmdline_to_ucs2(const uint8_t *in, size_t len, uint16_t *out, size_t out_cap,
                            size_t *out_units);

#endif
