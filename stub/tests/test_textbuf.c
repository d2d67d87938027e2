/* The console line builder (textbuf.c). */
#include "check.h"
#include "textbuf.h"

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
    tb_hex(&tb, 0);
    tb_str(&tb, " ");
    tb_hex(&tb, 0x7e8f1000);
    tb_str(&tb, " ");
    tb_hex(&tb, 0xffffffffffffffffull);
    CHECK_STR(storage, "0x0 0x7e8f1000 0xffffffffffffffff");

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

static void test_ipv4(void)
{
    char storage[32];
    text_buf tb;
    const uint8_t ip[4] = {10, 0, 2, 255};
    tb_init(&tb, storage, sizeof storage);
    tb_ipv4(&tb, ip);
    CHECK_STR(storage, "10.0.2.255");
}

static void test_ipv6(void)
{
    static const struct {
        uint8_t ip[16];
        const char *text;
    } cases[] = {
        {{0}, "::"},
        {{[15] = 1}, "::1"},
        {{0xfd, 0, [15] = 2}, "fd00::2"},
        {{0x20, 0x01, 0x0d, 0xb8, [9] = 1, [15] = 1}, "2001:db8::1:0:0:1"},
        {{0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, "1:0:0:1::1"},
        {{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}, "1:2:3:4:5:6:7:8"},
        {{0, 1, 0, 0, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}, "1:0:3:4:5:6:7:8"},
        {{0xfe, 0x80, [7] = 1}, "fe80:0:0:1::"},
        {{0xab, 0xcd, 0x0a, 0xbc, [14] = 0x10}, "abcd:abc::1000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char storage[64];
        text_buf tb;
        tb_init(&tb, storage, sizeof storage);
        tb_ipv6(&tb, cases[i].ip);
        CHECK_STR(storage, cases[i].text);
    }
    char storage[64];
    text_buf tb;
    tb_init(&tb, storage, sizeof storage);
    tb_ip(&tb, 6, cases[2].ip, 1);
    CHECK_STR(storage, "[fd00::2]");
}

void test_textbuf_all(void)
{
    test_text_buf();
    test_ipv4();
    test_ipv6();
}
