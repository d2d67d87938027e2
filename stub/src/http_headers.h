/* The headers EFI_HTTP_PROTOCOL's Response() hands back: EDK2 allocates the array and each
 * name and value separately, and the caller frees them all (as EDK2's HttpBootDxe does in
 * HttpBootFreeHeader). Pure: the freeing function is passed in. */
#ifndef STUB_HTTP_HEADERS_H
#define STUB_HTTP_HEADERS_H

#include <stddef.h>

/* EFI_HTTP_HEADER's layout: two pointers to NUL-terminated ASCII. */
typedef struct {
    char *name;
    char *value;
} http_header_fields;

/* Free every name and value (NULLs skipped), then the array itself. */
void http_headers_release(http_header_fields *headers, size_t count, void (*release)(void *));

#endif
