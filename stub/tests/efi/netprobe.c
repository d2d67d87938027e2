/* What one received packet costs at each network layer OVMF offers an application: SNP
 * (Receive, polled at TPL_CALLBACK), an MNP child and a UDP4 child (Receive tokens, polled at
 * TPL_APPLICATION, then again at TPL_CALLBACK). PXE-booted in the lab; a sender beside the
 * TFTP server (bench/udp_blaster.py) answers each request with a burst of datagrams, and one
 * line per layer says what came through and how long it took:
 *   netprobe: layer=snp packets=N bytes=B ms=T us_per_packet=X lost=L in_burst_us=Y ...
 * SHA-256 of the same payloads (the stub hashes while it receives) is timed first and after
 * each layer; then `netprobe: done`, and the machine resets. Not part of the stub. */
#include <efi.h>
#include <efilib.h>
#include <efipxebc.h>

#include "../../src/service.h"
#include "../../src/sha256.h"

#define SENDER_PORT 9999
#define BURST 64           /* datagrams per request; the sender's bitmap of them fits 64 bits */
#define PAYLOAD 1472       /* one 1500-byte frame: 20 bytes of IPv4, 8 of UDP */
#define TARGET_PACKETS 20000
#define LAYER_US 4000000ULL
#define FIRST_US 300000ULL /* nothing after a request for this long: ask again */
#define GAP_US 30000ULL    /* a burst is over when nothing came for this long */
#define TRIES 4
#define FRAME_MAX 1536
#define ETHER_HEADER 14
#define IP_HEADER 20
#define UDP_HEADER 8
#define DATA_MAGIC 0x4e504231u /* "NPB1" */

static EFI_GUID pxe_guid = EFI_PXE_BASE_CODE_PROTOCOL_GUID;
static EFI_GUID snp_guid = EFI_SIMPLE_NETWORK_PROTOCOL_GUID;
static EFI_GUID mnp_binding_guid = {0xf36ff770, 0xa7e1, 0x42cf, {0x9e, 0xd2, 0x56, 0xf0, 0xf2, 0x71, 0xf4, 0x4c}};
static EFI_GUID mnp_guid = {0x7ab33a91, 0xace5, 0x4326, {0xb5, 0x72, 0xe7, 0xee, 0x33, 0xd3, 0x9f, 0x16}};
static EFI_GUID udp4_binding_guid = EFI_UDP4_SERVICE_BINDING_PROTOCOL;
static EFI_GUID udp4_guid = EFI_UDP4_PROTOCOL;

/* EFI_MANAGED_NETWORK_PROTOCOL (UEFI 2.10, 11.1; EDK2 MdePkg/Include/Protocol/ManagedNetwork.h):
 * gnu-efi has only its configuration data. */
typedef struct {
    EFI_TIME Timestamp;
    EFI_EVENT RecycleEvent;
    UINT32 PacketLength, HeaderLength, AddressLength, DataLength;
    BOOLEAN BroadcastFlag, MulticastFlag, PromiscuousFlag;
    UINT16 ProtocolType;
    VOID *DestinationAddress, *SourceAddress, *MediaHeader, *PacketData;
} mnp_receive_data;

typedef struct {
    UINT32 FragmentLength;
    VOID *FragmentBuffer;
} mnp_fragment;

typedef struct {
    EFI_MAC_ADDRESS *DestinationAddress, *SourceAddress;
    UINT16 ProtocolType;
    UINT32 DataLength;
    UINT16 HeaderLength, FragmentCount;
    mnp_fragment FragmentTable[1];
} mnp_transmit_data;

typedef struct {
    EFI_EVENT Event;
    EFI_STATUS Status;
    union {
        mnp_receive_data *RxData;
        mnp_transmit_data *TxData;
    } Packet;
} mnp_token;

