#include "url.h"

static size_t scheme_length(const uint8_t *uri, size_t len)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (unsigned s = 0; s < 2; s++) {
        size_t i = 0;
        for (; schemes[s][i]; i++) {
            uint8_t c = i < len ? uri[i] : 0;
            if (c >= 'A' && c <= 'Z')
                c = (uint8_t)(c - 'A' + 'a');
            if (c != (uint8_t)schemes[s][i])
                break;
        }
        if (!schemes[s][i])
            return i;
    }
    return 0;
}

const char *url_authority(const uint8_t *uri, size_t len, size_t *start, size_t *count)
{
    size_t head = scheme_length(uri, len), end = head;
    if (!head)
        return "not an http:// or https:// URL";
    while (end < len && uri[end] != '/' && uri[end] != '?' && uri[end] != '#')
        end++;
    if (!valid_http_authority(uri + head, end - head))
        return "URL host is not an IP address or DNS name";
    *start = head;
    *count = end - head;
    return NULL;
}

const char *url_ipv4_target(const uint8_t *uri, size_t len, url_target *out)
{
    static const char http[] = "http://";
    size_t start, count;
    *out = (url_target){.port = 80};
    const char *bad = url_authority(uri, len, &start, &count);
    if (bad)
        return bad;
    for (size_t i = 0; i + 1 < sizeof http; i++)
        if (i >= len || (uri[i] | 0x20) != http[i])
            return "https:// needs the firmware's TLS";
    size_t host_len = 0;
    while (host_len < count && uri[start + host_len] != ':')
        host_len++;
    if (!parse_ipv4(uri + start, host_len, out->ip))
        return "the URL's host is not an IPv4 address";
    if (host_len < count) {
        unsigned port = 0;
        size_t digits = count - host_len - 1;
        if (digits == 0 || digits > 5)
            return "bad port in the URL";
        for (size_t i = host_len + 1; i < count; i++) {
            uint8_t c = uri[start + i];
            if (c < '0' || c > '9')
                return "bad port in the URL";
            port = port * 10 + (unsigned)(c - '0');
        }
        if (port == 0 || port > 65535)
            return "bad port in the URL";
        out->port = (uint16_t)port;
    }
    out->authority_start = start;
    out->authority_len = count;
    size_t end = start + count;
    size_t stop = end;
    while (stop < len && uri[stop] != '#')
        stop++;
    out->path_start = end;
    out->path_len = stop - end;
    if (out->path_len && uri[end] == '?')
        return "the URL has a query but no path";
    return NULL;
}

int url_is_http(const uint8_t *uri, size_t len)
{
    size_t start, count;
    for (size_t i = 0; i < len; i++)
        if (uri[i] <= 0x20 || uri[i] >= 0x7f)
            return 0;
    return url_authority(uri, len, &start, &count) == NULL;
}

typedef struct {
    char *out;
    size_t cap, len;
    int full;
} url_writer;

static void put(url_writer *w, char c)
{
    if (w->len + 1 >= w->cap) {
        w->full = 1;
        return;
    }
    w->out[w->len++] = c;
    w->out[w->len] = '\0';
}

static void put_bytes(url_writer *w, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        put(w, (char)bytes[i]);
}

static int keeps_as_is(uint8_t c)
{
    static const char allowed[] = "-._~!$&'()*+,;=:@/";
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    for (const char *a = allowed; *a; a++)
        if (c == (uint8_t)*a)
            return 1;
    return 0;
}

static void put_encoded(url_writer *w, const char *name, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)name[i];
        if (keeps_as_is(c)) {
            put(w, (char)c);
        } else {
            put(w, '%');
            put(w, hex[c >> 4]);
            put(w, hex[c & 15]);
        }
    }
}

const char *url_for_path(const uint8_t *base, size_t base_len, const stub_path *path, char *out,
                         size_t cap)
{
    url_writer w = {out, cap, 0, 0};
    if (cap)
        out[0] = '\0';
    if (path->scheme == PATH_TFTP)
        return "a tftp:// path cannot be fetched over HTTP";
    if (path->scheme == PATH_HTTP) {
        const char *scheme = path->https ? "https://" : "http://";
        while (*scheme)
            put(&w, *scheme++);
        for (const char *a = path->authority; *a; a++)
            put(&w, *a);
        put(&w, '/');
        put_bytes(&w, (const uint8_t *)path->name, path->name_len);
        return w.full ? "URL too long" : NULL;
    }
    if (!base || !url_is_http(base, base_len))
        return "the stub's own URL is not an http:// or https:// URL";
    size_t start, count, keep;
    url_authority(base, base_len, &start, &count);
    if (path->absolute) {
        keep = start + count;
    } else {
        /* The directory of the base: up to its last '/' before any query or fragment. */
        size_t end = start + count;
        while (end < base_len && base[end] != '?' && base[end] != '#')
            end++;
        keep = start + count;
        for (size_t i = start + count; i < end; i++)
            if (base[i] == '/')
                keep = i;
    }
    put_bytes(&w, base, keep);
    put(&w, '/');
    put_encoded(&w, path->name, path->name_len);
    return w.full ? "URL too long" : NULL;
}
