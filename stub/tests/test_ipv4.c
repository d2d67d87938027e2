/* IPv4 headers (ipv4.c) and fragment reassembly (ipv4_reasm.c) under hostile input. */
#include <stdlib.h>

#include "check.h"
#include "inet_csum.h"
#include "ipv4.h"
#include "ipv4_reasm.h"

static const uint8_t client[4] = {10, 0, 2, 15};
static const uint8_t server[4] = {10, 0, 2, 2};

static const char *parse(const uint8_t *bytes, size_t len, ipv4_header *out)
{
    /* An exact-size copy (ASan catches over-reads), kept until the next parse so that the
     * payload it points into can be read. */
    static uint8_t *copy;
    free(copy);
    copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    const char *reason = ipv4_parse(copy, len, out);
    int inside = !reason ? out->payload >= copy && out->payload + out->payload_len <= copy + len : 1;
    CHECK(inside);
    return reason;
}

static void fix_checksum(uint8_t *p)
{
    size_t header_len = (size_t)(p[0] & 15) * 4;
    p[10] = p[11] = 0;
    uint16_t c = inet_csum(p, header_len);
    p[10] = (uint8_t)(c >> 8), p[11] = (uint8_t)c;
}

static void test_ipv4_header(void)
{
    uint8_t p[IPV4_HEADER_LEN + 8 + 30];
    memset(p, 0xab, sizeof p);
    CHECK(ipv4_build(p, IPV4_HEADER_LEN - 1, server, client, IPV4_PROTO_UDP, 7, 8) == 0);
    CHECK(ipv4_build(p, sizeof p, server, client, IPV4_PROTO_UDP, 7, 65516) == 0);
    CHECK(ipv4_build(p, sizeof p, server, client, IPV4_PROTO_UDP, 0x1234, 8) == IPV4_HEADER_LEN);
    CHECK(inet_csum(p, IPV4_HEADER_LEN) == 0);
    ipv4_header h;
    /* 30 bytes of Ethernet padding past the total length are trimmed. */
    CHECK_STR(parse(p, sizeof p, &h), NULL);
    CHECK(h.payload_len == 8 && h.header_len == 20 && h.protocol == IPV4_PROTO_UDP);
    CHECK(h.id == 0x1234 && h.ttl == IPV4_DEFAULT_TTL && h.dont_fragment && !h.more_fragments);
    CHECK(memcmp(h.src, server, 4) == 0 && memcmp(h.dst, client, 4) == 0);
    CHECK(!ipv4_is_fragment(&h));

    uint8_t b[sizeof p];
#define MUTATE(stmt, want)                                                                         \
    do {                                                                                           \
        memcpy(b, p, sizeof p);                                                                    \
        stmt;                                                                                      \
        fix_checksum(b);                                                                           \
        CHECK_STR(parse(b, sizeof b, &h), want);                                                   \
    } while (0)
    MUTATE(b[0] = 0x65, "IP version is not 4");
    MUTATE(b[0] = 0x44, "IPv4 header length below 20");
    memcpy(b, p, sizeof p);
    b[0] = 0x4f, b[3] = 58; /* a 60-byte header in 58 bytes */
    CHECK_STR(parse(b, sizeof b, &h), "IPv4 header longer than the packet");
    MUTATE(b[3] = 19, "IPv4 total length shorter than its header");
    MUTATE((b[2] = 0, b[3] = (uint8_t)(sizeof p + 1)), "IPv4 total length past the received bytes");
    MUTATE((b[2] = 0xff, b[3] = 0xff), "IPv4 total length past the received bytes");
    MUTATE(b[6] |= 0x80, "IPv4 reserved flag set");
    MUTATE(b[8] = 0, "IPv4 TTL is 0");
    MUTATE(b[12] = 224, "IPv4 source is multicast or broadcast");
    MUTATE(memset(b + 12, 0xff, 4), "IPv4 source is multicast or broadcast");
    /* Offset 8189 * 8 + 8 bytes of payload + 20 passes 65535 (the ping of death). */
    MUTATE((b[6] = 0x1f, b[7] = 0xfd), "IPv4 fragment reaches past 65535 bytes");
    MUTATE((b[6] = 0x1f, b[7] = 0xfc), NULL);
    CHECK(h.fragment_offset == 0x1ffc * 8 && ipv4_is_fragment(&h));
    MUTATE(b[6] = 0x20, NULL);
    CHECK(h.more_fragments && ipv4_is_fragment(&h));
    /* Options are skipped: IHL 6 with the total length following. */
    MUTATE((b[0] = 0x46, b[3] = 28), NULL);
    CHECK(h.header_len == 24 && h.payload_len == 4 && h.payload[0] == 0xab);

    memcpy(b, p, sizeof p);
    b[15] ^= 1; /* the checksum no longer matches */
    CHECK_STR(parse(b, sizeof b, &h), "IPv4 header checksum is wrong");
    CHECK_STR(parse(p, IPV4_HEADER_LEN - 1, &h), "IPv4 packet shorter than its header");
    CHECK_STR(parse(p, IPV4_HEADER_LEN + 7, &h), "IPv4 total length past the received bytes");
    CHECK(ipv4_parse(NULL, 100, &h) != NULL);
}

