#include <efi.h>
#include <efilib.h>

#include "arch.h"
#include "clock.h"

#define CALIBRATION_US 2000

static UINT64 ticks_per_ms;

static UINT64 read_counter(void)
{
    return arch_ticks();
}

UINT64 clock_ms(void)
{
    if (!ticks_per_ms)
        ticks_per_ms = arch_ticks_hz() / 1000;
    if (!ticks_per_ms) {
        UINT64 start = read_counter();
        uefi_call_wrapper(BS->Stall, 1, CALIBRATION_US);
        ticks_per_ms = (read_counter() - start) / (CALIBRATION_US / 1000);
        if (!ticks_per_ms)
            ticks_per_ms = 1;
    }
    return read_counter() / ticks_per_ms;
}

UINT64 clock_ticks(void)
{
    return read_counter();
}

UINT64 clock_ticks_ms(UINT64 ticks)
{
    clock_ms();  /* calibrates on first use */
    return ticks / ticks_per_ms;
}
