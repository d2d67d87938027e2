/* The path rules of `.linux` / `.initrd` in a thin stub. Mirrored by workbench/paths.py and
 * tested against the same vectors (tests/vectors/paths.json). Pure: no EFI calls.
 *
 *   \EFI\Linux\k.efi        -> ESP path \EFI\Linux\k.efi, TFTP name EFI/Linux/k.efi (boot server)
 *   tftp://10.0.0.1/a/k.efi -> TFTP server 10.0.0.1, name a/k.efi
 *
 * `\` and `/` both separate; leading, trailing and doubled separators and `.` components are
 * dropped. Rejected: empty paths, invalid UTF-8, control characters, `..` components, other
 * URL schemes, servers that are not dotted quads, names longer than STUB_PATH_MAX - 1 bytes. */
#ifndef STUB_PATHS_H
#define STUB_PATHS_H

#include <stddef.h>
#include <stdint.h>

#define STUB_PATH_MAX 512

typedef struct {
    int is_url;
    uint8_t server[4];          /* valid when is_url */
    char name[STUB_PATH_MAX];   /* TFTP name: components joined by '/', NUL-terminated */
    size_t name_len;
} stub_path;

const char *path_parse(const uint8_t *text, size_t len, stub_path *out);

/* The ESP path (`\` + components joined by `\`) as NUL-terminated UCS-2. */
const char *path_esp_ucs2(const stub_path *path, uint16_t *out, size_t out_cap);

/* Parse exactly a dotted-quad IPv4 address ("10.0.2.2"; no leading zeros). 1 on success. */
int parse_ipv4(const uint8_t *text, size_t len, uint8_t out[4]);

#endif
