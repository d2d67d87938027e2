/* Netboot: the PXE Base Code instance that loaded the stub, the server it names, and whole-file
 * TFTP reads from it: MTFTP4 first (tsize, block size and window in one request), then, when
 * that cannot be used, PXE Base Code's own Mtftp. */
#include <efi.h>
#include <efilib.h>
#include <efipxebc.h>

#include "clock.h"
#include "console.h"
#include "dhcp.h"
#include "dhcp6.h"
#include "line.h"
#include "http.h"
#include "log_net.h"
#include "net.h"
#include "own_http.h"
#include "own_tftp.h"
#include "pxe.h"
#include "snp.h"
#include "tftp4.h"

static EFI_GUID pxe_guid = EFI_PXE_BASE_CODE_PROTOCOL_GUID;

fetch_deadline net_deadline(unsigned seconds)
{
    return (fetch_deadline){clock_ms() + (UINT64)seconds * 1000, seconds};
}

int net_deadline_passed(const fetch_deadline *deadline)
{
    return deadline && clock_ms() >= deadline->at_ms;
}

const char *net_deadline_reason(const fetch_deadline *deadline, UINT64 got, UINT64 total)
{
    static char message[120];
    text_buf tb;
    tb_init(&tb, message, sizeof message);
    tb_str(&tb, "fetch-timeout of ");
    tb_u64(&tb, deadline ? deadline->seconds : 0);
    tb_str(&tb, " s passed");
    if (total) {
        tb_str(&tb, " after ");
        tb_u64(&tb, got);
        tb_str(&tb, " of ");
        tb_u64(&tb, total);
        tb_str(&tb, " bytes");
    }
    return message;
}

EFI_PXE_BASE_CODE_PROTOCOL *net_find(EFI_HANDLE device)
{
    EFI_PXE_BASE_CODE_PROTOCOL *pxe = NULL;
    if (!device)
        return NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->HandleProtocol, 3, device, &pxe_guid, (void **)&pxe);
    if (EFI_ERROR(status) || !pxe || !pxe->Mode)
        return NULL;
    if (!pxe->Mode->Started || !pxe->Mode->DhcpAckReceived)
        return NULL;
    return pxe;
}

/* EDK2 stores each packet in a fixed buffer without its length: measure it (dhcp.h). */
static dhcp_packet packet_of(const EFI_PXE_BASE_CODE_PACKET *packet, BOOLEAN received)
{
    return (dhcp_packet){packet->Raw, dhcp_packet_length(packet->Raw, sizeof packet->Raw), received};
}

const char *net_boot_server(EFI_PXE_BASE_CODE_PROTOCOL *pxe, int *family, uint8_t server[16])
{
    EFI_PXE_BASE_CODE_MODE *mode = pxe->Mode;
    *family = mode->UsingIpv6 ? 6 : 4;
    dhcp_origin origin;
    if (mode->UsingIpv6) {
        /* DHCPv6 packets are kept in the same zeroed buffers: the option walk ends at zeros. */
        dhcp_packet ack6 = {mode->DhcpAck.Raw, sizeof mode->DhcpAck.Raw, mode->DhcpAckReceived};
        dhcp_packet proxy6 = {mode->ProxyOffer.Raw, sizeof mode->ProxyOffer.Raw, mode->ProxyOfferReceived};
        dhcp_packet reply6 = {mode->PxeReply.Raw, sizeof mode->PxeReply.Raw, mode->PxeReplyReceived};
        return dhcp6_boot_server(&ack6, &proxy6, &reply6, server, &origin);
    }
    dhcp_packet ack = packet_of(&mode->DhcpAck, mode->DhcpAckReceived);
    dhcp_packet proxy = packet_of(&mode->ProxyOffer, mode->ProxyOfferReceived);
    dhcp_packet reply = packet_of(&mode->PxeReply, mode->PxeReplyReceived);
    dhcp_server_field field;
    return dhcp_boot_server(&ack, &proxy, &reply, server, &origin, &field);
}

/* A block that fills one 1500-byte Ethernet frame: what EDK2 itself asks for; over IPv6 the
 * header is 20 bytes longer. */
#define FRAME_BLKSIZE 1468
#define FRAME_BLKSIZE_V6 1448

static void warning_line(const char *topic, const char *why, const char *next)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    line_warning(&tb, topic, why);
    tb_str(&tb, "; ");
    tb_str(&tb, next);
    console_end(&tb);
}

static void fallback_line(const char *why, const char *next)
{
    warning_line("tftp", why, next);
}

/* Over IPv6, PXE Base Code's own Mtftp (EDK2's MTFTP6 underneath, with its window of 4) at
 * the policy's block size; blocks that never come (fragments lost) mean one frame per block. */