typedef struct mnp_protocol mnp_protocol;
struct mnp_protocol {
    EFI_STATUS (EFIAPI *GetModeData)(mnp_protocol *, EFI_MANAGED_NETWORK_CONFIG_DATA *, EFI_SIMPLE_NETWORK_MODE *);
    EFI_STATUS (EFIAPI *Configure)(mnp_protocol *, EFI_MANAGED_NETWORK_CONFIG_DATA *);
    EFI_STATUS (EFIAPI *McastIpToMac)(mnp_protocol *, BOOLEAN, EFI_IP_ADDRESS *, EFI_MAC_ADDRESS *);
    EFI_STATUS (EFIAPI *Groups)(mnp_protocol *, BOOLEAN, EFI_MAC_ADDRESS *);
    EFI_STATUS (EFIAPI *Transmit)(mnp_protocol *, mnp_token *);
    EFI_STATUS (EFIAPI *Receive)(mnp_protocol *, mnp_token *);
    EFI_STATUS (EFIAPI *Cancel)(mnp_protocol *, mnp_token *);
    EFI_STATUS (EFIAPI *Poll)(mnp_protocol *);
};

/* ---- time: the TSC, calibrated against Stall() once ---- */

static UINT64 ticks_per_us = 1;

static UINT64 read_tsc(void)
{
    UINT32 low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (UINT64)high << 32 | low;
}

static void calibrate(void)
{
    UINT64 start = read_tsc();
    uefi_call_wrapper(BS->Stall, 1, 20000);
    ticks_per_us = (read_tsc() - start) / 20000;
    if (!ticks_per_us)
        ticks_per_us = 1;
}

static UINT64 now_us(void)
{
    return read_tsc() / ticks_per_us;
}

/* ---- where we are: addresses from PXE Base Code ---- */

typedef struct {
    UINT8 our_ip[4], server_ip[4], mask[4];
    UINT8 our_mac[6], server_mac[6];
} addresses;

static UINT16 get16(const UINT8 *p)
{
    return (UINT16)(p[0] << 8 | p[1]);
}

static UINT32 get32(const UINT8 *p)
{
    return (UINT32)p[0] << 24 | (UINT32)p[1] << 16 | (UINT32)p[2] << 8 | p[3];
}

static void put16(UINT8 *p, UINT16 v)
{
    p[0] = (UINT8)(v >> 8);
    p[1] = (UINT8)v;
}

/* ---- one burst at a time: which datagrams of the current burst came, and when ---- */

typedef struct {
    UINT32 burst;
    UINT64 seen;            /* bitmap of the burst's indices received */
    UINT32 got;
    UINT64 first_us, last_us;
    UINT64 packets, bytes, lost, busy_us, in_burst_us, in_burst_packets, bad, foreign, polls;
    UINT32 bursts, retries;
} tally;

static void on_datagram(tally *t, const UINT8 *data, UINTN len)
{
    if (len < 12 || get32(data) != DATA_MAGIC || get32(data + 4) != t->burst) {
        t->foreign++;
        return;
    }
    UINT32 index = get32(data + 8);
    if (index >= BURST || (t->seen >> index & 1))
        return;
    UINT64 at = now_us();
    t->seen |= 1ULL << index;
    if (!t->got)
        t->first_us = at;
    t->last_us = at;
    t->got++;
    t->bytes += len;
}

/* The internet checksum, folded; `sum` carries a pseudo-header in. */
static UINT32 csum_add(UINT32 sum, const UINT8 *p, UINTN len)
{
    for (; len > 1; p += 2, len -= 2)
        sum += get16(p);
    if (len)
        sum += (UINT32)p[0] << 8;
    return sum;
}

static UINT16 csum_fold(UINT32 sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (UINT16)~sum;
}

/* An IPv4 + UDP datagram (no Ethernet header) from us to the sender at `out`; its length. */
static UINTN build_ip_udp(const addresses *a, UINT16 port, const UINT8 *data, UINTN len, UINT8 *out)
{
    static UINT16 ident = 1;
    UINT8 *ip = out, *udp = out + IP_HEADER;
    SetMem(ip, IP_HEADER + UDP_HEADER, 0);
    ip[0] = 0x45;
    put16(ip + 2, (UINT16)(IP_HEADER + UDP_HEADER + len));
    put16(ip + 4, ident++);
    put16(ip + 6, 0x4000);  /* don't fragment */
    ip[8] = 64;
    ip[9] = 17;
    CopyMem(ip + 12, (void *)a->our_ip, 4);
    CopyMem(ip + 16, (void *)a->server_ip, 4);
    put16(ip + 10, csum_fold(csum_add(0, ip, IP_HEADER)));
    put16(udp, port);
    put16(udp + 2, SENDER_PORT);
    put16(udp + 4, (UINT16)(UDP_HEADER + len));
    CopyMem(udp + UDP_HEADER, (void *)data, len);  /* UDP checksum 0: none (IPv4 allows it) */
    return IP_HEADER + UDP_HEADER + len;
}

