/* A stand-in "kernel" for boot tests: it fails the way Linux's EFI stub does, by calling
 * Exit() on the image handle it was given (or, when its command line contains "return", by
 * returning). Not part of the stub. */
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

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
    EFI_LOADED_IMAGE *self = NULL;
    InitializeLib(image, system_table);
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&self);
    int just_return = self && self->LoadOptions &&
                      contains(self->LoadOptions, self->LoadOptionsSize / sizeof(CHAR16), L"return");
    Print(L"WORKBENCH-TEST-KERNEL %s\r\n", just_return ? L"returning" : L"calling Exit");
    if (just_return)
        return EFI_UNSUPPORTED;
    uefi_call_wrapper(BS->Exit, 4, image, EFI_UNSUPPORTED, 0, NULL);
    Print(L"WORKBENCH-TEST-KERNEL Exit returned\r\n");
    return EFI_ABORTED;
}
