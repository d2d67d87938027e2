#include <efi.h>
#include <efilib.h>

#include "console.h"

#define OUTPUT_CHUNK 128

void console_begin(text_buf *tb, char *storage, size_t cap)
{
    tb_init(tb, storage, cap);
    tb_str(tb, "stub: ");
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
}

void console_line(const char *text)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    tb_str(&tb, text);
    console_end(&tb);
}

void console_warning(const char *text)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    tb_str(&tb, "warning: ");
    tb_str(&tb, text);
    console_end(&tb);
}

const char *efi_status_reason(EFI_STATUS status)
{
    switch (status) {
    case EFI_SUCCESS: return "success";
    case EFI_NOT_FOUND: return "not found";
    case EFI_ACCESS_DENIED: return "access denied";
    case EFI_TIMEOUT: return "timeout";
    case EFI_OUT_OF_RESOURCES: return "out of memory";
    case EFI_DEVICE_ERROR: return "device error";
    case EFI_VOLUME_CORRUPTED: return "volume corrupted";
    case EFI_NO_MEDIA: return "no media";
    case EFI_MEDIA_CHANGED: return "media changed";
    case EFI_UNSUPPORTED: return "unsupported";
    case EFI_INVALID_PARAMETER: return "invalid parameter";
    case EFI_BUFFER_TOO_SMALL: return "buffer too small";
    case EFI_LOAD_ERROR: return "load error";
    case EFI_SECURITY_VIOLATION: return "security violation";
    case EFI_ABORTED: return "aborted";
    case EFI_ICMP_ERROR: return "ICMP error (server unreachable)";
    case EFI_TFTP_ERROR: return "TFTP error";
    case EFI_NO_RESPONSE: return "no response";
    case EFI_NOT_STARTED: return "not started";
    case EFI_NOT_READY: return "not ready";
    case EFI_BAD_BUFFER_SIZE: return "bad buffer size";
    case EFI_END_OF_FILE: return "end of file";
    default: return "firmware error";
    }
}
