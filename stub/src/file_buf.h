/* Page-backed buffers for whole files (kernel, initrd). */
#ifndef STUB_FILE_BUF_H
#define STUB_FILE_BUF_H

#include <efi.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    UINTN size;
    UINTN pages;  /* 0 when data is not ours to free (embedded in the stub) */
} file_buf;

/* Allocate EfiLoaderData pages for `size` bytes (at least one page). */
EFI_STATUS file_buf_alloc(file_buf *buf, UINTN size);
/* Free the pages, if any; safe on an empty buffer. */
void file_buf_free(file_buf *buf);

#endif
