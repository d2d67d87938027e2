/* The stub's own PE loader for the kernel (no LoadImage: the kernel is verified by its hash,
 * not by the firmware's signature database). */
#include <efi.h>
#include <efilib.h>

#include "boot.h"
#include "console.h"

typedef EFI_STATUS (EFIAPI *kernel_entry)(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table);

const char *linux_load(const uint8_t *file, UINTN size, loaded_kernel *kernel)
{
    kernel->base = 0;
    kernel->pages = 0;
    const char *reason = pe_parse(file, size, &kernel->info);
    if (reason)
        return reason;
    UINTN pages = EFI_SIZE_TO_PAGES(kernel->info.size_of_image);
    EFI_STATUS status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode,
                                          pages, &kernel->base);
    if (EFI_ERROR(status))
        return "out of memory for the kernel image";
    kernel->pages = pages;
    uint8_t *image = (uint8_t *)(UINTN)kernel->base;
    reason = pe_load(file, size, &kernel->info, image, pages * EFI_PAGE_SIZE);
    if (!reason)
        reason = pe_relocate(image, kernel->info.size_of_image, &kernel->info, kernel->base);
    if (reason)
        linux_unload(kernel);
    return reason;
}

void linux_unload(loaded_kernel *kernel)
{
    if (kernel->pages)
        uefi_call_wrapper(BS->FreePages, 2, kernel->base, kernel->pages);
    kernel->base = 0;
    kernel->pages = 0;
}

EFI_STATUS linux_start(EFI_HANDLE image, EFI_LOADED_IMAGE *self, const loaded_kernel *kernel,
                       CHAR16 *cmdline, UINTN cmdline_bytes)
{
    void *saved_base = self->ImageBase;
    UINT64 saved_size = self->ImageSize;
    void *saved_options = self->LoadOptions;
    UINT32 saved_options_size = self->LoadOptionsSize;

    self->ImageBase = (void *)(UINTN)kernel->base;
    self->ImageSize = kernel->info.size_of_image;
    self->LoadOptions = cmdline;
    self->LoadOptionsSize = (UINT32)cmdline_bytes;

    kernel_entry entry = (kernel_entry)(UINTN)(kernel->base + kernel->info.entry_point);
    EFI_STATUS status = entry(image, ST);

    self->ImageBase = saved_base;
    self->ImageSize = saved_size;
    self->LoadOptions = saved_options;
    self->LoadOptionsSize = saved_options_size;
    return status;
}
