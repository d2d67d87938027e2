#include "cmdline.h"
#include "utf8.h"

const char *cmdline_to_ucs2(const uint8_t *in, size_t len, uint16_t *out, size_t out_cap,
                            size_t *out_units)
{
    size_t units = 0;
    while (len > 0 && in[len - 1] == 0)
        len--;
    *out_units = 0;
    if (out_cap == 0)
        return "no room for the command line";
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t used = utf8_decode(in + i, len - i, &cp);
        if (used == 0)
            return "invalid UTF-8";
        if (cp == 0)
            return "NUL byte inside the command line";
        size_t need = cp > 0xffff ? 2 : 1;
        if (units + need + 1 > out_cap)
            return "no room for the command line";
        if (cp > 0xffff) {
            cp -= 0x10000;
            out[units++] = (uint16_t)(0xd800 | cp >> 10);
            out[units++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
        } else {
            out[units++] = (uint16_t)cp;
        }
        i += used;
    }
    out[units] = 0;
    *out_units = units;
    return NULL;
}
