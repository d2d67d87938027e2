/* The pure part of measured boot (stub/FORMAT.md, 6a): which of the stub's own sections PCR 11
 * gets, in which order; the event data logged with them; whether TCG2's capability says a TPM is
 * there. The UKI's order first, exactly as systemd-stub measures it (src/fundamental/uki.h), so
 * PCR 11 policies written for UKIs keep their meaning; then the sections only a workbench stub
 * has. Pure: no EFI calls. */
#ifndef STUB_PCR11_H
#define STUB_PCR11_H

#include <stddef.h>
#include <stdint.h>

#define PCR_KERNEL_IMAGE 11

/* NULL-terminated. `.pcrsig` is never measured: it signs what is measured. */
extern const char *const pcr11_sections[];

#define PCR11_SECTIONS_MAX 20

typedef struct {
    const char *name;     /* one of pcr11_sections[] */
    const uint8_t *data;  /* inside the image */
    size_t length;        /* as pe_find_section gives it */
} pcr11_section;

/* The sections of an in-memory image that PCR 11 gets, in measuring order: each name of
 * pcr11_sections[] whose first section header has a VirtualSize above 0 (systemd-stub treats a
 * VirtualSize of 0 as absent). Fills out[] and *count; NULL, or a short reason when the image's
 * headers are unreadable (then *count is 0). */
const char *pcr11_plan(const uint8_t *image, size_t image_size, pcr11_section out[PCR11_SECTIONS_MAX],
                       unsigned *count);

/* Section names are at most 8 ASCII bytes; as UTF-16 with the NUL that is 18 bytes. */
#define PCR11_DESCRIPTION_MAX 9

/* The event data logged with each of a section's two events, as systemd-stub writes it: the name
 * as UTF-16LE with its NUL (its tpm_log_ipl_event_ascii). Returns the size in bytes, NUL included,
 * or 0 when the name is not 1-8 printable ASCII characters. */
size_t pcr11_description(const char *name, uint16_t out[PCR11_DESCRIPTION_MAX]);

/* Whether EFI_TCG2_BOOT_SERVICE_CAPABILITY, as GetCapability filled it (`size` bytes), says a
 * TPM is present. Firmware implementing the 1.0 structure (StructureVersion 1.0) lays out
 * EFI_TCG_BOOT_SERVICE_CAPABILITY instead: TPMPresentFlag is then byte 10, not byte 16. As
 * systemd-stub: a 1.0 structure with that flag set counts; otherwise the 1.1 flag decides. */
int pcr11_tpm_present(const uint8_t *capability, size_t size);

#endif
