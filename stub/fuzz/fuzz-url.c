/* HTTP URLs from a base URL and a section path, both arbitrary: the first byte says where the
 * input splits; exact-size copies catch any read past either end. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    size_t cut = data[0] * (size / 256 + 1);
    data++;
    size--;
    if (cut > size)
        cut = size;
    uint8_t *base = malloc(cut ? cut : 1), *text = malloc(size - cut ? size - cut : 1);
    memcpy(base, data, cut);
    memcpy(text, data + cut, size - cut);
    stub_path path;
    char url[STUB_URL_MAX];
    if (!path_parse(text, size - cut, &path)) {
        const char *reason = url_for_path(base, cut, &path, url, sizeof url);
        assert(strlen(url) < sizeof url);
        /* What the stub requests has no byte a URL cannot carry. */
        for (size_t i = 0; !reason && url[i]; i++)
            assert(url[i] > 0x20 && url[i] < 0x7f);
    }
    url_is_http(base, cut);
    free(base);
    free(text);
    return 0;
}
