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

#define SECTION_HEADER_SIZE 40

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int same_name(const uint8_t *header, const char *name)
{
    for (unsigned k = 0; k < 8; k++) {
        uint8_t want = (uint8_t)name[k];
        if (header[k] != want)
            return 0;
        if (!want)
            return 1;
    }
    return 1;
}

/* VirtualSize of the first header named `name`; pe_find_section has already checked that the
 * headers and the section table are inside the image. */
static uint32_t virtual_size(const uint8_t *image, size_t image_size, const char *name)
{
    size_t lfanew = get32(image + 0x3c);
    size_t coff = lfanew + 4;
    size_t count = (size_t)image[coff + 2] | (size_t)image[coff + 3] << 8;
    size_t opt_size = (size_t)image[coff + 16] | (size_t)image[coff + 17] << 8;
    size_t table = coff + 20 + opt_size;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *header = image + table + i * SECTION_HEADER_SIZE;
        if (table + (i + 1) * SECTION_HEADER_SIZE > image_size)
            break;
        if (same_name(header, name))
            return get32(header + 8);
    }
    return 0;
}

const char *pcr11_plan(const uint8_t *image, size_t image_size, pcr11_section out[PCR11_SECTIONS_MAX],
                       unsigned *count)
{
    *count = 0;
    for (unsigned i = 0; pcr11_sections[i]; i++) {
        const char *name = pcr11_sections[i];
        const uint8_t *data;
        size_t length;
        int found;
        const char *err = pe_find_section(image, image_size, name, &data, &length, &found);
        if (err) {
            *count = 0;
            return err;
        }
        uint32_t in_memory = found ? virtual_size(image, image_size, name) : 0;
        if (in_memory == 0)
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
