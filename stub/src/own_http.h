/* HTTP over the stub's own path: one TCP connection per file (tcp_rx.h) to the URL's IPv4
 * host, a GET with `Connection: close`, the response read by http_rx.h with the firmware
 * path's rules, the body written straight into the buffer it is allocated for and hashed as
 * it arrives. */
#ifndef STUB_OWN_HTTP_H
#define STUB_OWN_HTTP_H

#include <efi.h>

#include "file_buf.h"
#include "net.h"
#include "own_net.h"
#include "snp.h"

/* GET `url` (NUL-terminated). *unavailable is set (and a status returned) when the own path
 * cannot be used for this URL or this network (https, a host by name, no ARP answer, no TCP
 * answer at all): the caller warns and takes the firmware's HTTP. */
EFI_STATUS own_http_read(snp_link *link, const own_ipv4 *addr, const char *url,
                         const fetch_deadline *deadline, file_buf *out, net_transfer *info,
                         const char **reason, int *unavailable);

#endif
