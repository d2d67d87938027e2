/* What a device path says about an HTTP boot: the IPv4 or IPv6 node (the address the firmware
 * configured) and the URI node the image came from. Pure: no EFI calls; every node is
 * bounds-checked against the buffer and its own length.
 *
 * As shim reads it (httpboot.c): the URI counts only when it follows the IP node and is the
 * last node; a RAM disk node after it means the image was not fetched by HTTP Boot. */
#ifndef STUB_DEVPATH_H
#define STUB_DEVPATH_H

#include <stddef.h>
#include <stdint.h>

#define DEVPATH_TYPE_MESSAGING 3
#define DEVPATH_TYPE_END 0x7f
#define DEVPATH_SUBTYPE_MAC 11
#define DEVPATH_SUBTYPE_IPV4 12
#define DEVPATH_SUBTYPE_IPV6 13
#define DEVPATH_SUBTYPE_URI 24
#define DEVPATH_IPV4_LENGTH 27  /* UEFI 2.4 and later: with gateway and subnet mask */
#define DEVPATH_IPV6_LENGTH 60

typedef struct {
    int family;             /* 4 or 6: which IP node precedes the URI */
    uint8_t local[16];      /* the firmware's address for this boot */
    uint8_t subnet[4];      /* IPv4 only (0.0.0.0 from a pre-2.4 node) */
    uint8_t gateway[16];
    unsigned prefix_length; /* IPv6 only */
    const uint8_t *uri;     /* inside the buffer; not NUL-terminated */
    size_t uri_len;
} devpath_http_boot;

/* NULL when the device path (`len` bytes at most) ends in an IP node and a URI node; else a
 * static reason ("no URI node", ...). */
const char *devpath_find_http_boot(const uint8_t *path, size_t len, devpath_http_boot *out);

#endif
