/* OACK options on arbitrary bytes: every value found is inside its documented range. */
#include <assert.h>

#include "tftp_oack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tftp_oack oack;
    if (tftp_oack_parse(data, size, &oack))
        return 0;
    if (oack.present & TFTP_OACK_BLKSIZE)
        assert(oack.blksize >= 8 && oack.blksize <= 65464);
    if (oack.present & TFTP_OACK_WINDOWSIZE)
        assert(oack.windowsize >= 1 && oack.windowsize <= 65535);
    if (oack.present & TFTP_OACK_TIMEOUT)
        assert(oack.timeout >= 1 && oack.timeout <= 255);
    return 0;
}
