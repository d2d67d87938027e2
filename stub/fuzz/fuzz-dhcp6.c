/* DHCPv6 option walking and option 59 on arbitrary bytes (an exact-size copy). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp6.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1028)
        return 0;
    uint8_t *copy = malloc(size ? size : 1), server[16];
    memcpy(copy, data, size);
    size_t len = 0;
    const uint8_t *option = dhcp6_find_option(copy, size, 59, &len);
    assert(!option || (option >= copy && option + len <= copy + size));
    /* The same bytes as each of the three packets in turn. */
    dhcp_packet packet = {copy, size, 1}, none = {NULL, 0, 0};
    dhcp_origin origin;
    dhcp6_boot_server(&packet, &none, &none, server, &origin);
    dhcp6_boot_server(&none, &packet, &none, server, &origin);
    dhcp6_boot_server(&packet, &packet, &packet, server, &origin);
    free(copy);
    return 0;
}
