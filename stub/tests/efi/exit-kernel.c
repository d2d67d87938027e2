/* A stand-in "kernel" for boot tests: it fails the way Linux's EFI stub does, by calling
 * Exit() on the image handle it was given (or, when its command line contains "return", by
 * returning). With "ebs" on its command line it first calls ExitBootServices twice with a
 * stale map key, as Linux retries, and exits with the status that call failed with. Not part
 * of the stub. */
#include <efi.h>
#include <efilib.h>

static int contains(const CHAR16 *text, UINTN units, const CHAR16 *word)
{
    UINTN n = StrLen(word);
    for (UINTN i = 0; i + n <= units; i++)
        if (CompareMem(text + i, word, n * sizeof(CHAR16)) == 0)
            return 1;
    return 0;
}

/* Is the boot services table's CRC right? Checked on a copy, with the firmware's own CRC. */
static const CHAR16 *crc_state(void)
{
    static UINT8 copy[1024];
    UINT32 size = BS->Hdr.HeaderSize, crc = 0;
    if (size > sizeof copy || size < sizeof(EFI_TABLE_HEADER))
        return L"unknown";
    CopyMem(copy, BS, size);
    ((EFI_TABLE_HEADER *)copy)->CRC32 = 0;
    uefi_call_wrapper(BS->CalculateCrc32, 3, copy, size, &crc);
    return crc == BS->Hdr.CRC32 ? L"ok" : L"bad";
}

/* The key of the memory map as it is now, plus one: a key the firmware must refuse. */
static UINTN stale_map_key(void)
{
    UINTN size = 0, key = 0, descriptor_size = 0;
    UINT32 version = 0;
    uefi_call_wrapper(BS->GetMemoryMap, 5, &size, NULL, &key, &descriptor_size, &version);
    return key + 1;
}

static EFI_STATUS fail_exit_boot_services(EFI_HANDLE image)
{
    EFI_STATUS status = EFI_SUCCESS;
    Print(L"WORKBENCH-TEST-KERNEL boot services crc=%s\r\n", crc_state());
    for (int attempt = 1; attempt <= 2; attempt++) {
        status = uefi_call_wrapper(BS->ExitBootServices, 2, image, stale_map_key());
        Print(L"WORKBENCH-TEST-KERNEL ExitBootServices attempt %d: %r crc=%s\r\n", attempt, status,
              crc_state());
    }
    return EFI_ERROR(status) ? status : EFI_ABORTED;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
    EFI_LOADED_IMAGE *self = NULL;
    InitializeLib(image, system_table);
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&self);
    UINTN units = self && self->LoadOptions ? self->LoadOptionsSize / sizeof(CHAR16) : 0;
    int just_return = units && contains(self->LoadOptions, units, L"return");
    EFI_STATUS status = EFI_UNSUPPORTED;
    if (units && contains(self->LoadOptions, units, L"ebs"))
        status = fail_exit_boot_services(image);
    Print(L"WORKBENCH-TEST-KERNEL %s\r\n", just_return ? L"returning" : L"calling Exit");
    if (just_return)
        return status;
    uefi_call_wrapper(BS->Exit, 4, image, status, 0, NULL);
    Print(L"WORKBENCH-TEST-KERNEL Exit returned\r\n");
    return EFI_ABORTED;
}
