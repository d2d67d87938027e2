#include <efi.h>
#include <efilib.h>
#include <efisetjmp.h>

#include "crc32.h"
#include "exit_guard.h"

/* gnu-efi 3.0.15's arm64 setjmp stores d8-d15 from byte 112 of its 168-byte jmp_buf, 8 bytes
 * past the end: the spare words keep those bytes off whatever the linker puts next (it was the
 * initrd's size, which then reached the kernel as 0). */
static struct {
    jmp_buf buf;
    UINT64 spare[2];
} exit_jump;
static EFI_HANDLE guarded_image;
static EFI_STATUS exit_status;
static EFI_EXIT original_exit;
static EFI_EXIT_BOOT_SERVICES original_exit_boot_services;
static unsigned exit_boot_services_failures;

/* Without CalculateCrc32: after a failed ExitBootServices only GetMemoryMap may be called. */
static void update_crc(void)
{
    BS->Hdr.CRC32 = 0;
    BS->Hdr.CRC32 = crc32_compute(BS, BS->Hdr.HeaderSize);
}

static EFI_STATUS EFIAPI guarded_exit(EFI_HANDLE image, EFI_STATUS status, UINTN data_size, CHAR16 *data);
static EFI_STATUS EFIAPI guarded_exit_boot_services(EFI_HANDLE image, UINTN map_key);

static void hook(void)
{
    original_exit = BS->Exit;
    original_exit_boot_services = BS->ExitBootServices;
    BS->Exit = guarded_exit;
    BS->ExitBootServices = guarded_exit_boot_services;
    update_crc();
}

static void unhook(void)
{
    if (!original_exit)
        return;
    BS->Exit = original_exit;
    BS->ExitBootServices = original_exit_boot_services;
    original_exit = NULL;
    original_exit_boot_services = NULL;
    update_crc();
}

static EFI_STATUS EFIAPI guarded_exit(EFI_HANDLE image, EFI_STATUS status, UINTN data_size, CHAR16 *data)
{
    if (image != guarded_image)
        return uefi_call_wrapper(original_exit, 4, image, status, data_size, data);
    /* Exit data is pool memory that the caller of StartImage frees: that is us (but after a
     * failed ExitBootServices, FreePool is no longer ours to call: the bytes stay). */
    if (data && !exit_boot_services_failures)
        uefi_call_wrapper(BS->FreePool, 1, data);
    exit_status = status;
    unhook();
    longjmp(exit_jump.buf, 1);
}

/* The kernel is taking over: nobody will call Exit() for us any more, unless the call fails.
 * Then, as shim does, the guard goes back in: Linux fetches the memory map and tries again,
 * and when that fails too it calls Exit(), which must still come back to the stub. */
static EFI_STATUS EFIAPI guarded_exit_boot_services(EFI_HANDLE image, UINTN map_key)
{
    EFI_EXIT_BOOT_SERVICES exit_boot_services = original_exit_boot_services;
    unhook();
    EFI_STATUS status = uefi_call_wrapper(exit_boot_services, 2, image, map_key);
    if (EFI_ERROR(status)) {
        exit_boot_services_failures++;
        hook();
    }
    return status;
}

unsigned exit_guard_boot_services_failures(void)
{
    return exit_boot_services_failures;
}

EFI_STATUS exit_guard_run(EFI_HANDLE image, image_entry entry, guard_end *how)
{
    guarded_image = image;
    exit_boot_services_failures = 0;
    hook();
    if (setjmp(exit_jump.buf)) {
        *how = GUARD_EXITED;
        return exit_status;
    }
    EFI_STATUS status = entry(image, ST);
    unhook();
    *how = GUARD_RETURNED;
    return status;
}
