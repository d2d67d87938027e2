#include "dhcp6.h"
#include "paths.h"

const uint8_t *dhcp6_find_option(const uint8_t *packet, size_t len, uint16_t code,
                                 size_t *option_len)
{
    size_t offset = DHCP6_HEADER_SIZE;
    while (len >= 4 && offset <= len - 4) {
        uint16_t this_code = (uint16_t)(packet[offset] << 8 | packet[offset + 1]);
        size_t this_len = (size_t)packet[offset + 2] << 8 | packet[offset + 3];
        if (this_code == 0 && this_len == 0)
            return NULL;
        if (this_len > len - offset - 4)
            return NULL;
        if (this_code == code) {
            *option_len = this_len;
            return packet + offset + 4;
        }
        offset += 4 + this_len;
    }
    return NULL;
}

static const dhcp_packet *chosen_packet(const dhcp_packet *ack, const dhcp_packet *proxy_offer,
                                        const dhcp_packet *pxe_reply, dhcp_origin *origin)
{
    if (pxe_reply && pxe_reply->received && pxe_reply->bytes) {
        *origin = DHCP_FROM_PXE_REPLY;
        return pxe_reply;
    }
    if (proxy_offer && proxy_offer->received && proxy_offer->bytes) {
        *origin = DHCP_FROM_PROXY_OFFER;
        return proxy_offer;
    }
    *origin = DHCP_FROM_ACK;
    return ack && ack->received && ack->bytes ? ack : NULL;
}

const char *dhcp6_boot_server(const dhcp_packet *ack, const dhcp_packet *proxy_offer,
                              const dhcp_packet *pxe_reply, uint8_t server[16], dhcp_origin *origin)
{
    static const char *const no_url[] = {
        [DHCP_FROM_ACK] = "no boot file URL (DHCPv6 option 59) in the DHCPv6 reply",
        [DHCP_FROM_PROXY_OFFER] = "no boot file URL (DHCPv6 option 59) in the ProxyOffer",
        [DHCP_FROM_PXE_REPLY] = "no boot file URL (DHCPv6 option 59) in the PXE reply",
    };
    for (int i = 0; i < 16; i++)
        server[i] = 0;
    const dhcp_packet *chosen = chosen_packet(ack, proxy_offer, pxe_reply, origin);
    if (!chosen)
        return "no DHCPv6 reply received";
    size_t url_len = 0;
    const uint8_t *url = dhcp6_find_option(chosen->bytes, chosen->len, DHCP6_OPTION_BOOTFILE_URL, &url_len);
    if (!url)
        return no_url[*origin];
    stub_path path;
    if (path_parse(url, url_len, &path) || path.scheme != PATH_TFTP || path.family != 6)
        return "the DHCPv6 boot file URL is not tftp://[IPv6 address]/...";
    for (int i = 0; i < 16; i++)
        server[i] = path.server[i];
    return NULL;
}
