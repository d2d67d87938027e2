/* Ethernet frames carrying ARP, through ether_parse, arp_parse and arp_receive with one cache
 * across the frames: a reply only ever answers a request for our address, the cache never
 * learns a multicast MAC or our own. Input: frames, each after a 1-byte length. */
#include <assert.h>
#include <string.h>

#include "arp.h"
#include "ether.h"

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};
static const uint8_t our_ip[4] = {10, 0, 2, 15};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arp_cache cache;
    arp_cache_init(&cache);
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
        if (arp_receive(&cache, &in, our_mac, our_ip, &reply)) {
            assert(in.op == ARP_OP_REQUEST && memcmp(in.target_ip, our_ip, 4) == 0);
            assert(reply.op == ARP_OP_REPLY && !(reply.target_mac[0] & 1));
        }
        for (int i = 0; i < ARP_CACHE_SIZE; i++) {
            const arp_entry *e = &cache.entries[i];
            if (e->valid)
                assert(!(e->mac[0] & 1) && memcmp(e->mac, our_mac, 6) != 0);
        }
    }
    return 0;
}
