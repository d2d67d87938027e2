/* Section paths and tftp:// URLs on arbitrary bytes. */
#include <assert.h>
#include <string.h>

#include "paths.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    stub_path path;
    if (path_parse(data, size, &path))
        return 0;
    assert(path.name_len < STUB_PATH_MAX && strlen(path.name) == path.name_len);
    assert(!strstr(path.name, "//") && path.name[0] != '/' && !strstr(path.name, "\\"));
    uint16_t esp[STUB_PATH_MAX + 1];
    path_esp_ucs2(&path, esp, STUB_PATH_MAX + 1);
    uint8_t quad[4];
    parse_ipv4(data, size, quad);
    return 0;
}
