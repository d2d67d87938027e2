#include <efi.h>
#include <efilib.h>

#include "arch.h"
#include "linux.h"
#include "proto/memory_attribute.h"

const char *linux_load(const uint8_t *file, UINTN size, loaded_kernel *kernel)
{
    *kernel = (loaded_kernel){0};
    const char *reason = pe_parse(file, size, ARCH_PE_MACHINE, &kernel->info);
    if (reason)
        return reason;
    /* Where its SectionAlignment asks, as the firmware's loader places images: arm64 Images
     * declare 64 KiB, and their EFI stub calls a lower alignment a firmware bug. */
    UINT64 alignment = pe_placement_alignment(&kernel->info);
    UINTN pages = EFI_SIZE_TO_PAGES(kernel->info.size_of_image) + EFI_SIZE_TO_PAGES(alignment) - 1;
    EFI_STATUS status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode,
                                          pages, &kernel->allocation);
    if (EFI_ERROR(status))
        return "out of memory for the kernel image";
    kernel->pages = pages;
    kernel->base = (kernel->allocation + alignment - 1) & ~(alignment - 1);
    uint8_t *image = (uint8_t *)(UINTN)kernel->base;
    reason = pe_load(file, size, &kernel->info, image, kernel->info.size_of_image);
    if (!reason)
        reason = pe_relocate(image, kernel->info.size_of_image, &kernel->info, kernel->base);
    if (reason)
        linux_unload(kernel);
    else
        arch_sync_code(image, kernel->info.size_of_image);
    return reason;
}

static stub_memory_attribute_protocol *memory_attributes(void)
{
    static EFI_GUID guid = STUB_MEMORY_ATTRIBUTE_PROTOCOL_GUID;
    stub_memory_attribute_protocol *memory = NULL;
    EFI_STATUS status = uefi_call_wrapper(BS->LocateProtocol, 3, &guid, NULL, (void **)&memory);
    return EFI_ERROR(status) ? NULL : memory;
}

void linux_unload(loaded_kernel *kernel)
{
    stub_memory_attribute_protocol *memory = kernel->protected ? memory_attributes() : NULL;
    if (memory)
        uefi_call_wrapper(memory->ClearMemoryAttributes, 4, memory, kernel->allocation,
                          (UINT64)kernel->pages * EFI_PAGE_SIZE, STUB_MEMORY_RO | STUB_MEMORY_XP);
    kernel->protected = 0;
    if (kernel->pages)
        uefi_call_wrapper(BS->FreePages, 2, kernel->allocation, kernel->pages);
    kernel->base = kernel->allocation = 0;
    kernel->pages = 0;
}

static EFI_STATUS set_attributes(stub_memory_attribute_protocol *memory, EFI_PHYSICAL_ADDRESS base,
                                 UINT64 size, UINT64 set, UINT64 clear)
{
    EFI_STATUS status = EFI_SUCCESS;
    if (clear)
        status = uefi_call_wrapper(memory->ClearMemoryAttributes, 4, memory, base, size, clear);
    if (!EFI_ERROR(status) && set)
        status = uefi_call_wrapper(memory->SetMemoryAttributes, 4, memory, base, size, set);
    return status;
}

nx_result linux_protect(loaded_kernel *kernel)
{
    if (!pe_nx_compat(&kernel->info))
        return NX_NOT_REQUESTED;
    stub_memory_attribute_protocol *memory = memory_attributes();
    if (!memory)
        return NX_UNAVAILABLE;
    kernel->protected = 1;
    const uint8_t *image = (const uint8_t *)(UINTN)kernel->base;
    for (uint16_t i = 0; i < kernel->info.section_count; i++) {
        pe_region region;
        if (!pe_section_region(image, kernel->info.size_of_image, &kernel->info, i, &region))
            continue;
        if (region.executable && region.writable)
            continue;  /* W+X is the kernel's own declaration: leave it as allocated */
        UINT64 set = region.executable ? STUB_MEMORY_RO
                                       : (region.writable ? STUB_MEMORY_XP : STUB_MEMORY_RO | STUB_MEMORY_XP);
        UINT64 clear = region.executable ? STUB_MEMORY_XP : (region.writable ? STUB_MEMORY_RO : 0);
        EFI_STATUS status = set_attributes(memory, kernel->base + region.rva, region.size, set, clear);
        if (EFI_ERROR(status))
            return NX_FAILED;
    }
    return NX_APPLIED;
}

EFI_STATUS linux_start(EFI_HANDLE image, EFI_LOADED_IMAGE *self, const loaded_kernel *kernel,
                       CHAR16 *cmdline, UINTN cmdline_bytes, guard_end *how)
{
    void *saved_base = self->ImageBase;
    UINT64 saved_size = self->ImageSize;
    void *saved_options = self->LoadOptions;
    UINT32 saved_options_size = self->LoadOptionsSize;

    self->ImageBase = (void *)(UINTN)kernel->base;
    self->ImageSize = kernel->info.size_of_image;
    self->LoadOptions = cmdline;
    self->LoadOptionsSize = (UINT32)cmdline_bytes;

    image_entry entry = (image_entry)(UINTN)(kernel->base + kernel->info.entry_point);
    EFI_STATUS status = exit_guard_run(image, entry, how);

    self->ImageBase = saved_base;
    self->ImageSize = saved_size;
    self->LoadOptions = saved_options;
    self->LoadOptionsSize = saved_options_size;
    return status;
}
