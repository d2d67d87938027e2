/* The path rules of `.linux` / `.initrd` in a thin stub. Mirrored by workbench/paths.py and
 * tested against the same vectors (tests/vectors/paths.json). Pure: no EFI calls.
 *
 *   \EFI\Linux\k.efi             -> ESP path \EFI\Linux\k.efi, TFTP name EFI/Linux/k.efi
 *   tftp://10.0.0.1/a/k.efi      -> TFTP server 10.0.0.1, name a/k.efi
 *   tftp://[fd00::1]/a/k.efi     -> TFTP server fd00::1 (IPv6), name a/k.efi
 *   http://host:8080/a/k.efi     -> fetched by HTTP from that URL (https:// too)
 *
 * `\` and `/` both separate; leading, trailing and doubled separators and `.` components are
 * dropped (a leading separator is remembered: over HTTP it means "from the server's root").
 * Rejected: empty paths, invalid UTF-8, control characters, `..` components, other URL
 * schemes, TFTP servers that are not IP addresses, HTTP hosts that are not an IP address or a
 * DNS name, bad ports, characters in an http:// URL's path that a URL cannot carry as they are,
 * and names longer than STUB_PATH_MAX - 1 bytes. */
#ifndef STUB_PATHS_H
#define STUB_PATHS_H

#include <stddef.h>
#include <stdint.h>

#define STUB_PATH_MAX 512
#define STUB_AUTHORITY_MAX 128

typedef enum { PATH_PLAIN, PATH_TFTP, PATH_HTTP } path_scheme;

typedef struct {
    int is_url;                 /* scheme != PATH_PLAIN */
    path_scheme scheme;
    int absolute;               /* PATH_PLAIN: written with a leading separator */
    int family;                 /* PATH_TFTP: 4 or 6, the size of `server` in use */
    uint8_t server[16];         /* PATH_TFTP: the server's address */
    int https;                  /* PATH_HTTP: https:// */
    char authority[STUB_AUTHORITY_MAX]; /* PATH_HTTP: host[:port] as written, NUL-terminated */
    char name[STUB_PATH_MAX];   /* components joined by '/', NUL-terminated */
    size_t name_len;
} stub_path;

const char *path_parse(const uint8_t *text, size_t len, stub_path *out);

/* The ESP path (`\` + components joined by `\`) as NUL-terminated UCS-2. */
const char *path_esp_ucs2(const stub_path *path, uint16_t *out, size_t out_cap);

/* Parse exactly a dotted-quad IPv4 address ("10.0.2.2"; no leading zeros). 1 on success. */
int parse_ipv4(const uint8_t *text, size_t len, uint8_t out[4]);

/* Parse exactly an IPv6 address in RFC 4291 text form (hex groups, one `::`; no embedded
 * dotted quad, no zone). 1 on success. */
int parse_ipv6(const uint8_t *text, size_t len, uint8_t out[16]);

/* An HTTP authority: host (dotted quad, [IPv6] or a DNS name) and an optional :port
 * (1..65535). 1 when valid. */
int valid_http_authority(const uint8_t *text, size_t len);

#endif
