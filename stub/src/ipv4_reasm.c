#include "ipv4_reasm.h"

#include "bytes.h"

static int same4(const uint8_t *a, const uint8_t *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

void ipv4_reasm_init(ipv4_reasm *r, uint8_t *storage, size_t storage_len, uint32_t timeout)
{
    *r = (ipv4_reasm){0};
    size_t part = storage ? storage_len / IPV4_REASM_SLOTS : 0;
    r->slot_cap = part < IPV4_REASM_MAX_PAYLOAD ? part : IPV4_REASM_MAX_PAYLOAD;
    r->timeout = timeout;
    for (int i = 0; i < IPV4_REASM_SLOTS; i++)
        r->slots[i].data = storage ? storage + (size_t)i * part : NULL;
}

static void release(ipv4_reasm_slot *s)
{
    s->in_use = 0;
    s->dead = 0;
}

void ipv4_reasm_expire(ipv4_reasm *r, uint32_t now)
{
    for (int i = 0; i < IPV4_REASM_SLOTS; i++) {
        ipv4_reasm_slot *s = &r->slots[i];
        if (s->in_use && now - s->started >= r->timeout) {
            if (!s->dead)
                r->dropped++;
            release(s);
        }
    }
}

static ipv4_reasm_slot *find(ipv4_reasm *r, const ipv4_header *h)
{
    for (int i = 0; i < IPV4_REASM_SLOTS; i++) {
        ipv4_reasm_slot *s = &r->slots[i];
        if (s->in_use && s->id == h->id && s->protocol == h->protocol && same4(s->src, h->src) &&
            same4(s->dst, h->dst))
            return s;
    }
    return NULL;
}

/* A free slot, or NULL. A datagram in progress is never given up for a newcomer, and a dead
 * one keeps its slot until it times out (so its late fragments cannot start afresh): only
 * completion or the timeout frees a slot. */
static ipv4_reasm_slot *claim(ipv4_reasm *r, const ipv4_header *h, uint32_t now)
{
    ipv4_reasm_slot *pick = NULL;
    for (int i = 0; i < IPV4_REASM_SLOTS && !pick; i++)
        if (!r->slots[i].in_use)
            pick = &r->slots[i];
    if (!pick)
        return NULL;
    pick->in_use = 1;
    pick->dead = 0;
    for (int i = 0; i < 4; i++) {
        pick->src[i] = h->src[i];
        pick->dst[i] = h->dst[i];
    }
    pick->protocol = h->protocol;
    pick->id = h->id;
    pick->started = now;
    pick->total = 0;
    pick->received = 0;
    pick->highest_end = 0;
    pick->fragments = 0;
    for (size_t i = 0; i < sizeof pick->have; i++)
        pick->have[i] = 0;
    return pick;
}

static ipv4_reasm_result drop(ipv4_reasm *r, ipv4_reasm_slot *s, const char *why,
                              const char **reason)
{
    if (s && !s->dead) {
        s->dead = 1;
        r->dropped++;
    }
    *reason = why;
    return IPV4_REASM_DROPPED;
}

static int unit_set(const ipv4_reasm_slot *s, size_t unit)
{
    return s->have[unit / 8] >> (unit % 8) & 1;
}

ipv4_reasm_result ipv4_reasm_add(ipv4_reasm *r, const ipv4_header *h, uint32_t now,
                                 const uint8_t **payload, size_t *len, const char **reason)
{
    *payload = NULL;
    *len = 0;
    *reason = NULL;
    ipv4_reasm_expire(r, now);
    if (!ipv4_is_fragment(h)) {
        *payload = h->payload;
        *len = h->payload_len;
        return IPV4_REASM_COMPLETE;
    }
    /* What is wrong with the fragment on its own is known before any slot is touched: it
     * kills its datagram if one is in progress, and claims nothing otherwise. */
    size_t start = h->fragment_offset, end = start + h->payload_len;
    const char *bad = NULL;
    if (!r->slot_cap)
        bad = "no reassembly buffer";
    else if (h->payload_len == 0)
        bad = "empty IPv4 fragment";
    else if (h->more_fragments && h->payload_len % 8)
        bad = "IPv4 fragment not a multiple of 8 bytes";
    else if (end > r->slot_cap)
        bad = "reassembled datagram would pass the buffer";
    ipv4_reasm_slot *s = find(r, h);
    if (s && s->dead)
        return drop(r, s, "fragment of a datagram already dropped", reason);
    if (bad)
        return drop(r, s, bad, reason);
    if (!s)
        s = claim(r, h, now);
    if (!s) {
        *reason = "every reassembly slot is busy";
        return IPV4_REASM_DROPPED;
    }
    if (++s->fragments > IPV4_REASM_MAX_FRAGMENTS)
        return drop(r, s, "too many fragments in one datagram", reason);
    if (!h->more_fragments) {
        if (s->total && s->total != end)
            return drop(r, s, "two last fragments disagree on the length", reason);
        s->total = end;
    } else if (s->total && end > s->total) {
        return drop(r, s, "fragment past the datagram's end", reason);
    }
    if (s->total && s->highest_end > s->total)
        return drop(r, s, "fragment past the datagram's end", reason);
    size_t first = start / 8, past = (end + 7) / 8;
    for (size_t u = first; u < past; u++)
        if (unit_set(s, u))
            return drop(r, s, "overlapping IPv4 fragments", reason);
    for (size_t u = first; u < past; u++)
        s->have[u / 8] |= (uint8_t)(1u << (u % 8));
    bytes_copy(s->data + start, h->payload, h->payload_len);
    s->received += h->payload_len;
    if (end > s->highest_end)
        s->highest_end = end;
    if (!s->total || s->received != s->total)
        return IPV4_REASM_PENDING;
    *payload = s->data;
    *len = s->total;
    release(s);
    return IPV4_REASM_COMPLETE;
}
