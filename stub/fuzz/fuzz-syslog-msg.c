/* Console lines of any bytes as syslog messages: bounded, printable ASCII, one line. */
#include <assert.h>
#include <string.h>

#include "syslog_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[SYSLOG_DATAGRAM_MAX + 1];
    if (size < 2)
        return 0;
    /* The first byte picks the room given, the second the sequence number. */
    size_t cap = (size_t)data[0] * 8 + 40;
    if (cap > SYSLOG_DATAGRAM_MAX)
        cap = SYSLOG_DATAGRAM_MAX;
    out[cap] = 0xa5;
    size_t n = syslog_format(out, cap, "52:54:00:12:34:56", data[1], (const char *)data + 2,
                             size - 2);
    assert(n <= cap && out[cap] == 0xa5);
    for (size_t i = 0; i < n; i++)
        assert(out[i] >= 0x20 && out[i] <= 0x7e);
    assert(n == 0 || memcmp(out, "<1", 2) == 0);
    char id[SYSLOG_MSGID_MAX + 1];
    syslog_msgid((const char *)data + 2, size - 2, id);
    assert(strlen(id) >= 1 && strlen(id) <= SYSLOG_MSGID_MAX);
    /* The same bytes as a boot URL and as a DHCP packet naming a log server. */
    uint8_t server[16];
    int family = 0;
    if (syslog_server_from_url(data + 2, size - 2, &family, server))
        assert(family == 4 || family == 6);
    dhcp_packet packet = {data, dhcp_packet_length(data, size), 1};
    if (syslog_server_from_dhcp(&packet, server))
        assert((server[0] | server[1] | server[2] | server[3]) != 0);
    return 0;
}
