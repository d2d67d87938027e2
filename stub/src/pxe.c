/* Whole-file reads through the firmware's PXE Base Code Mtftp (the instance that loaded the
 * stub): a size query, then the read. The fallback when MTFTP4 cannot be used. */
#include <efi.h>
#include <efilib.h>
#include <efipxebc.h>

#include "efi_status.h"
#include "pxe.h"
#include "tftp_error.h"

static size_t error_string_length(const EFI_PXE_BASE_CODE_MODE *mode)
{
    size_t len = 0;
    while (len < sizeof mode->TftpError.ErrorString && mode->TftpError.ErrorString[len])
        len++;
    return len;
}

/* EDK2's PXE Base Code keeps one byte of the TFTP error code, and it reads 0 for the
 * standard codes (seen with OVMF 2022.11); tftp_error then goes by the server's message. */
static tftp_error_kind error_kind(const EFI_PXE_BASE_CODE_MODE *mode)
{
    return tftp_error_classify(mode->TftpError.ErrorCode, (const uint8_t *)mode->TftpError.ErrorString,
                               error_string_length(mode));
}

static EFI_STATUS fail(EFI_PXE_BASE_CODE_PROTOCOL *pxe, EFI_STATUS status, const char **reason)
{
    static char message[160];
    if (status == EFI_TFTP_ERROR && pxe->Mode->TftpErrorReceived) {
        text_buf tb;
        tb_init(&tb, message, sizeof message);
        tftp_error_describe(&tb, pxe->Mode->TftpError.ErrorCode,
                            (const uint8_t *)pxe->Mode->TftpError.ErrorString, error_string_length(pxe->Mode));
        *reason = message;
    } else if (status == EFI_TIMEOUT) {
        *reason = "timeout (no answer from the TFTP server)";
    } else if (status == EFI_NOT_FOUND) {
        *reason = "file not found";
    } else {
        *reason = efi_status_reason(status);
    }
    return status;
}

/* Worth a second try with the default block size: anything but a definite answer about the
 * file itself. */
static int may_be_block_size(EFI_PXE_BASE_CODE_PROTOCOL *pxe, EFI_STATUS status)
{
    if (status == EFI_TFTP_ERROR) {
        if (!pxe->Mode->TftpErrorReceived)
            return 1;
        tftp_error_kind kind = error_kind(pxe->Mode);
        return kind == TFTP_ERR_OPTION_REFUSED || kind == TFTP_ERR_OTHER;
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

EFI_STATUS pxe_read(EFI_PXE_BASE_CODE_PROTOCOL *pxe, unsigned blksize, int family,
                    const uint8_t *server, const char *name, const fetch_deadline *deadline,
                    file_buf *out, const char **reason)
{
    EFI_IP_ADDRESS server_ip;
    UINTN block_size = blksize;
    UINTN *block = &block_size;
    UINT64 size = 0;
    *out = (file_buf){0};
    SetMem(&server_ip, sizeof server_ip, 0);
    CopyMem(&server_ip, (void *)server, family == 6 ? 16 : 4);
    if (net_deadline_passed(deadline)) {  /* spent on an earlier try (MTFTP4, bigger blocks) */
        *reason = net_deadline_reason(deadline, 0, 0);
        return EFI_TIMEOUT;
    }

    EFI_STATUS status = mtftp(pxe, EFI_PXE_BASE_CODE_TFTP_GET_FILE_SIZE, NULL, &size, block,
                              &server_ip, name);
    if (EFI_ERROR(status) && may_be_block_size(pxe, status) && !net_deadline_passed(deadline)) {
        /* The server refused the block size: the default 512 bytes always works. */
        block = NULL;
        size = 0;
        status = mtftp(pxe, EFI_PXE_BASE_CODE_TFTP_GET_FILE_SIZE, NULL, &size, block, &server_ip, name);
    }
    if (net_deadline_passed(deadline)) {
        *reason = net_deadline_reason(deadline, 0, 0);
        return EFI_TIMEOUT;
    }
    if (EFI_ERROR(status))
        return fail(pxe, status, reason);
    if (size == 0) {
        *reason = "empty file";
        return EFI_END_OF_FILE;
    }
    status = file_buf_alloc(out, (UINTN)size);
    if (EFI_ERROR(status)) {
        *reason = "out of memory";
        return status;
    }
    UINT64 got = size;
    status = mtftp(pxe, EFI_PXE_BASE_CODE_TFTP_READ_FILE, out->data, &got, block, &server_ip, name);
    if (EFI_ERROR(status) && net_deadline_passed(deadline)) {
        file_buf_free(out);
        *reason = net_deadline_reason(deadline, 0, 0);
        return EFI_TIMEOUT;
    }
    if (EFI_ERROR(status) || got != size) {
        file_buf_free(out);
        if (status == EFI_BUFFER_TOO_SMALL || !EFI_ERROR(status)) {
            *reason = "file changed size during the transfer";
            return EFI_ERROR(status) ? status : EFI_BAD_BUFFER_SIZE;
        }
        return fail(pxe, status, reason);
    }
    return EFI_SUCCESS;
}
