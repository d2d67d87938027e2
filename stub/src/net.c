/* Whole-file reads over TFTP through the firmware's PXE Base Code protocol (the one that
 * loaded the stub), so no second network stack and no new DHCP exchange. */
#include <efi.h>
#include <efilib.h>
#include <efipxebc.h>

#include "console.h"
#include "dhcp.h"
#include "fetch.h"
#include "text.h"

/* 1468 fills a 1500-byte MTU frame; EDK2 asks for the same when it loads the stub. */
#define PREFERRED_BLOCK_SIZE 1468
#define TFTP_ERROR_OPTION_REFUSED 8

static EFI_GUID pxe_guid = EFI_PXE_BASE_CODE_PROTOCOL_GUID;

EFI_PXE_BASE_CODE_PROTOCOL *net_find(EFI_HANDLE device)
{
    EFI_PXE_BASE_CODE_PROTOCOL *pxe = NULL;
    if (!device)
        return NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->HandleProtocol, 3, device, &pxe_guid, (void **)&pxe);
    if (EFI_ERROR(status) || !pxe || !pxe->Mode)
        return NULL;
    if (!pxe->Mode->Started || !pxe->Mode->DhcpAckReceived || pxe->Mode->UsingIpv6)
        return NULL;
    return pxe;
}

const char *net_boot_server(EFI_PXE_BASE_CODE_PROTOCOL *pxe, uint8_t server[4])
{
    EFI_PXE_BASE_CODE_MODE *mode = pxe->Mode;
    dhcp_packet ack = {mode->DhcpAck.Raw, sizeof mode->DhcpAck.Raw, mode->DhcpAckReceived};
    dhcp_packet proxy = {mode->ProxyOffer.Raw, sizeof mode->ProxyOffer.Raw, mode->ProxyOfferReceived};
    dhcp_packet reply = {mode->PxeReply.Raw, sizeof mode->PxeReply.Raw, mode->PxeReplyReceived};
    dhcp_origin origin;
    return dhcp_boot_server(&ack, &proxy, &reply, server, &origin);
}

typedef enum { TFTP_OTHER, TFTP_NOT_FOUND, TFTP_ACCESS_DENIED, TFTP_OPTION_REFUSED } tftp_error_kind;

static int contains_word(const CHAR8 *text, size_t len, const char *word)
{
    for (size_t i = 0; i < len; i++) {
        size_t k = 0;
        while (word[k] && i + k < len) {
            CHAR8 c = text[i + k];
            if (c >= 'A' && c <= 'Z')
                c = (CHAR8)(c - 'A' + 'a');
            if (c != (CHAR8)word[k])
                break;
            k++;
        }
        if (!word[k])
            return 1;
    }
    return 0;
}

static size_t error_string_length(const EFI_PXE_BASE_CODE_MODE *mode)
{
    size_t len = 0;
    while (len < sizeof mode->TftpError.ErrorString && mode->TftpError.ErrorString[len])
        len++;
    return len;
}

/* EDK2's PXE Base Code keeps one byte of the TFTP error code, and it reads 0 for the
 * standard codes (seen with OVMF 2022.11); the server's message then tells what happened. */
static tftp_error_kind classify(const EFI_PXE_BASE_CODE_MODE *mode)
{
    UINT8 code = mode->TftpError.ErrorCode;
    const CHAR8 *text = mode->TftpError.ErrorString;
    size_t len = error_string_length(mode);
    if (code == 1 || contains_word(text, len, "not found") || contains_word(text, len, "no such file"))
        return TFTP_NOT_FOUND;
    if (code == 2 || contains_word(text, len, "access") || contains_word(text, len, "permission"))
        return TFTP_ACCESS_DENIED;
    if (code == TFTP_ERROR_OPTION_REFUSED || contains_word(text, len, "option"))
        return TFTP_OPTION_REFUSED;
    return TFTP_OTHER;
}

