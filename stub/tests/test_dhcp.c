/* Boot server choice from the DHCP ACK / ProxyOffer / PXE reply, shim's order. */
#include <stdlib.h>

#include "check.h"
#include "dhcp.h"

#define PACKET 1472

static void packet(uint8_t *p, uint8_t last_octet, const char *file)
{
    memset(p, 0, PACKET);
    p[0] = 2;  /* BOOTREPLY */
    p[BOOTP_SIADDR_OFFSET] = 10;
    p[BOOTP_SIADDR_OFFSET + 3] = last_octet;
    if (file)
        memcpy(p + BOOTP_FILE_OFFSET, file, strlen(file));
}

void test_dhcp(void)
{
    static uint8_t ack_bytes[PACKET], proxy_bytes[PACKET], reply_bytes[PACKET];
    dhcp_packet ack = {ack_bytes, PACKET, 1}, proxy = {proxy_bytes, PACKET, 0},
                reply = {reply_bytes, PACKET, 0};
    uint8_t server[4];
    dhcp_origin origin;

    packet(ack_bytes, 2, "EFI/BOOT/BOOTX64.EFI");
    packet(proxy_bytes, 3, "proxy.efi");
    packet(reply_bytes, 4, "reply.efi");
    CHECK_STR(dhcp_boot_server(&ack, &proxy, &reply, server, &origin), NULL);
    CHECK(origin == DHCP_FROM_ACK && server[0] == 10 && server[3] == 2);

    /* The ACK has a boot file: a ProxyOffer is not consulted. */
    proxy.received = 1;
    CHECK_STR(dhcp_boot_server(&ack, &proxy, &reply, server, &origin), NULL);
    CHECK(origin == DHCP_FROM_ACK && server[3] == 2);

    /* No boot file in the ACK: the ProxyOffer names the server. */
    packet(ack_bytes, 2, NULL);
    CHECK_STR(dhcp_boot_server(&ack, &proxy, &reply, server, &origin), NULL);
    CHECK(origin == DHCP_FROM_PROXY_OFFER && server[3] == 3);

    /* Neither has a boot file: the PXE reply does. */
    packet(proxy_bytes, 3, NULL);
    reply.received = 1;
    CHECK_STR(dhcp_boot_server(&ack, &proxy, &reply, server, &origin), NULL);
    CHECK(origin == DHCP_FROM_PXE_REPLY && server[3] == 4);

    /* A PXE reply without a boot file changes nothing. */
    packet(reply_bytes, 4, NULL);
    CHECK_STR(dhcp_boot_server(&ack, &proxy, &reply, server, &origin), NULL);
    CHECK(origin == DHCP_FROM_PROXY_OFFER && server[3] == 3);

    /* Packets that were not received are ignored, whatever their bytes. */
    proxy.received = reply.received = 0;
    packet(proxy_bytes, 3, "proxy.efi");
    CHECK_STR(dhcp_boot_server(&ack, &proxy, &reply, server, &origin), NULL);
    CHECK(origin == DHCP_FROM_ACK && server[3] == 2);

    /* siaddr 0.0.0.0 names no server. */
    packet(ack_bytes, 0, "x.efi");
    ack_bytes[BOOTP_SIADDR_OFFSET] = 0;
    CHECK_STR(dhcp_boot_server(&ack, NULL, NULL, server, &origin),
              "DHCP reply names no boot server (siaddr 0.0.0.0)");

    ack.received = 0;
    CHECK_STR(dhcp_boot_server(&ack, &proxy, &reply, server, &origin), "no DHCP ACK received");
    CHECK_STR(dhcp_boot_server(NULL, NULL, NULL, server, &origin), "no DHCP ACK received");

    /* Short packets: exact-size heap copies, never read beyond. */
    for (size_t len = 0; len < BOOTP_MIN_SIZE + 2; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        packet(ack_bytes, 2, "x");
        memcpy(copy, ack_bytes, len);
        dhcp_packet short_ack = {copy, len, 1};
        const char *reason = dhcp_boot_server(&short_ack, NULL, NULL, server, &origin);
        CHECK((reason != NULL) == (len < BOOTP_MIN_SIZE));
        free(copy);
    }
    /* A short ProxyOffer is skipped rather than read. */
    packet(ack_bytes, 2, NULL);
    ack.received = 1;
    dhcp_packet short_proxy = {proxy_bytes, 100, 1};
    CHECK_STR(dhcp_boot_server(&ack, &short_proxy, NULL, server, &origin), NULL);
    CHECK(origin == DHCP_FROM_ACK);
}
