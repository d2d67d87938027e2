/* The receive path in one call (frame_rx.c): frames built by one side, taken by the other. */
#include <stdlib.h>

#include "check.h"
#include "frame_rx.h"
#include "inet_csum.h"

static const uint8_t client_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};
static const uint8_t server_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x02};
static const uint8_t client_ip[4] = {10, 0, 2, 15};
static const uint8_t server_ip[4] = {10, 0, 2, 2};
static const uint8_t stranger_ip[4] = {10, 0, 2, 99};

static uint8_t storage[2 * IPV4_REASM_MAX_PAYLOAD];
static uint8_t server_storage[2 * 2048];

static frame_rx_kind take(frame_rx *rx, const uint8_t *frame, size_t len, frame_rx_result *r)
{
    static uint8_t *copy; /* exact size, kept until the next call: the payload points into it */
    static uint8_t reply[ETHER_MIN_FRAME];
    free(copy);
    copy = malloc(len ? len : 1);
    memcpy(copy, frame, len);
    r->reply = reply;
    return frame_rx_take(rx, copy, len, 0, r);
}

/* A UDP frame from `from` to its peer, carrying text. */
static size_t udp_frame(uint8_t *out, size_t cap, const frame_rx *from, const uint8_t *dst_mac,
                        uint16_t dst_port, const char *text)
{
    size_t n = strlen(text);
    memcpy(out + FRAME_UDP_PAYLOAD_OFFSET, text, n);
    return frame_build_udp(out, cap, dst_mac, from, 7, dst_port, n);
}

/* Cut the IPv4 packet of `frame` into fragments of `piece` bytes of payload (a multiple of 8),
 * each a whole frame in out[i]; returns how many. */
static size_t fragment(const uint8_t *frame, size_t len, size_t piece, uint8_t out[][1600],
                       size_t lens[])
{
    const uint8_t *ip = frame + ETHER_HEADER_LEN;
    size_t payload = len - ETHER_HEADER_LEN - IPV4_HEADER_LEN, count = 0;
    for (size_t off = 0; off < payload; off += piece, count++) {
        size_t n = payload - off < piece ? payload - off : piece;
        uint8_t *f = out[count];
        memcpy(f, frame, ETHER_HEADER_LEN + IPV4_HEADER_LEN);
        memcpy(f + ETHER_HEADER_LEN + IPV4_HEADER_LEN, ip + IPV4_HEADER_LEN + off, n);
        uint8_t *h = f + ETHER_HEADER_LEN;
        size_t total = IPV4_HEADER_LEN + n;
        uint16_t flags = (uint16_t)(off / 8 | (off + n < payload ? 0x2000 : 0));
        h[2] = (uint8_t)(total >> 8), h[3] = (uint8_t)total;
        h[6] = (uint8_t)(flags >> 8), h[7] = (uint8_t)flags;
        h[10] = h[11] = 0;
        uint16_t c = inet_csum(h, IPV4_HEADER_LEN);
        h[10] = (uint8_t)(c >> 8), h[11] = (uint8_t)c;
        lens[count] = ETHER_HEADER_LEN + total;
    }
    return count;
}

