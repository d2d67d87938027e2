/* TFTP ERROR packets as the firmware hands them over: a code and a message of any bytes. */
#include <assert.h>
#include <string.h>

#include "tftp_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned code = (unsigned)data[0] << 8 | data[1];
    char storage[160];
    text_buf tb;
    tb_init(&tb, storage, sizeof storage);
    tftp_error_describe(&tb, code, data + 2, size - 2);
    assert(strlen(storage) == tb.len && tb.len < sizeof storage);
    assert(tftp_error_classify(code, data + 2, size - 2) <= TFTP_ERR_OPTION_REFUSED);
    return 0;
}
