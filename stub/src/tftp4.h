/* Whole-file TFTP reads through EFI_MTFTP4_PROTOCOL: one request per file asking for `tsize`,
 * the block size and an RFC 7440 window; the buffer is allocated from the OACK's tsize and
 * hashed while the transfer runs. */
#ifndef STUB_TFTP4_H
#define STUB_TFTP4_H

#include <efi.h>
#include <efipxebc.h>
#include <stdint.h>

#include "file_buf.h"
#include "net.h"
#include "sha256.h"

typedef struct {
    unsigned blksize;  /* asked for; 0: no blksize option (plain 512-byte blocks) */
    unsigned window;   /* asked for; 1: no windowsize option */
} tftp_request;

typedef enum {
    TFTP4_DONE,
    TFTP4_FAILED,        /* a definite answer: not found, timeout... (*reason says) */
    TFTP4_UNAVAILABLE,   /* no MTFTP4 for the boot device: use PXE Base Code */
    TFTP4_TRY_SIMPLER,   /* the options were refused or ignored: ask with fewer */
} tftp4_outcome;

typedef struct {
    tftp4_outcome outcome;
    unsigned blksize;    /* as the server agreed */
    unsigned window;
    UINT64 bytes;
    UINT64 ms;
    UINT64 hash_ms;      /* the own path: time spent hashing */
    UINT64 nic_ms;       /* the own path: time inside the NIC driver */
    unsigned timeouts;   /* the driver's retransmission timeouts */
    int options_agreed;  /* the server's OACK came (with tsize) */
    int deadline_passed; /* stopped by the fetch-timeout (EFI_TIMEOUT): no second try */
    uint8_t digest[SHA256_DIGEST_SIZE];  /* of the whole buffer, when DONE */
} tftp4_result;

/* Read `name` from `server` with the addresses the PXE Base Code instance was configured with.
 * `deadline` is checked on every packet and every retransmission timeout of the driver. */
EFI_STATUS tftp4_read(EFI_HANDLE device, const EFI_PXE_BASE_CODE_MODE *mode, const uint8_t server[4],
                      const char *name, const tftp_request *ask, const fetch_deadline *deadline,
                      file_buf *out, tftp4_result *result, const char **reason);

#endif
