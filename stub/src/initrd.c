#include <efi.h>
#include <efilib.h>

#include "boot.h"

/* LINUX_EFI_INITRD_MEDIA_GUID and EFI_LOAD_FILE2_PROTOCOL_GUID: gnu-efi 3.0 lacks both. */
static EFI_GUID initrd_media_guid = {0x5568e427, 0x68fc, 0x4f3d, {0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68}};
static EFI_GUID load_file2_guid = {0x4006c0c1, 0xfcb3, 0x403e, {0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d}};

typedef struct {
    VENDOR_DEVICE_PATH vendor;
    EFI_DEVICE_PATH end;
} __attribute__((packed)) initrd_device_path;

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

const char *initrd_install(const uint8_t *data, UINTN size, EFI_HANDLE *handle)
{
    (void)initrd_media_guid;
    initrd_data = data;
    initrd_size = size;
    *handle = NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, handle,
                                          &DevicePathProtocol, EFI_NATIVE_INTERFACE, &device_path);
    if (EFI_ERROR(status))
        return "cannot install the initrd device path";
    status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, handle, &load_file2_guid,
                               EFI_NATIVE_INTERFACE, &load_file2);
    if (EFI_ERROR(status)) {
        uefi_call_wrapper(BS->UninstallProtocolInterface, 3, *handle, &DevicePathProtocol, &device_path);
        *handle = NULL;
        return "cannot install LoadFile2 for the initrd";
    }
    return NULL;
}

void initrd_uninstall(EFI_HANDLE handle)
{
    if (!handle)
        return;
    uefi_call_wrapper(BS->UninstallProtocolInterface, 3, handle, &load_file2_guid, &load_file2);
    uefi_call_wrapper(BS->UninstallProtocolInterface, 3, handle, &DevicePathProtocol, &device_path);
}
