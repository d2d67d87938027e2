#include "utf8.h"

size_t utf8_decode(const uint8_t *in, size_t len, uint32_t *code_point)
{
    if (len == 0)
        return 0;
    uint8_t lead = in[0];
    size_t need;
    uint32_t value, minimum;
    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    } else if ((lead & 0xe0) == 0xc0) {
        need = 2; value = lead & 0x1f; minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
        need = 3; value = lead & 0x0f; minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
        need = 4; value = lead & 0x07; minimum = 0x10000;
    } else {
        return 0;
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((in[i] & 0xc0) != 0x80)
            return 0;
        value = value << 6 | (in[i] & 0x3f);
    }
    if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return 0;
    *code_point = value;
    return need;
}
