/* Console lines as RFC 5424 syslog messages (syslog_msg.c). */
#include <string.h>

#include "check.h"
#include "syslog_msg.h"

static size_t format(char *out, size_t cap, const char *host, uint32_t seq, const char *line)
{
    size_t n = syslog_format((uint8_t *)out, cap, host, seq, line, strlen(line));
    out[n] = '\0';
    return n;
}

static void test_severity_and_msgid(void)
{
    char id[SYSLOG_MSGID_MAX + 1];
    const char *error = "stub: error: kernel x: file not found status=EFI_NOT_FOUND";
    CHECK(syslog_severity(error, strlen(error)) == 3);
    CHECK(syslog_severity("stub: warning: tftp: x", 22) == 4);
    CHECK(syslog_severity("stub: transfer kernel", 21) == 6);
    CHECK(syslog_severity("stub: error", 11) == 6);  /* no ": " after it: a record */
    CHECK(syslog_severity("", 0) == 6);

    syslog_msgid(error, strlen(error), id);
    CHECK_STR(id, "error");
    syslog_msgid("stub: transfer kernel via=tftp", 30, id);
    CHECK_STR(id, "transfer");
    syslog_msgid("stub: verified", 14, id);
    CHECK_STR(id, "verified");
    syslog_msgid("stub: source=net server=10.0.2.2", 33, id);
    CHECK_STR(id, "source");  /* a record named by its first field's key */
    syslog_msgid("stub: kernel-nx=applied", 23, id);
    CHECK_STR(id, "kernel-nx");
    syslog_msgid("stub: a/b x", 11, id);
    CHECK_STR(id, "-");
    syslog_msgid("stub: ", 6, id);
    CHECK_STR(id, "-");
    syslog_msgid("stub:x", 6, id);
    CHECK_STR(id, "-");
    syslog_msgid("stub: abcdefghijklmnopqrstuvwxyz0123456 x", 41, id);
    CHECK_STR(id, "-");  /* 33 characters */
    syslog_msgid("stub: abcdefghijklmnopqrstuvwxyz0123456", 39, id);
    CHECK_STR(id, "-");
    syslog_msgid("stub: abcdefghijklmnopqrstuvwxyz0123456", 38, id);
    CHECK_STR(id, "abcdefghijklmnopqrstuvwxyz012345");  /* the length given is the line's end */
    syslog_msgid("stub: a\r\n", 9, id);
    CHECK_STR(id, "-");
    syslog_msgid("stub: \xc3\xa9t\xc3\xa9 x", 13, id);
    CHECK_STR(id, "-");
}

static void test_mac_hostname(void)
{
    char out[97];
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0xab, 0xff};
    syslog_mac_hostname(mac, 6, out, sizeof out);
    CHECK_STR(out, "52:54:00:12:ab:ff");
    syslog_mac_hostname(mac, 6, out, 18);
    CHECK_STR(out, "52:54:00:12:ab:ff");
    syslog_mac_hostname(mac, 6, out, 17);
    CHECK_STR(out, "-");
    syslog_mac_hostname(mac, 0, out, sizeof out);
    CHECK_STR(out, "-");
    uint8_t long_mac[33] = {0};
    syslog_mac_hostname(long_mac, 33, out, sizeof out);
    CHECK_STR(out, "-");
    syslog_mac_hostname(long_mac, 32, out, sizeof out);
    CHECK(strlen(out) == 95);
}

