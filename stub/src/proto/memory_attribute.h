/* EFI_MEMORY_ATTRIBUTE_PROTOCOL (UEFI 2.10, 37.7); gnu-efi 3.0 has no header for it. */
#ifndef STUB_PROTO_MEMORY_ATTRIBUTE_H
#define STUB_PROTO_MEMORY_ATTRIBUTE_H

#include <efi.h>

#define STUB_MEMORY_ATTRIBUTE_PROTOCOL_GUID \
    {0xf4560cf6, 0x40ec, 0x4b4a, {0xa1, 0x92, 0xbf, 0x1d, 0x57, 0xd0, 0xb1, 0x89}}

#define STUB_MEMORY_RP 0x0000000000002000ULL
#define STUB_MEMORY_XP 0x0000000000004000ULL
#define STUB_MEMORY_RO 0x0000000000020000ULL

typedef struct stub_memory_attribute_protocol stub_memory_attribute_protocol;

typedef EFI_STATUS (EFIAPI *stub_memory_attributes_fn)(stub_memory_attribute_protocol *this,
                                                       EFI_PHYSICAL_ADDRESS base, UINT64 length,
                                                       UINT64 attributes);

struct stub_memory_attribute_protocol {
    EFI_STATUS (EFIAPI *GetMemoryAttributes)(stub_memory_attribute_protocol *this,
                                             EFI_PHYSICAL_ADDRESS base, UINT64 length,
                                             UINT64 *attributes);
    stub_memory_attributes_fn SetMemoryAttributes;
    stub_memory_attributes_fn ClearMemoryAttributes;
};

#endif
