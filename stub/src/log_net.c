/* Console lines over syslog (log_net.h): a queue of lines, a few transmit tokens, one UDP child.
 *
 * A line is copied into the queue and, when a token is free and the NIC is the firmware's,
 * formatted into that token's static buffer and handed to Transmit() without waiting: the
 * firmware signals the token's event when the frame went out (at once when the server's MAC
 * is known, after ARP or neighbour discovery otherwise). A full queue or a failed send loses
 * the line, nothing else. */
#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "console.h"
#include "dhcp.h"
#include "http.h"
#include "line.h"
#include "log_net.h"
#include "net.h"
#include "service.h"
#include "syslog_msg.h"

#define LOG_SLOTS 8
#define QUEUE_BYTES 16384
#define ENTRY_HEADER 2  /* a queued line: its length (little-endian), then its bytes */
#define TTL 64

typedef enum { LOG_WAITING, LOG_SENDING, LOG_STOPPED, LOG_OFF } log_state;

typedef struct {
    int family;               /* 4 or 6 */
    uint8_t local[16];        /* the boot's own address; IPv4 0.0.0.0: the NIC's default */
    uint8_t mask[4];
    uint8_t router[4];        /* 0.0.0.0: none */
    uint8_t server[16];
    const char *from;         /* which rule chose the server, for the `syslog` line */
} log_target;

typedef struct {
    EFI_EVENT event;
    int busy;  /* handed to Transmit(), its event not seen yet */
    union {
        EFI_UDP4_COMPLETION_TOKEN v4;
        EFI_UDP6_COMPLETION_TOKEN v6;
    } token;
    union {
        EFI_UDP4_TRANSMIT_DATA v4;
        EFI_UDP6_TRANSMIT_DATA v6;
    } tx;
    uint8_t datagram[SYSLOG_DATAGRAM_MAX];
} log_slot;

static EFI_GUID udp4_binding_guid = EFI_UDP4_SERVICE_BINDING_PROTOCOL;
static EFI_GUID udp4_guid = EFI_UDP4_PROTOCOL;
static EFI_GUID udp6_binding_guid = EFI_UDP6_SERVICE_BINDING_PROTOCOL;
static EFI_GUID udp6_guid = EFI_UDP6_PROTOCOL;

static log_state state = LOG_WAITING;
static int paused;
static log_target target;
static EFI_IPv4_ADDRESS gateway;  /* per datagram when the server is off our subnet */
static int use_gateway;
static stub_service_binding *binding;
static EFI_HANDLE child;
static EFI_UDP4 *udp4;
static EFI_UDP6 *udp6;
static char hostname[SYSLOG_HOSTNAME_MAX + 1];
static uint32_t sequence;
static log_slot slots[LOG_SLOTS];
static uint8_t queue[QUEUE_BYTES];
static size_t queue_head, queue_tail;

/* -- the queue --------------------------------------------------------------------------- */

static void queue_push(const char *text, size_t len)
{
    if (len > SYSLOG_DATAGRAM_MAX)
        len = SYSLOG_DATAGRAM_MAX;  /* the datagram cuts it there anyway */
    size_t need = ENTRY_HEADER + len;
    if (queue_tail + need > QUEUE_BYTES && queue_head > 0) {
        CopyMem(queue, queue + queue_head, queue_tail - queue_head);
        queue_tail -= queue_head;
        queue_head = 0;
    }
    if (queue_tail + need > QUEUE_BYTES)
        return;  /* lost: the line is on the console all the same */
    queue[queue_tail] = (uint8_t)(len & 0xff);
    queue[queue_tail + 1] = (uint8_t)(len >> 8);
    CopyMem(queue + queue_tail + ENTRY_HEADER, (void *)text, len);
    queue_tail += need;
}

static int queue_empty(void)
{
    return queue_head == queue_tail;
}

static void queue_pop(const char **text, size_t *len)
{
    *len = (size_t)queue[queue_head] | (size_t)queue[queue_head + 1] << 8;
    *text = (const char *)queue + queue_head + ENTRY_HEADER;
    queue_head += ENTRY_HEADER + *len;
    if (queue_head == queue_tail)
        queue_head = queue_tail = 0;
}

static void queue_clear(void)
{
    queue_head = queue_tail = 0;
}

/* -- sending ----------------------------------------------------------------------------- */

/* Transmit() may only be called at TPL_APPLICATION here: from a notify function or while the
 * own path holds the NIC at TPL_CALLBACK, lines wait in the queue. */
