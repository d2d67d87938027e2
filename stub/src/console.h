/* The machine-readable `stub: ` lines on ConOut (OVMF mirrors ConOut to the serial port).
 * The forms are documented in stub/FORMAT.md; the workbench parses them. */
#ifndef STUB_CONSOLE_H
#define STUB_CONSOLE_H

#include <efi.h>
#include "text.h"

#define CONSOLE_LINE_MAX 2048

/* Start a line: the buffer holds "stub: " already. */
void console_begin(text_buf *tb, char *storage, size_t cap);
/* Print the line (UTF-8 in, UCS-2 to ConOut) followed by CRLF. */
void console_end(text_buf *tb);
/* A whole fixed line: "stub: " + text. */
void console_line(const char *text);
/* "stub: warning: " + text */
void console_warning(const char *text);

/* A readable reason for an EFI status ("not found", "access denied", "timeout"...). */
const char *efi_status_reason(EFI_STATUS status);

#endif
