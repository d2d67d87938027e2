/* Whole-file reads through the SimpleFileSystem of the stub's own device. */
#include <efi.h>
#include <efilib.h>

#include "efi_status.h"
#include "local.h"

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

static EFI_STATUS fail(EFI_STATUS status, const char **reason)
{
    *reason = status == EFI_NOT_FOUND ? "file not found" : efi_status_reason(status);
    return status;
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

static EFI_STATUS read_open_file(EFI_FILE_HANDLE file, file_buf *out, const char **reason)
{
    UINT64 size = 0;
    int is_directory = 0;
    EFI_STATUS status = file_size(file, &size, &is_directory);
    if (EFI_ERROR(status))
        return fail(status, reason);
    if (is_directory) {
        *reason = "is a directory";
        return EFI_INVALID_PARAMETER;
    }
    if (size == 0) {
        *reason = "empty file";
        return EFI_END_OF_FILE;
    }
    status = file_buf_alloc(out, (UINTN)size);
    if (EFI_ERROR(status)) {
        *reason = "out of memory";
        return status;
    }
    /* Some drivers return short reads: loop until the whole file is in. */
    for (UINTN done = 0; done < out->size;) {
        UINTN chunk = out->size - done;
        status = uefi_call_wrapper(file->Read, 3, file, &chunk, out->data + done);
        if (EFI_ERROR(status) || chunk == 0) {
            file_buf_free(out);
            if (EFI_ERROR(status))
                return fail(status, reason);
            *reason = "file shorter than its size";
            return EFI_END_OF_FILE;
        }
        done += chunk;
    }
    return EFI_SUCCESS;
}

EFI_STATUS local_read(EFI_HANDLE device, const CHAR16 *path, file_buf *out, const char **reason)
{
    EFI_FILE_IO_INTERFACE *fs = file_system(device);
    EFI_FILE_HANDLE root = NULL, file = NULL;
    *out = (file_buf){0};
    if (!fs) {
        *reason = "no file system on the boot device";
        return EFI_NOT_FOUND;
    }
    EFI_STATUS status = uefi_call_wrapper(fs->OpenVolume, 2, fs, &root);
    if (EFI_ERROR(status))
        return fail(status, reason);
    status = uefi_call_wrapper(root->Open, 5, root, &file, (CHAR16 *)path, EFI_FILE_MODE_READ, 0ULL);
    if (EFI_ERROR(status))
        fail(status, reason);
    else
        status = read_open_file(file, out, reason);
    if (file)
        uefi_call_wrapper(file->Close, 1, file);
    uefi_call_wrapper(root->Close, 1, root);
    return status;
}
