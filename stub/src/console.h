/* The machine-readable `stub: ` lines on ConOut (OVMF mirrors ConOut to the serial port).
 * The forms are documented in stub/FORMAT.md; the workbench parses them. */
#ifndef STUB_CONSOLE_H
#define STUB_CONSOLE_H

#include <efi.h>

#include "textbuf.h"

#define CONSOLE_LINE_MAX 2048

/* Start a line: the buffer holds "stub: " already. */
void console_begin(text_buf *tb, char *storage, size_t cap);
/* Print the line (UTF-8 in, UCS-2 to ConOut) followed by CRLF; netbooted, it also goes out
 * over syslog (log_net.h). */
void console_end(text_buf *tb);
/* A whole fixed line: "stub: " + text. */
void console_line(const char *text);

/* "stub: error: <what>[ <subject>]: <reason> status=<EFI name>"; returns `status`, so that one
 * call reports and propagates. */
EFI_STATUS console_error(const char *what, const char *subject, const char *reason, EFI_STATUS status);
/* "stub: warning: <topic>: <text>". */
void console_warning(const char *topic, const char *text);

#endif