/* An IPv4 packet (no Ethernet header) for us on `port`: the UDP payload, after the checks an
 * own stack makes (header checksum, no fragments, UDP checksum when there is one). */
static void on_ip(tally *t, const addresses *a, UINT16 port, const UINT8 *ip, UINTN len)
{
    if (len < IP_HEADER + UDP_HEADER || ip[0] != 0x45 || ip[9] != 17)
        return;
    UINTN total = get16(ip + 2);
    if (total > len || total < IP_HEADER + UDP_HEADER || (get16(ip + 6) & 0x3fff) ||
        CompareMem((void *)(ip + 16), (void *)a->our_ip, 4) != 0)
        return;
    const UINT8 *udp = ip + IP_HEADER;
    UINTN udp_len = get16(udp + 4);
    if (get16(udp + 2) != port || udp_len < UDP_HEADER || udp_len > total - IP_HEADER)
        return;
    if (csum_fold(csum_add(0, ip, IP_HEADER)) != 0) {
        t->bad++;
        return;
    }
    if (get16(udp + 6)) {
        UINT32 sum = csum_add(0, ip + 12, 8) + 17 + (UINT32)udp_len;
        if (csum_fold(csum_add(sum, udp, udp_len)) != 0) {
            t->bad++;
            return;
        }
    }
    on_datagram(t, udp + UDP_HEADER, udp_len - UDP_HEADER);
}

/* ---- the layers: send a request, poll once ---- */

typedef struct {
    const char *name;
    UINT16 port;
    EFI_STATUS (*send)(void *ctx, const UINT8 *data, UINTN len);
    void (*poll)(void *ctx, tally *t);
    void *ctx;
} layer;

static void EFIAPI set_flag(EFI_EVENT event, void *flag)
{
    (void)event;
    *(volatile int *)flag = 1;
}

/* A token completed: its event's notify function ran, or (polling above TPL_APPLICATION,
 * where that function waits) the driver wrote its Status, which we set to EFI_NOT_READY. */
static int completed(volatile int *flag, EFI_STATUS *status, int by_status)
{
    return *flag || (by_status && *(volatile EFI_STATUS *)status != EFI_NOT_READY);
}

/* SNP: frames straight from the driver; we answer ARP for our address ourselves. */
typedef struct {
    EFI_SIMPLE_NETWORK_PROTOCOL *snp;
    const addresses *a;
    UINT16 port;
    UINT8 tx[FRAME_MAX], rx[FRAME_MAX];
    tally *t;
} snp_layer;

static EFI_STATUS snp_transmit(snp_layer *s, UINTN len)
{
    EFI_STATUS status = uefi_call_wrapper(s->snp->Transmit, 7, s->snp, 0, len, s->tx, NULL, NULL, NULL);
    if (EFI_ERROR(status))
        return status;
    /* The driver owns the buffer until GetStatus hands it back. */
    for (int i = 0; i < 100000; i++) {
        void *done = NULL;
        uefi_call_wrapper(s->snp->GetStatus, 3, s->snp, NULL, &done);
        if (done == s->tx)
            return EFI_SUCCESS;
    }
    return EFI_TIMEOUT;
}

static void ether_header(snp_layer *s, const UINT8 *to, UINT16 type)
{
    CopyMem(s->tx, (void *)to, 6);
    CopyMem(s->tx + 6, (void *)s->a->our_mac, 6);
    put16(s->tx + 12, type);
}

static EFI_STATUS snp_send(void *ctx, const UINT8 *data, UINTN len)
{
    snp_layer *s = ctx;
    ether_header(s, s->a->server_mac, 0x0800);
    return snp_transmit(s, ETHER_HEADER + build_ip_udp(s->a, s->port, data, len, s->tx + ETHER_HEADER));
}