static int at_application_level(void)
{
    EFI_TPL tpl = uefi_call_wrapper(BS->RaiseTPL, 1, TPL_HIGH_LEVEL);
    uefi_call_wrapper(BS->RestoreTPL, 1, tpl);
    return tpl == TPL_APPLICATION;
}

static void reclaim(void)
{
    for (int i = 0; i < LOG_SLOTS; i++)
        if (slots[i].busy && uefi_call_wrapper(BS->CheckEvent, 1, slots[i].event) == EFI_SUCCESS)
            slots[i].busy = 0;
}

static int any_busy(void)
{
    for (int i = 0; i < LOG_SLOTS; i++)
        if (slots[i].busy)
            return 1;
    return 0;
}

static EFI_STATUS transmit(log_slot *slot, size_t len)
{
    if (target.family == 6) {
        slot->tx.v6 = (EFI_UDP6_TRANSMIT_DATA){0};
        slot->tx.v6.DataLength = (UINT32)len;
        slot->tx.v6.FragmentCount = 1;
        slot->tx.v6.FragmentTable[0].FragmentLength = (UINT32)len;
        slot->tx.v6.FragmentTable[0].FragmentBuffer = slot->datagram;
        slot->token.v6 = (EFI_UDP6_COMPLETION_TOKEN){.Event = slot->event, .Status = EFI_NOT_READY};
        slot->token.v6.Packet.TxData = &slot->tx.v6;
        return uefi_call_wrapper(udp6->Transmit, 2, udp6, &slot->token.v6);
    }
    slot->tx.v4 = (EFI_UDP4_TRANSMIT_DATA){0};
    slot->tx.v4.GatewayAddress = use_gateway ? &gateway : NULL;
    slot->tx.v4.DataLength = (UINT32)len;
    slot->tx.v4.FragmentCount = 1;
    slot->tx.v4.FragmentTable[0].FragmentLength = (UINT32)len;
    slot->tx.v4.FragmentTable[0].FragmentBuffer = slot->datagram;
    slot->token.v4 = (EFI_UDP4_COMPLETION_TOKEN){.Event = slot->event, .Status = EFI_NOT_READY};
    slot->token.v4.Packet.TxData = &slot->tx.v4;
    return uefi_call_wrapper(udp4->Transmit, 2, udp4, &slot->token.v4);
}

/* Hand queued lines to free tokens; what finds none stays queued for the next call. */
static void pump(void)
{
    if (state != LOG_SENDING || paused || queue_empty() || !at_application_level())
        return;
    reclaim();
    for (int i = 0; i < LOG_SLOTS && !queue_empty(); i++) {
        log_slot *slot = &slots[i];
        if (slot->busy)
            continue;
        const char *text;
        size_t len;
        queue_pop(&text, &len);
        sequence = sequence >= SYSLOG_SEQUENCE_MAX ? 1 : sequence + 1;
        size_t n = syslog_format(slot->datagram, sizeof slot->datagram, hostname, sequence, text, len);
        if (n && !EFI_ERROR(transmit(slot, n)))
            slot->busy = 1;
    }
}

static void poll_once(void)
{
    if (udp6)
        uefi_call_wrapper(udp6->Poll, 1, udp6);
    else if (udp4)
        uefi_call_wrapper(udp4->Poll, 1, udp4);
}

/* Until the queue is sent and every token came back, or `wait_ms` passed. */
static void drain(unsigned wait_ms)
{
    UINT64 started = clock_ms();
    for (;;) {
        pump();
        reclaim();
        if ((queue_empty() && !any_busy()) || clock_ms() - started >= wait_ms)
            return;
        poll_once();  /* runs the firmware's receive path: ARP and neighbour replies */
    }
}

/* -- where to, and the UDP child ----------------------------------------------------------- */

static dhcp_packet packet_of(const EFI_PXE_BASE_CODE_PACKET *packet, BOOLEAN received)
{
    return (dhcp_packet){packet->Raw, dhcp_packet_length(packet->Raw, sizeof packet->Raw), received};
}

/* PXE: the log server of the DHCP ACK, else of the ProxyOffer (option 7), else the boot server.
 * NULL or why there is none. */
