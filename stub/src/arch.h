/* What differs between the machines the stub runs on: one file per architecture
 * (arch/x86_64.c, arch/aarch64.c) implements these, everything else is shared. */
#ifndef STUB_ARCH_H
#define STUB_ARCH_H

#include <efi.h>

#include "pe.h"

#if defined(__x86_64__)
#define ARCH_PE_MACHINE PE_MACHINE_X86_64
#define ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#define ARCH_PE_MACHINE PE_MACHINE_AARCH64
#define ARCH_NAME "aarch64"
#else
#error "the stub runs on x86_64 and aarch64"
#endif

/* A free-running counter (TSC, CNTVCT_EL0): for intervals and seeds. */
UINT64 arch_ticks(void);

/* Its frequency in Hz when the machine says so (CNTFRQ_EL0), 0 when it has to be measured. */
UINT64 arch_ticks_hz(void);

/* Make code just written to [start, start + size) visible to instruction fetch: a no-op where
 * caches are coherent (x86), clean to PoU and invalidate where they are not (arm64). */
void arch_sync_code(void *start, UINTN size);

/* Wait for an interrupt, forever if called in a loop. */
void arch_idle(void);

#endif
