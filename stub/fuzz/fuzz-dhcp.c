/* The boot server from three arbitrary packets. The first two bytes say where the input
 * splits; each packet is an exact-size copy, so any read past its end is caught. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp.h"

static uint8_t *copy_of(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, data, len);
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > 3 * 1472 + 3)
        return 0;
    size_t flags = data[0], cut1 = data[1] * (size / 256 + 1), cut2 = data[2] * (size / 256 + 1);
    data += 3;
    size -= 3;
    if (cut1 > size)
        cut1 = size;
    if (cut2 > size - cut1)
        cut2 = size - cut1;
    size_t lens[3] = {cut1, cut2, size - cut1 - cut2};
    const uint8_t *starts[3] = {data, data + cut1, data + cut1 + cut2};
    uint8_t *copies[3];
    dhcp_packet packets[3];
    for (int i = 0; i < 3; i++) {
        copies[i] = copy_of(starts[i], lens[i]);
        size_t length = dhcp_packet_length(copies[i], lens[i]);
        assert(length <= lens[i]);
        packets[i] = (dhcp_packet){copies[i], length, (int)(flags >> i) & 1};
    }
    uint8_t server[4];
    dhcp_origin origin;
    dhcp_server_field field;
    if (!dhcp_boot_server(&packets[0], &packets[1], &packets[2], server, &origin, &field))
        assert(server[0] | server[1] | server[2] | server[3]);
    for (int i = 0; i < 3; i++)
        free(copies[i]);
    return 0;
}
