#include <efi.h>
#include <efilib.h>

#include "console.h"
#include "efi_status.h"
#include "line.h"
#include "log_net.h"
#include "utf8.h"

#define OUTPUT_CHUNK 128

void console_begin(text_buf *tb, char *storage, size_t cap)
{
    line_begin(tb, storage, cap);
}

/* ConOut takes UCS-2: decode the UTF-8 line, '?' for bytes that do not decode. */
static void output_utf8(const char *text, size_t len)
{
    CHAR16 chunk[OUTPUT_CHUNK + 1];
    size_t used = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode((const uint8_t *)text + i, len - i, &cp);
        if (n == 0 || cp > 0xffff) {
            cp = '?';
            n = n ? n : 1;
        }
        chunk[used++] = (CHAR16)cp;
        i += n;
        if (used == OUTPUT_CHUNK) {
            chunk[used] = 0;
            uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, chunk);
            used = 0;
        }
    }
    chunk[used] = 0;
    if (used)
        uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, chunk);
}

void console_end(text_buf *tb)
{
    output_utf8(tb->buf, tb->len);
    output_utf8("\r\n", 2);
    log_net_line(tb->buf, tb->len);  /* over syslog too when netbooted (log_net.h) */
}

void console_line(const char *text)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    tb_str(&tb, text);
    console_end(&tb);
}

EFI_STATUS console_error(const char *what, const char *subject, const char *reason, EFI_STATUS status)
{
    char storage[CONSOLE_LINE_MAX], name[32];
    text_buf tb, status_text;
    tb_init(&status_text, name, sizeof name);
    efi_status_name(&status_text, status);
    console_begin(&tb, storage, sizeof storage);
    line_error(&tb, what, subject, reason, name);
    console_end(&tb);
    return status;
}

void console_warning(const char *topic, const char *text)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    line_warning(&tb, topic, text);
    console_end(&tb);
}
