/* Strict UTF-8 decoding. Pure: no EFI calls. */
#ifndef STUB_UTF8_H
#define STUB_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode one UTF-8 sequence (strict: no overlongs, surrogates or values above U+10FFFF).
 * Returns the bytes consumed, 0 when the input does not start with a valid sequence. */
size_t utf8_decode(const uint8_t *in, size_t len, uint32_t *code_point);

#endif
