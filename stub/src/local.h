/* Whole-file reads from the volume the stub was loaded from (SimpleFileSystem). */
#ifndef STUB_LOCAL_H
#define STUB_LOCAL_H

#include <efi.h>

#include "file_buf.h"

int local_available(EFI_HANDLE device);

/* Read `path` (from the volume's root) into `out`. On failure returns the firmware's status
 * and sets *reason to a short static text for the error line. */
EFI_STATUS local_read(EFI_HANDLE device, const CHAR16 *path, file_buf *out, const char **reason);

#endif
