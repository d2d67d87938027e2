#include "paths.h"
#include "utf8.h"

static const char TFTP_PREFIX[] = "tftp://";
static const char HTTP_PREFIX[] = "http://";
static const char HTTPS_PREFIX[] = "https://";

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

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int parse_ipv6(const uint8_t *text, size_t len, uint8_t out[16])
{
    uint16_t groups[8];
    int count = 0, gap = -1;  /* gap: the group index where `::` stands */
    size_t i = 0;
    if (len >= 2 && text[0] == ':' && text[1] == ':') {
        gap = 0;
        i = 2;
    } else if (len == 0 || text[0] == ':') {
        return 0;
    }
    while (i < len) {
        unsigned value = 0;
        size_t start = i;
        while (i < len && i - start < 4 && hex_value(text[i]) >= 0)
            value = value * 16 + (unsigned)hex_value(text[i++]);
        if (i == start || count == 8)
            return 0;
        groups[count++] = (uint16_t)value;
        if (i == len)
            break;
        if (text[i] != ':')
            return 0;  /* a fifth hex digit, a dot or anything else */
        i++;
        if (i < len && text[i] == ':') {
            if (gap >= 0)
                return 0;
            gap = count;
            i++;
        } else if (i == len) {
            return 0;  /* a single trailing ':' */
        }
    }
    if (gap < 0 ? count != 8 : count > 7)
        return 0;
    int zeros = 8 - count, k = 0;
    for (int g = 0; g < count; g++) {
        if (g == gap)
            for (int z = 0; z < zeros; z++, k++)
                out[2 * k] = out[2 * k + 1] = 0;
        out[2 * k] = (uint8_t)(groups[g] >> 8);
        out[2 * k + 1] = (uint8_t)groups[g];
        k++;
    }
    for (; k < 8; k++)  /* `::` at the end */
        out[2 * k] = out[2 * k + 1] = 0;
    return 1;
}

static int is_dns_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.';
}

int valid_http_authority(const uint8_t *text, size_t len)
{
    size_t host_end;
    uint8_t address[16];
    if (len > 0 && text[0] == '[') {
        host_end = 1;
        while (host_end < len && text[host_end] != ']')
            host_end++;
        if (host_end == len || !parse_ipv6(text + 1, host_end - 1, address))
            return 0;
        host_end++;
    } else {
        host_end = 0;
        while (host_end < len && text[host_end] != ':') {
            if (!is_dns_char(text[host_end]))
                return 0;
            host_end++;
        }
        /* A name starts with a letter or digit and has no empty label. */
        if (host_end == 0 || text[0] == '.' || text[0] == '-' || text[host_end - 1] == '.')
            return 0;
        for (size_t i = 1; i < host_end; i++)
            if (text[i] == '.' && text[i - 1] == '.')
                return 0;
    }
    if (host_end == len)
        return 1;
    if (text[host_end] != ':' || host_end + 1 == len || len - host_end - 1 > 5)
        return 0;
    unsigned port = 0;
    for (size_t i = host_end + 1; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        port = port * 10 + (unsigned)(text[i] - '0');
    }
    return port >= 1 && port <= 65535;
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

/* What an http:// URL's path may carry as it is: RFC 3986 pchar, `%XX` escapes included. */
static const char *check_url_name(const stub_path *path)
{
    static const char allowed[] = "-._~!$&'()*+,;=:@/";
    const uint8_t *name = (const uint8_t *)path->name;
    for (size_t i = 0; i < path->name_len; i++) {
        uint8_t c = name[i];
        if (c == '%') {
            if (path->name_len - i < 3 || hex_value(name[i + 1]) < 0 || hex_value(name[i + 2]) < 0)
                return "bad %-escape in URL";
            i += 2;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        for (const char *a = allowed; !ok && *a; a++)
            ok = c == (uint8_t)*a;
        if (!ok)
            return "character a URL path cannot carry (write it as %XX)";
    }
    return NULL;
}

static const char *parse_tftp_url(const uint8_t *text, size_t len, stub_path *out)
{
    size_t host = sizeof TFTP_PREFIX - 1, end = host;
    while (end < len && text[end] != '/' && text[end] != '\\')
        end++;
    if (end - host >= 2 && text[host] == '[' && text[end - 1] == ']' &&
        parse_ipv6(text + host + 1, end - host - 2, out->server)) {
        out->family = 6;
    } else if (parse_ipv4(text + host, end - host, out->server)) {
        out->family = 4;
    } else {
        return "TFTP server is not an IPv4 or [IPv6] address";
    }
    out->scheme = PATH_TFTP;
    return normalise(text + end, len - end, out);
}

static const char *parse_http_url(const uint8_t *text, size_t len, int https, stub_path *out)
{
    size_t host = https ? sizeof HTTPS_PREFIX - 1 : sizeof HTTP_PREFIX - 1, end = host;
    while (end < len && text[end] != '/' && text[end] != '\\')
        end++;
    if (!valid_http_authority(text + host, end - host))
        return "HTTP host is not an IP address or DNS name (with an optional :port)";
    if (end - host >= STUB_AUTHORITY_MAX)
        return "HTTP host too long";
    for (size_t i = host; i < end; i++)
        out->authority[i - host] = (char)text[i];
    out->authority[end - host] = '\0';
    out->scheme = PATH_HTTP;
    out->https = https;
    const char *reason = normalise(text + end, len - end, out);
    return reason ? reason : check_url_name(out);
}

const char *path_parse(const uint8_t *text, size_t len, stub_path *out)
{
    out->is_url = 0;
    out->scheme = PATH_PLAIN;
    out->absolute = 0;
    out->family = 0;
    out->https = 0;
    out->authority[0] = '\0';
    out->name_len = 0;
    out->name[0] = '\0';
    for (int k = 0; k < 16; k++)
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
    if (!looks_like_url(text, len)) {
        out->absolute = is_separator(text[0]);
        return normalise(text, len, out);
    }
    out->is_url = 1;
    if (has_prefix(text, len, TFTP_PREFIX))
        return parse_tftp_url(text, len, out);
    if (has_prefix(text, len, HTTP_PREFIX))
        return parse_http_url(text, len, 0, out);
    if (has_prefix(text, len, HTTPS_PREFIX))
        return parse_http_url(text, len, 1, out);
    out->is_url = 0;
    return "unsupported URL scheme (tftp://, http:// or https://)";
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
