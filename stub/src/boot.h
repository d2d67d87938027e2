/* Handing over to Linux: the initrd through LoadFile2 on the initrd media device path
 * (initrd.c), and the kernel through the stub's own PE loader (linux.c). */
#ifndef STUB_BOOT_H
#define STUB_BOOT_H

#include <efi.h>
#include <stdint.h>

#include "pe.h"

/* A new handle carrying LINUX_EFI_INITRD_MEDIA_GUID's device path and EFI_LOAD_FILE2 serving
 * `data` (which must stay alive while the kernel runs). */
const char *initrd_install(const uint8_t *data, UINTN size, EFI_HANDLE *handle);
void initrd_uninstall(EFI_HANDLE handle);

typedef struct {
    pe_info info;
    EFI_PHYSICAL_ADDRESS base;
    UINTN pages;
} loaded_kernel;

/* Validate the kernel PE file, copy it into EfiLoaderCode pages and relocate it. */
const char *linux_load(const uint8_t *file, UINTN size, loaded_kernel *kernel);
void linux_unload(loaded_kernel *kernel);

/* Point the stub's own LoadedImage at the kernel copy and the command line (as shim and
 * lanzaboote do: the kernel's EFI stub reads both from there), then call its entry point.
 * Returns only when the kernel returns; the LoadedImage fields are restored then. */
EFI_STATUS linux_start(EFI_HANDLE image, EFI_LOADED_IMAGE *self, const loaded_kernel *kernel,
                       CHAR16 *cmdline, UINTN cmdline_bytes);

#endif
