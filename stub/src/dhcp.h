/* Which server the stub was loaded from, from the packets EDK2's PXE Base Code keeps, in
 * EDK2's own order (PxeBcDhcp4BootInfo): the PXE reply if one was received, else the
 * ProxyOffer if one was received, else the DHCP ACK. The server is that packet's BOOTP
 * siaddr, or its option 54 (DHCP server identifier) when siaddr is 0.0.0.0.
 * Pure: no EFI calls; every read is bounds-checked against the packet's real length. */
#ifndef STUB_DHCP_H
#define STUB_DHCP_H

#include <stddef.h>
#include <stdint.h>

#define BOOTP_SIADDR_OFFSET 20
#define BOOTP_FILE_OFFSET 108
#define BOOTP_FILE_SIZE 128
#define BOOTP_MIN_SIZE 236      /* fixed BOOTP header, up to the magic cookie */
#define DHCP_OPTIONS_OFFSET 240 /* after the magic cookie 99.130.83.99 */
#define DHCP_OPTION_PAD 0
#define DHCP_OPTION_SERVER_ID 54
#define DHCP_OPTION_END 255

typedef enum { DHCP_FROM_ACK, DHCP_FROM_PROXY_OFFER, DHCP_FROM_PXE_REPLY } dhcp_origin;
typedef enum { DHCP_SERVER_SIADDR, DHCP_SERVER_OPTION_54 } dhcp_server_field;

typedef struct {
    const uint8_t *bytes;  /* NULL or not received: absent */
    size_t len;            /* the packet's real length (see dhcp_packet_length) */
    int received;
} dhcp_packet;

/* The length of the DHCP packet stored at the start of a buffer of `cap` bytes (EDK2 keeps
 * packets in fixed 1472-byte buffers and no length): the BOOTP header, plus, when the magic
 * cookie is there, the options up to and including the END option. A packet whose options
 * run past the buffer without an END is `cap` long. 0 when shorter than the BOOTP header. */
size_t dhcp_packet_length(const uint8_t *buffer, size_t cap);

/* Find option `code` in a packet's options field; NULL when absent. */
const uint8_t *dhcp_find_option(const dhcp_packet *packet, uint8_t code, size_t *len);

/* The boot server, as above. Returns NULL on success or a static reason. */
const char *dhcp_boot_server(const dhcp_packet *ack, const dhcp_packet *proxy_offer,
                             const dhcp_packet *pxe_reply, uint8_t server[4], dhcp_origin *origin,
                             dhcp_server_field *field);

#endif
