#include "dhcp.h"

static int usable(const dhcp_packet *p)
{
    return p && p->received && p->bytes && p->len >= BOOTP_MIN_SIZE;
}

static int has_boot_file(const dhcp_packet *p)
{
    return p->bytes[BOOTP_FILE_OFFSET] != 0;
}

const char *dhcp_boot_server(const dhcp_packet *ack, const dhcp_packet *proxy_offer,
                             const dhcp_packet *pxe_reply, uint8_t server[4], dhcp_origin *origin)
{
    if (!ack || !ack->received)
        return "no DHCP ACK received";
    if (!usable(ack))
        return "DHCP ACK too short";
    const dhcp_packet *chosen = ack;
    *origin = DHCP_FROM_ACK;
    if (usable(proxy_offer) && !has_boot_file(ack)) {
        chosen = proxy_offer;
        *origin = DHCP_FROM_PROXY_OFFER;
    }
    if (usable(pxe_reply) && !has_boot_file(chosen) && has_boot_file(pxe_reply)) {
        chosen = pxe_reply;
        *origin = DHCP_FROM_PXE_REPLY;
    }
    const uint8_t *siaddr = chosen->bytes + BOOTP_SIADDR_OFFSET;
    for (int i = 0; i < 4; i++)
        server[i] = siaddr[i];
    if (!(siaddr[0] | siaddr[1] | siaddr[2] | siaddr[3]))
        return "DHCP reply names no boot server (siaddr 0.0.0.0)";
    return NULL;
}
