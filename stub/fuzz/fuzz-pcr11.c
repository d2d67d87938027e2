/* Measured boot's plan and capability reading on arbitrary bytes: every planned section lies
 * inside the image, in pcr11_sections[] order, none twice. */
#include <assert.h>
#include <string.h>

#include "pcr11.h"

#define MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    pcr11_section sections[PCR11_SECTIONS_MAX];
    unsigned count = 0;
    if (!pcr11_plan(data, size, sections, &count)) {
        unsigned next = 0;
        for (unsigned i = 0; i < count; i++) {
            const pcr11_section *s = &sections[i];
            assert(s->data >= data && s->length <= size &&
                   (size_t)(s->data - data) <= size - s->length);
            while (pcr11_sections[next] && strcmp(pcr11_sections[next], s->name) != 0)
                next++;
            assert(pcr11_sections[next]);
            next++;
        }
    } else {
        assert(count == 0);
    }
    pcr11_tpm_present(data, size);
    return 0;
}
