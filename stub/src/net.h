/* Netboot: the PXE Base Code instance that loaded the stub, the boot server it names, and
 * whole-file TFTP reads from it (MTFTP4 with windows, PXE Base Code as the fallback). */
#ifndef STUB_NET_H
#define STUB_NET_H

#include <efi.h>
#include <efipxebc.h>
#include <stdint.h>

#include "file_buf.h"
#include "policy.h"
#include "sha256.h"

/* PXE Base Code on the boot device, started (over IPv4 or IPv6) with a DHCP reply; else NULL. */
EFI_PXE_BASE_CODE_PROTOCOL *net_find(EFI_HANDLE device);

/* The boot server named by the DHCP/PXE packets: IPv4 as dhcp.h says, IPv6 from the DHCPv6
 * boot file URL (dhcp6.h). *family is 4 or 6. NULL or a static reason. */
const char *net_boot_server(EFI_PXE_BASE_CODE_PROTOCOL *pxe, int *family, uint8_t server[16]);

/* How a file came over the network, for the `stub: transfer` line. */
typedef struct {
    const char *via;     /* "mtftp4", "pxe", "http" (or "esp") */
    unsigned blksize;    /* as agreed; 0 when the firmware does not say (pxe) */
    unsigned window;
    UINT64 ms;
    unsigned timeouts;
    unsigned reads;      /* http: Response() calls for the body */
    UINT64 hash_ms;      /* own paths: of ms, the time spent hashing */
    UINT64 nic_ms;       /* own paths: of ms, the time inside the NIC driver (SNP) */
    int has_digest;      /* the SHA-256 of the buffer was computed during the transfer */
    uint8_t digest[SHA256_DIGEST_SIZE];
} net_transfer;

/* `.policy fetch-timeout`: the clock_ms() value after which a transfer of one file stops. The
 * HTTP loop and the MTFTP4 callbacks check it while bytes come; PXE Base Code's Mtftp runs
 * without callbacks, so it is checked between its calls there. */
typedef struct {
    UINT64 at_ms;
    unsigned seconds;
} fetch_deadline;

fetch_deadline net_deadline(unsigned seconds);
int net_deadline_passed(const fetch_deadline *deadline);
/* `fetch-timeout of N s passed` with ` after X of Y bytes` when the size is known (static). */
const char *net_deadline_reason(const fetch_deadline *deadline, UINT64 got, UINT64 total);

/* Read `name` from `server` (`family` 4 or 6) into `out`, within `deadline`. On failure returns the firmware's
 * status and sets *reason to a short text for the error line. */
EFI_STATUS net_read(EFI_HANDLE device, EFI_PXE_BASE_CODE_PROTOCOL *pxe, const stub_policy *policy,
                    int family, const uint8_t *server, const char *name, const fetch_deadline *deadline,
                    file_buf *out, net_transfer *info, const char **reason);

/* GET `url` through the stub's own path when the policy asks for it and it can be used (an
 * http:// URL with an IPv4 host, a held NIC, an answer from the server), else through the
 * firmware's EFI_HTTP_PROTOCOL child of `boot` (http.h), with one warning the first time. */
struct http_boot_s;
EFI_STATUS net_http_read(EFI_HANDLE device, const struct http_boot_s *boot, const stub_policy *policy,
                         const char *url, const fetch_deadline *deadline, file_buf *out,
                         net_transfer *info, const char **reason);

#endif
