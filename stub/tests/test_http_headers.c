/* Response headers are freed one by one, then the array (LeakSanitizer fails the run on any
 * block left behind). */
#include <stdlib.h>

#include "check.h"
#include "http_headers.h"

static int freed;

static void counting_free(void *block)
{
    freed++;
    free(block);
}

static char *copy(const char *text)
{
    char *out = malloc(strlen(text) + 1);
    strcpy(out, text);
    return out;
}

void test_http_headers(void)
{
    http_header_fields *headers = malloc(3 * sizeof *headers);
    headers[0] = (http_header_fields){copy("Content-Length"), copy("14186432")};
    headers[1] = (http_header_fields){copy("Server"), NULL};
    headers[2] = (http_header_fields){copy("Date"), copy("Thu, 03 Dec 2026 13:00:00 GMT")};
    freed = 0;
    http_headers_release(headers, 3, counting_free);
    CHECK(freed == 6);  /* five strings and the array */
    freed = 0;
    http_headers_release(NULL, 0, counting_free);
    CHECK(freed == 0);
}