static void snp_answer_arp(snp_layer *s, const UINT8 *arp, UINTN len)
{
    if (len < 28 || get16(arp) != 1 || get16(arp + 2) != 0x0800 || arp[4] != 6 || arp[5] != 4 ||
        get16(arp + 6) != 1 || CompareMem((void *)(arp + 24), (void *)s->a->our_ip, 4) != 0)
        return;
    UINT8 *reply = s->tx + ETHER_HEADER;
    ether_header(s, arp + 8, 0x0806);
    CopyMem(reply, (void *)arp, 6);
    put16(reply + 6, 2);
    CopyMem(reply + 8, (void *)s->a->our_mac, 6);
    CopyMem(reply + 14, (void *)s->a->our_ip, 4);
    CopyMem(reply + 18, (void *)(arp + 8), 10);
    snp_transmit(s, ETHER_HEADER + 28);
}

static void snp_poll(void *ctx, tally *t)
{
    snp_layer *s = ctx;
    for (;;) {
        UINTN size = sizeof s->rx;
        EFI_STATUS status = uefi_call_wrapper(s->snp->Receive, 7, s->snp, NULL, &size, s->rx, NULL, NULL, NULL);
        if (EFI_ERROR(status) || size < ETHER_HEADER)
            return;
        UINT16 type = get16(s->rx + 12);
        if (type == 0x0806)
            snp_answer_arp(s, s->rx + ETHER_HEADER, size - ETHER_HEADER);
        else if (type == 0x0800)
            on_ip(t, s->a, s->port, s->rx + ETHER_HEADER, size - ETHER_HEADER);
    }
}

/* MNP: a child that takes IPv4 frames (the firmware's IP4 gets its own copies). */
#define MNP_TOKENS 8
typedef struct {
    mnp_protocol *mnp;
    const addresses *a;
    UINT16 port;
    mnp_token rx[MNP_TOKENS];
    volatile int rx_done[MNP_TOKENS];
    mnp_token tx;
    volatile int tx_done;
    mnp_transmit_data tx_data;
    UINT8 tx_buf[FRAME_MAX];
    EFI_MAC_ADDRESS server_mac;
    int by_status;  /* above TPL_APPLICATION our notify functions wait: read the Status */
} mnp_layer;

static EFI_STATUS mnp_send(void *ctx, const UINT8 *data, UINTN len)
{
    mnp_layer *m = ctx;
    UINTN size = build_ip_udp(m->a, m->port, data, len, m->tx_buf);
    m->tx_data = (mnp_transmit_data){&m->server_mac, NULL, 0x0800, (UINT32)size, 0, 1, {{(UINT32)size, m->tx_buf}}};
    m->tx.Packet.TxData = &m->tx_data;
    m->tx_done = 0;
    m->tx.Status = EFI_NOT_READY;
    EFI_STATUS status = uefi_call_wrapper(m->mnp->Transmit, 2, m->mnp, &m->tx);
    for (UINT64 start = now_us();
         !EFI_ERROR(status) && !completed(&m->tx_done, &m->tx.Status, m->by_status) && now_us() - start < FIRST_US;)
        uefi_call_wrapper(m->mnp->Poll, 1, m->mnp);
    return EFI_ERROR(status) ? status : m->tx.Status;
}

static void mnp_poll(void *ctx, tally *t)
{
    mnp_layer *m = ctx;
    uefi_call_wrapper(m->mnp->Poll, 1, m->mnp);
    for (int i = 0; i < MNP_TOKENS; i++) {
        if (!completed(&m->rx_done[i], &m->rx[i].Status, m->by_status))
            continue;
        mnp_receive_data *rx = m->rx[i].Packet.RxData;
        if (!EFI_ERROR(m->rx[i].Status) && rx) {
            on_ip(t, m->a, m->port, rx->PacketData, rx->DataLength);
            uefi_call_wrapper(BS->SignalEvent, 1, rx->RecycleEvent);
        }
        m->rx_done[i] = 0;
        m->rx[i].Status = EFI_NOT_READY;
        uefi_call_wrapper(m->mnp->Receive, 2, m->mnp, &m->rx[i]);
    }
}