static void test_format(void)
{
    char out[SYSLOG_DATAGRAM_MAX + 1];
    format(out, SYSLOG_DATAGRAM_MAX, "52:54:00:12:34:56", 1,
           "stub: transfer kernel \\EFI\\Linux\\vmlinuz via=tftp bytes=5 ms=3");
    CHECK_STR(out, "<14>1 - 52:54:00:12:34:56 stub - transfer [meta sequenceId=\"1\"] "
                   "stub: transfer kernel \\EFI\\Linux\\vmlinuz via=tftp bytes=5 ms=3");
    format(out, SYSLOG_DATAGRAM_MAX, "10.0.2.15", 2147483647u,
           "stub: error: kernel x: no status=EFI_NOT_FOUND");
    CHECK_STR(out, "<11>1 - 10.0.2.15 stub - error [meta sequenceId=\"2147483647\"] "
                   "stub: error: kernel x: no status=EFI_NOT_FOUND");
    /* A sequence number out of range, a bad hostname. */
    format(out, SYSLOG_DATAGRAM_MAX, "bad host", 0, "stub: warning: w: x");
    CHECK_STR(out, "<12>1 - - stub - warning [meta sequenceId=\"1\"] stub: warning: w: x");
    format(out, SYSLOG_DATAGRAM_MAX, "", 2147483648u, "stub: x");
    CHECK_STR(out, "<14>1 - - stub - x [meta sequenceId=\"1\"] stub: x");
    /* Non-printable bytes are escaped: no line break, no escape sequence, ASCII only. */
    static const char raw[] = "stub: a\r\nb\x1b[2J\x7f\xc3\xa9\0z";
    size_t n = syslog_format((uint8_t *)out, SYSLOG_DATAGRAM_MAX, "h", 7, raw, sizeof raw - 1);
    out[n] = '\0';
    CHECK_STR(out, "<14>1 - h stub - - [meta sequenceId=\"7\"] "
                   "stub: a\\x0d\\x0ab\\x1b[2J\\x7f\\xc3\\xa9\\x00z");
}

static void test_bounds(void)
{
    static char line[5000], out[SYSLOG_DATAGRAM_MAX + 16];
    memcpy(line, "stub: ", 6);
    memset(line + 6, 'x', sizeof line - 6);
    /* Exactly full, then one over: cut with "...", never past cap. */
    const char *header = "<14>1 - h stub - - [meta sequenceId=\"1\"] ";
    size_t header_len = strlen(header);
    size_t fits = SYSLOG_DATAGRAM_MAX - header_len;
    memset(out, '#', sizeof out);
    size_t n = syslog_format((uint8_t *)out, SYSLOG_DATAGRAM_MAX, "h", 1, line, fits);
    CHECK(n == SYSLOG_DATAGRAM_MAX && out[n - 1] == 'x' && out[n] == '#');
    n = syslog_format((uint8_t *)out, SYSLOG_DATAGRAM_MAX, "h", 1, line, fits + 1);
    CHECK(n == SYSLOG_DATAGRAM_MAX && memcmp(out + n - 4, "x...", 4) == 0 && out[n] == '#');
    n = syslog_format((uint8_t *)out, SYSLOG_DATAGRAM_MAX, "h", 1, line, sizeof line);
    CHECK(n == SYSLOG_DATAGRAM_MAX && out[n] == '#');
    /* A cut never splits an escape. */
    memset(line + 6, '\n', sizeof line - 6);
    for (size_t cap = header_len + 8; cap < header_len + 40; cap++) {
        memset(out, '#', sizeof out);
        n = syslog_format((uint8_t *)out, cap, "h", 1, line, sizeof line);
        CHECK(n <= cap && out[cap] == '#' && memcmp(out + n - 3, "...", 3) == 0);
        size_t text = n - 3 - header_len;  /* "stub: " then whole "\x0a" escapes */
        CHECK(text <= 6 || (text - 6) % 4 == 0);
    }
    /* Too small for the header: nothing written. */
    memset(out, '#', sizeof out);
    CHECK(syslog_format((uint8_t *)out, header_len + 7, "h", 1, "stub: x", 7) == 0 && out[0] == '#');
    CHECK(syslog_format((uint8_t *)out, 0, "h", 1, "stub: x", 7) == 0);
    /* The longest hostname still fits its header buffer. */
    char host[SYSLOG_HOSTNAME_MAX + 2];
    memset(host, 'a', sizeof host);
    host[SYSLOG_HOSTNAME_MAX] = '\0';
    n = syslog_format((uint8_t *)out, SYSLOG_DATAGRAM_MAX, host, 2147483647u,
                      "stub: abcdefghijklmnopqrstuvwxyz012345", 38);
    out[n] = '\0';
    CHECK(n > SYSLOG_HOSTNAME_MAX && strstr(out, host) &&
          strstr(out, " abcdefghijklmnopqrstuvwxyz012345 [meta sequenceId=\"2147483647\"] stub: a"));
    host[SYSLOG_HOSTNAME_MAX] = 'a';
    host[SYSLOG_HOSTNAME_MAX + 1] = '\0';
    n = syslog_format((uint8_t *)out, SYSLOG_DATAGRAM_MAX, host, 1, "stub: x", 7);
    out[n] = '\0';
    CHECK_STR(out, "<14>1 - - stub - x [meta sequenceId=\"1\"] stub: x");
}

