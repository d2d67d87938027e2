/* Copying payload bytes fast in firmware: gnu-efi's memcpy (what GCC calls for a copy of
 * unknown length) moves one byte at a time, which under emulation costs more than receiving
 * the frame. Eight bytes per move instead (a fixed-size __builtin_memcpy is a single load and
 * store on any target), then the tail. Regions must not overlap. Pure. */
#ifndef STUB_BYTES_H
#define STUB_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void bytes_copy(void *to, const void *from, size_t len)
{
    uint8_t *d = to;
    const uint8_t *s = from;
    for (; len >= 16; d += 16, s += 16, len -= 16) {
        uint64_t a, b;
        __builtin_memcpy(&a, s, 8);
        __builtin_memcpy(&b, s + 8, 8);
        __builtin_memcpy(d, &a, 8);
        __builtin_memcpy(d + 8, &b, 8);
    }
    for (; len; len--)
        *d++ = *s++;
}

#endif
