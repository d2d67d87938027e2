/* Reassembly of fragmented IPv4 datagrams (RFC 791, RFC 815), bounded: two datagrams in
 * progress at most, each in a part of one buffer the caller hands in, each keyed by (source,
 * destination, protocol, ID). Any overlap between fragments, exact duplicates included, drops
 * the whole datagram (as RFC 5722 has it for IPv6), and later fragments of it are dropped
 * too until its time runs out. A datagram dies when it is older than the timeout, has more
 * than IPV4_REASM_MAX_FRAGMENTS fragments, or would not fit its part of the buffer. A slot
 * is freed only by completion or the timeout: a fragment invalid on its own (empty, a middle
 * one not a multiple of 8 bytes, past the buffer) never claims one, a new datagram finding
 * every slot taken (in progress or dead) is dropped rather than evicting one, and a dead
 * datagram keeps its slot until its timeout, so its late fragments never start afresh. Time
 * is the caller's tick (any unit, wrapping). Pure: no EFI calls, no allocation. */
#ifndef STUB_IPV4_REASM_H
#define STUB_IPV4_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "ipv4.h"

#define IPV4_REASM_SLOTS 2
#define IPV4_REASM_MAX_PAYLOAD (IPV4_MAX_TOTAL - IPV4_HEADER_LEN)
#define IPV4_REASM_MAX_FRAGMENTS 128 /* 64 KiB in 512-byte pieces; 45 at an MTU of 1500 */
#define IPV4_REASM_UNITS ((IPV4_REASM_MAX_PAYLOAD + 7) / 8)

typedef struct {
    int in_use;
    int dead; /* dropped: its remaining fragments are dropped too until it times out */
    uint8_t src[4], dst[4];
    uint8_t protocol;
    uint16_t id;
    uint32_t started;
    size_t total;  /* the payload's length, known once the last fragment came; else 0 */
    size_t received;
    size_t highest_end; /* the furthest byte any fragment so far reached */
    unsigned fragments;
    uint8_t *data;
    uint8_t have[(IPV4_REASM_UNITS + 7) / 8]; /* one bit per 8-byte unit received */
} ipv4_reasm_slot;

typedef struct {
    ipv4_reasm_slot slots[IPV4_REASM_SLOTS];
    size_t slot_cap;       /* bytes of payload a datagram may have */
    uint32_t timeout;      /* ticks */
    unsigned dropped;      /* datagrams given up once begun, for the caller's statistics */
} ipv4_reasm;

/* storage is split into IPV4_REASM_SLOTS equal parts; each part caps a datagram's payload
 * (up to IPV4_REASM_MAX_PAYLOAD; 2 * 65515 bytes of storage takes any datagram). */
void ipv4_reasm_init(ipv4_reasm *r, uint8_t *storage, size_t storage_len, uint32_t timeout);

typedef enum {
    IPV4_REASM_COMPLETE, /* *payload, *len: the whole datagram (valid until the next call) */
    IPV4_REASM_PENDING,  /* kept, waiting for the rest */
    IPV4_REASM_DROPPED,  /* this fragment, and its datagram, dropped: *reason says why */
} ipv4_reasm_result;

/* Take a parsed packet at time now. An unfragmented packet is complete at once (its own
 * payload). */
ipv4_reasm_result ipv4_reasm_add(ipv4_reasm *r, const ipv4_header *h, uint32_t now,
                                 const uint8_t **payload, size_t *len, const char **reason);

/* Forget datagrams older than the timeout (ipv4_reasm_add does it too). */
void ipv4_reasm_expire(ipv4_reasm *r, uint32_t now);

#endif
