/* Keeping control while the kernel's EFI stub runs. Linux's EFI stub reports a failure by
 * calling BS->Exit() on the image handle it was given, which is the stub's own: without a
 * guard, control would go straight back to the boot manager and skip the failure policy.
 * Like shim, the guard swaps BS->Exit for the duration (BS->ExitBootServices too, to put
 * both back before the firmware goes away, and again when ExitBootServices fails). */
#ifndef STUB_EXIT_GUARD_H
#define STUB_EXIT_GUARD_H

#include <efi.h>

typedef EFI_STATUS (EFIAPI *image_entry)(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table);

typedef enum { GUARD_RETURNED, GUARD_EXITED } guard_end;

/* Call entry(image, ST). Returns its status when it returns, or the status it passed to
 * Exit(image, ...) (*how says which); the boot services table is as before either way. */
EFI_STATUS exit_guard_run(EFI_HANDLE image, image_entry entry, guard_end *how);

/* How many ExitBootServices calls of the last run failed (the firmware may have shut part of
 * itself down: only GetMemoryMap is safe to call afterwards). */
unsigned exit_guard_boot_services_failures(void);

#endif
