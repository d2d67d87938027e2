/* TCP segments (tcp.c) and their way through frame_rx: options, lengths that lie, checksums,
 * ports, addresses. */
#include <stdlib.h>

#include "check.h"
#include "frame_rx.h"
#include "inet_csum.h"
#include "tcp.h"

void test_tcp(void);

static const uint8_t client_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};
static const uint8_t server_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x02};
static const uint8_t client_ip[4] = {10, 0, 2, 15};
static const uint8_t server_ip[4] = {10, 0, 2, 2};
static const uint8_t stranger_ip[4] = {10, 0, 2, 99};

/* Parse from an exact-size copy, so that ASan sees any read past the segment. */
static const char *parse(const uint8_t *bytes, size_t len, tcp_segment *out)
{
    static uint8_t *copy;
    free(copy);
    copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    return tcp_parse(copy, len, server_ip, client_ip, out);
}

/* Recompute the checksum after the test changed the segment. */
static void fix(uint8_t *seg, size_t len)
{
    uint8_t pseudo[12] = {10, 0, 2, 2, 10, 0, 2, 15, 0, 6, (uint8_t)(len >> 8), (uint8_t)len};
    seg[16] = seg[17] = 0;
    uint16_t c = inet_csum_finish(inet_csum_add(inet_csum_add(0, pseudo, 12), seg, len));
    seg[16] = (uint8_t)(c >> 8), seg[17] = (uint8_t)c;
}

/* A header with raw options (a multiple of 4 bytes) and no payload, checksummed. */
static size_t with_options(uint8_t *out, const uint8_t *options, size_t n)
{
    tcp_header_out h = {.src_port = 80, .dst_port = 2000, .seq = 1, .flags = TCP_SYN | TCP_ACK,
                        .window = 100, .wscale = -1};
    size_t len = tcp_build(out, 100, server_ip, client_ip, &h, NULL, 0);
    memcpy(out + len, options, n);
    out[12] = (uint8_t)((len + n) / 4 << 4);
    fix(out, len + n);
    return len + n;
}

static void test_parse_build(void)
{
    uint8_t seg[200];
    tcp_segment s;
    tcp_header_out h = {.src_port = 80, .dst_port = 2000, .seq = 0xfffffff0, .ack = 7,
                        .flags = TCP_SYN | TCP_ACK, .window = 0xffff, .mss = 1460, .wscale = 7};
    size_t n = tcp_build(seg, sizeof seg, server_ip, client_ip, &h, (const uint8_t *)"hi", 2);
    CHECK(n == 30 && tcp_header_len(&h) == 28);
    CHECK_STR(parse(seg, n, &s), NULL);
    CHECK(s.src_port == 80 && s.dst_port == 2000 && s.seq == 0xfffffff0 && s.ack == 7);
    CHECK(s.flags == (TCP_SYN | TCP_ACK) && s.window == 0xffff && s.header_len == 28);
    CHECK(s.has_mss && s.mss == 1460 && s.has_wscale && s.wscale == 7);
    CHECK(s.payload_len == 2 && memcmp(s.payload, "hi", 2) == 0);
    /* The checksum covers the addresses: the same bytes between other hosts are refused. */
    CHECK_STR(tcp_parse(seg, n, stranger_ip, client_ip, &s), "TCP checksum is wrong");
    seg[n - 1] ^= 1;
    CHECK_STR(parse(seg, n, &s), "TCP checksum is wrong");
    seg[n - 1] ^= 1;
    /* A zero checksum is not "none" as in UDP. */
    seg[16] = seg[17] = 0;
    CHECK_STR(parse(seg, n, &s), "TCP checksum is wrong");

    /* No options, payload already in place. */
    tcp_header_out plain = {.src_port = 80, .dst_port = 2000, .flags = TCP_ACK, .wscale = -1};
    memcpy(seg + 20, "abc", 3);
    CHECK(tcp_build(seg, sizeof seg, server_ip, client_ip, &plain, seg + 20, 3) == 23);
    CHECK_STR(parse(seg, 23, &s), NULL);
    CHECK(!s.has_mss && !s.has_wscale && s.payload_len == 3 && memcmp(s.payload, "abc", 3) == 0);
    /* Bytes past the IP total length are never handed in; a shorter len is a shorter segment. */
    CHECK_STR(parse(seg, 22, &s), "TCP checksum is wrong");

    /* Buffers too small, a payload too big for IPv4. */
    CHECK(tcp_build(seg, 19, server_ip, client_ip, &plain, NULL, 0) == 0);
    CHECK(tcp_build(seg, 22, server_ip, client_ip, &plain, seg + 20, 3) == 0);
    CHECK(tcp_build(seg, 70000, server_ip, client_ip, &plain, NULL, 65516) == 0);
    CHECK(tcp_build(seg, sizeof seg, server_ip, client_ip, &plain, NULL, 1) == 0);
}

