/* A bounded line builder for console output. Pure: no EFI calls. */
#ifndef STUB_TEXTBUF_H
#define STUB_TEXTBUF_H

#include <stddef.h>
#include <stdint.h>

/* Appends stop silently when full; the text stays NUL-terminated. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} text_buf;

void tb_init(text_buf *tb, char *buf, size_t cap);
void tb_str(text_buf *tb, const char *s);
void tb_bytes(text_buf *tb, const uint8_t *bytes, size_t len);
void tb_u64(text_buf *tb, uint64_t value);
/* 0x and lowercase hex digits, no leading zeros (addresses for a debugger). */
void tb_hex(text_buf *tb, uint64_t value);
/* Double-quoted with `\"`, `\\` and `\xNN` (other control bytes) escapes. */
void tb_quoted(text_buf *tb, const uint8_t *bytes, size_t len);
/* Quoted only when needed: empty, or containing a space, `"` or a control byte. */
void tb_value(text_buf *tb, const uint8_t *bytes, size_t len);
/* A dotted quad. */
void tb_ipv4(text_buf *tb, const uint8_t ip[4]);
/* RFC 5952 text: lower-case hex, no leading zeros, the longest run of two or more zero
 * groups (the first of equals) as `::`. */
void tb_ipv6(text_buf *tb, const uint8_t ip[16]);
/* tb_ipv4 (family 4) or tb_ipv6 (family 6); `bracket` puts an IPv6 address in [] (URLs). */
void tb_ip(text_buf *tb, int family, const uint8_t *ip, int bracket);

#endif