/* UDP4: a child on our address and port, connected to the sender. */
#define UDP_TOKENS 8
typedef struct {
    EFI_UDP4 *udp;
    EFI_UDP4_COMPLETION_TOKEN rx[UDP_TOKENS];
    volatile int rx_done[UDP_TOKENS];
    EFI_UDP4_COMPLETION_TOKEN tx;
    volatile int tx_done;
    EFI_UDP4_TRANSMIT_DATA tx_data;
    UINT8 tx_buf[256];
    int by_status;
} udp_layer;

static EFI_STATUS udp_send(void *ctx, const UINT8 *data, UINTN len)
{
    udp_layer *u = ctx;
    if (len > sizeof u->tx_buf)
        return EFI_BAD_BUFFER_SIZE;
    CopyMem(u->tx_buf, (void *)data, len);
    u->tx_data = (EFI_UDP4_TRANSMIT_DATA){NULL, NULL, (UINT32)len, 1, {{(UINT32)len, u->tx_buf}}};
    u->tx.Packet.TxData = &u->tx_data;
    u->tx_done = 0;
    u->tx.Status = EFI_NOT_READY;
    EFI_STATUS status = uefi_call_wrapper(u->udp->Transmit, 2, u->udp, &u->tx);
    for (UINT64 start = now_us();
         !EFI_ERROR(status) && !completed(&u->tx_done, &u->tx.Status, u->by_status) && now_us() - start < FIRST_US;)
        uefi_call_wrapper(u->udp->Poll, 1, u->udp);
    return EFI_ERROR(status) ? status : u->tx.Status;
}

static void udp_poll(void *ctx, tally *t)
{
    udp_layer *u = ctx;
    uefi_call_wrapper(u->udp->Poll, 1, u->udp);
    for (int i = 0; i < UDP_TOKENS; i++) {
        if (!completed(&u->rx_done[i], &u->rx[i].Status, u->by_status))
            continue;
        EFI_UDP4_RECEIVE_DATA *rx = u->rx[i].Packet.RxData;
        if (!EFI_ERROR(u->rx[i].Status) && rx) {
            /* The header of our datagrams is in the first fragment; the rest is payload. */
            if (rx->FragmentCount >= 1 && rx->FragmentTable[0].FragmentLength >= 12) {
                UINTN len = rx->FragmentTable[0].FragmentLength;
                UINT8 *first = rx->FragmentTable[0].FragmentBuffer;
                on_datagram(t, first, len);
                if (rx->DataLength > len && get32(first) == DATA_MAGIC)
                    t->bytes += rx->DataLength - len;
            }
            uefi_call_wrapper(BS->SignalEvent, 1, rx->RecycleSignal);
        }
        u->rx_done[i] = 0;
        u->rx[i].Status = EFI_NOT_READY;
        uefi_call_wrapper(u->udp->Receive, 2, u->udp, &u->rx[i]);
    }
}

/* ---- the run of one layer: bursts until TARGET_PACKETS or LAYER_US ---- */

static void print_fixed2(const char *name, UINT64 hundredths)
{
    Print(L" %a=%ld.%ld%ld", name, hundredths / 100, hundredths / 10 % 10, hundredths % 10);
}

