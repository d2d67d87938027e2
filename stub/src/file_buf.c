#include <efi.h>
#include <efilib.h>

#include "file_buf.h"

EFI_STATUS file_buf_alloc(file_buf *buf, UINTN size)
{
    EFI_PHYSICAL_ADDRESS address = 0;
    UINTN pages = EFI_SIZE_TO_PAGES(size ? size : 1);
    EFI_STATUS status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
                                          pages, &address);
    if (EFI_ERROR(status))
        return status;
    buf->data = (uint8_t *)(UINTN)address;
    buf->size = size;
    buf->pages = pages;
    return EFI_SUCCESS;
}

void file_buf_free(file_buf *buf)
{
    if (buf->pages)
        uefi_call_wrapper(BS->FreePages, 2, (EFI_PHYSICAL_ADDRESS)(UINTN)buf->data, buf->pages);
    buf->data = NULL;
    buf->size = 0;
    buf->pages = 0;
}
