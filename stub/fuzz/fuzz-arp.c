/* Ethernet frames carrying ARP, through ether_parse, arp_parse and arp_receive with one cache
 * across the frames, which asked for the server and the gateway: a reply only ever answers a
 * request for our address; the cache learns only those two addresses, never a multicast MAC
 * or our own, never a MAC other than the frame's source, and never changes a MAC once learnt.
 * Input: frames, each after a 1-byte length. */
#include <assert.h>
#include <string.h>

#include "arp.h"
#include "ether.h"

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};
static const uint8_t our_ip[4] = {10, 0, 2, 15};
static const uint8_t server_ip[4] = {10, 0, 2, 2};
static const uint8_t gateway_ip[4] = {10, 0, 2, 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arp_cache cache;
    arp_cache_init(&cache);
    arp_cache_resolve(&cache, server_ip);
    arp_cache_resolve(&cache, gateway_ip);
    arp_entry before[ARP_CACHE_SIZE];
    size_t at = 0;
    while (at < size) {
        size_t len = data[at++];
        if (len > size - at)
            len = size - at;
        ether_frame f;
        arp_packet in, reply;
        const uint8_t *frame = data + at;
        at += len;
        if (ether_parse(frame, len, &f) || f.type != ETHERTYPE_ARP)
            continue;
        assert(f.payload == frame + ETHER_HEADER_LEN && f.payload_len == len - ETHER_HEADER_LEN);
        if (arp_parse(f.payload, f.payload_len, &in))
            continue;
        uint8_t wire[ARP_PACKET_LEN];
        arp_packet again;
        assert(arp_build(wire, sizeof wire, &in) == ARP_PACKET_LEN);
        assert(!arp_parse(wire, sizeof wire, &again) && memcmp(&again, &in, sizeof in) == 0);
        memcpy(before, cache.entries, sizeof before);
        if (arp_receive(&cache, &in, f.src, our_mac, our_ip, &reply)) {
            assert(in.op == ARP_OP_REQUEST && memcmp(in.target_ip, our_ip, 4) == 0);
            assert(reply.op == ARP_OP_REPLY && !(reply.target_mac[0] & 1));
            assert(memcmp(reply.target_mac, f.src, 6) == 0);
        }
        for (int i = 0; i < ARP_CACHE_SIZE; i++) {
            const arp_entry *e = &cache.entries[i];
            assert(memcmp(e->ip, before[i].ip, 4) == 0);
            if (before[i].state == ARP_ENTRY_RESOLVED)
                assert(e->state == ARP_ENTRY_RESOLVED && memcmp(e->mac, before[i].mac, 6) == 0);
            if (e->state == ARP_ENTRY_RESOLVED && before[i].state != ARP_ENTRY_RESOLVED) {
                assert(in.op == ARP_OP_REPLY && memcmp(e->mac, f.src, 6) == 0);
                assert(memcmp(e->ip, server_ip, 4) == 0 || memcmp(e->ip, gateway_ip, 4) == 0);
            }
            if (e->state == ARP_ENTRY_RESOLVED)
                assert(!(e->mac[0] & 1) && memcmp(e->mac, our_mac, 6) != 0);
        }
    }
    return 0;
}
