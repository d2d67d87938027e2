/* ARP (arp.c): parsing, answering requests for our address, what the cache learns (only the
 * answers it asked for) and what it refuses to. */
#include <stdlib.h>

#include "arp.h"
#include "check.h"

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};
static const uint8_t our_ip[4] = {10, 0, 2, 15};
static const uint8_t server_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x02};
static const uint8_t server_ip[4] = {10, 0, 2, 2};
static const uint8_t other_ip[4] = {10, 0, 2, 99};

static const char *parse(const uint8_t *bytes, size_t len, arp_packet *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    const char *reason = arp_parse(copy, len, out);
    free(copy);
    return reason;
}

static arp_packet packet(uint16_t op, const uint8_t *smac, const uint8_t *sip, const uint8_t *tip)
{
    arp_packet p = {.op = op};
    memcpy(p.sender_mac, smac, 6);
    memcpy(p.sender_ip, sip, 4);
    memcpy(p.target_ip, tip, 4);
    return p;
}

static void test_arp_wire(void)
{
    arp_packet req, back;
    arp_request(&req, our_mac, our_ip, server_ip);
    uint8_t wire[ARP_PACKET_LEN + 18]; /* with Ethernet padding after it */
    memset(wire, 0xee, sizeof wire);
    CHECK(arp_build(wire, ARP_PACKET_LEN - 1, &req) == 0);
    CHECK(arp_build(wire, sizeof wire, &req) == ARP_PACKET_LEN);
    static const uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, 1};
    CHECK(memcmp(wire, head, 8) == 0);
    CHECK(memcmp(wire + 18, "\0\0\0\0\0\0", 6) == 0 && memcmp(wire + 24, server_ip, 4) == 0);
    CHECK_STR(parse(wire, sizeof wire, &back), NULL);
    CHECK(back.op == ARP_OP_REQUEST && memcmp(&back, &req, sizeof req) == 0);

    CHECK_STR(parse(wire, ARP_PACKET_LEN - 1, &back), "ARP packet too short");
    uint8_t bad[ARP_PACKET_LEN];
    memcpy(bad, wire, sizeof bad);
    bad[1] = 6; /* IEEE 802 hardware */
    CHECK_STR(parse(bad, sizeof bad, &back), "ARP packet is not Ethernet/IPv4");
    memcpy(bad, wire, sizeof bad);
    bad[2] = 0x86, bad[3] = 0xdd;
    CHECK_STR(parse(bad, sizeof bad, &back), "ARP packet is not Ethernet/IPv4");
    memcpy(bad, wire, sizeof bad);
    bad[5] = 16; /* a protocol address that would run past the packet */
    CHECK_STR(parse(bad, sizeof bad, &back), "ARP address lengths are not 6 and 4");
    memcpy(bad, wire, sizeof bad);
    bad[7] = 3; /* RARP */
    CHECK_STR(parse(bad, sizeof bad, &back), "ARP operation is neither request nor reply");
}

static arp_packet reply_to_us(const uint8_t *smac, const uint8_t *sip)
{
    arp_packet p = packet(ARP_OP_REPLY, smac, sip, our_ip);
    memcpy(p.target_mac, our_mac, 6);
    return p;
}

/* A packet in a frame from eth_src. */
static int receive(arp_cache *cache, const arp_packet *in, const uint8_t *eth_src,
                   arp_packet *reply)
{
    return arp_receive(cache, in, eth_src, our_mac, our_ip, reply);
}