static void run_layer(const layer *l, EFI_STATUS setup)
{
    tally t = {0};
    if (EFI_ERROR(setup)) {
        Print(L"netprobe: layer=%a error=%r\r\n", l->name, setup);
        return;
    }
    UINT64 started = now_us();
    UINT32 burst = 1, empty = 0;
    char request[64];
    while (t.packets < TARGET_PACKETS && now_us() - started < LAYER_US && empty < 3) {
        t.burst = burst;
        t.seen = 0;
        t.got = 0;
        UINTN len = 0;
        CHAR8 *text = (CHAR8 *)"NETPROBE ";
        while (text[len])
            request[len] = text[len], len++;
        for (const char *p = l->name; *p; p++)
            request[len++] = *p;
        request[len++] = ' ';
        /* burst id, count, size in decimal */
        UINT32 numbers[3] = {burst, BURST, PAYLOAD};
        for (int n = 0; n < 3; n++) {
            char digits[12];
            int d = 0;
            UINT32 v = numbers[n];
            do
                digits[d++] = (char)('0' + v % 10);
            while ((v /= 10) != 0);
            while (d)
                request[len++] = digits[--d];
            request[len++] = n < 2 ? ' ' : '\n';
        }
        UINT64 asked = now_us();
        for (int tries = 0; tries < TRIES && !t.got; tries++) {
            if (tries)
                t.retries++;
            EFI_STATUS status = l->send(l->ctx, (UINT8 *)request, len);
            if (EFI_ERROR(status)) {
                Print(L"netprobe: layer=%a send=%r\r\n", l->name, status);
                return;
            }
            for (UINT64 sent = now_us(); !t.got && now_us() - sent < FIRST_US; t.polls++)
                l->poll(l->ctx, &t);
        }
        t.bursts++;
        if (!t.got) {
            t.lost += BURST;
            empty++;
            burst++;
            continue;
        }
        for (; t.got < BURST && now_us() - t.last_us < GAP_US; t.polls++)
            l->poll(l->ctx, &t);
        t.packets += t.got;
        t.lost += BURST - t.got;
        t.busy_us += t.last_us - asked;
        if (t.got > 1) {
            t.in_burst_us += t.last_us - t.first_us;
            t.in_burst_packets += t.got - 1;
        }
        burst++;
    }
    UINT64 wall = now_us() - started;
    Print(L"netprobe: layer=%a packets=%ld bytes=%ld ms=%ld", l->name, t.packets, t.bytes, t.busy_us / 1000);
    print_fixed2("us_per_packet", t.packets ? t.busy_us * 100 / t.packets : 0);
    Print(L" lost=%ld", t.lost);
    print_fixed2("in_burst_us", t.in_burst_packets ? t.in_burst_us * 100 / t.in_burst_packets : 0);
    Print(L" bursts=%d retries=%d bad=%ld foreign=%ld polls=%ld wall_ms=%ld\r\n", t.bursts, t.retries, t.bad,
          t.foreign, t.polls, wall / 1000);
}

/* ---- setting each layer up, and tearing it down ---- */

static EFI_STATUS make_event(volatile int *flag, EFI_EVENT *event)
{
    return uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, set_flag, (void *)flag, event);
}

static void probe_snp(EFI_HANDLE device, const addresses *a)
{
    static snp_layer s;
    EFI_DEVICE_PATH *path = NULL;
    EFI_HANDLE nic = NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->HandleProtocol, 3, device, &DevicePathProtocol, (void **)&path);
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(BS->LocateDevicePath, 3, &snp_guid, &path, &nic);
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(BS->HandleProtocol, 3, nic, &snp_guid, (void **)&s.snp);
    s.a = a;
    s.port = 40001;
    layer l = {"snp", s.port, snp_send, snp_poll, &s};
    /* MNP polls SNP from a TPL_CALLBACK timer: above it, every frame is ours. */
    EFI_TPL old = uefi_call_wrapper(BS->RaiseTPL, 1, TPL_CALLBACK);
    run_layer(&l, status);
    uefi_call_wrapper(BS->RestoreTPL, 1, old);
}

/* A layer's variant: its name in the line, our port, and the TPL the polling runs at. */
typedef struct {
    const char *name;
    UINT16 port;
    EFI_TPL tpl;
} variant;

static void close_events(EFI_EVENT *events, int count)
{
    for (int i = 0; i < count; i++)
        if (events[i])
            uefi_call_wrapper(BS->CloseEvent, 1, events[i]);
}

