/* UTF-8 -> UCS-2 command line (cmdline.c, utf8.c). */
#include <stdlib.h>

#include "check.h"
#include "cmdline.h"

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

void test_cmdline_all(void)
{
    test_cmdline();
}
