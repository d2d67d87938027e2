#include "paths.h"
#include "utf8.h"

static const char URL_PREFIX[] = "tftp://";

int parse_ipv4(const uint8_t *text, size_t len, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || text[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        unsigned value = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9' && i - start < 3)
            value = value * 10 + (unsigned)(text[i++] - '0');
        size_t digits = i - start;
        if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0'))
            return 0;
        out[part] = (uint8_t)value;
    }
    return i == len;
}

static int is_separator(uint8_t c) { return c == '\\' || c == '/'; }

/* Case-insensitive match of an ASCII prefix. */
static int has_prefix(const uint8_t *text, size_t len, const char *prefix)
{
    size_t i = 0;
    for (; prefix[i]; i++) {
        if (i >= len)
            return 0;
        uint8_t c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)prefix[i])
            return 0;
    }
    return 1;
}

/* "scheme://" with a scheme of letters, digits, '+', '-', '.' */
static int looks_like_url(const uint8_t *text, size_t len)
{
    size_t i = 0;
    while (i < len && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z') ||
                       (text[i] >= '0' && text[i] <= '9') || text[i] == '+' || text[i] == '-' ||
                       text[i] == '.'))
        i++;
    return i > 0 && i + 3 <= len && text[i] == ':' && text[i + 1] == '/' && text[i + 2] == '/';
}

/* Split into components, drop empty and `.` ones, join with '/'. */
static const char *normalise(const uint8_t *text, size_t len, stub_path *out)
{
    size_t i = 0;
    out->name_len = 0;
    out->name[0] = '\0';
    while (i < len) {
        while (i < len && is_separator(text[i]))
            i++;
        size_t start = i;
        while (i < len && !is_separator(text[i]))
            i++;
        size_t part = i - start;
        if (part == 0 || (part == 1 && text[start] == '.'))
            continue;
        if (part == 2 && text[start] == '.' && text[start + 1] == '.')
            return "'..' component in path";
        size_t need = out->name_len + (out->name_len ? 1 : 0) + part;
        if (need >= STUB_PATH_MAX)
            return "path too long";
        if (out->name_len)
            out->name[out->name_len++] = '/';
        for (size_t k = 0; k < part; k++)
            out->name[out->name_len++] = (char)text[start + k];
        out->name[out->name_len] = '\0';
    }
    return out->name_len ? NULL : "empty path";
}

const char *path_parse(const uint8_t *text, size_t len, stub_path *out)
{
    out->is_url = 0;
    out->name_len = 0;
    out->name[0] = '\0';
    for (int k = 0; k < 4; k++)
        out->server[k] = 0;
    if (len == 0)
        return "empty path";
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t used = utf8_decode(text + i, len - i, &cp);
        if (used == 0)
            return "invalid UTF-8 in path";
        if (cp < 0x20 || cp == 0x7f)
            return "control character in path";
        i += used;
    }
    if (!looks_like_url(text, len))
        return normalise(text, len, out);
    if (!has_prefix(text, len, URL_PREFIX))
        return "unsupported URL scheme (only tftp://)";
    size_t host = sizeof URL_PREFIX - 1, end = host;
    while (end < len && text[end] != '/')
        end++;
    if (!parse_ipv4(text + host, end - host, out->server))
        return "server is not a dotted-quad IPv4 address";
    out->is_url = 1;
    return normalise(text + end, len - end, out);
}

const char *path_esp_ucs2(const stub_path *path, uint16_t *out, size_t out_cap)
{
    size_t units = 0;
    const uint8_t *name = (const uint8_t *)path->name;
    if (out_cap < 2)
        return "path too long";
    out[units++] = '\\';
    for (size_t i = 0; i < path->name_len;) {
        uint32_t cp;
        size_t used = utf8_decode(name + i, path->name_len - i, &cp);
        if (used == 0)
            return "invalid UTF-8 in path";
        if (cp > 0xffff)
            return "character outside UCS-2 in path";
        if (units + 2 > out_cap)
            return "path too long";
        out[units++] = cp == '/' ? '\\' : (uint16_t)cp;
        i += used;
    }
    out[units] = 0;
    return NULL;
}
