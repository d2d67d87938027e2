/* The command line to UCS-2 on arbitrary bytes: len + 1 units always suffice. */
#include <assert.h>
#include <stdlib.h>

#include "cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint16_t *out = malloc((size + 1) * sizeof *out);
    size_t units;
    if (!out)
        return 0;
    const char *reason = cmdline_to_ucs2(data, size, out, size + 1, &units);
    if (!reason)
        assert(units <= size && out[units] == 0);
    free(out);
    return 0;
}
