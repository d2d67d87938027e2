/* EFI_STATUS as text for console lines. */
#ifndef STUB_EFI_STATUS_H
#define STUB_EFI_STATUS_H

#include <efi.h>

#include "textbuf.h"

/* The specification's name ("EFI_NOT_FOUND"), or the value in hex when it has none. */
void efi_status_name(text_buf *tb, EFI_STATUS status);

/* A readable reason ("not found", "access denied", "timeout"...). */
const char *efi_status_reason(EFI_STATUS status);

#endif