static void test_lies(void)
{
    uint8_t seg[100];
    tcp_segment s;
    tcp_header_out h = {.src_port = 80, .dst_port = 2000, .flags = TCP_ACK, .wscale = -1};
    size_t n = tcp_build(seg, sizeof seg, server_ip, client_ip, &h, (const uint8_t *)"xy", 2);
    CHECK_STR(parse(seg, 19, &s), "TCP segment shorter than its header");
    CHECK_STR(parse(seg, 0, &s), "TCP segment shorter than its header");
    seg[12] = 4 << 4;
    fix(seg, n);
    CHECK_STR(parse(seg, n, &s), "TCP data offset shorter than the header");
    seg[12] = 6 << 4; /* 24 bytes of header in a 22-byte segment */
    fix(seg, n);
    CHECK_STR(parse(seg, n, &s), "TCP data offset past the segment");
    seg[12] = 5 << 4;
    seg[0] = seg[1] = 0;
    fix(seg, n);
    CHECK_STR(parse(seg, n, &s), "TCP port 0");
    seg[1] = 80, seg[2] = seg[3] = 0;
    fix(seg, n);
    CHECK_STR(parse(seg, n, &s), "TCP port 0");
    seg[2] = 7, seg[3] = 208;
    seg[13] = TCP_SYN | TCP_FIN;
    fix(seg, n);
    CHECK_STR(parse(seg, n, &s), "TCP SYN with FIN or RST");
    seg[13] = TCP_SYN | TCP_RST;
    fix(seg, n);
    CHECK_STR(parse(seg, n, &s), "TCP SYN with FIN or RST");
    seg[13] = TCP_FIN | TCP_ACK | 0xc0; /* ECN bits are not flags we act on */
    fix(seg, n);
    CHECK_STR(parse(seg, n, &s), NULL);
    CHECK(s.flags == (TCP_FIN | TCP_ACK));
}

static void test_options(void)
{
    uint8_t seg[100];
    tcp_segment s;
    /* Unknown options skipped by length, NOPs, EOL ends the list (bytes after it ignored). */
    static const uint8_t skipped[] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0,
                                      0, 2, 2, 4, 5, 180, 0, 3, 3, 9};
    CHECK_STR(parse(seg, with_options(seg, skipped, sizeof skipped), &s), NULL);
    CHECK(s.has_mss && s.mss == 1460 && !s.has_wscale && s.header_len == 40);
    static const uint8_t clamp[] = {3, 3, 15, 1};
    CHECK_STR(parse(seg, with_options(seg, clamp, 4), &s), NULL);
    CHECK(s.has_wscale && s.wscale == 14);
    static const uint8_t len0[] = {30, 0, 1, 1};
    CHECK_STR(parse(seg, with_options(seg, len0, 4), &s), "TCP option length past the header");
    static const uint8_t len1[] = {30, 1, 1, 1};
    CHECK_STR(parse(seg, with_options(seg, len1, 4), &s), "TCP option length past the header");
    static const uint8_t past[] = {1, 1, 30, 3};
    CHECK_STR(parse(seg, with_options(seg, past, 4), &s), "TCP option length past the header");
    static const uint8_t cut[] = {1, 1, 1, 2};
    CHECK_STR(parse(seg, with_options(seg, cut, 4), &s), "TCP option length past the header");
    static const uint8_t mss3[] = {2, 3, 5, 1};
    CHECK_STR(parse(seg, with_options(seg, mss3, 4), &s), "TCP MSS option is not 4 bytes long");
    static const uint8_t mss0[] = {2, 4, 0, 0};
    CHECK_STR(parse(seg, with_options(seg, mss0, 4), &s), "TCP MSS option is 0");
    static const uint8_t ws4[] = {3, 4, 7, 0};
    CHECK_STR(parse(seg, with_options(seg, ws4, 4), &s),
              "TCP window scale option is not 3 bytes long");
}

static frame_rx_kind take(frame_rx *rx, const uint8_t *frame, size_t len, frame_rx_result *r)
{
    static uint8_t *copy;
    static uint8_t reply[ETHER_MIN_FRAME];
    free(copy);
    copy = malloc(len);
    memcpy(copy, frame, len);
    r->reply = reply;
    return frame_rx_take(rx, copy, len, 0, r);
}