void test_frame_rx(void)
{
    frame_rx client, server, stranger;
    frame_rx_init(&client, client_mac, client_ip, server_ip, 2000, storage, sizeof storage, 50);
    frame_rx_init(&server, server_mac, server_ip, client_ip, 69, server_storage,
                  sizeof server_storage, 50);
    frame_rx_init(&stranger, server_mac, stranger_ip, client_ip, 69, NULL, 0, 50);
    frame_rx_result r;
    uint8_t frame[4000];

    /* ARP: the server asks for us, we answer to its MAC, but learn nothing from a request. */
    arp_packet req;
    arp_request(&req, server_mac, server_ip, client_ip);
    size_t n = frame_build_arp(frame, sizeof frame, ether_broadcast, &req);
    CHECK(n == ETHER_MIN_FRAME);
    CHECK(take(&client, frame, n, &r) == FRAME_RX_ARP_REPLY && r.reply_len == ETHER_MIN_FRAME);
    CHECK(memcmp(r.reply, server_mac, 6) == 0 && memcmp(r.reply + 6, client_mac, 6) == 0);
    uint8_t got[6];
    CHECK(!arp_cache_lookup(&client.arp, server_ip, got));
    /* The server did not ask for us: our reply teaches it nothing. */
    uint8_t reply[ETHER_MIN_FRAME];
    memcpy(reply, r.reply, sizeof reply);
    CHECK(take(&server, reply, sizeof reply, &r) == FRAME_RX_ARP); /* a reply: nothing to send */
    CHECK(!arp_cache_lookup(&server.arp, client_ip, got));
    CHECK(frame_build_arp(frame, ETHER_MIN_FRAME - 1, ether_broadcast, &req) == 0);
    /* We ask for the server; its answer, and only from its own Ethernet source, is learnt. */
    CHECK(frame_rx_resolve(&client, server_ip, frame, ETHER_MIN_FRAME - 1) == 0);
    n = frame_rx_resolve(&client, server_ip, frame, sizeof frame);
    CHECK(n == ETHER_MIN_FRAME && memcmp(frame, ether_broadcast, 6) == 0);
    CHECK(take(&server, frame, n, &r) == FRAME_RX_ARP_REPLY);
    memcpy(reply, r.reply, sizeof reply);
    reply[11] ^= 2; /* another Ethernet source than the sender it names */
    CHECK(take(&client, reply, sizeof reply, &r) == FRAME_RX_ARP);
    CHECK(!arp_cache_lookup(&client.arp, server_ip, got));
    reply[11] ^= 2;
    CHECK(take(&client, reply, sizeof reply, &r) == FRAME_RX_ARP);
    CHECK(arp_cache_lookup(&client.arp, server_ip, got) && memcmp(got, server_mac, 6) == 0);

    /* UDP each way; a short one is padded to 60 bytes and trimmed on the way in. */
    n = udp_frame(frame, sizeof frame, &client, server_mac, 69, "RRQ");
    CHECK(n == ETHER_MIN_FRAME);
    CHECK(take(&server, frame, n, &r) == FRAME_RX_UDP);
    CHECK(r.src_port == 2000 && r.payload_len == 3 && memcmp(r.payload, "RRQ", 3) == 0);
    n = udp_frame(frame, sizeof frame, &server, client_mac, 2000, "a reply long enough to need no padding at all");
    CHECK(n == FRAME_UDP_PAYLOAD_OFFSET + 45);
    CHECK(take(&client, frame, n, &r) == FRAME_RX_UDP && r.src_port == 69 && r.payload_len == 45);

    /* What is not for us. */
    n = udp_frame(frame, sizeof frame, &server, client_mac, 2001, "x");
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "UDP not to our port");
    n = udp_frame(frame, sizeof frame, &stranger, client_mac, 2000, "x");
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "UDP not from the server");
    n = udp_frame(frame, sizeof frame, &server, server_mac, 2000, "x");
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "Ethernet frame not to our address");
    n = udp_frame(frame, sizeof frame, &client, server_mac, 69, "x");
    memcpy(frame, client_mac, 6); /* to our MAC, but to the server's IP */
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "IPv4 packet not to our address");
    n = udp_frame(frame, sizeof frame, &server, client_mac, 2000, "x");
    frame[12] = 0x86, frame[13] = 0xdd;
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "Ethernet type is neither IPv4 nor ARP");
    n = udp_frame(frame, sizeof frame, &server, client_mac, 2000, "x");
    frame[ETHER_HEADER_LEN + 9] = IPV4_PROTO_ICMP;
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED); /* and the checksum is now wrong */
    CHECK_STR(r.reason, "IPv4 header checksum is wrong");
    frame[ETHER_HEADER_LEN + 10] = frame[ETHER_HEADER_LEN + 11] = 0;
    uint16_t c = inet_csum(frame + ETHER_HEADER_LEN, IPV4_HEADER_LEN);
    frame[ETHER_HEADER_LEN + 10] = (uint8_t)(c >> 8), frame[ETHER_HEADER_LEN + 11] = (uint8_t)c;
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "IPv4 packet is not UDP");
    CHECK(take(&client, frame, 10, &r) == FRAME_RX_DROPPED);

    /* A 3000-byte datagram in three fragments, last one first. */
    char text[3001];
    for (int i = 0; i < 3000; i++)
        text[i] = (char)('a' + i % 26);
    text[3000] = 0;
    n = udp_frame(frame, sizeof frame, &server, client_mac, 2000, text);
    CHECK(n == FRAME_UDP_PAYLOAD_OFFSET + 3000);
    static uint8_t pieces[3][1600];
    size_t lens[3];
    CHECK(fragment(frame, n, 1480, pieces, lens) == 3);
    CHECK(take(&client, pieces[2], lens[2], &r) == FRAME_RX_PENDING);
    CHECK(take(&client, pieces[0], lens[0], &r) == FRAME_RX_PENDING);
    CHECK(take(&client, pieces[1], lens[1], &r) == FRAME_RX_UDP);
    CHECK(r.payload_len == 3000 && memcmp(r.payload, text, 3000) == 0);
    /* Reassembled, it must carry a UDP checksum (only that vouches for the whole); a
     * datagram in one piece may leave it out. */
    uint8_t *udp_checksum = frame + ETHER_HEADER_LEN + IPV4_HEADER_LEN + 6;
    memcpy(frame + FRAME_UDP_PAYLOAD_OFFSET, text, 3000);
    n = frame_build_udp(frame, sizeof frame, client_mac, &server, 8, 2000, 3000);
    udp_checksum[0] = udp_checksum[1] = 0;
    CHECK(fragment(frame, n, 1480, pieces, lens) == 3);
    CHECK(take(&client, pieces[0], lens[0], &r) == FRAME_RX_PENDING);
    CHECK(take(&client, pieces[1], lens[1], &r) == FRAME_RX_PENDING);
    CHECK(take(&client, pieces[2], lens[2], &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "UDP datagram without a checksum");
    n = udp_frame(frame, sizeof frame, &server, client_mac, 2000, "whole");
    udp_checksum[0] = udp_checksum[1] = 0;
    CHECK(take(&client, frame, n, &r) == FRAME_RX_UDP && r.payload_len == 5);
    /* The same fragment twice drops the datagram. */
    n = udp_frame(frame, sizeof frame, &server, client_mac, 2000, text);
    CHECK(fragment(frame, n, 1480, pieces, lens) == 3);
    CHECK(take(&client, pieces[0], lens[0], &r) == FRAME_RX_PENDING);
    CHECK(take(&client, pieces[0], lens[0], &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "overlapping IPv4 fragments");

    CHECK(frame_build_udp(frame, FRAME_UDP_PAYLOAD_OFFSET + 2, client_mac, &server, 1, 2000, 3) == 0);
    CHECK(frame_build_udp(frame, 59, client_mac, &server, 1, 2000, 3) == 0);
}
