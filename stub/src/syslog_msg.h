/* A console line as an RFC 5424 syslog message (stub/FORMAT.md, "Console lines over syslog").
 * Pure: no EFI calls, no allocation; log_net.c sends what this builds. */
#ifndef STUB_SYSLOG_MSG_H
#define STUB_SYSLOG_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "dhcp.h"

/* What RFC 5424 receivers must accept; longer lines are cut (ending in "...") to fit. */
#define SYSLOG_DATAGRAM_MAX 2048
#define SYSLOG_HOSTNAME_MAX 255
#define SYSLOG_MSGID_MAX 32
#define SYSLOG_FACILITY_USER 1
#define SYSLOG_SEVERITY_ERROR 3
#define SYSLOG_SEVERITY_WARNING 4
#define SYSLOG_SEVERITY_INFO 6
/* RFC 5424 section 7.3.1: sequenceId runs 1..2147483647, then starts at 1 again. */
#define SYSLOG_SEQUENCE_MAX 2147483647u

/* error (3) for `stub: error: ...`, warning (4) for `stub: warning: ...`, else info (6). */
int syslog_severity(const char *line, size_t len);

/* The MSGID: what names the line, its first word after `stub: ` (`transfer`, `error`, the key
 * of `source=net`) when it is 1..32 characters of [A-Za-z0-9._-] ended by a space, ':', '='
 * or the line's end; else "-". `out` holds SYSLOG_MSGID_MAX + 1 bytes. */
void syslog_msgid(const char *line, size_t len, char *out);

/* A MAC address as the HOSTNAME: lower-case hex pairs joined by ':' ("52:54:00:12:34:56").
 * `out` holds 3 * len bytes; len 1..32 (longer or 0 gives "-"). */
void syslog_mac_hostname(const uint8_t *mac, size_t len, char *out, size_t cap);

/* `<PRI>1 - HOSTNAME stub - MSGID [meta sequenceId="N"] LINE` into out[0..cap), no NUL.
 * The line goes as it is, bytes outside printable ASCII as `\xNN`; a hostname that is not
 * 1..255 printable ASCII characters becomes "-". Returns the length, at most cap; 0 when
 * cap cannot hold the header and a few bytes of text. */
size_t syslog_format(uint8_t *out, size_t cap, const char *hostname, uint32_t sequence,
                     const char *line, size_t len);

/* Where the messages go (log_net.c asks in this order). */
#define SYSLOG_PORT 514
#define DHCP_OPTION_LOG_SERVER 7

/* The first address in a received packet's option 7 (Log Server, RFC 2132) that is not
 * 0.0.0.0 or 255.255.255.255. 1 when there is one. */
int syslog_server_from_dhcp(const dhcp_packet *packet, uint8_t server[4]);

/* The host of an http(s):// URL when it is an IP address (a dotted quad or [IPv6]): *family
 * 4 or 6. 1 when it is one; a DNS name gives 0 (the stub resolves no names). */
int syslog_server_from_url(const uint8_t *uri, size_t len, int *family, uint8_t server[16]);

#endif
