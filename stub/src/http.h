/* Netboot by HTTP: the HTTP Boot that loaded the stub (its device path ends in an IP node and
 * a URI node) and whole-file GETs through an EFI_HTTP_PROTOCOL child of the same NIC. */
#ifndef STUB_HTTP_H
#define STUB_HTTP_H

#include <efi.h>
#include <efipxebc.h>

#include "devpath.h"
#include "file_buf.h"
#include "net.h"
#include "proto/service_binding.h"

typedef struct http_boot_s {
    stub_service_binding *binding;  /* the NIC's HTTP service binding */
    devpath_http_boot boot;      /* family, local address, the stub's own URL (none after PXE) */
} http_boot;

/* NULL when the stub came by HTTP Boot and the NIC offers EFI_HTTP_PROTOCOL; else a reason. */
const char *http_find(EFI_HANDLE device, http_boot *out);

/* After a PXE boot: HTTP from the address PXE configured, for http:// paths in sections (there
 * is no URL of the stub's own to resolve plain paths against). NULL or a reason. */
const char *http_from_pxe(EFI_HANDLE device, const EFI_PXE_BASE_CODE_MODE *mode, http_boot *out);

/* GET `url` (NUL-terminated ASCII) into `out`, hashing it as it arrives, within `deadline`
 * (EFI_TIMEOUT when it passes). On failure returns a status and sets *reason (static text)
 * for the error line. */
EFI_STATUS http_read(const http_boot *boot, const char *url, const fetch_deadline *deadline,
                     file_buf *out, net_transfer *info, const char **reason);

#endif
