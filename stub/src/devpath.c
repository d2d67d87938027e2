#include "devpath.h"

static void copy(uint8_t *to, const uint8_t *from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        to[i] = from[i];
}

const char *devpath_find_http_boot(const uint8_t *path, size_t len, devpath_http_boot *out)
{
    const uint8_t *ip = NULL, *uri = NULL;
    size_t ip_len = 0, uri_len = 0, offset = 0;
    int uri_is_last = 0, ended = 0;
    while (offset + 4 <= len) {
        const uint8_t *node = path + offset;
        size_t node_len = (size_t)node[2] | (size_t)node[3] << 8;
        if (node_len < 4 || node_len > len - offset)
            return "malformed device path node";
        if (node[0] == DEVPATH_TYPE_END) {
            ended = 1;
            break;
        }
        uri_is_last = 0;
        if (node[0] == DEVPATH_TYPE_MESSAGING) {
            if (node[1] == DEVPATH_SUBTYPE_IPV4 || node[1] == DEVPATH_SUBTYPE_IPV6) {
                ip = node;
                ip_len = node_len;
                uri = NULL;  /* a URI counts only after the IP node */
            } else if (node[1] == DEVPATH_SUBTYPE_URI && ip) {
                uri = node + 4;
                uri_len = node_len - 4;
                uri_is_last = 1;
            }
        }
        offset += node_len;
    }
    if (!ended)
        return "device path without an end node";
    if (!ip)
        return "no IP node in the boot device path";
    if (!uri)
        return "no URI node after the IP node";
    if (!uri_is_last)
        return "the URI node is not the last node (the image did not come by HTTP)";
    /* EDK2's HTTP Boot stores the URI with its NUL (AsciiStrSize). */
    while (uri_len > 0 && uri[uri_len - 1] == 0)
        uri_len--;
    if (uri_len == 0)
        return "empty URI node";
    *out = (devpath_http_boot){0};
    out->uri = uri;
    out->uri_len = uri_len;
    if (ip[1] == DEVPATH_SUBTYPE_IPV4) {
        if (ip_len < 19)
            return "IPv4 device path node too short";
        out->family = 4;
        copy(out->local, ip + 4, 4);
        if (ip_len >= DEVPATH_IPV4_LENGTH) {
            copy(out->gateway, ip + 19, 4);
            copy(out->subnet, ip + 23, 4);
        }
    } else {
        if (ip_len < DEVPATH_IPV6_LENGTH)
            return "IPv6 device path node too short";
        out->family = 6;
        copy(out->local, ip + 4, 16);
        out->prefix_length = ip[43];
        copy(out->gateway, ip + 44, 16);
    }
    return NULL;
}
