/* The stub's own PE loader for the kernel (no LoadImage: the kernel is verified by its hash,
 * not by the firmware's signature database), and the hand-over. */
#ifndef STUB_LINUX_H
#define STUB_LINUX_H

#include <efi.h>
#include <stdint.h>

#include "exit_guard.h"
#include "pe.h"

typedef struct {
    pe_info info;
    EFI_PHYSICAL_ADDRESS base;        /* the image, aligned to its SectionAlignment */
    EFI_PHYSICAL_ADDRESS allocation;  /* the pages holding it, freed by linux_unload */
    UINTN pages;
    int protected;  /* memory attributes were changed: put back before the pages are freed */
} loaded_kernel;

/* Validate the kernel PE file, copy it into EfiLoaderCode pages and relocate it. Returns NULL
 * or a short static reason. */
const char *linux_load(const uint8_t *file, UINTN size, loaded_kernel *kernel);
void linux_unload(loaded_kernel *kernel);

typedef enum { NX_NOT_REQUESTED, NX_APPLIED, NX_UNAVAILABLE, NX_FAILED } nx_result;

/* For a kernel that declares NX_COMPAT: code sections read-only and executable, data not
 * executable, through EFI_MEMORY_ATTRIBUTE_PROTOCOL when the firmware offers it. */
nx_result linux_protect(loaded_kernel *kernel);

/* Point the stub's own LoadedImage at the kernel copy and the command line (as shim and
 * lanzaboote do: the kernel's EFI stub reads both from there), then call its entry point under
 * the exit guard. Returns when the kernel returns or calls Exit() on the stub's handle (*how);
 * the LoadedImage fields are restored then. */
EFI_STATUS linux_start(EFI_HANDLE image, EFI_LOADED_IMAGE *self, const loaded_kernel *kernel,
                       CHAR16 *cmdline, UINTN cmdline_bytes, guard_end *how);

#endif
