/* ARP (arp.c): parsing, answering requests for our address, what the cache learns. */
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

static void test_arp_receive(void)
{
    arp_cache cache;
    arp_cache_init(&cache);
    arp_packet reply;
    uint8_t mac[6];

    /* A request for our address: answered, and its sender learnt. */
    arp_packet in = packet(ARP_OP_REQUEST, server_mac, server_ip, our_ip);
    CHECK(arp_receive(&cache, &in, our_mac, our_ip, &reply) == 1);
    CHECK(reply.op == ARP_OP_REPLY && memcmp(reply.sender_mac, our_mac, 6) == 0);
    CHECK(memcmp(reply.sender_ip, our_ip, 4) == 0 && memcmp(reply.target_mac, server_mac, 6) == 0);
    CHECK(memcmp(reply.target_ip, server_ip, 4) == 0);
    CHECK(arp_cache_lookup(&cache, server_ip, mac) && memcmp(mac, server_mac, 6) == 0);

    /* A request for someone else from a stranger: neither answered nor learnt. */
    arp_cache_init(&cache);
    in = packet(ARP_OP_REQUEST, server_mac, server_ip, other_ip);
    CHECK(arp_receive(&cache, &in, our_mac, our_ip, &reply) == 0);
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));

    /* The reply to our request teaches the server's MAC; no reply to a reply. */
    in = packet(ARP_OP_REPLY, server_mac, server_ip, our_ip);
    CHECK(arp_receive(&cache, &in, our_mac, our_ip, &reply) == 0);
    CHECK(arp_cache_lookup(&cache, server_ip, mac) && memcmp(mac, server_mac, 6) == 0);
    /* A known sender is updated by any packet (RFC 826's merge), even one not for us. */
    static const uint8_t moved[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x03};
    in = packet(ARP_OP_REQUEST, moved, server_ip, other_ip);
    CHECK(arp_receive(&cache, &in, our_mac, our_ip, &reply) == 0);
    CHECK(arp_cache_lookup(&cache, server_ip, mac) && memcmp(mac, moved, 6) == 0);

    /* Hostile senders: a broadcast or multicast MAC is never learnt nor answered. */
    arp_cache_init(&cache);
    in = packet(ARP_OP_REQUEST, ether_broadcast, server_ip, our_ip);
    CHECK(arp_receive(&cache, &in, our_mac, our_ip, &reply) == 0);
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
    /* A probe (sender 0.0.0.0) for our address is answered but teaches nothing. */
    static const uint8_t zero_ip[4] = {0, 0, 0, 0};
    in = packet(ARP_OP_REQUEST, server_mac, zero_ip, our_ip);
    CHECK(arp_receive(&cache, &in, our_mac, our_ip, &reply) == 1);
    CHECK(!arp_cache_lookup(&cache, zero_ip, mac));
    /* Before we have an address, nothing is for us. */
    in = packet(ARP_OP_REQUEST, server_mac, server_ip, zero_ip);
    CHECK(arp_receive(&cache, &in, our_mac, zero_ip, &reply) == 0);
    /* Our own MAC as the sender (a loop, or a forgery) teaches nothing. */
    in = packet(ARP_OP_REPLY, our_mac, server_ip, our_ip);
    CHECK(arp_receive(&cache, &in, our_mac, our_ip, &reply) == 0);
    CHECK(!arp_cache_lookup(&cache, server_ip, mac));
}

static void test_arp_cache(void)
{
    arp_cache cache;
    arp_cache_init(&cache);
    uint8_t ip[4] = {10, 0, 0, 0}, mac[6] = {2, 0, 0, 0, 0, 0}, got[6];
    for (uint8_t i = 1; i <= ARP_CACHE_SIZE; i++) {
        ip[3] = i, mac[5] = i;
        arp_cache_learn(&cache, ip, mac);
    }
    ip[3] = 1; /* used: now the most recent */
    CHECK(arp_cache_lookup(&cache, ip, got) && got[5] == 1);
    ip[3] = 9, mac[5] = 9;
    arp_cache_learn(&cache, ip, mac); /* evicts 2, the least recently used */
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
