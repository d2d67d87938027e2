/* EFI_SERVICE_BINDING_PROTOCOL (UEFI 2.10, 11.6): how network protocol children are made. */
#ifndef STUB_PROTO_SERVICE_BINDING_H
#define STUB_PROTO_SERVICE_BINDING_H

#include <efi.h>

typedef struct stub_service_binding stub_service_binding;
struct stub_service_binding {
    EFI_STATUS (EFIAPI *CreateChild)(stub_service_binding *this, EFI_HANDLE *child);
    EFI_STATUS (EFIAPI *DestroyChild)(stub_service_binding *this, EFI_HANDLE child);
};

#endif
