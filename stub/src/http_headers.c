#include "http_headers.h"

void http_headers_release(http_header_fields *headers, size_t count, void (*release)(void *))
{
    if (!headers)
        return;
    for (size_t i = 0; i < count; i++) {
        if (headers[i].name)
            release(headers[i].name);
        if (headers[i].value)
            release(headers[i].value);
    }
    release(headers);
}
