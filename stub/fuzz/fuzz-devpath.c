/* The HTTP Boot device path walk on arbitrary bytes (an exact-size copy). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "devpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    devpath_http_boot boot;
    if (!devpath_find_http_boot(copy, size, &boot)) {
        assert(boot.family == 4 || boot.family == 6);
        assert(boot.uri >= copy && boot.uri + boot.uri_len <= copy + size && boot.uri_len > 0);
    }
    free(copy);
    return 0;
}
