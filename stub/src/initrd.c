#include <efi.h>
#include <efilib.h>

#include "initrd.h"

/* EFI_LOAD_FILE2_PROTOCOL_GUID: gnu-efi 3.0 lacks it. */
static EFI_GUID load_file2_guid = {0x4006c0c1, 0xfcb3, 0x403e, {0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d}};

typedef struct {
    VENDOR_DEVICE_PATH vendor;
    EFI_DEVICE_PATH end;
} __attribute__((packed)) initrd_device_path;

/* The vendor GUID is LINUX_EFI_INITRD_MEDIA_GUID. */
static initrd_device_path device_path = {
    .vendor = {
        .Header = {MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP, {sizeof(VENDOR_DEVICE_PATH), 0}},
        .Guid = {0x5568e427, 0x68fc, 0x4f3d, {0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68}},
    },
    .end = {END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE, {sizeof(EFI_DEVICE_PATH), 0}},
};

static const uint8_t *initrd_data;
static UINTN initrd_size;

static EFI_STATUS EFIAPI load_initrd(EFI_LOAD_FILE_PROTOCOL *this, EFI_DEVICE_PATH *file_path,
                                     BOOLEAN boot_policy, UINTN *buffer_size, void *buffer)
{
    (void)this;
    if (boot_policy)
        return EFI_UNSUPPORTED;
    if (!file_path || !buffer_size)
        return EFI_INVALID_PARAMETER;
    if (!buffer || *buffer_size < initrd_size) {
        *buffer_size = initrd_size;
        return EFI_BUFFER_TOO_SMALL;
    }
    CopyMem(buffer, (void *)initrd_data, initrd_size);
    *buffer_size = initrd_size;
    return EFI_SUCCESS;
}

static EFI_LOAD_FILE_PROTOCOL load_file2 = {load_initrd};

EFI_STATUS initrd_check_unclaimed(void)
{
    /* LocateDevicePath finds the closest match, as the kernel's own lookup does; installing
     * would only catch an identical path. */
    EFI_DEVICE_PATH *remaining = (EFI_DEVICE_PATH *)&device_path;
    EFI_HANDLE handle = NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->LocateDevicePath, 3, &load_file2_guid, &remaining, &handle);
    if (status == EFI_NOT_FOUND)
        return EFI_SUCCESS;
    return EFI_ERROR(status) ? status : EFI_ALREADY_STARTED;
}

EFI_STATUS initrd_install(const uint8_t *data, UINTN size, EFI_HANDLE *handle)
{
    *handle = NULL;
    EFI_STATUS status = initrd_check_unclaimed();
    if (EFI_ERROR(status))
        return status;
    initrd_data = data;
    initrd_size = size;
    status = uefi_call_wrapper(BS->InstallMultipleProtocolInterfaces, 6, handle, &DevicePathProtocol,
                               &device_path, &load_file2_guid, &load_file2, NULL);
    if (EFI_ERROR(status))
        *handle = NULL;
    return status;
}

void initrd_uninstall(EFI_HANDLE handle)
{
    if (!handle)
        return;
    uefi_call_wrapper(BS->UninstallMultipleProtocolInterfaces, 6, handle, &DevicePathProtocol,
                      &device_path, &load_file2_guid, &load_file2, NULL);
}