static void test_frames(void)
{
    static uint8_t storage[2 * IPV4_REASM_MAX_PAYLOAD];
    frame_rx client, server, stranger;
    frame_rx_init(&client, client_mac, client_ip, server_ip, 2000, storage, sizeof storage, 50);
    frame_rx_init(&server, server_mac, server_ip, client_ip, 80, NULL, 0, 50);
    frame_rx_init(&stranger, server_mac, stranger_ip, client_ip, 80, NULL, 0, 50);
    frame_rx_result r;
    uint8_t frame[1600];
    tcp_header_out h = {.src_port = 80, .dst_port = 2000, .seq = 5, .ack = 9,
                        .flags = TCP_ACK | TCP_PSH, .window = 512, .wscale = -1};

    size_t n = frame_build_tcp(frame, sizeof frame, client_mac, &server, 1, &h,
                               (const uint8_t *)"hello", 5);
    CHECK(n == ETHER_MIN_FRAME);
    CHECK(take(&client, frame, n, &r) == FRAME_RX_TCP);
    CHECK(r.src_port == 80 && r.tcp.seq == 5 && r.tcp.ack == 9 && r.tcp.window == 512);
    CHECK(r.payload_len == 5 && memcmp(r.payload, "hello", 5) == 0 && r.tcp.payload == r.payload);

    /* A full-sized segment, and the SYN the client sends (options), read by the server. */
    static uint8_t big[1460];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13);
    n = frame_build_tcp(frame, sizeof frame, client_mac, &server, 2, &h, big, sizeof big);
    CHECK(n == 14 + 20 + 20 + 1460);
    CHECK(take(&client, frame, n, &r) == FRAME_RX_TCP && r.payload_len == 1460);
    CHECK(memcmp(r.payload, big, 1460) == 0);
    CHECK(frame_build_tcp(frame, n - 1, client_mac, &server, 2, &h, big, sizeof big) == 0);
    CHECK(frame_build_tcp(frame, 59, client_mac, &server, 2, &h, NULL, 0) == 0);
    tcp_header_out syn = {.src_port = 2000, .dst_port = 80, .seq = 77, .flags = TCP_SYN,
                          .window = 0xffff, .mss = 1460, .wscale = 3};
    n = frame_build_tcp(frame, sizeof frame, server_mac, &client, 3, &syn, NULL, 0);
    frame_rx_init(&server, server_mac, server_ip, client_ip, 80, NULL, 0, 50);
    CHECK(take(&server, frame, n, &r) == FRAME_RX_TCP);
    CHECK(r.tcp.flags == TCP_SYN && r.tcp.mss == 1460 && r.tcp.wscale == 3 && !r.payload_len);

    /* Forged: another port, another source, a bad checksum, a fragment, lengths that lie. */
    h.dst_port = 2001;
    n = frame_build_tcp(frame, sizeof frame, client_mac, &server, 4, &h, NULL, 0);
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "TCP not to our port");
    h.dst_port = 2000;
    n = frame_build_tcp(frame, sizeof frame, client_mac, &stranger, 4, &h, NULL, 0);
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "TCP not from the server");
    n = frame_build_tcp(frame, sizeof frame, client_mac, &server, 4, &h,
                        (const uint8_t *)"data", 4);
    frame[14 + 20 + 20] ^= 0x20;
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "TCP checksum is wrong");
    frame[14 + 20 + 20] ^= 0x20;
    uint8_t *ip = frame + 14;
    ip[6] = 0x20; /* more fragments */
    ip[10] = ip[11] = 0;
    uint16_t c = inet_csum(ip, 20);
    ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "TCP in IPv4 fragments");
    /* The IP total length cuts the segment short of its data offset. */
    n = frame_build_tcp(frame, sizeof frame, client_mac, &server, 5, &h, NULL, 0);
    ip[3] = 20 + 16;
    ip[10] = ip[11] = 0;
    c = inet_csum(ip, 20);
    ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
    CHECK(take(&client, frame, n, &r) == FRAME_RX_DROPPED);
    CHECK_STR(r.reason, "TCP segment shorter than its header");
    /* Ethernet padding past the IP total length is not part of the segment. */
    n = frame_build_tcp(frame, sizeof frame, client_mac, &server, 6, &h, (const uint8_t *)"a", 1);
    CHECK(n == ETHER_MIN_FRAME);
    CHECK(take(&client, frame, n, &r) == FRAME_RX_TCP && r.payload_len == 1);
}

static void run(void)
{
    test_parse_build();
    test_lies();
    test_options();
    test_frames();
}

void test_tcp(void)
{
    run();
}

/* run_tests.c's main() does not list this file's tests: they run before it, and the counts
 * they add are in its last line. */