static const char *target_from_pxe(EFI_PXE_BASE_CODE_PROTOCOL *pxe, log_target *t)
{
    EFI_PXE_BASE_CODE_MODE *mode = pxe->Mode;
    t->family = mode->UsingIpv6 ? 6 : 4;
    CopyMem(t->local, (void *)&mode->StationIp, t->family == 6 ? 16 : 4);
    if (t->family == 4) {
        CopyMem(t->mask, (void *)&mode->SubnetMask, 4);
        dhcp_packet ack = packet_of(&mode->DhcpAck, mode->DhcpAckReceived);
        dhcp_packet proxy = packet_of(&mode->ProxyOffer, mode->ProxyOfferReceived);
        size_t len = 0;
        const uint8_t *router = dhcp_find_option(&ack, 3, &len);
        if (router && len >= 4)
            CopyMem(t->router, (void *)router, 4);
        else if (mode->RouteTableEntries > 0)
            CopyMem(t->router, (void *)mode->RouteTable[0].GwAddr.v4.Addr, 4);
        t->from = "dhcp-option-7";
        if (syslog_server_from_dhcp(&ack, t->server) || syslog_server_from_dhcp(&proxy, t->server))
            return NULL;
    }
    int family;
    t->from = "boot-server";
    const char *why = net_boot_server(pxe, &family, t->server);
    return why ? why : family == t->family ? NULL : "the boot server's address family differs";
}

/* HTTP Boot: the host of the stub's own URL, when it is an address. */
static const char *target_from_http(const http_boot *boot, log_target *t)
{
    int family = 0;
    t->family = boot->boot.family;
    CopyMem(t->local, (void *)boot->boot.local, 16);
    CopyMem(t->mask, (void *)boot->boot.subnet, 4);
    CopyMem(t->router, (void *)boot->boot.gateway, 4);
    t->from = "boot-server";
    if (!syslog_server_from_url(boot->boot.uri, boot->boot.uri_len, &family, t->server))
        return "the boot URL's host is not an IP address (no names are resolved)";
    return family == t->family ? NULL : "the boot URL's host is of the other address family";
}

/* NULL and the target when netbooted; "" when not netbooted; else why it cannot be sent. */
static const char *find_target(EFI_HANDLE device, log_target *t)
{
    *t = (log_target){0};
    EFI_PXE_BASE_CODE_PROTOCOL *pxe = net_find(device);
    if (pxe)
        return target_from_pxe(pxe, t);
    http_boot boot;
    if (!http_find(device, &boot))
        return target_from_http(&boot, t);
    return "";
}

static int zero(const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (bytes[i])
            return 0;
    return 1;
}

static EFI_STATUS configure_v4(void)
{
    EFI_UDP4_CONFIG_DATA config = {0};
    config.TimeToLive = TTL;
    /* The boot's own address, as MTFTP4 and HTTP are given: the default one would start
     * Ip4Config2's own DHCP. */
    config.UseDefaultAddress = zero(target.local, 4);
    CopyMem(&config.StationAddress, target.local, 4);
    CopyMem(&config.SubnetMask, target.mask, 4);
    CopyMem(&config.RemoteAddress, target.server, 4);
    config.RemotePort = SYSLOG_PORT;
    int on_link = 1;
    for (int i = 0; i < 4; i++)
        on_link &= (target.server[i] & target.mask[i]) == (target.local[i] & target.mask[i]);
    use_gateway = !config.UseDefaultAddress && !on_link && !zero(target.router, 4);
    CopyMem(&gateway, target.router, 4);
    return uefi_call_wrapper(udp4->Configure, 2, udp4, &config);
}

static EFI_STATUS configure_v6(void)
{
    EFI_UDP6_CONFIG_DATA config = {0};
    config.HopLimit = TTL;
    CopyMem(&config.StationAddress, target.local, 16);
    CopyMem(&config.RemoteAddress, target.server, 16);
    config.RemotePort = SYSLOG_PORT;
    EFI_STATUS status = uefi_call_wrapper(udp6->Configure, 2, udp6, &config);
    if (EFI_ERROR(status) && !zero(target.local, 16)) {
        /* An address IP6 does not list as its own: let it choose the source. */
        ZeroMem(&config.StationAddress, 16);
        status = uefi_call_wrapper(udp6->Configure, 2, udp6, &config);
    }
    return status;
}

