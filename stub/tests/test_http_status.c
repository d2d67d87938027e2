/* HTTP status indexes, Content-Length values and header names. */
#include <stdint.h>

#include "check.h"
#include "http_status.h"

void test_http_status(void)
{
    CHECK(http_status_number(3) == 200 && http_status_number(21) == 404);
    CHECK_STR(http_status_phrase(21), "Not Found");
    CHECK(http_status_number(38) == 503 && http_status_number(41) == 308 && http_status_number(42) == 429);
    CHECK(http_status_number(43) == 0 && http_status_number(1000) == 0);
    CHECK_STR(http_status_phrase(43), "");

    uint64_t n = 7;
    CHECK(http_content_length("33554432", &n) && n == 33554432);
    CHECK(http_content_length(" 0\t", &n) && n == 0);
    CHECK(http_content_length("18446744073709551615", &n) && n == UINT64_MAX);
    n = 7;
    CHECK(!http_content_length("18446744073709551616", &n) && n == 7);
    CHECK(!http_content_length("", &n));
    CHECK(!http_content_length("-1", &n));
    CHECK(!http_content_length("+1", &n));
    CHECK(!http_content_length("12 34", &n));
    CHECK(!http_content_length("0x10", &n));
    CHECK(!http_content_length("12,12", &n));

    CHECK(http_header_is("Content-Length", "content-length"));
    CHECK(http_header_is("CONTENT-LENGTH", "Content-Length"));
    CHECK(!http_header_is("Content-Length2", "Content-Length"));
    CHECK(!http_header_is("Content", "Content-Length"));
}
