/* What the stub's own TFTP and HTTP share: the station's IPv4 addresses, the next hop to the
 * server resolved by the stub's own ARP, and frames in and out of the held NIC (snp.h) through
 * the pure receive path (frame_rx.h), which answers ARP requests for our address as it goes. */
#ifndef STUB_OWN_NET_H
#define STUB_OWN_NET_H

#include <efi.h>
#include <stdint.h>

#include "frame_rx.h"
#include "sha256.h"
#include "net.h"
#include "snp.h"
#include "tcp.h"

/* The station's IPv4 addresses, as the boot's DHCP set them. router 0.0.0.0: none. */
typedef struct {
    uint8_t ip[4];
    uint8_t mask[4];
    uint8_t router[4];
} own_ipv4;

typedef struct {
    snp_link *link;
    frame_rx rx;
    uint8_t hop_mac[ETHER_ADDR_LEN];
    uint16_t ip_id;
    uint8_t *frame;   /* the frame received last */
    uint8_t *tx;      /* the frame being built */
    uint8_t *storage; /* IPv4 reassembly */
    int answered;     /* the server's address sent us something: the path works */
    UINT64 nic_ticks; /* time inside the NIC driver (SNP), for the transfer line */
} own_net;

/* Buffers for datagrams of up to `datagram_max` bytes of IP payload, an ephemeral port, the
 * next hop's MAC by ARP. NULL, or why the own path cannot reach the server (the caller then
 * takes the firmware's path): nothing is left allocated then. */
const char *own_net_open(own_net *n, snp_link *link, const own_ipv4 *addr, const uint8_t server[4],
                         size_t datagram_max, const fetch_deadline *deadline);
void own_net_close(own_net *n);

/* One frame from the NIC through frame_rx (ARP requests answered here): EFI_SUCCESS with
 * *kind and *r, EFI_NOT_READY when none is waiting, or the driver's error. */
EFI_STATUS own_net_poll(own_net *n, frame_rx_kind *kind, frame_rx_result *r);

/* A UDP datagram to the server's `port`: payload_len bytes the caller wrote at
 * n->tx + FRAME_UDP_PAYLOAD_OFFSET. */
void own_net_send_udp(own_net *n, uint16_t port, size_t payload_len);
void own_net_send_tcp(own_net *n, const tcp_header_out *h, const uint8_t *payload, size_t len);

/* The SHA-256 of a buffer that fills in order, computed behind the filling and always from
 * the buffer itself (the bytes the kernel gets): a piece whenever the NIC has nothing for us,
 * so hashing overlaps the wait for the server, and the rest at the end. */
typedef struct {
    sha256_ctx sha;
    UINTN hashed;
    UINT64 ticks;  /* time spent hashing */
} own_hash;

void own_hash_init(own_hash *h);
/* Hash up to `budget` more bytes of data[h->hashed, filled); all of them when budget is 0. */
void own_hash_step(own_hash *h, const uint8_t *data, UINTN filled, UINTN budget);

/* An unpredictable 32-bit number for initial sequence numbers and IDs (RFC 6528's spirit):
 * the time stamp counter, mixed. */
uint32_t own_net_random(void);

#endif
