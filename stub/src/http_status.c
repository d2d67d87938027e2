#include "http_status.h"

/* In the order of EFI_HTTP_STATUS_CODE (UEFI 2.10, 29.6.2.1; 308 and 429 came last). */
static const struct {
    unsigned number;
    const char *phrase;
} statuses[] = {
    {0, ""}, {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"}, {201, "Created"},
    {202, "Accepted"}, {203, "Non-Authoritative Information"}, {204, "No Content"},
    {205, "Reset Content"}, {206, "Partial Content"}, {300, "Multiple Choices"},
    {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"}, {304, "Not Modified"},
    {305, "Use Proxy"}, {307, "Temporary Redirect"}, {400, "Bad Request"},
    {401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
    {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {407, "Proxy Authentication Required"},
    {408, "Request Timeout"}, {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"},
    {412, "Precondition Failed"}, {413, "Payload Too Large"}, {414, "URI Too Long"},
    {415, "Unsupported Media Type"}, {416, "Range Not Satisfiable"}, {417, "Expectation Failed"},
    {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
    {503, "Service Unavailable"}, {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
    {308, "Permanent Redirect"}, {429, "Too Many Requests"},
};

unsigned http_status_number(unsigned efi_index)
{
    return efi_index < sizeof statuses / sizeof statuses[0] ? statuses[efi_index].number : 0;
}

const char *http_status_phrase(unsigned efi_index)
{
    return efi_index < sizeof statuses / sizeof statuses[0] ? statuses[efi_index].phrase : "";
}

int http_content_length(const char *value, uint64_t *out)
{
    size_t i = 0;
    uint64_t n = 0;
    while (value[i] == ' ' || value[i] == '\t')
        i++;
    size_t start = i;
    while (value[i] >= '0' && value[i] <= '9') {
        unsigned digit = (unsigned)(value[i] - '0');
        if (n > (UINT64_MAX - digit) / 10)
            return 0;
        n = n * 10 + digit;
        i++;
    }
    if (i == start)
        return 0;
    while (value[i] == ' ' || value[i] == '\t')
        i++;
    if (value[i])
        return 0;
    *out = n;
    return 1;
}

int http_header_is(const char *name, const char *wanted)
{
    for (;; name++, wanted++) {
        char a = *name, b = *wanted;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
        if (!a)
            return 1;
    }
}
