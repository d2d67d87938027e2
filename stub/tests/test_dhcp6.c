/* DHCPv6 options and the Boot File URL (option 59) of a PXE boot over IPv6. */
#include "check.h"
#include "dhcp6.h"

static size_t option(uint8_t *at, uint16_t code, const char *data, size_t len)
{
    at[0] = (uint8_t)(code >> 8);
    at[1] = (uint8_t)code;
    at[2] = (uint8_t)(len >> 8);
    at[3] = (uint8_t)len;
    memcpy(at + 4, data, len);
    return 4 + len;
}

static size_t reply(uint8_t *buf, const char *url)
{
    size_t n = 0;
    buf[n++] = 7;  /* REPLY */
    buf[n++] = 1, buf[n++] = 2, buf[n++] = 3;
    n += option(buf + n, 1, "\x00\x01\x00\x01\x2a\x2b\x2c\x2d", 8);  /* client id */
    n += option(buf + n, 2, "\x00\x03\x00\x01", 4);                  /* server id */
    if (url)
        n += option(buf + n, DHCP6_OPTION_BOOTFILE_URL, url, strlen(url));
    return n;
}

void test_dhcp6(void)
{
    uint8_t buf[1024] = {0}, server[16];
    size_t len, option_len;
    len = reply(buf, "tftp://[fd00::2]/EFI/BOOT/BOOTX64.EFI");
    CHECK_STR(dhcp6_boot_server(buf, len, server), NULL);
    CHECK(server[0] == 0xfd && server[1] == 0 && server[15] == 2);
    /* EDK2's zeroed buffer without a length: the walk ends at the zero option. */
    CHECK_STR(dhcp6_boot_server(buf, sizeof buf, server), NULL);
    CHECK(dhcp6_find_option(buf, sizeof buf, 2, &option_len) != NULL && option_len == 4);
    CHECK(dhcp6_find_option(buf, sizeof buf, 23, &option_len) == NULL);
    /* Every cut of the packet is bounds-checked: the URL option is complete or absent. */
    for (size_t cut = 0; cut < len; cut++)
        CHECK_STR(dhcp6_boot_server(buf, cut, server), "no boot file URL (DHCPv6 option 59) in the DHCPv6 reply");

    memset(buf, 0, sizeof buf);
    len = reply(buf, NULL);
    CHECK_STR(dhcp6_boot_server(buf, len, server), "no boot file URL (DHCPv6 option 59) in the DHCPv6 reply");
    static const char *const wrong[] = {"tftp://10.0.2.2/k", "http://[fd00::2]/k", "tftp://[fd00::2]", "tftp://fd00::2/k"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        memset(buf, 0, sizeof buf);
        len = reply(buf, wrong[i]);
        CHECK_STR(dhcp6_boot_server(buf, len, server), "the DHCPv6 boot file URL is not tftp://[IPv6 address]/...");
    }
    /* An option whose length runs past the packet ends the walk. */
    memset(buf, 0, sizeof buf);
    len = reply(buf, "tftp://[fd00::2]/k");
    buf[len - 18 - 1] = 200;
    CHECK(dhcp6_find_option(buf, len, DHCP6_OPTION_BOOTFILE_URL, &option_len) == NULL);
    CHECK(dhcp6_find_option(buf, 3, 1, &option_len) == NULL);
}
