/* A stand-in for an earlier loader (GRUB, another stub) that leaves an initrd behind: it
 * serves \EFI\workbench\rogue.img through LoadFile2 on the Linux initrd media device path,
 * then starts \EFI\workbench\stub.efi from the same volume. Not part of the stub. */
#include <efi.h>
#include <efilib.h>

static EFI_GUID load_file2_guid = {0x4006c0c1, 0xfcb3, 0x403e, {0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d}};

static struct {
    VENDOR_DEVICE_PATH vendor;
    EFI_DEVICE_PATH end;
} __attribute__((packed)) media_path = {
    {{MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP, {sizeof(VENDOR_DEVICE_PATH), 0}},
     {0x5568e427, 0x68fc, 0x4f3d, {0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68}}},
    {END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE, {sizeof(EFI_DEVICE_PATH), 0}},
};

static void *rogue;
static UINTN rogue_size;

static EFI_STATUS EFIAPI serve(EFI_LOAD_FILE_PROTOCOL *this, EFI_DEVICE_PATH *path, BOOLEAN boot_policy,
                               UINTN *size, void *buffer)
{
    (void)this, (void)path, (void)boot_policy;
    if (!buffer || *size < rogue_size) {
        *size = rogue_size;
        return EFI_BUFFER_TOO_SMALL;
    }
    CopyMem(buffer, rogue, rogue_size);
    *size = rogue_size;
    return EFI_SUCCESS;
}

static EFI_LOAD_FILE_PROTOCOL load_file2 = {serve};

static EFI_STATUS read_file(EFI_HANDLE device, CHAR16 *name, void **data, UINTN *size)
{
    EFI_FILE_HANDLE root = LibOpenRoot(device), file;
    if (!root)
        return EFI_NOT_FOUND;
    EFI_STATUS status = uefi_call_wrapper(root->Open, 5, root, &file, name, EFI_FILE_MODE_READ, 0ULL);
    if (EFI_ERROR(status))
        return status;
    EFI_FILE_INFO *info = LibFileInfo(file);
    if (!info)
        return EFI_DEVICE_ERROR;
    *size = info->FileSize;
    *data = AllocatePool(*size);
    return uefi_call_wrapper(file->Read, 3, file, size, *data);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
    EFI_LOADED_IMAGE *self;
    EFI_HANDLE handle = NULL, stub = NULL;
    InitializeLib(image, system_table);
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&self);
    EFI_STATUS status = read_file(self->DeviceHandle, L"\\EFI\\workbench\\rogue.img", &rogue, &rogue_size);
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(BS->InstallMultipleProtocolInterfaces, 6, &handle, &DevicePathProtocol,
                                   &media_path, &load_file2_guid, &load_file2, NULL);
    Print(L"WORKBENCH-PLANTER planted a rogue initrd: %r\r\n", status);
    EFI_DEVICE_PATH *path = FileDevicePath(self->DeviceHandle, L"\\EFI\\workbench\\stub.efi");
    status = uefi_call_wrapper(BS->LoadImage, 6, FALSE, image, path, NULL, 0, &stub);
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(BS->StartImage, 3, stub, NULL, NULL);
    Print(L"WORKBENCH-PLANTER the stub returned: %r\r\n", status);
    return status;
}
