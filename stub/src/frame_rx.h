/* The stub's own receive path in one call: an Ethernet frame in, what it means out. ARP
 * requests for our address are answered, and only replies to our own requests are learnt
 * (arp.h); IPv4 to our address is reassembled; UDP from the server's address to our port
 * comes out as a payload (a reassembled one only with a correct, non-zero checksum);
 * TCP from the server's address to our port comes out as a parsed segment (checksum verified,
 * never from fragments: the stub's TCP peer sends whole segments under our MSS);
 * everything else is dropped with a reason. And the frames the stub sends: ARP, UDP/IPv4
 * (TFTP requests and ACKs) and TCP/IPv4 (the HTTP connection).
 * Pure: no EFI calls, no allocation; the caller hands in the buffers. */
#ifndef STUB_FRAME_RX_H
#define STUB_FRAME_RX_H

#include <stddef.h>
#include <stdint.h>

#include "arp.h"
#include "ether.h"
#include "ipv4_reasm.h"
#include "tcp.h"
#include "udp.h"

#define FRAME_UDP_PAYLOAD_OFFSET (ETHER_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN)

typedef struct {
    uint8_t our_mac[ETHER_ADDR_LEN];
    uint8_t our_ip[4];
    uint8_t server_ip[4];
    uint16_t our_port;
    arp_cache arp;
    ipv4_reasm reasm;
} frame_rx;

typedef enum {
    FRAME_RX_DROPPED,   /* nothing for us: reason says why */
    FRAME_RX_ARP_REPLY, /* send reply[0, reply_len): an ARP reply to a request for our IP */
    FRAME_RX_ARP,       /* an ARP packet taken (the cache may know more now) */
    FRAME_RX_PENDING,   /* a fragment kept for reassembly */
    FRAME_RX_UDP,       /* a datagram from the server to our port: src_port, payload */
    FRAME_RX_TCP,       /* a segment from the server to our port: tcp (and src_port, payload) */
} frame_rx_kind;

typedef struct {
    const char *reason;
    uint8_t *reply; /* the caller's buffer, at least ETHER_MIN_FRAME bytes */
    size_t reply_len;
    uint16_t src_port;
    const uint8_t *payload; /* in the frame or the reassembly buffer; valid until the next call */
    size_t payload_len;
    tcp_segment tcp; /* FRAME_RX_TCP only; its payload points into the frame */
} frame_rx_result;

/* storage: the reassembly buffer (see ipv4_reasm_init); timeout in the caller's ticks. */
void frame_rx_init(frame_rx *rx, const uint8_t our_mac[ETHER_ADDR_LEN], const uint8_t our_ip[4],
                   const uint8_t server_ip[4], uint16_t our_port, uint8_t *storage,
                   size_t storage_len, uint32_t reasm_timeout);

/* result->reply must point at a buffer of ETHER_MIN_FRAME bytes or more. */
frame_rx_kind frame_rx_take(frame_rx *rx, const uint8_t *frame, size_t len, uint32_t now,
                            frame_rx_result *result);

/* Start (or restart, when the peer stopped answering) resolving ip, the server or the gateway
 * to it: the broadcast ARP request to send, in out; returns its length, 0 when cap is too
 * small. Only the reply to this teaches the cache ip's MAC. */
size_t frame_rx_resolve(frame_rx *rx, const uint8_t ip[4], uint8_t *out, size_t cap);

/* An ARP frame (padded to ETHER_MIN_FRAME) to dst_mac; 0 when cap is too small. */
size_t frame_build_arp(uint8_t *out, size_t cap, const uint8_t dst_mac[ETHER_ADDR_LEN],
                       const arp_packet *packet);

/* A UDP/IPv4/Ethernet frame around the payload_len bytes the caller already wrote at
 * out + FRAME_UDP_PAYLOAD_OFFSET; padded to ETHER_MIN_FRAME. Returns the frame's length, or 0
 * when it does not fit cap or would need fragmenting past 65535 bytes. */
size_t frame_build_udp(uint8_t *out, size_t cap, const uint8_t dst_mac[ETHER_ADDR_LEN],
                       const frame_rx *rx, uint16_t ip_id, uint16_t dst_port, size_t payload_len);

/* A TCP/IPv4/Ethernet frame from our address and port to the server: header h (its ports
 * are the caller's to set, normally rx->our_port and the server's), options, payload
 * (copied); padded to ETHER_MIN_FRAME. Returns the frame's length, or 0 when it does not fit
 * cap. */
size_t frame_build_tcp(uint8_t *out, size_t cap, const uint8_t dst_mac[ETHER_ADDR_LEN],
                       const frame_rx *rx, uint16_t ip_id, const tcp_header_out *h,
                       const uint8_t *payload, size_t payload_len);

#endif
