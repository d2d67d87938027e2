/* The URL the stub requests over HTTP for a section path, from the URL it was itself loaded
 * from (its device path's URI node). Mirrored by workbench/paths.py (http_url) and tested
 * against tests/vectors/paths.json. Pure: no EFI calls.
 *
 *   http:// or https:// URL in the section  -> that URL (path normalised as for any path)
 *   \EFI\Linux\k.efi (leading separator)   -> <scheme>://<host[:port]>/EFI/Linux/k.efi
 *   k.efi, Linux\k.efi (relative)           -> the directory of the stub's URL + the name
 *
 * That is RFC 3986 reference resolution with `\` read as `/`: an ESP tree served as it is
 * works for the local ESP, TFTP and HTTP alike. Names are percent-encoded byte by byte
 * outside RFC 3986's unreserved and sub-delim characters, `:` and `@`. */
#ifndef STUB_URL_H
#define STUB_URL_H

#include <stddef.h>
#include <stdint.h>

#include "paths.h"

#define STUB_URL_MAX 2048

/* 1 when `uri` is an http:// or https:// URL with a valid host; the stub's own URI must be. */
int url_is_http(const uint8_t *uri, size_t len);

/* Write the URL for `path` (plain or PATH_HTTP) into `out` (NUL-terminated); NULL or a static
 * reason. `base` is the stub's own URL (needed for plain paths only; may be NULL then). */
const char *url_for_path(const uint8_t *base, size_t base_len, const stub_path *path, char *out,
                         size_t cap);

/* The `host[:port]` of an http(s) URL (for the `stub: source=http server=` line). */
const char *url_authority(const uint8_t *uri, size_t len, size_t *start, size_t *count);

/* Where an http:// URL points when its host is an IPv4 address: the address, the port (80
 * when none is given), the authority (host[:port], for the Host header) and the path with its
 * query ("/" when the URL has none; a fragment is dropped). NULL or a static reason: https
 * (TLS is the firmware's), a host given by name or as IPv6, a bad port. */
typedef struct {
    uint8_t ip[4];
    uint16_t port;
    size_t authority_start, authority_len;
    size_t path_start, path_len; /* path_len 0: "/" */
} url_target;

const char *url_ipv4_target(const uint8_t *uri, size_t len, url_target *out);

#endif
