/* Measured boot: the stub's sections into PCR 11 through EFI_TCG2_PROTOCOL, each as two EV_IPL
 * events (the section name with its NUL, then the section's bytes), each logged with the name
 * in UTF-16, as systemd-stub does. Which sections, in which order: pcr11.h. */
#ifndef STUB_MEASURE_H
#define STUB_MEASURE_H

#include <efi.h>
#include <stdint.h>

typedef struct {
    int tpm;            /* a TPM 2.0 is there */
    unsigned events;    /* events extended into PCR 11 */
    unsigned failed;    /* HashLogExtendEvent calls that failed */
} measure_result;

/* Measure the sections pcr11_plan() picks from the loaded image, in that order. */
measure_result measure_sections(const uint8_t *image, UINTN image_size);

#endif