static const char *tftp_error_reason(const EFI_PXE_BASE_CODE_MODE *mode)
{
    static char message[160];
    static const char *const names[] = {
        NULL, "file not found", "access denied", "disk full", "illegal operation",
        "unknown transfer ID", "file already exists", "no such user", "option negotiation refused",
    };
    text_buf tb;
    tb_init(&tb, message, sizeof message);
    tb_str(&tb, "TFTP error: ");
    UINT8 code = mode->TftpError.ErrorCode;
    switch (classify(mode)) {
    case TFTP_NOT_FOUND:
        tb_str(&tb, names[1]);
        return message;
    case TFTP_ACCESS_DENIED:
        tb_str(&tb, names[2]);
        return message;
    case TFTP_OPTION_REFUSED:
        tb_str(&tb, names[8]);
        return message;
    default:
        break;
    }
    if (code < sizeof names / sizeof names[0] && names[code]) {
        tb_str(&tb, names[code]);
        return message;
    }
    tb_quoted(&tb, (const uint8_t *)mode->TftpError.ErrorString, error_string_length(mode));
    return message;
}

static const char *transfer_reason(EFI_PXE_BASE_CODE_PROTOCOL *pxe, EFI_STATUS status)
{
    if (status == EFI_TFTP_ERROR && pxe->Mode->TftpErrorReceived)
        return tftp_error_reason(pxe->Mode);
    if (status == EFI_TIMEOUT)
        return "timeout (no answer from the TFTP server)";
    if (status == EFI_NOT_FOUND)
        return "file not found";
    return efi_status_reason(status);
}

/* Worth a second try with the default block size: anything but a definite answer about the
 * file itself. */
static int may_be_block_size(EFI_PXE_BASE_CODE_PROTOCOL *pxe, EFI_STATUS status)
{
    if (status == EFI_TFTP_ERROR) {
        if (!pxe->Mode->TftpErrorReceived)
            return 1;
        tftp_error_kind kind = classify(pxe->Mode);
        return kind == TFTP_OPTION_REFUSED || kind == TFTP_OTHER;
    }
    return status == EFI_UNSUPPORTED || status == EFI_INVALID_PARAMETER;
}

static EFI_STATUS mtftp(EFI_PXE_BASE_CODE_PROTOCOL *pxe, EFI_PXE_BASE_CODE_TFTP_OPCODE op,
                        void *buffer, UINT64 *size, UINTN *block_size, EFI_IP_ADDRESS *server,
                        const char *name)
{
    return uefi_call_wrapper(pxe->Mtftp, 10, pxe, op, buffer, FALSE, size, block_size, server,
                             (UINT8 *)name, NULL, buffer == NULL);
}

const char *net_read(EFI_PXE_BASE_CODE_PROTOCOL *pxe, const uint8_t server[4], const char *name,
                     file_buf *out)
{
    EFI_IP_ADDRESS server_ip;
    UINTN block_size = PREFERRED_BLOCK_SIZE;
    UINTN *block = &block_size;
    UINT64 size = 0;
    out->data = NULL;
    out->size = out->pages = 0;
    SetMem(&server_ip, sizeof server_ip, 0);
    for (int i = 0; i < 4; i++)
        server_ip.v4.Addr[i] = server[i];

    EFI_STATUS status = mtftp(pxe, EFI_PXE_BASE_CODE_TFTP_GET_FILE_SIZE, NULL, &size, block,
                              &server_ip, name);
    if (EFI_ERROR(status) && may_be_block_size(pxe, status)) {
        /* The server refused the block size: the default 512 bytes always works. */
        block = NULL;
        size = 0;
        status = mtftp(pxe, EFI_PXE_BASE_CODE_TFTP_GET_FILE_SIZE, NULL, &size, block, &server_ip, name);
    }
    if (EFI_ERROR(status))
        return transfer_reason(pxe, status);
    if (size == 0)
        return "empty file";
    if (EFI_ERROR(file_buf_alloc(out, (UINTN)size)))
        return "out of memory";
    UINT64 got = size;
    status = mtftp(pxe, EFI_PXE_BASE_CODE_TFTP_READ_FILE, out->data, &got, block, &server_ip, name);
    if (EFI_ERROR(status) || got != size) {
        file_buf_free(out);
        if (status == EFI_BUFFER_TOO_SMALL || (!EFI_ERROR(status) && got != size))
            return "file changed size during the transfer";
        return transfer_reason(pxe, status);
    }
    return NULL;
}
