/* UTF-8 -> UCS-2 command line, `.policy` parsing, and the console line builder. */
#include <stdlib.h>

#include "check.h"
#include "text.h"

static const char *convert(const char *in, size_t len, uint16_t *out, size_t cap, size_t *units)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, in, len);
    const char *reason = cmdline_to_ucs2(copy, len, out, cap, units);
    free(copy);
    return reason;
}

static void test_cmdline(void)
{
    uint16_t out[64];
    size_t units;
    CHECK_STR(convert("console=ttyS0", 13, out, 64, &units), NULL);
    CHECK(units == 13 && out[0] == 'c' && out[12] == '0' && out[13] == 0);
    CHECK_STR(convert("", 0, out, 64, &units), NULL);
    CHECK(units == 0 && out[0] == 0);
    CHECK_STR(convert("a\0\0", 3, out, 64, &units), NULL);  /* trailing NULs dropped */
    CHECK(units == 1 && out[1] == 0);
    CHECK_STR(convert("a\0b", 3, out, 64, &units), "NUL byte inside the command line");
    /* é (2 bytes), € (3 bytes), U+1F427 (4 bytes -> surrogate pair). */
    CHECK_STR(convert("\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xa7", 9, out, 64, &units), NULL);
    CHECK(units == 4 && out[0] == 0xe9 && out[1] == 0x20ac && out[2] == 0xd83d && out[3] == 0xdc27);
    CHECK_STR(convert("\xff", 1, out, 64, &units), "invalid UTF-8");
    CHECK_STR(convert("ab\xc3", 3, out, 64, &units), "invalid UTF-8");       /* truncated */
    CHECK_STR(convert("\xc0\x80", 2, out, 64, &units), "invalid UTF-8");     /* overlong NUL */
    CHECK_STR(convert("\xe0\x80\xaf", 3, out, 64, &units), "invalid UTF-8"); /* overlong '/' */
    CHECK_STR(convert("\xed\xa0\x80", 3, out, 64, &units), "invalid UTF-8"); /* surrogate */
    CHECK_STR(convert("\xf4\x90\x80\x80", 4, out, 64, &units), "invalid UTF-8"); /* > U+10FFFF */
    CHECK_STR(convert("\x80", 1, out, 64, &units), "invalid UTF-8");
    CHECK_STR(convert("abc", 3, out, 3, &units), "no room for the command line");
    CHECK_STR(convert("abc", 3, out, 4, &units), NULL);
    /* len + 1 units always suffice, even for 4-byte sequences. */
    CHECK_STR(convert("\xf0\x9f\x90\xa7", 4, out, 5, &units), NULL);
}

struct warnings {
    int count;
    char last[128];
};

static void collect(void *ctx, const char *message, const uint8_t *detail, size_t len)
{
    struct warnings *w = ctx;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s: %.*s", message, (int)len, (const char *)detail);
}

static stub_policy parse_policy(const char *text, struct warnings *w)
{
    stub_policy policy;
    size_t len = strlen(text);
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    memset(w, 0, sizeof *w);
    policy_parse(copy, len, &policy, collect, w);
    free(copy);
    return policy;
}

