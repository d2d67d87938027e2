/* PE parsing, section lookup, loading, relocation and NX regions on arbitrary bytes. */
#include <assert.h>
#include <stdlib.h>

#include "pe.h"

#define MAX_INPUT (1u << 20)
#define MAX_IMAGE (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    /* The stub reads its own sections from its image in memory: the bytes as an image. */
    const uint8_t *section;
    size_t len;
    int found;
    if (!pe_find_section(data, size, ".linux", &section, &len, &found) && found)
        assert(section >= data && len <= size && (size_t)(section - data) <= size - len);

    pe_info info;
    /* Either architecture: an image of the other one is refused before anything else. */
    if (pe_parse(data, size, PE_MACHINE_X86_64, &info) && pe_parse(data, size, PE_MACHINE_AARCH64, &info))
        return 0;
    assert(info.entry_point < info.size_of_image);
    if (info.size_of_image > MAX_IMAGE)
        return 0;
    uint8_t *image = malloc(info.size_of_image);
    if (!image)
        return 0;
    if (!pe_load(data, size, &info, image, info.size_of_image)) {
        pe_relocate(image, info.size_of_image, &info, 0xffff800000000000ull);
        for (uint16_t i = 0; i < info.section_count; i++) {
            pe_region region;
            if (pe_section_region(image, info.size_of_image, &info, i, &region))
                assert(region.rva % PE_PAGE_SIZE == 0 && region.size &&
                       (uint64_t)region.rva + region.size <= info.size_of_image);
        }
    }
    free(image);
    return 0;
}
