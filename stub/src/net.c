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

static const char *tftp_error_reason(EFI_PXE_BASE_CODE_MODE *mode)
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
    if (code < sizeof names / sizeof names[0] && names[code]) {
        tb_str(&tb, names[code]);
        return message;
    }
    /* Code 0 (or unknown): the server's own text is the only explanation. */
    size_t len = 0;
    while (len < sizeof mode->TftpError.ErrorString && mode->TftpError.ErrorString[len])
        len++;
    tb_quoted(&tb, (const uint8_t *)mode->TftpError.ErrorString, len);
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

static int option_refused(EFI_PXE_BASE_CODE_PROTOCOL *pxe, EFI_STATUS status)
{
    if (status == EFI_TFTP_ERROR)
        return pxe->Mode->TftpErrorReceived &&
               pxe->Mode->TftpError.ErrorCode == TFTP_ERROR_OPTION_REFUSED;
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
    if (EFI_ERROR(status) && option_refused(pxe, status)) {
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
