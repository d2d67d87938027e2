#include "textbuf.h"

void tb_init(text_buf *tb, char *buf, size_t cap)
{
    tb->buf = buf;
    tb->cap = cap;
    tb->len = 0;
    if (cap)
        buf[0] = '\0';
}

static void tb_char(text_buf *tb, char c)
{
    if (tb->len + 1 >= tb->cap)
        return;
    tb->buf[tb->len++] = c;
    tb->buf[tb->len] = '\0';
}

void tb_str(text_buf *tb, const char *s)
{
    while (*s)
        tb_char(tb, *s++);
}

void tb_bytes(text_buf *tb, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        tb_char(tb, (char)bytes[i]);
}

void tb_u64(text_buf *tb, uint64_t value)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n > 0)
        tb_char(tb, digits[--n]);
}

void tb_hex(text_buf *tb, uint64_t value)
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value & 15];
        value >>= 4;
    } while (value);
    tb_str(tb, "0x");
    while (n > 0)
        tb_char(tb, digits[--n]);
}

/* Control bytes, and bytes of non-ASCII characters, which OVMF's serial console turns into '?':
 * escaped, the line stays exact on every console. */
static int needs_escape(uint8_t c) { return c < 0x20 || c >= 0x7f; }

void tb_quoted(text_buf *tb, const uint8_t *bytes, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    tb_char(tb, '"');
    for (size_t i = 0; i < len; i++) {
        uint8_t c = bytes[i];
        if (c == '"' || c == '\\') {
            tb_char(tb, '\\');
            tb_char(tb, (char)c);
        } else if (needs_escape(c)) {
            tb_str(tb, "\\x");
            tb_char(tb, hex[c >> 4]);
            tb_char(tb, hex[c & 15]);
        } else {
            tb_char(tb, (char)c);
        }
    }
    tb_char(tb, '"');
}

void tb_value(text_buf *tb, const uint8_t *bytes, size_t len)
{
    int quote = len == 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = bytes[i] == ' ' || bytes[i] == '"' || needs_escape(bytes[i]);
    if (quote)
        tb_quoted(tb, bytes, len);
    else
        tb_bytes(tb, bytes, len);
}

void tb_ipv4(text_buf *tb, const uint8_t ip[4])
{
    for (int i = 0; i < 4; i++) {
        if (i)
            tb_char(tb, '.');
        tb_u64(tb, ip[i]);
    }
}

void tb_ipv6(text_buf *tb, const uint8_t ip[16])
{
    static const char hex[] = "0123456789abcdef";
    unsigned groups[8];
    int best = -1, best_len = 1;
    for (int g = 0; g < 8; g++)
        groups[g] = (unsigned)ip[2 * g] << 8 | ip[2 * g + 1];
    for (int g = 0; g < 8;) {
        int run = 0;
        while (g + run < 8 && groups[g + run] == 0)
            run++;
        if (run > best_len) {
            best = g;
            best_len = run;
        }
        g += run ? run : 1;
    }
    for (int g = 0; g < 8; g++) {
        if (g == best) {
            tb_str(tb, "::");
            g += best_len - 1;
            continue;
        }
        if (g && g != best + best_len)
            tb_char(tb, ':');
        int started = 0;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned digit = (groups[g] >> shift) & 15;
            if (digit || started || shift == 0) {
                tb_char(tb, hex[digit]);
                started = 1;
            }
        }
    }
}

void tb_ip(text_buf *tb, int family, const uint8_t *ip, int bracket)
{
    if (family != 6) {
        tb_ipv4(tb, ip);
        return;
    }
    if (bracket)
        tb_char(tb, '[');
    tb_ipv6(tb, ip);
    if (bracket)
        tb_char(tb, ']');
}