static EFI_STATUS read_v6(EFI_PXE_BASE_CODE_PROTOCOL *pxe, const stub_policy *policy,
                          const uint8_t *server, const char *name, const fetch_deadline *deadline,
                          file_buf *out, net_transfer *info, const char **reason)
{
    unsigned blksize = policy->tftp_blksize;
    info->via = "pxe6";
    UINT64 started = clock_ms();
    EFI_STATUS status = pxe_read(pxe, blksize, 6, server, name, deadline, out, reason);
    if (status == EFI_TIMEOUT && blksize > FRAME_BLKSIZE_V6 && !net_deadline_passed(deadline)) {
        fallback_line(*reason, "asking again with blksize 1448 (one frame per block)");
        status = pxe_read(pxe, FRAME_BLKSIZE_V6, 6, server, name, deadline, out, reason);
    }
    info->ms = clock_ms() - started;
    return status;
}

/* The own path's addresses: PXE Base Code's station address and mask, and the router of the
 * DHCP ACK (option 3) for a server on another subnet. */
static void own_addresses(const EFI_PXE_BASE_CODE_MODE *mode, own_ipv4 *addr)
{
    *addr = (own_ipv4){0};
    CopyMem(addr->ip, (void *)mode->StationIp.v4.Addr, 4);
    CopyMem(addr->mask, (void *)mode->SubnetMask.v4.Addr, 4);
    dhcp_packet ack = packet_of(&mode->DhcpAck, mode->DhcpAckReceived);
    size_t len = 0;
    const uint8_t *router = dhcp_find_option(&ack, 3, &len);
    if (router && len >= 4)
        CopyMem(addr->router, (void *)router, 4);
    else if (mode->RouteTableEntries > 0)
        CopyMem(addr->router, (void *)mode->RouteTable[0].GwAddr.v4.Addr, 4);
}

/* Who reads one file: the stub's own path on a held NIC, or the firmware's MTFTP4. */
typedef struct {
    EFI_HANDLE device;
    const EFI_PXE_BASE_CODE_MODE *mode;
    snp_link *link;  /* NULL: MTFTP4 */
    own_ipv4 addr;
} tftp_reader;

static EFI_STATUS read_once(const tftp_reader *r, const uint8_t *server, const char *name,
                            const tftp_request *ask, const fetch_deadline *deadline, file_buf *out,
                            tftp4_result *result, const char **reason)
{
    if (r->link)
        return own_tftp_read(r->link, &r->addr, server, name, ask, deadline, out, result, reason);
    return tftp4_read(r->device, r->mode, server, name, ask, deadline, out, result, reason);
}

/* One request with the policy's options, then simpler ones as the server or the path demand. */
static EFI_STATUS read_with_fallbacks(const tftp_reader *r, const stub_policy *policy,
                                      const uint8_t *server, const char *name,
                                      const fetch_deadline *deadline, file_buf *out,
                                      tftp4_result *result, const char **reason)
{
    tftp_request ask = {policy->tftp_blksize, policy->tftp_window};
    EFI_STATUS status;
    for (;;) {
        status = read_once(r, server, name, &ask, deadline, out, result, reason);
        if (result->deadline_passed || (EFI_ERROR(status) && net_deadline_passed(deadline)))
            return status;  /* no second try: the file's time is up */
        /* The server answered, then its blocks never came: IP fragments dropped on the way. */
        int fragments_lost = status == EFI_TIMEOUT && result->options_agreed && ask.blksize > FRAME_BLKSIZE;
        if (fragments_lost) {
            fallback_line(*reason, "asking again with blksize 1468 (one frame per block)");
            ask.blksize = FRAME_BLKSIZE;
        } else if (result->outcome == TFTP4_TRY_SIMPLER && ask.window > 1) {
            /* RFC 7440 is the newest option: the first to go. */
            fallback_line(*reason, "asking again without a window");
            ask.window = 1;
        } else if (result->outcome == TFTP4_TRY_SIMPLER && ask.blksize > FRAME_BLKSIZE) {
            fallback_line(*reason, "asking again with blksize 1468");
            ask.blksize = FRAME_BLKSIZE;
        } else if (result->outcome == TFTP4_TRY_SIMPLER && ask.blksize) {
            fallback_line(*reason, "asking again with plain 512-byte blocks");
            ask.blksize = 0;
        } else {
            return status;
        }
    }
}

static void transfer_from(net_transfer *info, const char *via, const tftp4_result *result)
{
    info->via = via;
    info->blksize = result->blksize;
    info->window = result->window;
    info->ms = result->ms;
    info->hash_ms = result->hash_ms;
    info->nic_ms = result->nic_ms;
    info->timeouts = result->timeouts;
    info->has_digest = result->outcome == TFTP4_DONE;
    CopyMem(info->digest, (void *)result->digest, sizeof info->digest);
}

