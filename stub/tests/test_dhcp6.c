/* DHCPv6 options and the Boot File URL (option 59) of a PXE boot over IPv6: the shared
 * vectors in tests/vectors/dhcp6.json (which packet is read), then bounds on one packet. */
#include "check.h"
#include "dhcp6.h"

#define EDK2_BUFFER 1472

struct dhcp6_packet_vector {
    const char *bytes;  /* NULL: absent */
    size_t len;
    int received;
};

struct dhcp6_vector {
    const char *name;
    struct dhcp6_packet_vector packets[3];  /* ACK, ProxyOffer, PXE reply */
    const char *error;
    uint8_t server[16];
    dhcp_origin origin;
};

#include "dhcp6_vectors.h"

static void run_vector(const struct dhcp6_vector *v)
{
    static uint8_t buffers[3][EDK2_BUFFER];
    dhcp_packet packets[3];
    for (int i = 0; i < 3; i++) {
        memset(buffers[i], 0, EDK2_BUFFER);
        memcpy(buffers[i], v->packets[i].bytes ? v->packets[i].bytes : "", v->packets[i].len);
        packets[i] = (dhcp_packet){v->packets[i].bytes ? buffers[i] : NULL, EDK2_BUFFER, v->packets[i].received};
    }
    uint8_t server[16];
    dhcp_origin origin = (dhcp_origin)-1;
    const char *reason = dhcp6_boot_server(&packets[0], &packets[1], &packets[2], server, &origin);
    int failures = check_failed;
    CHECK_STR(reason, v->error);
    CHECK(origin == v->origin);
    CHECK(memcmp(server, v->server, 16) == 0);
    if (check_failed != failures)
        printf("  vector \"%s\"\n", v->name);
}

/* An ACK only, `len` bytes long. */
static const char *from_ack(const uint8_t *packet, size_t len, uint8_t server[16])
{
    dhcp_packet ack = {packet, len, 1}, none = {NULL, 0, 0};
    dhcp_origin origin;
    return dhcp6_boot_server(&ack, &none, &none, server, &origin);
}

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
    for (size_t i = 0; i < sizeof dhcp6_vectors / sizeof dhcp6_vectors[0]; i++)
        run_vector(&dhcp6_vectors[i]);
    len = reply(buf, "tftp://[fd00::2]/EFI/BOOT/BOOTX64.EFI");
    CHECK_STR(from_ack(buf, len, server), NULL);
    CHECK(server[0] == 0xfd && server[1] == 0 && server[15] == 2);
    /* EDK2's zeroed buffer without a length: the walk ends at the zero option. */
    CHECK_STR(from_ack(buf, sizeof buf, server), NULL);
    CHECK(dhcp6_find_option(buf, sizeof buf, 2, &option_len) != NULL && option_len == 4);
    CHECK(dhcp6_find_option(buf, sizeof buf, 23, &option_len) == NULL);
    /* Every cut of the packet is bounds-checked: the URL option is complete or absent. */
    for (size_t cut = 0; cut < len; cut++)
        CHECK_STR(from_ack(buf, cut, server), "no boot file URL (DHCPv6 option 59) in the DHCPv6 reply");

    memset(buf, 0, sizeof buf);
    len = reply(buf, NULL);
    CHECK_STR(from_ack(buf, len, server), "no boot file URL (DHCPv6 option 59) in the DHCPv6 reply");
    static const char *const wrong[] = {"tftp://10.0.2.2/k", "http://[fd00::2]/k", "tftp://[fd00::2]", "tftp://fd00::2/k"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        memset(buf, 0, sizeof buf);
        len = reply(buf, wrong[i]);
        CHECK_STR(from_ack(buf, len, server), "the DHCPv6 boot file URL is not tftp://[IPv6 address]/...");
    }
    /* An option whose length runs past the packet ends the walk. */
    memset(buf, 0, sizeof buf);
    len = reply(buf, "tftp://[fd00::2]/k");
    buf[len - 18 - 1] = 200;
    CHECK(dhcp6_find_option(buf, len, DHCP6_OPTION_BOOTFILE_URL, &option_len) == NULL);
    CHECK(dhcp6_find_option(buf, 3, 1, &option_len) == NULL);
}