static void probe_mnp(EFI_HANDLE device, const addresses *a, const variant *v)
{
    static mnp_layer m;
    EFI_EVENT events[MNP_TOKENS + 1] = {0};
    EFI_HANDLE child = NULL;
    SetMem(&m, sizeof m, 0);
    stub_service_binding *binding = service_binding_for(device, &mnp_binding_guid);
    EFI_STATUS status = binding ? service_child(binding, &mnp_guid, &child, (void **)&m.mnp) : EFI_NOT_FOUND;
    EFI_MANAGED_NETWORK_CONFIG_DATA config = {0};
    config.ProtocolTypeFilter = 0x0800;
    config.EnableUnicastReceive = TRUE;
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(m.mnp->Configure, 2, m.mnp, &config);
    m.a = a;
    m.port = v->port;
    m.by_status = v->tpl > TPL_APPLICATION;
    CopyMem(m.server_mac.Addr, (void *)a->server_mac, 6);
    if (!EFI_ERROR(status))
        status = make_event(&m.tx_done, &m.tx.Event);
    events[MNP_TOKENS] = m.tx.Event;
    EFI_TPL old = uefi_call_wrapper(BS->RaiseTPL, 1, v->tpl);
    for (int i = 0; i < MNP_TOKENS && !EFI_ERROR(status); i++) {
        status = make_event(&m.rx_done[i], &m.rx[i].Event);
        events[i] = m.rx[i].Event;
        m.rx[i].Status = EFI_NOT_READY;
        if (!EFI_ERROR(status))
            status = uefi_call_wrapper(m.mnp->Receive, 2, m.mnp, &m.rx[i]);
    }
    layer l = {v->name, m.port, mnp_send, mnp_poll, &m};
    run_layer(&l, status);
    if (m.mnp) {
        uefi_call_wrapper(m.mnp->Cancel, 2, m.mnp, NULL);
        uefi_call_wrapper(m.mnp->Configure, 2, m.mnp, NULL);
    }
    close_events(events, MNP_TOKENS + 1);
    if (child)
        uefi_call_wrapper(binding->DestroyChild, 2, binding, child);
    uefi_call_wrapper(BS->RestoreTPL, 1, old);
}

static void probe_udp4(EFI_HANDLE device, const addresses *a, const variant *v)
{
    static udp_layer u;
    EFI_EVENT events[UDP_TOKENS + 1] = {0};
    EFI_HANDLE child = NULL;
    SetMem(&u, sizeof u, 0);
    stub_service_binding *binding = service_binding_for(device, &udp4_binding_guid);
    EFI_STATUS status = binding ? service_child(binding, &udp4_guid, &child, (void **)&u.udp) : EFI_NOT_FOUND;
    EFI_UDP4_CONFIG_DATA config = {0};
    config.TimeToLive = 64;
    CopyMem(config.StationAddress.Addr, (void *)a->our_ip, 4);
    CopyMem(config.SubnetMask.Addr, (void *)a->mask, 4);
    config.StationPort = v->port;
    CopyMem(config.RemoteAddress.Addr, (void *)a->server_ip, 4);
    config.RemotePort = SENDER_PORT;
    u.by_status = v->tpl > TPL_APPLICATION;
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(u.udp->Configure, 2, u.udp, &config);
    if (!EFI_ERROR(status))
        status = make_event(&u.tx_done, &u.tx.Event);
    events[UDP_TOKENS] = u.tx.Event;
    EFI_TPL old = uefi_call_wrapper(BS->RaiseTPL, 1, v->tpl);
    for (int i = 0; i < UDP_TOKENS && !EFI_ERROR(status); i++) {
        status = make_event(&u.rx_done[i], &u.rx[i].Event);
        events[i] = u.rx[i].Event;
        u.rx[i].Status = EFI_NOT_READY;
        if (!EFI_ERROR(status))
            status = uefi_call_wrapper(u.udp->Receive, 2, u.udp, &u.rx[i]);
    }
    layer l = {v->name, v->port, udp_send, udp_poll, &u};
    run_layer(&l, status);
    if (u.udp) {
        uefi_call_wrapper(u.udp->Cancel, 2, u.udp, NULL);
        uefi_call_wrapper(u.udp->Configure, 2, u.udp, NULL);
    }
    close_events(events, UDP_TOKENS + 1);
    if (child)
        uefi_call_wrapper(binding->DestroyChild, 2, binding, child);
    uefi_call_wrapper(BS->RestoreTPL, 1, old);
}

/* SHA-256 over payload-sized pieces: what the stub adds to every packet it receives. */
static void probe_sha256(const char *name)
{
    static UINT8 data[PAYLOAD];
    sha256_ctx ctx;
    UINT8 digest[SHA256_DIGEST_SIZE];
    const UINTN pieces = 4096;
    for (UINTN i = 0; i < sizeof data; i++)
        data[i] = (UINT8)i;
    sha256_init(&ctx);
    UINT64 started = now_us();
    for (UINTN i = 0; i < pieces; i++)
        sha256_update(&ctx, data, sizeof data);
    sha256_final(&ctx, digest);
    UINT64 took = now_us() - started;
    Print(L"netprobe: layer=%a packets=%ld bytes=%ld ms=%ld", name, (UINT64)pieces, (UINT64)(pieces * PAYLOAD),
          took / 1000);
    print_fixed2("us_per_packet", took * 100 / pieces);
    Print(L" lost=0 sha_ni=%d\r\n", sha256_uses_cpu_instructions());
}

