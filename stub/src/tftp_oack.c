#include "tftp_oack.h"

#define MAX_DIGITS 19  /* below 2^63 */

static int same_name(const uint8_t *text, size_t len, const char *name)
{
    size_t i = 0;
    for (; i < len && name[i]; i++) {
        uint8_t c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)name[i])
            return 0;
    }
    return i == len && name[i] == 0;
}

static int parse_decimal(const uint8_t *text, size_t len, uint64_t *value)
{
    uint64_t n = 0;
    if (len == 0 || len > MAX_DIGITS)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        n = n * 10 + (uint64_t)(text[i] - '0');
    }
    *value = n;
    return 1;
}

/* The next NUL-terminated string at *at; 0 when none is complete. */
static int next_string(const uint8_t *options, size_t len, size_t *at, const uint8_t **text,
                       size_t *text_len)
{
    size_t start = *at, end = start;
    while (end < len && options[end])
        end++;
    if (end >= len)
        return 0;
    *text = options + start;
    *text_len = end - start;
    *at = end + 1;
    return 1;
}

const char *tftp_oack_parse(const uint8_t *options, size_t len, tftp_oack *out)
{
    *out = (tftp_oack){0};
    size_t at = 0;
    while (at < len) {
        const uint8_t *name, *value;
        size_t name_len, value_len;
        uint64_t number;
        if (!next_string(options, len, &at, &name, &name_len) ||
            !next_string(options, len, &at, &value, &value_len))
            return "OACK option cut short";
        int blksize = same_name(name, name_len, "blksize");
        int tsize = same_name(name, name_len, "tsize");
        int window = same_name(name, name_len, "windowsize");
        int timeout = same_name(name, name_len, "timeout");
        if (!(blksize || tsize || window || timeout))
            continue;
        if (!parse_decimal(value, value_len, &number))
            return "OACK option value is not a number";
        if (blksize) {
            if (number < 8 || number > 65464)
                return "OACK blksize out of range";
            out->blksize = (uint32_t)number;
            out->present |= TFTP_OACK_BLKSIZE;
        } else if (tsize) {
            out->tsize = number;
            out->present |= TFTP_OACK_TSIZE;
        } else if (window) {
            if (number < 1 || number > 65535)
                return "OACK windowsize out of range";
            out->windowsize = (uint32_t)number;
            out->present |= TFTP_OACK_WINDOWSIZE;
        } else {
            if (number < 1 || number > 255)
                return "OACK timeout out of range";
            out->timeout = (uint32_t)number;
            out->present |= TFTP_OACK_TIMEOUT;
        }
    }
    return NULL;
}
