/* TFTP over the stub's own network path: ARP, IPv4 (with reassembly of big blocks), UDP and
 * the TFTP receiver (tftp_rx.h) on frames the NIC driver hands over (snp.h). One request per
 * file with tsize, blksize and an RFC 7440 window; the buffer is allocated from the OACK's
 * tsize and hashed as the blocks arrive in order. */
#ifndef STUB_OWN_TFTP_H
#define STUB_OWN_TFTP_H

#include <efi.h>
#include <stdint.h>

#include "file_buf.h"
#include "net.h"
#include "own_net.h"
#include "snp.h"
#include "tftp4.h"

/* Read `name` from `server`, as tftp4_read does, with the same outcomes; TFTP4_UNAVAILABLE
 * means the own path cannot reach the server (no ARP answer, the driver failing before any
 * answer, no route): the caller warns and takes the firmware's path. */
EFI_STATUS own_tftp_read(snp_link *link, const own_ipv4 *addr, const uint8_t server[4],
                         const char *name, const tftp_request *ask, const fetch_deadline *deadline,
                         file_buf *out, tftp4_result *result, const char **reason);

#endif