static EFI_STATUS find_addresses(EFI_HANDLE device, addresses *a)
{
    EFI_PXE_BASE_CODE_PROTOCOL *pxe = NULL;
    EFI_SIMPLE_NETWORK_PROTOCOL *snp = NULL;
    EFI_DEVICE_PATH *path = NULL;
    EFI_HANDLE nic = NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->HandleProtocol, 3, device, &pxe_guid, (void **)&pxe);
    if (EFI_ERROR(status))
        return status;
    if (!pxe->Mode->Started || !pxe->Mode->DhcpAckReceived || pxe->Mode->UsingIpv6)
        return EFI_NOT_STARTED;
    CopyMem(a->our_ip, pxe->Mode->StationIp.v4.Addr, 4);
    CopyMem(a->mask, pxe->Mode->SubnetMask.v4.Addr, 4);
    CopyMem(a->server_ip, pxe->Mode->DhcpAck.Dhcpv4.BootpSiAddr, 4);
    status = uefi_call_wrapper(BS->HandleProtocol, 3, device, &DevicePathProtocol, (void **)&path);
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(BS->LocateDevicePath, 3, &snp_guid, &path, &nic);
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(BS->HandleProtocol, 3, nic, &snp_guid, (void **)&snp);
    if (EFI_ERROR(status))
        return status;
    CopyMem(a->our_mac, snp->Mode->CurrentAddress.Addr, 6);
    EFI_IP_ADDRESS ip = {0};
    EFI_MAC_ADDRESS mac = {0};
    CopyMem(ip.v4.Addr, a->server_ip, 4);
    status = uefi_call_wrapper(pxe->Arp, 3, pxe, &ip, &mac);
    if (EFI_ERROR(status))
        return status;
    CopyMem(a->server_mac, mac.Addr, 6);
    return EFI_SUCCESS;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
    EFI_LOADED_IMAGE *self;
    addresses a = {0};
    InitializeLib(image, system_table);
    calibrate();
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&self);
    EFI_STATUS status = find_addresses(self->DeviceHandle, &a);
    if (EFI_ERROR(status)) {
        Print(L"netprobe: error=%r (no PXE boot over IPv4?)\r\n", status);
    } else {
        Print(L"netprobe: us=%d.%d.%d.%d server=%d.%d.%d.%d tsc_per_us=%ld\r\n", a.our_ip[0], a.our_ip[1],
              a.our_ip[2], a.our_ip[3], a.server_ip[0], a.server_ip[1], a.server_ip[2], a.server_ip[3],
              ticks_per_us);
        /* SHA-256 again after each layer: a layer that leaves the firmware busy shows there. */
        probe_sha256("sha256");
        probe_snp(self->DeviceHandle, &a);
        probe_sha256("sha256_after_snp");
        /* MNP and UDP4 as an application uses them, then polled above MNP's timer (last: that
         * leaves the firmware slow, see the sha256 lines). */
        static const variant mnp = {"mnp", 40002, TPL_APPLICATION}, udp4 = {"udp4", 40003, TPL_APPLICATION},
                             udp4_cb = {"udp4_callback", 40005, TPL_CALLBACK},
                             mnp_cb = {"mnp_callback", 40004, TPL_CALLBACK};
        probe_mnp(self->DeviceHandle, &a, &mnp);
        probe_sha256("sha256_after_mnp");
        probe_udp4(self->DeviceHandle, &a, &udp4);
        probe_sha256("sha256_after_udp4");
        probe_udp4(self->DeviceHandle, &a, &udp4_cb);
        probe_sha256("sha256_after_udp4_callback");
        probe_mnp(self->DeviceHandle, &a, &mnp_cb);
        probe_sha256("sha256_after_mnp_callback");
    }
    Print(L"netprobe: done\r\n");
    uefi_call_wrapper(BS->Stall, 1, 200000);
    uefi_call_wrapper(RT->ResetSystem, 4, EfiResetCold, EFI_SUCCESS, 0, NULL);
    return EFI_SUCCESS;
}