static void test_arp_receive(void)
{
    arp_cache cache;
    arp_cache_init(&cache);
    arp_packet reply;
    uint8_t mac[6];
    static const uint8_t moved[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x03};

    /* A request for our address: answered, and teaches nothing, even about an address being
     * resolved. */
    arp_cache_resolve(&cache, server_ip);
    arp_packet in = packet(ARP_OP_REQUEST, server_mac, server_ip, our_ip);
    CHECK(receive(&cache, &in, server_mac, &reply) == 1);
    CHECK(reply.op == ARP_OP_REPLY && memcmp(reply.sender_mac, our_mac, 6) == 0);
    CHECK(memcmp(reply.sender_ip, our_ip, 4) == 0 && memcmp(reply.target_mac, server_mac, 6) == 0);
    CHECK(memcmp(reply.target_ip, server_ip, 4) == 0);
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    /* ... unless the frame's source is not the sender it names. */
    CHECK(receive(&cache, &in, moved, &reply) == 0);

    /* A request for someone else: not answered. */
    in = packet(ARP_OP_REQUEST, server_mac, server_ip, other_ip);
    CHECK(receive(&cache, &in, server_mac, &reply) == 0);

    /* An unsolicited reply (nobody asked for its sender) teaches nothing. */
    arp_cache_init(&cache);
    in = reply_to_us(server_mac, server_ip);
    CHECK(receive(&cache, &in, server_mac, &reply) == 0);
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));

    /* Asked for: replies that are not plainly the answer to us teach nothing. */
    arp_cache_resolve(&cache, server_ip);
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    CHECK(receive(&cache, &in, moved, &reply) == 0); /* another Ethernet source */
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    in = packet(ARP_OP_REPLY, server_mac, server_ip, other_ip);
    memcpy(in.target_mac, our_mac, 6);
    CHECK(receive(&cache, &in, server_mac, &reply) == 0); /* to another IP */
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    in = reply_to_us(server_mac, server_ip);
    memcpy(in.target_mac, moved, 6);
    CHECK(receive(&cache, &in, server_mac, &reply) == 0); /* to another MAC */
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    in = reply_to_us(ether_broadcast, server_ip);
    CHECK(receive(&cache, &in, ether_broadcast, &reply) == 0); /* a broadcast sender */
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    in = reply_to_us(our_mac, server_ip);
    CHECK(receive(&cache, &in, our_mac, &reply) == 0); /* our own MAC: a loop or a forgery */
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    /* The answer: learnt; no reply to a reply. */
    in = reply_to_us(server_mac, server_ip);
    CHECK(receive(&cache, &in, server_mac, &reply) == 0);
    CHECK(arp_cache_lookup(&cache, server_ip, mac) && memcmp(mac, server_mac, 6) == 0);

    /* Nothing the network sends overwrites it: another reply, a request from a new MAC. */
    in = reply_to_us(moved, server_ip);
    CHECK(receive(&cache, &in, moved, &reply) == 0);
    in = packet(ARP_OP_REQUEST, moved, server_ip, our_ip);
    CHECK(receive(&cache, &in, moved, &reply) == 1);
    in = packet(ARP_OP_REQUEST, moved, server_ip, other_ip);
    CHECK(receive(&cache, &in, moved, &reply) == 0);
    CHECK(arp_cache_lookup(&cache, server_ip, mac) && memcmp(mac, server_mac, 6) == 0);
    /* Nor do replies from many forged senders flush it. */
    uint8_t forged_ip[4] = {10, 0, 2, 0};
    for (uint8_t i = 100; i < 100 + 4 * ARP_CACHE_SIZE; i++) {
        forged_ip[3] = i;
        in = reply_to_us(moved, forged_ip);
        CHECK(receive(&cache, &in, moved, &reply) == 0);
        CHECK(!arp_cache_lookup(&cache, forged_ip, mac));
    }
    CHECK(arp_cache_lookup(&cache, server_ip, mac) && memcmp(mac, server_mac, 6) == 0);
    /* Re-resolving is the caller's call: the old MAC is gone, the next answer is learnt. */
    arp_cache_resolve(&cache, server_ip);
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    in = reply_to_us(moved, server_ip);
    CHECK(receive(&cache, &in, moved, &reply) == 0);
    CHECK(arp_cache_lookup(&cache, server_ip, mac) && memcmp(mac, moved, 6) == 0);

    /* Sender IPs no neighbour can have are never learnt, even when asked for: our own,
     * broadcast, zero. */
    static const uint8_t zero_ip[4] = {0, 0, 0, 0}, all_ones[4] = {255, 255, 255, 255};
    const uint8_t *impossible[] = {our_ip, all_ones, zero_ip};
    for (int i = 0; i < 3; i++) {
        arp_cache_init(&cache);
        arp_cache_resolve(&cache, impossible[i]);
        in = reply_to_us(server_mac, impossible[i]);
        CHECK(receive(&cache, &in, server_mac, &reply) == 0);
        CHECK(!arp_cache_lookup(&cache, impossible[i], mac));
    }

    /* A broadcast or multicast sender is never answered. */
    arp_cache_init(&cache);
    in = packet(ARP_OP_REQUEST, ether_broadcast, server_ip, our_ip);
    CHECK(receive(&cache, &in, ether_broadcast, &reply) == 0);
    /* A probe (sender 0.0.0.0) for our address is answered. */
    in = packet(ARP_OP_REQUEST, server_mac, zero_ip, our_ip);
    CHECK(receive(&cache, &in, server_mac, &reply) == 1);
    /* Before we have an address, nothing is for us. */
    in = packet(ARP_OP_REQUEST, server_mac, server_ip, zero_ip);
    CHECK(arp_receive(&cache, &in, server_mac, our_mac, zero_ip, &reply) == 0);
}

static void test_arp_cache(void)
{
    arp_cache cache;
    arp_cache_init(&cache);
    uint8_t ip[4] = {10, 0, 0, 0}, mac[6] = {2, 0, 0, 0, 0, 0}, got[6];
    CHECK(!arp_cache_learn(&cache, ip, mac)); /* never asked for */
    for (uint8_t i = 1; i <= ARP_CACHE_SIZE; i++) {
        ip[3] = i, mac[5] = i;
        arp_cache_resolve(&cache, ip);
        CHECK(arp_cache_learn(&cache, ip, mac));
    }
    ip[3] = 1, mac[5] = 99;
    CHECK(!arp_cache_learn(&cache, ip, mac)); /* resolved already: kept */
    CHECK(arp_cache_lookup(&cache, ip, got) && got[5] == 1); /* used: now the most recent */
    ip[3] = 9, mac[5] = 9;
    arp_cache_resolve(&cache, ip); /* evicts 2, the least recently used */
    CHECK(!arp_cache_lookup(&cache, ip, got)); /* not yet answered */
    CHECK(arp_cache_learn(&cache, ip, mac));
    ip[3] = 2;
    CHECK(!arp_cache_lookup(&cache, ip, got));
    for (uint8_t i = 1; i <= 9; i++) {
        ip[3] = i;
        int known = arp_cache_lookup(&cache, ip, got);
        CHECK(known == (i == 1 || i == 3 || i == 4 || i == 9));
        if (known)
            CHECK(got[5] == i);
    }
}

void test_arp(void)
{
    test_arp_wire();
    test_arp_receive();
    test_arp_cache();
}
