#include "dhcp.h"

static const uint8_t magic_cookie[4] = {99, 130, 83, 99};

static int has_cookie(const uint8_t *bytes, size_t len)
{
    if (len < DHCP_OPTIONS_OFFSET)
        return 0;
    for (int i = 0; i < 4; i++)
        if (bytes[BOOTP_MIN_SIZE + i] != magic_cookie[i])
            return 0;
    return 1;
}

size_t dhcp_packet_length(const uint8_t *buffer, size_t cap)
{
    if (!buffer || cap < BOOTP_MIN_SIZE)
        return 0;
    if (!has_cookie(buffer, cap))
        return BOOTP_MIN_SIZE;
    size_t at = DHCP_OPTIONS_OFFSET;
    while (at < cap) {
        uint8_t code = buffer[at];
        if (code == DHCP_OPTION_END)
            return at + 1;
        if (code == DHCP_OPTION_PAD) {
            at++;
            continue;
        }
        if (at + 1 >= cap || buffer[at + 1] > cap - at - 2)
            return cap;
        at += 2 + (size_t)buffer[at + 1];
    }
    return cap;
}

const uint8_t *dhcp_find_option(const dhcp_packet *packet, uint8_t code, size_t *len)
{
    *len = 0;
    if (!packet || !packet->bytes || !has_cookie(packet->bytes, packet->len))
        return NULL;
    const uint8_t *p = packet->bytes;
    size_t at = DHCP_OPTIONS_OFFSET, end = packet->len;
    while (at < end) {
        uint8_t here = p[at];
        if (here == DHCP_OPTION_END)
            return NULL;
        if (here == DHCP_OPTION_PAD) {
            at++;
            continue;
        }
        if (at + 1 >= end || p[at + 1] > end - at - 2)
            return NULL;  /* truncated option: nothing after it can be trusted */
        if (here == code) {
            *len = p[at + 1];
            return p + at + 2;
        }
        at += 2 + (size_t)p[at + 1];
    }
    return NULL;
}

static int usable(const dhcp_packet *p)
{
    return p && p->received && p->bytes && p->len >= BOOTP_MIN_SIZE;
}

static int is_zero(const uint8_t ip[4])
{
    return !(ip[0] | ip[1] | ip[2] | ip[3]);
}

const char *dhcp_boot_server(const dhcp_packet *ack, const dhcp_packet *proxy_offer,
                             const dhcp_packet *pxe_reply, uint8_t server[4], dhcp_origin *origin,
                             dhcp_server_field *field)
{
    for (int i = 0; i < 4; i++)
        server[i] = 0;
    const dhcp_packet *chosen;
    if (pxe_reply && pxe_reply->received) {
        chosen = pxe_reply;
        *origin = DHCP_FROM_PXE_REPLY;
    } else if (proxy_offer && proxy_offer->received) {
        chosen = proxy_offer;
        *origin = DHCP_FROM_PROXY_OFFER;
    } else if (ack && ack->received) {
        chosen = ack;
        *origin = DHCP_FROM_ACK;
    } else {
        return "no DHCP ACK received";
    }
    if (!usable(chosen)) {
        static const char *const too_short[] = {
            "DHCP ACK too short", "ProxyOffer too short", "PXE reply too short"};
        return too_short[*origin];
    }
    *field = DHCP_SERVER_SIADDR;
    for (int i = 0; i < 4; i++)
        server[i] = chosen->bytes[BOOTP_SIADDR_OFFSET + i];
    if (!is_zero(server))
        return NULL;
    size_t len;
    const uint8_t *id = dhcp_find_option(chosen, DHCP_OPTION_SERVER_ID, &len);
    if (id && len == 4 && !is_zero(id)) {
        *field = DHCP_SERVER_OPTION_54;
        for (int i = 0; i < 4; i++)
            server[i] = id[i];
        return NULL;
    }
    return "DHCP reply names no boot server (siaddr 0.0.0.0, no option 54)";
}
