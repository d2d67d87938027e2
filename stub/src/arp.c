#include "arp.h"

static void copy(uint8_t *to, const uint8_t *from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        to[i] = from[i];
}

static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int is_zero_ip(const uint8_t ip[4])
{
    return !(ip[0] | ip[1] | ip[2] | ip[3]);
}

const char *arp_parse(const uint8_t *b, size_t len, arp_packet *out)
{
    *out = (arp_packet){0};
    if (!b || len < ARP_PACKET_LEN)
        return "ARP packet too short";
    if (b[0] != 0 || b[1] != 1 || b[2] != 0x08 || b[3] != 0x00)
        return "ARP packet is not Ethernet/IPv4";
    if (b[4] != ETHER_ADDR_LEN || b[5] != 4)
        return "ARP address lengths are not 6 and 4";
    out->op = (uint16_t)(b[6] << 8 | b[7]);
    if (out->op != ARP_OP_REQUEST && out->op != ARP_OP_REPLY)
        return "ARP operation is neither request nor reply";
    copy(out->sender_mac, b + 8, ETHER_ADDR_LEN);
    copy(out->sender_ip, b + 14, 4);
    copy(out->target_mac, b + 18, ETHER_ADDR_LEN);
    copy(out->target_ip, b + 24, 4);
    return NULL;
}

size_t arp_build(uint8_t *out, size_t cap, const arp_packet *p)
{
    if (!out || cap < ARP_PACKET_LEN)
        return 0;
    static const uint8_t fixed[6] = {0, 1, 0x08, 0x00, ETHER_ADDR_LEN, 4};
    copy(out, fixed, 6);
    out[6] = (uint8_t)(p->op >> 8);
    out[7] = (uint8_t)p->op;
    copy(out + 8, p->sender_mac, ETHER_ADDR_LEN);
    copy(out + 14, p->sender_ip, 4);
    copy(out + 18, p->target_mac, ETHER_ADDR_LEN);
    copy(out + 24, p->target_ip, 4);
    return ARP_PACKET_LEN;
}

void arp_request(arp_packet *out, const uint8_t our_mac[ETHER_ADDR_LEN], const uint8_t our_ip[4],
                 const uint8_t target_ip[4])
{
    *out = (arp_packet){.op = ARP_OP_REQUEST};
    copy(out->sender_mac, our_mac, ETHER_ADDR_LEN);
    copy(out->sender_ip, our_ip, 4);
    copy(out->target_ip, target_ip, 4);
}

void arp_cache_init(arp_cache *cache)
{
    *cache = (arp_cache){0};
}

static arp_entry *find(arp_cache *cache, const uint8_t ip[4])
{
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        if (cache->entries[i].state != ARP_ENTRY_FREE && same(cache->entries[i].ip, ip, 4))
            return &cache->entries[i];
    return NULL;
}

void arp_cache_resolve(arp_cache *cache, const uint8_t ip[4])
{
    arp_entry *e = find(cache, ip);
    if (!e) {
        e = &cache->entries[0];
        for (int i = 0; i < ARP_CACHE_SIZE && e->state != ARP_ENTRY_FREE; i++) {
            arp_entry *c = &cache->entries[i];
            if (c->state == ARP_ENTRY_FREE || c->last_used < e->last_used)
                e = c;
        }
        copy(e->ip, ip, 4);
    }
    e->state = ARP_ENTRY_RESOLVING;
    for (int i = 0; i < ETHER_ADDR_LEN; i++)
        e->mac[i] = 0;
    e->last_used = ++cache->counter;
}

int arp_cache_lookup(arp_cache *cache, const uint8_t ip[4], uint8_t mac[ETHER_ADDR_LEN])
{
    arp_entry *e = find(cache, ip);
    if (!e || e->state != ARP_ENTRY_RESOLVED)
        return 0;
    e->last_used = ++cache->counter;
    copy(mac, e->mac, ETHER_ADDR_LEN);
    return 1;
}

int arp_cache_learn(arp_cache *cache, const uint8_t ip[4], const uint8_t mac[ETHER_ADDR_LEN])
{
    arp_entry *e = find(cache, ip);
    if (!e || e->state != ARP_ENTRY_RESOLVING)
        return 0;
    copy(e->mac, mac, ETHER_ADDR_LEN);
    e->state = ARP_ENTRY_RESOLVED;
    e->last_used = ++cache->counter;
    return 1;
}

static int is_broadcast_ip(const uint8_t ip[4])
{
    return (ip[0] & ip[1] & ip[2] & ip[3]) == 0xff;
}

int arp_receive(arp_cache *cache, const arp_packet *in, const uint8_t eth_src[ETHER_ADDR_LEN],
                const uint8_t our_mac[ETHER_ADDR_LEN], const uint8_t our_ip[4],
                arp_packet *reply)
{
    int for_us = !is_zero_ip(our_ip) && same(in->target_ip, our_ip, 4);
    if (in->op == ARP_OP_REPLY) {
        /* The answer to our own request, from the host that sent the frame, about an address
         * that can be a neighbour's. */
        int learnable = for_us && same(in->target_mac, our_mac, ETHER_ADDR_LEN) &&
                        !(in->sender_mac[0] & 1) &&
                        !same(in->sender_mac, our_mac, ETHER_ADDR_LEN) &&
                        same(in->sender_mac, eth_src, ETHER_ADDR_LEN) &&
                        !is_zero_ip(in->sender_ip) && !is_broadcast_ip(in->sender_ip) &&
                        !same(in->sender_ip, our_ip, 4);
        if (learnable)
            arp_cache_learn(cache, in->sender_ip, in->sender_mac);
        return 0;
    }
    if (!for_us || (in->sender_mac[0] & 1) || !same(in->sender_mac, eth_src, ETHER_ADDR_LEN))
        return 0;
    *reply = (arp_packet){.op = ARP_OP_REPLY};
    copy(reply->sender_mac, our_mac, ETHER_ADDR_LEN);
    copy(reply->sender_ip, our_ip, 4);
    copy(reply->target_mac, in->sender_mac, ETHER_ADDR_LEN);
    copy(reply->target_ip, in->sender_ip, 4);
    return 1;
}
