/* The options of a TFTP OACK packet (RFC 2347): what the server agreed to. Pure: no EFI calls. */
#ifndef STUB_TFTP_OACK_H
#define STUB_TFTP_OACK_H

#include <stddef.h>
#include <stdint.h>

#define TFTP_OACK_BLKSIZE 1u
#define TFTP_OACK_TSIZE 2u
#define TFTP_OACK_WINDOWSIZE 4u
#define TFTP_OACK_TIMEOUT 8u

typedef struct {
    unsigned present;    /* TFTP_OACK_* bits of the options found */
    uint32_t blksize;
    uint64_t tsize;
    uint32_t windowsize;
    uint32_t timeout;
} tftp_oack;

/* Parse the bytes after the OACK opcode: NUL-terminated name, value pairs. Names are matched
 * case-insensitively; unknown names are skipped. Returns NULL or a static reason (a pair cut
 * short, a value that is not a decimal number or out of range). */
const char *tftp_oack_parse(const uint8_t *options, size_t len, tftp_oack *out);

#endif
