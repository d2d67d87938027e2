/* HTTP answers as EFI_HTTP_PROTOCOL hands them over: its status-code index as the number and
 * phrase a person knows, and the Content-Length header. Pure: no EFI calls. */
#ifndef STUB_HTTP_STATUS_H
#define STUB_HTTP_STATUS_H

#include <stddef.h>
#include <stdint.h>

/* The numeric code (404) of an EFI_HTTP_STATUS_CODE index; 0 for unknown indexes. */
unsigned http_status_number(unsigned efi_index);

/* The reason phrase ("Not Found"), or "" when unknown. */
const char *http_status_phrase(unsigned efi_index);

/* Parse a Content-Length value: decimal digits with optional surrounding blanks, no sign, no
 * overflow. 1 on success. */
int http_content_length(const char *value, uint64_t *out);

/* Case-insensitive ASCII comparison of NUL-terminated header names. */
int http_header_is(const char *name, const char *wanted);

#endif
