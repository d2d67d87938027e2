#include "../arch.h"

UINT64 arch_ticks(void)
{
    UINT32 low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (UINT64)high << 32 | low;
}

UINT64 arch_ticks_hz(void)
{
    return 0;  /* the TSC's rate is the CPU's business: calibrate against Stall() */
}

void arch_sync_code(void *start, UINTN size)
{
    (void)start;
    (void)size;  /* x86 keeps instruction fetch coherent with stores */
}

void arch_idle(void)
{
    __asm__ volatile("hlt");
}