/* A BOOTP header, the magic cookie, then `options` (END included by the caller). */
static dhcp_packet packet_with(uint8_t *buf, const uint8_t *options, size_t len)
{
    memset(buf, 0, DHCP_OPTIONS_OFFSET);
    buf[0] = 2;
    buf[236] = 99, buf[237] = 130, buf[238] = 83, buf[239] = 99;
    memcpy(buf + DHCP_OPTIONS_OFFSET, options, len);
    return (dhcp_packet){buf, DHCP_OPTIONS_OFFSET + len, 1};
}

static void test_servers(void)
{
    uint8_t buf[400], server[16] = {0};
    int family = 0;
    static const uint8_t one[] = {53, 1, 5, 7, 4, 10, 0, 2, 9, 255};
    dhcp_packet p = packet_with(buf, one, sizeof one);
    CHECK(syslog_server_from_dhcp(&p, server) && memcmp(server, "\x0a\x00\x02\x09", 4) == 0);
    p.received = 0;
    CHECK(!syslog_server_from_dhcp(&p, server));
    /* 0.0.0.0 and the broadcast address are skipped; a partial address ends the list. */
    static const uint8_t skip[] = {7, 11, 0, 0, 0, 0, 255, 255, 255, 255, 192, 0, 2, 255};
    p = packet_with(buf, skip, sizeof skip);
    CHECK(!syslog_server_from_dhcp(&p, server));
    static const uint8_t later[] = {7, 8, 0, 0, 0, 0, 192, 0, 2, 7, 255};
    p = packet_with(buf, later, sizeof later);
    CHECK(syslog_server_from_dhcp(&p, server) && server[0] == 192 && server[3] == 7);
    static const uint8_t none[] = {3, 4, 10, 0, 2, 1, 255};
    p = packet_with(buf, none, sizeof none);
    CHECK(!syslog_server_from_dhcp(&p, server));
    /* An option that runs past the packet is not read. */
    static const uint8_t cut[] = {7, 8, 10, 0, 2, 9};
    p = packet_with(buf, cut, sizeof cut);
    CHECK(!syslog_server_from_dhcp(&p, server));

    const char *url = "http://10.0.2.2:8080/EFI/BOOT/BOOTX64.EFI";
    CHECK(syslog_server_from_url((const uint8_t *)url, strlen(url), &family, server) && family == 4 &&
          server[0] == 10 && server[3] == 2);
    url = "https://[fd00::2]/x";
    CHECK(syslog_server_from_url((const uint8_t *)url, strlen(url), &family, server) && family == 6 &&
          server[0] == 0xfd && server[15] == 2);
    url = "http://boot.example/x";
    CHECK(!syslog_server_from_url((const uint8_t *)url, strlen(url), &family, server));
    url = "http://[fd00::2/x";
    CHECK(!syslog_server_from_url((const uint8_t *)url, strlen(url), &family, server));
    url = "tftp://10.0.2.2/x";
    CHECK(!syslog_server_from_url((const uint8_t *)url, strlen(url), &family, server));
    url = "http://10.0.2.2";
    CHECK(syslog_server_from_url((const uint8_t *)url, strlen(url), &family, server) && family == 4);
}

void test_syslog_msg(void)
{
    test_servers();
    test_severity_and_msgid();
    test_mac_hostname();
    test_format();
    test_bounds();
}