/* One fragment as ipv4_parse would give it, over `payload`. */
static ipv4_header fragment(const uint8_t *payload, uint16_t id, size_t offset, size_t len,
                            int more)
{
    ipv4_header h = {.protocol = IPV4_PROTO_UDP, .ttl = 64, .id = id, .header_len = 20};
    memcpy(h.src, server, 4);
    memcpy(h.dst, client, 4);
    h.more_fragments = more;
    h.fragment_offset = (uint32_t)offset;
    h.payload = payload + offset;
    h.payload_len = len;
    return h;
}

static ipv4_reasm_result add(ipv4_reasm *r, const uint8_t *data, uint16_t id, size_t offset,
                             size_t len, int more, uint32_t now, const uint8_t **out,
                             size_t *out_len, const char **reason)
{
    ipv4_header h = fragment(data, id, offset, len, more);
    return ipv4_reasm_add(r, &h, now, out, out_len, reason);
}

/* Feed `count` 1480-byte fragments of data[0..total) in the given order. */
static int reassemble(ipv4_reasm *r, const uint8_t *data, size_t total, const size_t *order,
                      size_t count, uint16_t id)
{
    const uint8_t *out = NULL;
    size_t out_len = 0;
    const char *reason;
    for (size_t i = 0; i < count; i++) {
        size_t offset = order[i] * 1480, len = total - offset < 1480 ? total - offset : 1480;
        ipv4_reasm_result res = add(r, data, id, offset, len, offset + len < total, 0, &out,
                                    &out_len, &reason);
        if (res == IPV4_REASM_DROPPED)
            return 0;
        if ((res == IPV4_REASM_COMPLETE) != (i == count - 1))
            return 0;
    }
    return out_len == total && memcmp(out, data, total) == 0;
}

