/* Text helpers of the stub: UTF-8 decoding, the command line in UCS-2, `.policy` parsing and
 * the line builder for console output. Pure: no EFI calls. */
#ifndef STUB_TEXT_H
#define STUB_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Decode one UTF-8 sequence (strict: no overlongs, surrogates or values above U+10FFFF).
 * Returns the bytes consumed, 0 when the input does not start with a valid sequence. */
size_t utf8_decode(const uint8_t *in, size_t len, uint32_t *code_point);

/* The `.cmdline` section as a NUL-terminated UCS-2 string for LoadOptions. Trailing NUL bytes
 * are dropped; an inner NUL or invalid UTF-8 is an error. Code points above U+FFFF become
 * UTF-16 surrogate pairs. out_cap (in 16-bit units) of len + 1 is always enough. */
const char *cmdline_to_ucs2(const uint8_t *in, size_t len, uint16_t *out, size_t out_cap,
                            size_t *out_units);

typedef enum { ON_ERROR_RESET, ON_ERROR_HALT, ON_ERROR_EXIT } on_error_action;
typedef enum { SOURCE_AUTO, SOURCE_LOCAL, SOURCE_NET } boot_source;

typedef struct {
    on_error_action on_error;
    unsigned error_delay; /* seconds, 0..600 */
    boot_source source;
} stub_policy;

#define POLICY_DEFAULT_DELAY 5
#define POLICY_MAX_DELAY 600

/* Called for each line that cannot be used: `message` is static text, `detail` the offending
 * bytes from the section (may be empty). */
typedef void (*policy_warning_fn)(void *ctx, const char *message, const uint8_t *detail,
                                  size_t detail_len);

/* Parse `.policy` (key=value lines). Anything unusable is reported and its default kept. */
void policy_defaults(stub_policy *policy);
void policy_parse(const uint8_t *text, size_t len, stub_policy *policy, policy_warning_fn warn,
                  void *ctx);

/* A bounded line builder: appends stop silently when full, the text stays NUL-terminated. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} text_buf;

void tb_init(text_buf *tb, char *buf, size_t cap);
void tb_str(text_buf *tb, const char *s);
void tb_bytes(text_buf *tb, const uint8_t *bytes, size_t len);
void tb_u64(text_buf *tb, uint64_t value);
/* Double-quoted with `\"`, `\\` and `\xNN` (other control bytes) escapes. */
void tb_quoted(text_buf *tb, const uint8_t *bytes, size_t len);
/* Quoted only when needed: empty, or containing a space, `"` or a control byte. */
void tb_value(text_buf *tb, const uint8_t *bytes, size_t len);

#endif
