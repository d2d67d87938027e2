/* EFI_STATUS as text: the spec's name for `status=` in error lines, and a short reason. */
#include <efi.h>
#include <efilib.h>

#include "efi_status.h"

/* Error codes 0..35 by number (UEFI 2.10, Appendix D); 29 and 30 are unassigned. */
static const char *const error_names[] = {
    "EFI_SUCCESS",
    "EFI_LOAD_ERROR",
    "EFI_INVALID_PARAMETER",
    "EFI_UNSUPPORTED",
    "EFI_BAD_BUFFER_SIZE",
    "EFI_BUFFER_TOO_SMALL",
    "EFI_NOT_READY",
    "EFI_DEVICE_ERROR",
    "EFI_WRITE_PROTECTED",
    "EFI_OUT_OF_RESOURCES",
    "EFI_VOLUME_CORRUPTED",
    "EFI_VOLUME_FULL",
    "EFI_NO_MEDIA",
    "EFI_MEDIA_CHANGED",
    "EFI_NOT_FOUND",
    "EFI_ACCESS_DENIED",
    "EFI_NO_RESPONSE",
    "EFI_NO_MAPPING",
    "EFI_TIMEOUT",
    "EFI_NOT_STARTED",
    "EFI_ALREADY_STARTED",
    "EFI_ABORTED",
    "EFI_ICMP_ERROR",
    "EFI_TFTP_ERROR",
    "EFI_PROTOCOL_ERROR",
    "EFI_INCOMPATIBLE_VERSION",
    "EFI_SECURITY_VIOLATION",
    "EFI_CRC_ERROR",
    "EFI_END_OF_MEDIA",
    NULL,
    NULL,
    "EFI_END_OF_FILE",
    "EFI_INVALID_LANGUAGE",
    "EFI_COMPROMISED_DATA",
    "EFI_IP_ADDRESS_CONFLICT",
    "EFI_HTTP_ERROR",
};

/* Network errors 100..106. */
static const char *const network_names[] = {
    "EFI_NETWORK_UNREACHABLE", "EFI_HOST_UNREACHABLE", "EFI_PROTOCOL_UNREACHABLE",
    "EFI_PORT_UNREACHABLE", "EFI_CONNECTION_FIN", "EFI_CONNECTION_RESET", "EFI_CONNECTION_REFUSED",
};
#define NETWORK_FIRST 100

void efi_status_name(text_buf *tb, EFI_STATUS status)
{
    UINTN code = status & ~EFI_ERROR_MASK;
    if (EFI_ERROR(status) && code >= NETWORK_FIRST &&
        code - NETWORK_FIRST < sizeof network_names / sizeof network_names[0]) {
        tb_str(tb, network_names[code - NETWORK_FIRST]);
        return;
    }
    if ((status == EFI_SUCCESS || EFI_ERROR(status)) && code < sizeof error_names / sizeof error_names[0] &&
        error_names[code]) {
        tb_str(tb, error_names[code]);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char digits[17];
    for (int i = 0; i < 16; i++)
        digits[i] = hex[(status >> (60 - 4 * i)) & 15];
    digits[16] = 0;
    tb_str(tb, "0x");
    tb_str(tb, digits);
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
