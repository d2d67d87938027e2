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

const char *dhcp6_boot_server(const uint8_t *packet, size_t len, uint8_t server[16])
{
    size_t url_len = 0;
    const uint8_t *url = dhcp6_find_option(packet, len, DHCP6_OPTION_BOOTFILE_URL, &url_len);
    if (!url)
        return "no boot file URL (DHCPv6 option 59) in the DHCPv6 reply";
    stub_path path;
    if (path_parse(url, url_len, &path) || path.scheme != PATH_TFTP || path.family != 6)
        return "the DHCPv6 boot file URL is not tftp://[IPv6 address]/...";
    for (int i = 0; i < 16; i++)
        server[i] = path.server[i];
    return NULL;
}
