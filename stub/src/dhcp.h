/* Which DHCP/PXE packet names the boot server, in shim's order: the DHCP ACK; the ProxyOffer
 * when the ACK carries no boot file; the PXE reply when the chosen packet still has no boot
 * file and the reply has one. The server is that packet's BOOTP siaddr. Pure: no EFI calls. */
#ifndef STUB_DHCP_H
#define STUB_DHCP_H

#include <stddef.h>
#include <stdint.h>

#define BOOTP_SIADDR_OFFSET 20
#define BOOTP_FILE_OFFSET 108
#define BOOTP_FILE_SIZE 128
#define BOOTP_MIN_SIZE 236   /* fixed BOOTP header, up to the options */

typedef enum { DHCP_FROM_ACK, DHCP_FROM_PROXY_OFFER, DHCP_FROM_PXE_REPLY } dhcp_origin;

typedef struct {
    const uint8_t *bytes;  /* NULL or not received: absent */
    size_t len;
    int received;
} dhcp_packet;

const char *dhcp_boot_server(const dhcp_packet *ack, const dhcp_packet *proxy_offer,
                             const dhcp_packet *pxe_reply, uint8_t server[4], dhcp_origin *origin);

#endif
