/* Which of the stub's own sections PCR 11 gets, in which order (stub/FORMAT.md, measured boot).
 * The UKI's order first, as systemd-stub measures it, so PCR 11 policies written for UKIs keep
 * their meaning; then the sections only a workbench stub has. Pure: no EFI calls. */
#ifndef STUB_PCR11_H
#define STUB_PCR11_H

#include <stddef.h>

#define PCR_KERNEL_IMAGE 11

/* NULL-terminated. `.pcrsig` is never measured: it signs what is measured. */
extern const char *const pcr11_sections[];

#endif
