#include <efi.h>
#include <efilib.h>

#include "clock.h"

#define CALIBRATION_US 2000

static UINT64 ticks_per_ms;

static UINT64 read_tsc(void)
{
    UINT32 low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (UINT64)high << 32 | low;
}

UINT64 clock_ms(void)
{
    if (!ticks_per_ms) {
        UINT64 start = read_tsc();
        uefi_call_wrapper(BS->Stall, 1, CALIBRATION_US);
        ticks_per_ms = (read_tsc() - start) / (CALIBRATION_US / 1000);
        if (!ticks_per_ms)
            ticks_per_ms = 1;
    }
    return read_tsc() / ticks_per_ms;
}

UINT64 clock_ticks(void)
{
    return read_tsc();
}

UINT64 clock_ticks_ms(UINT64 ticks)
{
    clock_ms();  /* calibrates on first use */
    return ticks / ticks_per_ms;
}
