/* UDP over IPv4 (udp.c): lengths checked against the IP payload, the pseudo-header checksum. */
#include <stdlib.h>

#include "check.h"
#include "udp.h"

static const uint8_t client[4] = {10, 0, 2, 15};
static const uint8_t server[4] = {10, 0, 2, 2};

static const char *parse_required(const uint8_t *bytes, size_t len, const uint8_t *src,
                                  const uint8_t *dst, int checksum_required, udp_datagram *out)
{
    /* An exact-size copy (ASan catches over-reads), kept until the next parse so that the
     * payload it points into can be read. */
    static uint8_t *copy;
    free(copy);
    copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    const char *reason = udp_parse(copy, len, src, dst, checksum_required, out);
    int inside = !reason ? out->payload == copy + UDP_HEADER_LEN &&
                               out->payload_len <= len - UDP_HEADER_LEN
                         : 1;
    CHECK(inside);
    return reason;
}

static const char *parse(const uint8_t *bytes, size_t len, const uint8_t *src, const uint8_t *dst,
                         udp_datagram *out)
{
    return parse_required(bytes, len, src, dst, 0, out);
}

void test_udp(void)
{
    uint8_t d[UDP_HEADER_LEN + 11 + 5];
    memcpy(d + UDP_HEADER_LEN, "hello world", 11);
    memset(d + UDP_HEADER_LEN + 11, 0, 5); /* padding past the UDP length */
    CHECK(udp_build(d, server, client, 69, 2000, 11) == UDP_HEADER_LEN);
    CHECK(d[4] == 0 && d[5] == 19 && (d[6] | d[7]) != 0);
    udp_datagram u;
    CHECK_STR(parse(d, 19, server, client, &u), NULL);
    CHECK(u.src_port == 69 && u.dst_port == 2000 && u.checksummed && u.payload_len == 11);
    CHECK(memcmp(u.payload, "hello world", 11) == 0);
    /* Bytes past the UDP length are ignored. */
    CHECK_STR(parse(d, sizeof d, server, client, &u), NULL);
    CHECK(u.payload_len == 11);
    /* The pseudo-header binds the addresses: another destination fails the checksum. */
    CHECK_STR(parse(d, 19, server, server, &u), "UDP checksum is wrong");
    /* Lengths that lie. */
    CHECK_STR(parse(d, 18, server, client, &u), "UDP length past the IP payload");
    CHECK_STR(parse(d, 7, server, client, &u), "UDP datagram shorter than its header");
    uint8_t bad[sizeof d];
    memcpy(bad, d, sizeof d);
    bad[5] = 7;
    CHECK_STR(parse(bad, 19, server, client, &u), "UDP length shorter than its header");
    memcpy(bad, d, sizeof d);
    bad[UDP_HEADER_LEN] ^= 1;
    CHECK_STR(parse(bad, 19, server, client, &u), "UDP checksum is wrong");
    /* Checksum 0: none was computed, allowed over IPv4. */
    bad[6] = bad[7] = 0;
    CHECK_STR(parse(bad, 19, server, client, &u), NULL);
    CHECK(!u.checksummed && u.payload[0] == ('h' ^ 1));
    /* ... but not where the checksum is required (a datagram put together from fragments),
     * where a present one must still verify. */
    CHECK_STR(parse_required(bad, 19, server, client, 1, &u), "UDP datagram without a checksum");
    CHECK_STR(parse_required(d, 19, server, client, 1, &u), NULL);
    CHECK(u.checksummed && u.payload_len == 11);
    memcpy(bad, d, sizeof d);
    bad[UDP_HEADER_LEN] ^= 1;
    CHECK_STR(parse_required(bad, 19, server, client, 1, &u), "UDP checksum is wrong");
    memcpy(bad, d, sizeof d);
    bad[0] = bad[1] = 0;
    bad[6] = bad[7] = 0;
    CHECK_STR(parse(bad, 19, server, client, &u), "UDP port 0");

    /* A datagram whose sum comes to 0 carries 0xffff, and verifies. */
    uint8_t z[UDP_HEADER_LEN + 2] = {0};
    udp_build(z, server, client, 69, 2000, 2);
    z[8] = z[6], z[9] = z[7]; /* payload word = the checksum: the new sum is all ones */
    udp_build(z, server, client, 69, 2000, 2);
    CHECK(z[6] == 0xff && z[7] == 0xff);
    CHECK_STR(parse(z, sizeof z, server, client, &u), NULL);

    CHECK(udp_build(d, server, client, 1, 2, 65535) == 0);
}
