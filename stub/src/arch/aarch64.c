#include "../arch.h"

UINT64 arch_ticks(void)
{
    UINT64 ticks;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(ticks));
    return ticks;
}

UINT64 arch_ticks_hz(void)
{
    UINT64 hz;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(hz));
    return hz;
}

/* The kernel image was copied with data stores: clean those lines to the point of unification
 * and drop stale instructions before anything branches into it (ARM ARM, "Instruction cache
 * maintenance"; EDK2's InvalidateInstructionCacheRange does the same). */
void arch_sync_code(void *start, UINTN size)
{
    UINT64 ctr;
    __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
    UINTN dline = 4u << ((ctr >> 16) & 0xf), iline = 4u << (ctr & 0xf);
    UINTN first = (UINTN)start, end = first + size;
    for (UINTN line = first & ~(dline - 1); line < end; line += dline)
        __asm__ volatile("dc cvau, %0" : : "r"(line) : "memory");
    __asm__ volatile("dsb ish" : : : "memory");
    for (UINTN line = first & ~(iline - 1); line < end; line += iline)
        __asm__ volatile("ic ivau, %0" : : "r"(line) : "memory");
    __asm__ volatile("dsb ish; isb" : : : "memory");
}

void arch_idle(void)
{
    __asm__ volatile("wfi");
}
