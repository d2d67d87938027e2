#include <efi.h>
#include <efilib.h>

#include "service.h"

void *protocol_along_path(EFI_HANDLE device, EFI_GUID *guid)
{
    EFI_DEVICE_PATH *path = NULL;
    EFI_HANDLE handle = NULL;
    void *protocol = NULL;
    if (!device || EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, device, &DevicePathProtocol, (void **)&path)) || !path)
        return NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateDevicePath, 3, guid, &path, &handle)))
        return NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, handle, guid, &protocol)))
        return NULL;
    return protocol;
}

stub_service_binding *service_binding_for(EFI_HANDLE device, EFI_GUID *binding_guid)
{
    return protocol_along_path(device, binding_guid);
}

EFI_STATUS service_child(stub_service_binding *binding, EFI_GUID *protocol_guid,
                         EFI_HANDLE *child, void **protocol)
{
    *child = NULL;
    *protocol = NULL;
    EFI_STATUS status = uefi_call_wrapper(binding->CreateChild, 2, binding, child);
    if (!EFI_ERROR(status))
        status = uefi_call_wrapper(BS->HandleProtocol, 3, *child, protocol_guid, protocol);
    if (EFI_ERROR(status)) {
        if (*child)
            uefi_call_wrapper(binding->DestroyChild, 2, binding, *child);
        *child = NULL;
        *protocol = NULL;
    }
    return status;
}
