/* Whole-file reads through the SimpleFileSystem of the stub's own device. */
#include <efi.h>
#include <efilib.h>

#include "console.h"
#include "fetch.h"

EFI_STATUS file_buf_alloc(file_buf *buf, UINTN size)
{
    EFI_PHYSICAL_ADDRESS address = 0;
    UINTN pages = EFI_SIZE_TO_PAGES(size ? size : 1);
    EFI_STATUS status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
                                          pages, &address);
    if (EFI_ERROR(status))
        return status;
    buf->data = (uint8_t *)(UINTN)address;
    buf->size = size;
    buf->pages = pages;
    return EFI_SUCCESS;
}

void file_buf_free(file_buf *buf)
{
    if (buf->pages)
        uefi_call_wrapper(BS->FreePages, 2, (EFI_PHYSICAL_ADDRESS)(UINTN)buf->data, buf->pages);
    buf->data = NULL;
    buf->size = 0;
    buf->pages = 0;
}

static EFI_FILE_IO_INTERFACE *file_system(EFI_HANDLE device)
{
    EFI_FILE_IO_INTERFACE *fs = NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->HandleProtocol, 3, device, &FileSystemProtocol,
                                          (void **)&fs);
    return EFI_ERROR(status) ? NULL : fs;
}

int local_available(EFI_HANDLE device)
{
    return device && file_system(device) != NULL;
}

static const char *file_reason(EFI_STATUS status)
{
    return status == EFI_NOT_FOUND ? "file not found" : efi_status_reason(status);
}

/* Size from EFI_FILE_INFO; the structure has a variable-length name, so ask for the size first. */
static EFI_STATUS file_size(EFI_FILE_HANDLE file, UINT64 *size, int *is_directory)
{
    UINTN info_size = 0;
    EFI_FILE_INFO *info = NULL;
    EFI_STATUS status = uefi_call_wrapper(file->GetInfo, 4, file, &GenericFileInfo, &info_size, NULL);
    if (status != EFI_BUFFER_TOO_SMALL)
        return EFI_ERROR(status) ? status : EFI_DEVICE_ERROR;
    status = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, info_size, (void **)&info);
    if (EFI_ERROR(status))
        return status;
    status = uefi_call_wrapper(file->GetInfo, 4, file, &GenericFileInfo, &info_size, info);
    if (!EFI_ERROR(status)) {
        *size = info->FileSize;
        *is_directory = (info->Attribute & EFI_FILE_DIRECTORY) != 0;
    }
    uefi_call_wrapper(BS->FreePool, 1, info);
    return status;
}

const char *local_read(EFI_HANDLE device, const CHAR16 *path, file_buf *out)
{
    EFI_FILE_IO_INTERFACE *fs = file_system(device);
    EFI_FILE_HANDLE root = NULL, file = NULL;
    const char *reason = NULL;
    UINT64 size = 0;
    int is_directory = 0;
    out->data = NULL;
    out->size = out->pages = 0;
    if (!fs)
        return "no file system on the boot device";
    EFI_STATUS status = uefi_call_wrapper(fs->OpenVolume, 2, fs, &root);
    if (EFI_ERROR(status))
        return file_reason(status);
    status = uefi_call_wrapper(root->Open, 5, root, &file, (CHAR16 *)path, EFI_FILE_MODE_READ, 0ULL);
    if (EFI_ERROR(status)) {
        reason = file_reason(status);
        goto done;
    }
    status = file_size(file, &size, &is_directory);
    if (EFI_ERROR(status)) {
        reason = file_reason(status);
        goto done;
    }
    if (is_directory) {
        reason = "is a directory";
        goto done;
    }
    if (size == 0) {
        reason = "empty file";
        goto done;
    }
    if (EFI_ERROR(file_buf_alloc(out, (UINTN)size))) {
        reason = "out of memory";
        goto done;
    }
    /* Some drivers return short reads: loop until the whole file is in. */
    for (UINTN done = 0; done < out->size;) {
        UINTN chunk = out->size - done;
        status = uefi_call_wrapper(file->Read, 3, file, &chunk, out->data + done);
        if (EFI_ERROR(status) || chunk == 0) {
            reason = EFI_ERROR(status) ? file_reason(status) : "file shorter than its size";
            file_buf_free(out);
            goto done;
        }
        done += chunk;
    }
done:
    if (file)
        uefi_call_wrapper(file->Close, 1, file);
    if (root)
        uefi_call_wrapper(root->Close, 1, root);
    return reason;
}