/* HOSTNAME: the NIC's MAC address, or our IP address when the NIC does not say. */
static void choose_hostname(void)
{
    EFI_SIMPLE_NETWORK_MODE snp;
    EFI_STATUS status = target.family == 6
        ? uefi_call_wrapper(udp6->GetModeData, 5, udp6, NULL, NULL, NULL, &snp)
        : uefi_call_wrapper(udp4->GetModeData, 5, udp4, NULL, NULL, NULL, &snp);
    if (!EFI_ERROR(status) && snp.HwAddressSize >= 1 && snp.HwAddressSize <= 32) {
        syslog_mac_hostname(snp.CurrentAddress.Addr, snp.HwAddressSize, hostname, sizeof hostname);
        return;
    }
    text_buf tb;
    tb_init(&tb, hostname, sizeof hostname);
    tb_ip(&tb, target.family, target.local, 0);
}

static void close_child(void)
{
    if (child) {
        if (udp6)
            uefi_call_wrapper(udp6->Configure, 2, udp6, NULL);
        else if (udp4)
            uefi_call_wrapper(udp4->Configure, 2, udp4, NULL);
        uefi_call_wrapper(binding->DestroyChild, 2, binding, child);
    }
    child = NULL;
    udp4 = NULL;
    udp6 = NULL;
    /* After the child: a token it signals as it goes must still meet an open event. */
    for (int i = 0; i < LOG_SLOTS; i++) {
        if (slots[i].event)
            uefi_call_wrapper(BS->CloseEvent, 1, slots[i].event);
        slots[i].event = NULL;
        slots[i].busy = 0;
    }
}

static const char *open_child(EFI_HANDLE device)
{
    int v6 = target.family == 6;
    binding = service_binding_for(device, v6 ? &udp6_binding_guid : &udp4_binding_guid);
    if (!binding)
        return v6 ? "no UDP6 service on the boot NIC" : "no UDP4 service on the boot NIC";
    void *protocol = NULL;
    if (EFI_ERROR(service_child(binding, v6 ? &udp6_guid : &udp4_guid, &child, &protocol)))
        return "cannot make a UDP child";
    if (v6)
        udp6 = protocol;
    else
        udp4 = protocol;
    EFI_STATUS status = v6 ? configure_v6() : configure_v4();
    if (EFI_ERROR(status)) {
        close_child();
        return "the UDP child cannot be configured";
    }
    for (int i = 0; i < LOG_SLOTS; i++) {
        if (EFI_ERROR(uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &slots[i].event))) {
            slots[i].event = NULL;
            close_child();
            return "cannot create an event";
        }
    }
    choose_hostname();
    return NULL;
}

static void turn_off(void)
{
    state = LOG_OFF;
    queue_clear();
}

/* `stub: syslog server=<address> from=dhcp-option-7|boot-server` */
static void print_server(void)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    line_word(&tb, "syslog");
    line_key(&tb, "server");
    tb_ip(&tb, target.family, target.server, 0);
    line_field(&tb, "from", target.from);
    console_end(&tb);
}

/* -- the interface ------------------------------------------------------------------------- */

void log_net_start(EFI_HANDLE device, const stub_policy *policy)
{
    if (state == LOG_SENDING || state == LOG_OFF)
        return;
    if (policy->log == LOG_NET_OFF) {
        turn_off();
        return;
    }
    const char *why = NULL;
    if (state == LOG_WAITING) {
        why = find_target(device, &target);
        if (why && !*why) {
            turn_off();  /* not netbooted */
            return;
        }
    }
    if (!why)
        why = open_child(device);
    if (why) {
        turn_off();
        console_warning("log", why);
        return;
    }
    int first = state == LOG_WAITING;
    state = LOG_SENDING;
    if (first)
        print_server();
    pump();
}

void log_net_line(const char *text, size_t len)
{
    if (state == LOG_OFF)
        return;
    queue_push(text, len);
    pump();
}

void log_net_pause(void)
{
    if (state == LOG_SENDING && !paused)
        drain(LOG_NET_KERNEL_WAIT_MS);
    paused = 1;
}

void log_net_resume(void)
{
    paused = 0;
    pump();
}

void log_net_stop(unsigned wait_ms)
{
    if (state != LOG_SENDING)
        return;
    paused = 0;
    drain(wait_ms);
    for (int i = 0; i < LOG_SLOTS; i++) {
        if (!slots[i].busy)
            continue;
        if (udp6)
            uefi_call_wrapper(udp6->Cancel, 2, udp6, &slots[i].token.v6);
        else
            uefi_call_wrapper(udp4->Cancel, 2, udp4, &slots[i].token.v4);
    }
    close_child();
    queue_clear();
    state = LOG_STOPPED;
}
