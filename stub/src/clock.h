/* Milliseconds for the stub's own timing lines (the TSC calibrated against Stall once, or
 * the arm64 generic timer at the rate it declares). */
#ifndef STUB_CLOCK_H
#define STUB_CLOCK_H

#include <efi.h>

UINT64 clock_ms(void);

/* The raw cycle counter, for seeds (own_net_random), not for time. */
UINT64 clock_ticks(void);
/* Ticks of clock_ticks() as milliseconds (sums of short intervals, such as time spent hashing). */
UINT64 clock_ticks_ms(UINT64 ticks);

#endif
