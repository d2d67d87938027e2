#include "pcr11.h"
#include "pe.h"

const char *const pcr11_sections[] = {
    /* systemd's UnifiedSection order ("PLEASE DO NOT REORDER"), without `.pcrsig`. */
    ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
    ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw",
    /* The workbench stub's own: what binds a thin stub's kernel and initrd, and its policy. */
    ".linuxh", ".initrdh", ".policy",
    NULL,
};

_Static_assert(sizeof pcr11_sections / sizeof pcr11_sections[0] - 1 <= PCR11_SECTIONS_MAX,
               "pcr11_plan's output holds every section");

const char *pcr11_plan(const uint8_t *image, size_t image_size, pcr11_section out[PCR11_SECTIONS_MAX],
                       unsigned *count)
{
    *count = 0;
    for (unsigned i = 0; pcr11_sections[i]; i++) {
        const char *name = pcr11_sections[i];
        const uint8_t *data;
        size_t length;
        uint32_t in_memory;
        int found;
        const char *err = pe_find_section_sized(image, image_size, name, &data, &length, &in_memory, &found);
        if (err) {
            *count = 0;
            return err;
        }
        if (!found || in_memory == 0)
            continue;
        /* As systemd-stub: VirtualSize bytes. In memory the loader zero-filled what lies past
         * the raw data, so that is what is measured. */
        size_t offset = (size_t)(data - image);
        if (in_memory > length && in_memory <= image_size - offset)
            length = in_memory;
        out[*count] = (pcr11_section){.name = name, .data = data, .length = length};
        (*count)++;
    }
    return NULL;
}

size_t pcr11_description(const char *name, uint16_t out[PCR11_DESCRIPTION_MAX])
{
    size_t n = 0;
    while (name[n]) {
        unsigned char c = (unsigned char)name[n];
        if (n == PCR11_DESCRIPTION_MAX - 1 || c < 0x20 || c > 0x7e)
            return 0;
        out[n] = c;
        n++;
    }
    if (n == 0)
        return 0;
    out[n] = 0;
    return (n + 1) * sizeof out[0];
}

/* Offsets in the two capability layouts (TCG EFI Protocol Specification; EDK2, systemd). */
#define CAP_STRUCTURE_MAJOR 1
#define CAP_STRUCTURE_MINOR 2
#define CAP_1_0_TPM_PRESENT 10  /* Size, StructureVersion[4], ProtocolSpecVersion[4], HashAlgorithmBitmap */
#define CAP_1_1_TPM_PRESENT 16  /* Size, versions[2+2], pad, HashAlgorithmBitmap, SupportedEventLogs */

int pcr11_tpm_present(const uint8_t *capability, size_t size)
{
    if (size > CAP_1_0_TPM_PRESENT && capability[CAP_STRUCTURE_MAJOR] == 1 &&
        capability[CAP_STRUCTURE_MINOR] == 0 && capability[CAP_1_0_TPM_PRESENT])
        return 1;
    return size > CAP_1_1_TPM_PRESENT && capability[CAP_1_1_TPM_PRESENT] != 0;
}
