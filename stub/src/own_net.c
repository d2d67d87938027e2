#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "own_net.h"

#define ARP_RETRY_MS 250
#define ARP_TRIES 8
/* Fragments of one datagram follow each other within a millisecond on a LAN; a datagram that
 * lost one holds its slot this long, so keep it short. */
#define REASM_TIMEOUT_MS 100
#define EPHEMERAL_BASE 49152

/* The firmware's random number generator when it has one (RDRAND or virtio-rng behind
 * EFI_RNG_PROTOCOL), taken once; the cycle counter alone otherwise. */
static UINT64 firmware_seed(void)
{
    static EFI_GUID rng_guid = EFI_RNG_PROTOCOL_GUID;
    EFI_RNG_PROTOCOL *rng = NULL;
    UINT64 seed = 0;
    if (!EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &rng_guid, NULL, (void **)&rng)) && rng)
        uefi_call_wrapper(rng->GetRNG, 4, rng, NULL, sizeof seed, (UINT8 *)&seed);
    return seed;
}

uint32_t own_net_random(void)
{
    static UINT64 state;
    static int seeded;
    if (!seeded) {
        state = firmware_seed();
        seeded = 1;
    }
    state += clock_ticks() + 0x9e3779b97f4a7c15ull;  /* splitmix64 over the counter */
    UINT64 z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)(z ^ (z >> 31));
}

static int same_subnet(const own_ipv4 *addr, const uint8_t ip[4])
{
    for (int i = 0; i < 4; i++)
        if ((addr->ip[i] & addr->mask[i]) != (ip[i] & addr->mask[i]))
            return 0;
    return 1;
}

static int is_zero(const uint8_t ip[4])
{
    return !(ip[0] | ip[1] | ip[2] | ip[3]);
}

void own_net_close(own_net *n)
{
    if (n->frame)
        FreePool(n->frame);
    if (n->tx)
        FreePool(n->tx);
    if (n->storage)
        FreePool(n->storage);
    n->frame = n->tx = n->storage = NULL;
}

EFI_STATUS own_net_poll(own_net *n, frame_rx_kind *kind, frame_rx_result *r)
{
    size_t got;
    UINT64 before = clock_ticks();
    EFI_STATUS status = snp_receive(n->link, n->frame, SNP_FRAME_MAX, &got);
    n->nic_ticks += clock_ticks() - before;
    if (EFI_ERROR(status))
        return status == EFI_BUFFER_TOO_SMALL ? EFI_NOT_READY : status;  /* dropped by the driver */
    *r = (frame_rx_result){.reply = n->tx};
    *kind = frame_rx_take(&n->rx, n->frame, got, (uint32_t)clock_ms(), r);
    if (*kind == FRAME_RX_ARP_REPLY)
        snp_send(n->link, r->reply, r->reply_len);
    if (*kind == FRAME_RX_UDP || *kind == FRAME_RX_TCP)
        n->answered = 1;
    return EFI_SUCCESS;
}

/* The next hop's MAC by our own ARP: the only neighbour the stub talks to. */
static const char *resolve(own_net *n, const uint8_t hop[4], const fetch_deadline *deadline)
{
    for (int attempt = 0; attempt < ARP_TRIES && !net_deadline_passed(deadline); attempt++) {
        size_t len = frame_rx_resolve(&n->rx, hop, n->tx, SNP_FRAME_MAX);
        if (!len || EFI_ERROR(snp_send(n->link, n->tx, len)))
            return "the NIC driver would not send";
        UINT64 until = clock_ms() + ARP_RETRY_MS;
        while (clock_ms() < until) {
            frame_rx_kind kind;
            frame_rx_result r;
            EFI_STATUS status = own_net_poll(n, &kind, &r);
            if (status == EFI_NOT_READY)
                continue;
            if (EFI_ERROR(status))
                return "the NIC driver would not receive";
            if (arp_cache_lookup(&n->rx.arp, hop, n->hop_mac))
                return NULL;
        }
    }
    return "no ARP reply from the next hop";
}

const char *own_net_open(own_net *n, snp_link *link, const own_ipv4 *addr, const uint8_t server[4],
                         size_t datagram_max, const fetch_deadline *deadline)
{
    *n = (own_net){.link = link};
    if (is_zero(addr->ip))
        return "no IPv4 address from the boot";
    const uint8_t *hop = server;
    if (!same_subnet(addr, server)) {
        if (is_zero(addr->router))
            return "the server is on another subnet and the boot names no router";
        hop = addr->router;
    }
    size_t storage_len = IPV4_REASM_SLOTS * (datagram_max > 576 ? datagram_max : 576);
    n->frame = AllocatePool(SNP_FRAME_MAX);
    n->tx = AllocateZeroPool(SNP_FRAME_MAX);
    n->storage = AllocatePool(storage_len);
    if (!n->frame || !n->tx || !n->storage) {
        own_net_close(n);
        return "out of memory";
    }
    uint32_t seed = own_net_random();
    uint16_t port = (uint16_t)(EPHEMERAL_BASE + seed % (65536 - EPHEMERAL_BASE));
    n->ip_id = (uint16_t)(seed >> 16);
    frame_rx_init(&n->rx, link->mac, addr->ip, server, port, n->storage, storage_len, REASM_TIMEOUT_MS);
    const char *why = resolve(n, hop, deadline);
    if (why)
        own_net_close(n);
    return why;
}

static void timed_send(own_net *n, size_t len)
{
    UINT64 before = clock_ticks();
    snp_send(n->link, n->tx, len);
    n->nic_ticks += clock_ticks() - before;
}

void own_net_send_udp(own_net *n, uint16_t port, size_t payload_len)
{
    size_t len = frame_build_udp(n->tx, SNP_FRAME_MAX, n->hop_mac, &n->rx, n->ip_id++, port, payload_len);
    if (len)
        timed_send(n, len);
}

void own_net_send_tcp(own_net *n, const tcp_header_out *h, const uint8_t *payload, size_t payload_len)
{
    size_t len = frame_build_tcp(n->tx, SNP_FRAME_MAX, n->hop_mac, &n->rx, n->ip_id++, h, payload, payload_len);
    if (len)
        timed_send(n, len);
}

void own_hash_init(own_hash *h)
{
    *h = (own_hash){0};
    sha256_init(&h->sha);
}

void own_hash_step(own_hash *h, const uint8_t *data, UINTN filled, UINTN budget)
{
    if (!data || filled <= h->hashed)
        return;
    UINTN n = filled - h->hashed;
    if (budget && n > budget)
        n = budget;
    UINT64 before = clock_ticks();
    sha256_update(&h->sha, data + h->hashed, n);
    h->ticks += clock_ticks() - before;
    h->hashed += n;
}
