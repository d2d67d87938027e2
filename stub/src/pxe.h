/* TFTP through the PXE Base Code protocol's Mtftp: GET_FILE_SIZE, then READ_FILE with the
 * asked block size, both retried with 512-byte blocks when the server refuses the option. */
#ifndef STUB_PXE_H
#define STUB_PXE_H

#include <efi.h>
#include <efipxebc.h>
#include <stdint.h>

#include "file_buf.h"
#include "net.h"

/* `server` holds 4 (family 4) or 16 (family 6) bytes. Mtftp has no callbacks: `deadline` is
 * checked between its calls (EFI_TIMEOUT), each of which its own retries bound. */
EFI_STATUS pxe_read(EFI_PXE_BASE_CODE_PROTOCOL *pxe, unsigned blksize, int family,
                    const uint8_t *server, const char *name, const fetch_deadline *deadline,
                    file_buf *out, const char **reason);

#endif
