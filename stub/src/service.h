/* Network protocol children (MTFTP4, HTTP): the protocol's service binding on the NIC under
 * the boot device, and one child of it. */
#ifndef STUB_SERVICE_H
#define STUB_SERVICE_H

#include <efi.h>

#include "proto/service_binding.h"

/* The protocol `guid` on the handle closest to `device` along its device path (the NIC's SNP,
 * a service binding); NULL when there is none. */
void *protocol_along_path(EFI_HANDLE device, EFI_GUID *guid);

/* The service binding `binding_guid` on the handle closest to `device` along its device path
 * (the NIC under a PXE or HTTP Boot device); NULL when there is none. */
stub_service_binding *service_binding_for(EFI_HANDLE device, EFI_GUID *binding_guid);

/* A new child of `binding` and its `protocol_guid` interface. On failure nothing is left:
 * *child is NULL. */
EFI_STATUS service_child(stub_service_binding *binding, EFI_GUID *protocol_guid,
                         EFI_HANDLE *child, void **protocol);

#endif
