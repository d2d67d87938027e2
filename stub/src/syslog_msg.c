#include "syslog_msg.h"

#include "paths.h"
#include "textbuf.h"
#include "url.h"

static const char hex_digits[] = "0123456789abcdef";

static int starts_with(const char *line, size_t len, const char *prefix)
{
    size_t i = 0;
    for (; prefix[i]; i++)
        if (i >= len || line[i] != prefix[i])
            return 0;
    return 1;
}

int syslog_severity(const char *line, size_t len)
{
    if (starts_with(line, len, "stub: error: "))
        return SYSLOG_SEVERITY_ERROR;
    if (starts_with(line, len, "stub: warning: "))
        return SYSLOG_SEVERITY_WARNING;
    return SYSLOG_SEVERITY_INFO;
}

static int msgid_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

void syslog_msgid(const char *line, size_t len, char *out)
{
    static const char prefix[] = "stub: ";
    size_t start = sizeof prefix - 1, n = 0;
    if (starts_with(line, len, prefix)) {
        while (start + n < len && n <= SYSLOG_MSGID_MAX && msgid_char(line[start + n]))
            n++;
        char next = start + n < len ? line[start + n] : ' ';
        int ended = next == ' ' || next == ':' || next == '=';
        if (n >= 1 && n <= SYSLOG_MSGID_MAX && ended) {
            for (size_t i = 0; i < n; i++)
                out[i] = line[start + i];
            out[n] = '\0';
            return;
        }
    }
    out[0] = '-';
    out[1] = '\0';
}

void syslog_mac_hostname(const uint8_t *mac, size_t len, char *out, size_t cap)
{
    text_buf tb;
    tb_init(&tb, out, cap);
    if (len == 0 || len > 32 || cap < 3 * len) {
        tb_str(&tb, "-");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        char pair[3] = {hex_digits[mac[i] >> 4], hex_digits[mac[i] & 15], 0};
        if (i)
            tb_str(&tb, ":");
        tb_str(&tb, pair);
    }
}

static int valid_hostname(const char *hostname)
{
    size_t n = 0;
    for (; hostname[n]; n++)
        if (n >= SYSLOG_HOSTNAME_MAX || hostname[n] < 33 || hostname[n] > 126)
            return 0;
    return n > 0;
}

/* The escaped form of one byte: itself, or `\xNN`; returns its length. */
static size_t escape_byte(uint8_t byte, char out[4])
{
    if (byte >= 0x20 && byte <= 0x7e) {
        out[0] = (char)byte;
        return 1;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex_digits[byte >> 4];
    out[3] = hex_digits[byte & 15];
    return 4;
}

#define CUT_MARK "..."
/* The header needs room for its longest form and a little text, or nothing is written. */
#define MIN_TEXT 8

size_t syslog_format(uint8_t *out, size_t cap, const char *hostname, uint32_t sequence,
                     const char *line, size_t len)
{
    char header[SYSLOG_HOSTNAME_MAX + SYSLOG_MSGID_MAX + 80], msgid[SYSLOG_MSGID_MAX + 1];
    text_buf tb;
    tb_init(&tb, header, sizeof header);
    tb_str(&tb, "<");
    tb_u64(&tb, SYSLOG_FACILITY_USER * 8 + syslog_severity(line, len));
    tb_str(&tb, ">1 - ");
    tb_str(&tb, valid_hostname(hostname) ? hostname : "-");
    tb_str(&tb, " stub - ");
    syslog_msgid(line, len, msgid);
    tb_str(&tb, msgid);
    tb_str(&tb, " [meta sequenceId=\"");
    tb_u64(&tb, sequence >= 1 && sequence <= SYSLOG_SEQUENCE_MAX ? sequence : 1);
    tb_str(&tb, "\"] ");
    if (cap < tb.len + MIN_TEXT)
        return 0;
    size_t used = 0;
    for (; used < tb.len; used++)
        out[used] = (uint8_t)header[used];

    /* The text, escaped; when it does not fit, cut at a whole escape and mark the cut. */
    size_t room = cap - used, i = 0;
    char piece[4];
    size_t need_all = 0;
    for (size_t j = 0; j < len; j++)
        need_all += escape_byte((uint8_t)line[j], piece);
    size_t limit = need_all <= room ? room : room - (sizeof CUT_MARK - 1);
    for (; i < len; i++) {
        size_t n = escape_byte((uint8_t)line[i], piece);
        if (n > limit)
            break;
        for (size_t k = 0; k < n; k++)
            out[used++] = (uint8_t)piece[k];
        limit -= n;
    }
    if (i < len)
        for (size_t k = 0; k < sizeof CUT_MARK - 1; k++)
            out[used++] = (uint8_t)CUT_MARK[k];
    return used;
}

int syslog_server_from_dhcp(const dhcp_packet *packet, uint8_t server[4])
{
    size_t len = 0;
    if (!packet->received)
        return 0;
    const uint8_t *list = dhcp_find_option(packet, DHCP_OPTION_LOG_SERVER, &len);
    for (size_t at = 0; list && at + 4 <= len; at += 4) {
        const uint8_t *ip = list + at;
        int zero = !(ip[0] | ip[1] | ip[2] | ip[3]);
        int broadcast = (ip[0] & ip[1] & ip[2] & ip[3]) == 0xff;
        if (!zero && !broadcast) {
            for (int i = 0; i < 4; i++)
                server[i] = ip[i];
            return 1;
        }
    }
    return 0;
}

int syslog_server_from_url(const uint8_t *uri, size_t len, int *family, uint8_t server[16])
{
    size_t start, count;
    if (url_authority(uri, len, &start, &count))
        return 0;
    const uint8_t *host = uri + start;
    if (count > 0 && host[0] == '[') {
        size_t close = 1;
        while (close < count && host[close] != ']')
            close++;
        if (close == count || !parse_ipv6(host + 1, close - 1, server))
            return 0;
        *family = 6;
        return 1;
    }
    size_t host_len = 0;
    while (host_len < count && host[host_len] != ':')
        host_len++;
    if (!parse_ipv4(host, host_len, server))
        return 0;
    *family = 4;
    return 1;
}
