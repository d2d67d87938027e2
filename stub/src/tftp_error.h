/* What a TFTP ERROR packet means: its numeric code when the server set one (RFC 1350,
 * RFC 2347), else the words of its message (code 0 is "not defined, see message").
 * Pure: no EFI calls. */
#ifndef STUB_TFTP_ERROR_H
#define STUB_TFTP_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "textbuf.h"

#define TFTP_ERROR_NOT_DEFINED 0
#define TFTP_ERROR_FILE_NOT_FOUND 1
#define TFTP_ERROR_ACCESS_VIOLATION 2
#define TFTP_ERROR_OPTION_REFUSED 8

typedef enum {
    TFTP_ERR_OTHER,
    TFTP_ERR_NOT_FOUND,
    TFTP_ERR_ACCESS_DENIED,
    TFTP_ERR_OPTION_REFUSED,
} tftp_error_kind;

tftp_error_kind tftp_error_classify(unsigned code, const uint8_t *message, size_t len);

/* "TFTP error: file not found", "TFTP error: disk full", or the quoted message. */
void tftp_error_describe(text_buf *tb, unsigned code, const uint8_t *message, size_t len);

#endif
