/* Reading whole files for the stub: from the volume it was loaded from (local.c) or over
 * PXE Base Code Mtftp (net.c). Reasons returned are short static texts for `stub: error:`. */
#ifndef STUB_FETCH_H
#define STUB_FETCH_H

#include <efi.h>
#include <efipxebc.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    UINTN size;
    UINTN pages;  /* 0 when data is not ours to free (embedded in the stub) */
} file_buf;

/* Allocate pages for `size` bytes (at least one page). */
EFI_STATUS file_buf_alloc(file_buf *buf, UINTN size);
void file_buf_free(file_buf *buf);

/* Local volume. */
int local_available(EFI_HANDLE device);
const char *local_read(EFI_HANDLE device, const CHAR16 *path, file_buf *out);

/* PXE Base Code on the boot device, started with a DHCP ACK; NULL otherwise. */
EFI_PXE_BASE_CODE_PROTOCOL *net_find(EFI_HANDLE device);
/* The boot server named by the DHCP/PXE packets (see dhcp.h). */
const char *net_boot_server(EFI_PXE_BASE_CODE_PROTOCOL *pxe, uint8_t server[4]);
const char *net_read(EFI_PXE_BASE_CODE_PROTOCOL *pxe, const uint8_t server[4], const char *name,
                     file_buf *out);

#endif
