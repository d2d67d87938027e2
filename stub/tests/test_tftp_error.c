/* TFTP ERROR packets: the numeric code first, the message words only for code 0. */
#include "check.h"
#include "tftp_error.h"

static const char *describe(unsigned code, const char *message)
{
    static char storage[160];
    text_buf tb;
    tb_init(&tb, storage, sizeof storage);
    tftp_error_describe(&tb, code, (const uint8_t *)message, strlen(message));
    return storage;
}

static tftp_error_kind classify(unsigned code, const char *message)
{
    return tftp_error_classify(code, (const uint8_t *)message, strlen(message));
}

void test_tftp_error(void)
{
    CHECK(classify(1, "") == TFTP_ERR_NOT_FOUND);
    CHECK(classify(2, "") == TFTP_ERR_ACCESS_DENIED);
    CHECK(classify(8, "") == TFTP_ERR_OPTION_REFUSED);
    /* A set code wins over words in the message. */
    CHECK(classify(2, "File not found") == TFTP_ERR_ACCESS_DENIED);
    CHECK(classify(1, "Access violation") == TFTP_ERR_NOT_FOUND);
    CHECK(classify(3, "no such file") == TFTP_ERR_OTHER);
    /* Code 0: the message decides, case-insensitively. */
    CHECK(classify(0, "File Not Found") == TFTP_ERR_NOT_FOUND);
    CHECK(classify(0, "No such file or directory") == TFTP_ERR_NOT_FOUND);
    CHECK(classify(0, "Permission denied") == TFTP_ERR_ACCESS_DENIED);
    CHECK(classify(0, "unsupported option") == TFTP_ERR_OPTION_REFUSED);
    CHECK(classify(0, "weird") == TFTP_ERR_OTHER);
    CHECK(classify(0, "") == TFTP_ERR_OTHER);

    CHECK_STR(describe(1, "whatever"), "TFTP error: file not found");
    CHECK_STR(describe(2, "File not found"), "TFTP error: access denied");
    CHECK_STR(describe(3, ""), "TFTP error: disk full");
    CHECK_STR(describe(5, "x"), "TFTP error: unknown transfer ID");
    CHECK_STR(describe(8, ""), "TFTP error: option negotiation refused");
    CHECK_STR(describe(0, "File not found"), "TFTP error: file not found");
    CHECK_STR(describe(0, "out of \"luck\""), "TFTP error: \"out of \\\"luck\\\"\"");
    CHECK_STR(describe(0, ""), "TFTP error: \"\"");
    CHECK_STR(describe(42, "custom"), "TFTP error: code 42 \"custom\"");
    CHECK_STR(describe(42, ""), "TFTP error: code 42");
}
