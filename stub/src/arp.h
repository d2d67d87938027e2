/* ARP for IPv4 over Ethernet (RFC 826): parse and build requests and replies, answer a request
 * for our address, and a tiny cache of the neighbours' addresses the stub asked for (the boot
 * server, or the gateway to it). Nothing unasked is ever learnt and nothing learnt is ever
 * overwritten by the network, so forged ARP cannot redirect or flush it. Pure: no EFI calls,
 * no allocation. */
#ifndef STUB_ARP_H
#define STUB_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "ether.h"

#define ARP_PACKET_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
#define ARP_CACHE_SIZE 4

typedef struct {
    uint16_t op;
    uint8_t sender_mac[ETHER_ADDR_LEN];
    uint8_t sender_ip[4];
    uint8_t target_mac[ETHER_ADDR_LEN];
    uint8_t target_ip[4];
} arp_packet;

/* Only Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4) requests and replies; bytes past
 * the 28 (Ethernet padding) are ignored. Returns NULL or a static reason. */
const char *arp_parse(const uint8_t *bytes, size_t len, arp_packet *out);

/* Write the 28 bytes; returns ARP_PACKET_LEN, or 0 when cap is too small. */
size_t arp_build(uint8_t *out, size_t cap, const arp_packet *packet);

/* A request for target_ip's address, from us (target MAC zero, sent to broadcast). */
void arp_request(arp_packet *out, const uint8_t our_mac[ETHER_ADDR_LEN], const uint8_t our_ip[4],
                 const uint8_t target_ip[4]);

typedef enum { ARP_ENTRY_FREE, ARP_ENTRY_RESOLVING, ARP_ENTRY_RESOLVED } arp_entry_state;

typedef struct {
    uint8_t ip[4];
    uint8_t mac[ETHER_ADDR_LEN]; /* when resolved */
    uint32_t last_used; /* the cache's own counter, for replacing the least recently used */
    arp_entry_state state;
} arp_entry;

typedef struct {
    arp_entry entries[ARP_CACHE_SIZE];
    uint32_t counter;
} arp_cache;

void arp_cache_init(arp_cache *cache);
/* The caller is about to ask for ip (arp_request): only a reply for an ip in this set is ever
 * learnt. Called for an ip already resolved, it forgets the MAC and asks again: re-resolution
 * is the caller's decision (its peer stopped answering), never the network's. A full cache
 * forgets its least recently used entry. */
void arp_cache_resolve(arp_cache *cache, const uint8_t ip[4]);
/* 1 and the MAC when ip is resolved, else 0. */
int arp_cache_lookup(arp_cache *cache, const uint8_t ip[4], uint8_t mac[ETHER_ADDR_LEN]);
/* Fill in the MAC of an ip being resolved: 1 when learnt, 0 when ip was not asked for or is
 * resolved already (a second answer never overwrites the first). */
int arp_cache_learn(arp_cache *cache, const uint8_t ip[4], const uint8_t mac[ETHER_ADDR_LEN]);

/* Take a received packet; eth_src is the Ethernet source of its frame. A request for our IP
 * is answered (unless its sender MAC is multicast, broadcast, or not eth_src) and teaches
 * nothing. Only a
 * reply teaches, and only when: it is addressed to our IP and MAC, its sender MAC is unicast,
 * not ours, and equal to eth_src, its sender IP is not ours, 0.0.0.0 or 255.255.255.255, and
 * that IP is being resolved (arp_cache_learn). Returns 1 and fills reply (to send to
 * reply->target_mac) when a reply is due, else 0. */
int arp_receive(arp_cache *cache, const arp_packet *in, const uint8_t eth_src[ETHER_ADDR_LEN],
                const uint8_t our_mac[ETHER_ADDR_LEN], const uint8_t our_ip[4],
                arp_packet *reply);

#endif
