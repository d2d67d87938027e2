/* Device path walking for HTTP Boot: the IP node, the URI node, and malformed paths. */
#include "check.h"
#include "devpath.h"

static size_t node(uint8_t *at, uint8_t type, uint8_t subtype, const uint8_t *data, size_t len)
{
    size_t total = len + 4;
    at[0] = type;
    at[1] = subtype;
    at[2] = (uint8_t)total;
    at[3] = (uint8_t)(total >> 8);
    for (size_t i = 0; i < len; i++)
        at[4 + i] = data[i];
    return total;
}

static size_t end_node(uint8_t *at) { return node(at, DEVPATH_TYPE_END, 0xff, NULL, 0); }

static const char URI[] = "http://10.0.2.2/EFI/BOOT/BOOTX64.EFI";

static size_t ipv4_http_path(uint8_t *buf, int uri_last)
{
    uint8_t mac[32 + 1] = {0x52, 0x54, 0};
    uint8_t ipv4[23] = {10, 0, 2, 15, 10, 0, 2, 2, [15] = 1, [19] = 255, 255, 255, 0};
    size_t n = node(buf, 2, 1, (const uint8_t *)"\0\0\0\0\0\0\0\0", 8);  /* some PCI-ish node */
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_MAC, mac, sizeof mac);
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV4, ipv4, sizeof ipv4);
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_URI, (const uint8_t *)URI, sizeof URI - 1);
    if (!uri_last)
        n += node(buf + n, 4, 9, (const uint8_t *)"0123456789abcdef", 16);  /* RAM disk-ish */
    return n + end_node(buf + n);
}

static void test_ipv4_boot(void)
{
    uint8_t buf[256];
    devpath_http_boot boot;
    size_t len = ipv4_http_path(buf, 1);
    CHECK_STR(devpath_find_http_boot(buf, len, &boot), NULL);
    CHECK(boot.family == 4 && boot.local[0] == 10 && boot.local[3] == 15);
    CHECK(boot.subnet[0] == 255 && boot.subnet[3] == 0);
    CHECK(boot.uri_len == sizeof URI - 1 && memcmp(boot.uri, URI, boot.uri_len) == 0);
    /* Cut anywhere before the end node: never read past the buffer. */
    for (size_t cut = 0; cut < len; cut++)
        CHECK(devpath_find_http_boot(buf, cut, &boot) != NULL);
    len = ipv4_http_path(buf, 0);
    CHECK_STR(devpath_find_http_boot(buf, len, &boot),
              "the URI node is not the last node (the image did not come by HTTP)");
}

static void test_ipv6_boot(void)
{
    uint8_t buf[256], ipv6[56] = {0xfd, 0, [15] = 0x10, [16] = 0xfd, [31] = 2, [39] = 64};
    devpath_http_boot boot;
    size_t n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV6, ipv6, sizeof ipv6);
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_URI, (const uint8_t *)"http://[fd00::2]/x", 18);
    n += end_node(buf + n);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), NULL);
    CHECK(boot.family == 6 && boot.local[0] == 0xfd && boot.local[15] == 0x10 && boot.prefix_length == 64);
    /* A short IPv6 node is refused, not read beyond. */
    n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV6, ipv6, 20);
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_URI, (const uint8_t *)"http://h/x", 10);
    n += end_node(buf + n);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), "IPv6 device path node too short");
}

static void test_refusals(void)
{
    uint8_t buf[128];
    devpath_http_boot boot;
    size_t n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_URI, (const uint8_t *)"http://h/x", 10);
    n += end_node(buf + n);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), "no IP node in the boot device path");
    uint8_t ipv4[23] = {10, 0, 2, 15};
    n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV4, ipv4, sizeof ipv4);
    n += end_node(buf + n);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), "no URI node after the IP node");
    n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV4, ipv4, sizeof ipv4);
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_URI, NULL, 0);
    n += end_node(buf + n);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), "empty URI node");
    /* EDK2 keeps the URI's NUL in the node: it is not part of the URL. */
    n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV4, ipv4, sizeof ipv4);
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_URI, (const uint8_t *)"http://h/x", 11);
    n += end_node(buf + n);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), NULL);
    CHECK(boot.uri_len == 10);
    n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV4, ipv4, sizeof ipv4);
    n += node(buf + n, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_URI, (const uint8_t *)"\0", 1);
    n += end_node(buf + n);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), "empty URI node");
    buf[0] = 3, buf[1] = 12, buf[2] = 2, buf[3] = 0;  /* length below the header */
    CHECK_STR(devpath_find_http_boot(buf, 64, &boot), "malformed device path node");
    buf[2] = 200;  /* longer than the buffer */
    CHECK_STR(devpath_find_http_boot(buf, 64, &boot), "malformed device path node");
    n = node(buf, DEVPATH_TYPE_MESSAGING, DEVPATH_SUBTYPE_IPV4, ipv4, sizeof ipv4);
    CHECK_STR(devpath_find_http_boot(buf, n, &boot), "device path without an end node");
}

void test_devpath(void)
{
    test_ipv4_boot();
    test_ipv6_boot();
    test_refusals();
}