static void test_ipv4_reasm(void)
{
    size_t storage_len = 2 * IPV4_REASM_MAX_PAYLOAD;
    uint8_t *storage = malloc(storage_len);
    uint8_t *data = malloc(IPV4_REASM_MAX_PAYLOAD);
    CHECK(storage && data);
    if (!storage || !data)
        return;
    for (size_t i = 0; i < IPV4_REASM_MAX_PAYLOAD; i++)
        data[i] = (uint8_t)(i * 131 + i / 256);
    ipv4_reasm r;
    ipv4_reasm_init(&r, storage, storage_len, 100);
    const uint8_t *out;
    size_t out_len;
    const char *reason;

    /* Unfragmented: its own payload at once. */
    CHECK(add(&r, data, 1, 0, 100, 0, 0, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(out == data && out_len == 100);

    /* In order, backwards, shuffled: the same bytes. */
    static const size_t forward[] = {0, 1, 2, 3}, backward[] = {3, 2, 1, 0}, shuffled[] = {2, 0, 3, 1};
    CHECK(reassemble(&r, data, 5000, forward, 4, 2));
    CHECK(reassemble(&r, data, 5000, backward, 4, 3));
    CHECK(reassemble(&r, data, 5000, shuffled, 4, 4));
    /* The largest datagram there is: 65515 bytes in 45 fragments. */
    size_t all[45];
    for (size_t i = 0; i < 45; i++)
        all[i] = 44 - i;
    CHECK(reassemble(&r, data, IPV4_REASM_MAX_PAYLOAD, all, 45, 5));

    /* Overlap drops the whole datagram, and its later fragments too (RFC 5722). */
    CHECK(add(&r, data, 10, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 10, 1472, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "overlapping IPv4 fragments");
    CHECK(add(&r, data, 10, 1480, 100, 0, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "fragment of a datagram already dropped");
    /* An exact duplicate is an overlap too. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 11, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 11, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    /* A later fragment overlapping the tail of an earlier last one. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 12, 1480, 20, 0, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 12, 1496, 8, 1, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "fragment past the datagram's end");
    /* ... and a last fragment cutting short what already came. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 13, 2960, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 13, 1480, 100, 0, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "fragment past the datagram's end");
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 14, 1480, 100, 0, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 14, 2960, 100, 0, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "two last fragments disagree on the length");
    /* A middle fragment must be a multiple of 8 bytes, and not empty. */
    CHECK(add(&r, data, 15, 0, 1481, 1, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "IPv4 fragment not a multiple of 8 bytes");
    CHECK(add(&r, data, 16, 8, 0, 0, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "empty IPv4 fragment");

    /* Endless fragments: the 129th of 8 bytes each drops the datagram. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    ipv4_reasm_result res = IPV4_REASM_PENDING;
    size_t n = 0;
    while (res == IPV4_REASM_PENDING && n < 1000) {
        res = add(&r, data, 20, n * 8, 8, 1, 0, &out, &out_len, &reason);
        n++;
    }
    CHECK(res == IPV4_REASM_DROPPED && n == IPV4_REASM_MAX_FRAGMENTS + 1);
    CHECK_STR(reason, "too many fragments in one datagram");

    /* Time: a datagram older than the timeout is forgotten; its rest starts afresh. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 30, 0, 1480, 1, 4294967290u, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 30, 1480, 20, 0, 94, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(r.dropped == 1);
    /* Just inside the timeout (the tick wrapped), it completes. */
    CHECK(add(&r, data, 31, 0, 1480, 1, 4294967290u, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 31, 1480, 20, 0, 93, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(out_len == 1500 && memcmp(out, data, 1500) == 0);

    /* Two datagrams interleaved; a third, finding both slots busy, is dropped (no datagram in
     * progress gives way to a newcomer) until one completes. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 40, 0, 1480, 1, 1, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 41, 0, 1480, 1, 2, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 41, 1480, 8, 0, 3, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(add(&r, data, 41, 0, 1480, 1, 4, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    for (uint16_t id = 42; id < 52; id++) {
        CHECK(add(&r, data, id, 0, 1480, 1, 5, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
        CHECK_STR(reason, "every reassembly slot is busy");
    }
    CHECK(r.dropped == 0);
    CHECK(add(&r, data, 40, 1480, 8, 0, 6, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(out_len == 1488 && memcmp(out, data, 1488) == 0);
    CHECK(add(&r, data, 42, 0, 1480, 1, 7, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 42, 1480, 8, 0, 7, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(add(&r, data, 41, 1480, 8, 0, 8, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);

    /* A fragment invalid on its own claims no slot, so it evicts nothing: with both slots
     * busy, and with one free. */
    ipv4_reasm_init(&r, storage, 2 * 3000, 100);
    CHECK(add(&r, data, 70, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 71, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 72, 8, 0, 0, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "empty IPv4 fragment");
    CHECK(add(&r, data, 73, 0, 1481, 1, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "IPv4 fragment not a multiple of 8 bytes");
    CHECK(add(&r, data, 74, 2960, 48, 0, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "reassembled datagram would pass the buffer");
    CHECK(r.dropped == 0);
    CHECK(add(&r, data, 70, 1480, 8, 0, 1, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(add(&r, data, 75, 8, 0, 0, 1, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK(add(&r, data, 76, 0, 1480, 1, 1, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 71, 1480, 8, 0, 2, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(add(&r, data, 76, 1480, 8, 0, 2, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(r.dropped == 0);

    /* A dead datagram keeps its slot until its timeout: a newcomer does not take it, and its
     * late fragments stay dropped instead of starting afresh. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 80, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 80, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK(add(&r, data, 81, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 82, 0, 1480, 1, 10, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "every reassembly slot is busy");
    CHECK(add(&r, data, 80, 1480, 8, 0, 20, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "fragment of a datagram already dropped");
    CHECK(add(&r, data, 80, 0, 1480, 1, 99, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "fragment of a datagram already dropped");
    CHECK(r.dropped == 1);
    /* Its timeout frees it (81 times out too). */
    CHECK(add(&r, data, 82, 0, 1480, 1, 100, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    CHECK(add(&r, data, 82, 1480, 8, 0, 100, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    CHECK(r.dropped == 2);
    /* The key includes the protocol and the source. */
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 50, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    ipv4_header other = fragment(data, 50, 1480, 8, 0);
    other.protocol = IPV4_PROTO_ICMP;
    CHECK(ipv4_reasm_add(&r, &other, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    ipv4_reasm_init(&r, storage, storage_len, 100);
    CHECK(add(&r, data, 50, 0, 1480, 1, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    other.protocol = IPV4_PROTO_UDP;
    other.src[3] = 99;
    CHECK(ipv4_reasm_add(&r, &other, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);

    /* A small buffer caps the datagram; none refuses every fragment. */
    ipv4_reasm_init(&r, storage, 2 * 3000, 100);
    CHECK(add(&r, data, 60, 2960, 48, 0, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK_STR(reason, "reassembled datagram would pass the buffer");
    CHECK(add(&r, data, 61, 1480, 1520, 0, 0, &out, &out_len, &reason) == IPV4_REASM_PENDING);
    ipv4_reasm_init(&r, NULL, 0, 100);
    CHECK(add(&r, data, 62, 0, 8, 1, 0, &out, &out_len, &reason) == IPV4_REASM_DROPPED);
    CHECK(add(&r, data, 63, 0, 8, 0, 0, &out, &out_len, &reason) == IPV4_REASM_COMPLETE);
    free(storage);
    free(data);
}

void test_ipv4_net(void)
{
    test_ipv4_header();
    test_ipv4_reasm();
}
