/* OACK option parsing (tftp_oack.c). */
#include <stdlib.h>

#include "check.h"
#include "tftp_oack.h"

static const char *parse(const char *bytes, size_t len, tftp_oack *out)
{
    uint8_t *copy = malloc(len ? len : 1);  /* exact size: ASan catches over-reads */
    memcpy(copy, bytes, len);
    const char *reason = tftp_oack_parse(copy, len, out);
    free(copy);
    return reason;
}

#define PARSE(literal, out) parse(literal, sizeof literal - 1, out)

void test_tftp_oack(void)
{
    tftp_oack o;
    CHECK_STR(PARSE("", &o), NULL);
    CHECK(o.present == 0);
    CHECK_STR(PARSE("blksize\0" "1468\0" "tsize\0" "14186432\0" "windowsize\0" "16\0", &o), NULL);
    CHECK(o.present == (TFTP_OACK_BLKSIZE | TFTP_OACK_TSIZE | TFTP_OACK_WINDOWSIZE));
    CHECK(o.blksize == 1468 && o.tsize == 14186432 && o.windowsize == 16);
    /* Names are case-insensitive (RFC 2347); unknown ones are skipped. */
    CHECK_STR(PARSE("BLKSIZE\0" "512\0" "multicast\0" ",,1\0" "TimeOut\0" "3\0", &o), NULL);
    CHECK(o.present == (TFTP_OACK_BLKSIZE | TFTP_OACK_TIMEOUT) && o.blksize == 512 && o.timeout == 3);
    CHECK_STR(PARSE("tsize\0" "0\0", &o), NULL);
    CHECK(o.present == TFTP_OACK_TSIZE && o.tsize == 0);
    CHECK_STR(PARSE("tsize\0" "4294967296000\0", &o), NULL);
    CHECK(o.tsize == 4294967296000ull);

    CHECK_STR(PARSE("blksize\0" "1468", &o), "OACK option cut short");
    CHECK_STR(PARSE("blksize\0", &o), "OACK option cut short");
    CHECK_STR(PARSE("blksize", &o), "OACK option cut short");
    CHECK_STR(PARSE("blksize\0" "14x\0", &o), "OACK option value is not a number");
    CHECK_STR(PARSE("blksize\0" "\0", &o), "OACK option value is not a number");
    CHECK_STR(PARSE("tsize\0" "99999999999999999999\0", &o), "OACK option value is not a number");
    CHECK_STR(PARSE("blksize\0" "7\0", &o), "OACK blksize out of range");
    CHECK_STR(PARSE("blksize\0" "65465\0", &o), "OACK blksize out of range");
    CHECK_STR(PARSE("windowsize\0" "0\0", &o), "OACK windowsize out of range");
    CHECK_STR(PARSE("windowsize\0" "65536\0", &o), "OACK windowsize out of range");
    CHECK_STR(PARSE("timeout\0" "256\0", &o), "OACK timeout out of range");
}
