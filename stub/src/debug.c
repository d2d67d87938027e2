#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "console.h"
#include "debug.h"
#include "line.h"

/* Written by the debugger; volatile so the loop reads memory each time. Not static: the
 * debugger finds it by name in the stub's symbols. */
volatile UINT32 stub_debugger_attached;

int debug_requested(void)
{
    EFI_GUID vendor = DEBUG_VARIABLE_GUID;
    UINT8 value = 0;
    UINTN size = sizeof value;
    EFI_STATUS status = uefi_call_wrapper(RT->GetVariable, 5, DEBUG_VARIABLE_NAME, &vendor, NULL, &size, &value);
    return !EFI_ERROR(status) && size == 1 && value == 1;
}

void debug_wait(EFI_LOADED_IMAGE *self)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    line_word(&tb, "debug");
    line_key(&tb, "base");
    tb_hex(&tb, (UINT64)(UINTN)self->ImageBase);
    line_field_u64(&tb, "size", self->ImageSize);
    line_field(&tb, "symbol", "stub_debugger_attached");
    console_end(&tb);
    /* A person at a debugger takes longer than the boot manager's 5-minute watchdog allows;
     * the stub arms its own before each file. */
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
    UINT64 until = clock_ms() + (UINT64)DEBUG_WAIT_SECONDS * 1000;
    while (!stub_debugger_attached && clock_ms() < until)
        uefi_call_wrapper(BS->Stall, 1, 10000);
    if (!stub_debugger_attached)
        console_warning("debug", "no debugger attached within 300 s; going on");
}