/* The own path holds the NIC at TPL_CALLBACK, where the firmware's UDP must not send (its
 * MNP can reclaim the own path's transmit buffers): syslog lines wait until the NIC is back. */
static const char *hold_nic(EFI_HANDLE device, snp_link *link)
{
    log_net_pause();
    const char *why = snp_open(device, link);
    if (why)
        log_net_resume();
    return why;
}

static void release_nic(snp_link *link)
{
    snp_close(link);
    log_net_resume();
}

/* Once the own path could not be used, the rest of the boot takes the firmware's: one warning. */
static int own_path_off;

static void own_path_unavailable(const char *why)
{
    own_path_off = 1;
    warning_line("net", why, "using the firmware's network stack");
}

/* The stub's own path, when the policy asks for it and the NIC allows it: 1 when it gave a
 * definite answer (in *status), 0 when the firmware's path must be taken. */
static int read_own(EFI_HANDLE device, EFI_PXE_BASE_CODE_PROTOCOL *pxe, const stub_policy *policy,
                    const uint8_t *server, const char *name, const fetch_deadline *deadline,
                    file_buf *out, net_transfer *info, const char **reason, EFI_STATUS *status)
{
    if (policy->stack != NET_STACK_OWN || own_path_off)
        return 0;
    snp_link link;
    tftp_reader reader = {.device = device, .mode = pxe->Mode, .link = &link};
    own_addresses(pxe->Mode, &reader.addr);
    const char *why = hold_nic(device, &link);
    if (why) {
        own_path_unavailable(why);
        return 0;
    }
    tftp4_result result;
    *status = read_with_fallbacks(&reader, policy, server, name, deadline, out, &result, reason);
    release_nic(&link);
    if (result.outcome == TFTP4_UNAVAILABLE) {
        own_path_unavailable(*reason);
        return 0;
    }
    transfer_from(info, "own-tftp", &result);
    return 1;
}

EFI_STATUS net_read(EFI_HANDLE device, EFI_PXE_BASE_CODE_PROTOCOL *pxe, const stub_policy *policy,
                    int family, const uint8_t *server, const char *name, const fetch_deadline *deadline,
                    file_buf *out, net_transfer *info, const char **reason)
{
    tftp4_result result;
    EFI_STATUS status;
    *info = (net_transfer){0};
    if ((family == 6) != (pxe->Mode->UsingIpv6 != 0)) {
        *reason = family == 6 ? "an IPv6 TFTP server needs a PXE boot over IPv6"
                              : "an IPv4 TFTP server needs a PXE boot over IPv4";
        return EFI_UNSUPPORTED;
    }
    /* The own path is IPv4 only (stub/FORMAT.md 4): over IPv6 the firmware's. */
    if (family == 6)
        return read_v6(pxe, policy, server, name, deadline, out, info, reason);
    if (read_own(device, pxe, policy, server, name, deadline, out, info, reason, &status))
        return status;
    tftp_reader firmware = {.device = device, .mode = pxe->Mode};
    status = read_with_fallbacks(&firmware, policy, server, name, deadline, out, &result, reason);
    if (result.outcome == TFTP4_DONE || result.outcome == TFTP4_FAILED) {
        transfer_from(info, "mtftp4", &result);
        return status;
    }
    if (result.outcome == TFTP4_TRY_SIMPLER)
        return status;  /* tsize itself is refused: PXE Base Code needs it too */
    fallback_line(*reason, "using PXE Base Code");
    info->via = "pxe";
    UINT64 started = clock_ms();
    status = pxe_read(pxe, FRAME_BLKSIZE, 4, server, name, deadline, out, reason);
    info->ms = clock_ms() - started;
    return status;
}

EFI_STATUS net_http_read(EFI_HANDLE device, const http_boot *boot, const stub_policy *policy,
                         const char *url, const fetch_deadline *deadline, file_buf *out,
                         net_transfer *info, const char **reason)
{
    /* The own path is IPv4 only (stub/FORMAT.md 4). */
    if (policy->stack == NET_STACK_OWN && !own_path_off && boot->boot.family == 4) {
        own_ipv4 addr = {0};
        CopyMem(addr.ip, (void *)boot->boot.local, 4);
        CopyMem(addr.mask, (void *)boot->boot.subnet, 4);
        CopyMem(addr.router, (void *)boot->boot.gateway, 4);
        snp_link link;
        const char *why = hold_nic(device, &link);
        if (why) {
            own_path_unavailable(why);
        } else {
            int unavailable = 0;
            EFI_STATUS status = own_http_read(&link, &addr, url, deadline, out, info, reason, &unavailable);
            release_nic(&link);
            if (!unavailable)
                return status;
            own_path_unavailable(*reason);
        }
    }
    return http_read(boot, url, deadline, out, info, reason);
}
