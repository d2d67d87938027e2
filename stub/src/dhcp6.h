/* The boot server of a PXE boot over IPv6: option 59 (Boot File URL, RFC 5970) of the
 * DHCPv6 packet EDK2's PXE Base Code boots from, which must be `tftp://[address]/path` (as
 * shim reads it). The packet is chosen in EDK2's own order (PxeBcDhcp6BootInfo), as for IPv4
 * (dhcp.h): the PXE reply if one was received, else the ProxyOffer if one was received, else
 * the ACK; its option 59 is the only one read. Pure: no EFI calls; every option is
 * bounds-checked. */
#ifndef STUB_DHCP6_H
#define STUB_DHCP6_H

#include <stddef.h>
#include <stdint.h>

#include "dhcp.h"

#define DHCP6_HEADER_SIZE 4     /* message type and transaction id */
#define DHCP6_OPTION_BOOTFILE_URL 59

/* Find option `code` among the options of a DHCPv6 message (`len` bytes with its header). A
 * zero option code with zero length ends the walk (EDK2 keeps the packet in a zeroed buffer
 * without its length). NULL when absent or malformed. */
const uint8_t *dhcp6_find_option(const uint8_t *packet, size_t len, uint16_t code,
                                 size_t *option_len);

/* The server address of the chosen packet's option 59 tftp:// URL (packets are dhcp_packet:
 * bytes, length, received); *origin says which packet. NULL or a static reason. */
const char *dhcp6_boot_server(const dhcp_packet *ack, const dhcp_packet *proxy_offer,
                              const dhcp_packet *pxe_reply, uint8_t server[16], dhcp_origin *origin);

#endif