static void test_policy(void)
{
    struct warnings w;
    stub_policy p = parse_policy("", &w);
    CHECK(p.on_error == ON_ERROR_RESET && p.error_delay == 5 && p.source == SOURCE_AUTO && !w.count);

    p = parse_policy("on-error=halt\nerror-delay=0\nsource=net\n", &w);
    CHECK(p.on_error == ON_ERROR_HALT && p.error_delay == 0 && p.source == SOURCE_NET && !w.count);

    p = parse_policy("  on-error = exit \r\n# comment\n\nerror-delay=600\r\nsource=local", &w);
    CHECK(p.on_error == ON_ERROR_EXIT && p.error_delay == 600 && p.source == SOURCE_LOCAL && !w.count);

    p = parse_policy("error-delay=601", &w);
    CHECK(p.error_delay == 5 && w.count == 1);
    CHECK_STR(w.last, "bad error-delay value, 0..600 (using 5): 601");
    p = parse_policy("error-delay=-1\nerror-delay=\nerror-delay=1x\nerror-delay=0005", &w);
    CHECK(p.error_delay == 5 && w.count == 4);
    p = parse_policy("on-error=explode", &w);
    CHECK(p.on_error == ON_ERROR_RESET && w.count == 1);
    CHECK_STR(w.last, "bad on-error value (using reset): explode");
    p = parse_policy("on-error=halt\non-error=RESET", &w);
    CHECK(p.on_error == ON_ERROR_RESET && w.count == 1);  /* a bad value falls back to the default */
    p = parse_policy("source=http", &w);
    CHECK(p.source == SOURCE_AUTO && w.count == 1);
    p = parse_policy("colour=blue\nsource=net", &w);
    CHECK(p.source == SOURCE_NET && w.count == 1);
    CHECK_STR(w.last, "unknown key (ignored): colour");
    p = parse_policy("just words", &w);
    CHECK(w.count == 1);
    CHECK_STR(w.last, "line without '=' (ignored): just words");
    p = parse_policy("error-delay=7\0on-error=halt", &w);  /* strlen stops at the NUL */
    CHECK(p.error_delay == 7 && p.on_error == ON_ERROR_RESET);

    /* Every prefix of a policy parses without reading past its end. */
    const char *full = "on-error=halt\nerror-delay=12\nsource=net\nbogus";
    for (size_t n = 0; n <= strlen(full); n++) {
        char cut[64];
        memcpy(cut, full, n);
        cut[n] = '\0';
        parse_policy(cut, &w);
    }
    CHECK(1);
}

static void test_text_buf(void)
{
    char storage[64];
    text_buf tb;
    tb_init(&tb, storage, sizeof storage);
    tb_str(&tb, "bytes=");
    tb_u64(&tb, 14186432);
    CHECK_STR(storage, "bytes=14186432");
    tb_init(&tb, storage, sizeof storage);
    tb_u64(&tb, 0);
    tb_u64(&tb, 18446744073709551615ull);
    CHECK_STR(storage, "018446744073709551615");

    tb_init(&tb, storage, sizeof storage);
    tb_quoted(&tb, (const uint8_t *)"a \"b\" \\c\n", 9);
    CHECK_STR(storage, "\"a \\\"b\\\" \\\\c\\x0a\"");

    tb_init(&tb, storage, sizeof storage);
    tb_value(&tb, (const uint8_t *)"\\EFI\\Linux\\vmlinuz", 18);
    CHECK_STR(storage, "\\EFI\\Linux\\vmlinuz");  /* no space: as is */
    tb_init(&tb, storage, sizeof storage);
    tb_value(&tb, (const uint8_t *)"\\EFI\\My Linux", 13);
    CHECK_STR(storage, "\"\\\\EFI\\\\My Linux\"");
    tb_init(&tb, storage, sizeof storage);
    tb_value(&tb, (const uint8_t *)"", 0);
    CHECK_STR(storage, "\"\"");
    /* Non-ASCII bytes are escaped: the serial console cannot show them. */
    tb_init(&tb, storage, sizeof storage);
    tb_quoted(&tb, (const uint8_t *)"Gr\xc3\xbc\xc3\x9f" "e\x7f", 8);
    CHECK_STR(storage, "\"Gr\\xc3\\xbc\\xc3\\x9fe\\x7f\"");
    tb_init(&tb, storage, sizeof storage);
    tb_value(&tb, (const uint8_t *)"\\EFI\\K\xc3\xa9", 8);
    CHECK_STR(storage, "\"\\\\EFI\\\\K\\xc3\\xa9\"");

    /* Full buffers truncate and stay terminated. */
    char small[8];
    tb_init(&tb, small, sizeof small);
    tb_str(&tb, "0123456789");
    CHECK_STR(small, "0123456");
    CHECK(tb.len == 7);
    tb_quoted(&tb, (const uint8_t *)"x", 1);
    CHECK_STR(small, "0123456");
}

void test_text(void)
{
    test_cmdline();
    test_policy();
    test_text_buf();
}
