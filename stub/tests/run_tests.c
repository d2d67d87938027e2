/* Host test runner for the stub's pure C. The last line is "N passed, N failed". */
#include "check.h"

int check_passed, check_failed;

void test_pcr11(void);
void test_tcp(void);
void test_tcp_rx(void);
void test_http_rx(void);
void test_syslog_msg(void);

void check_record(int ok, const char *what, const char *file, int line)
{
    if (ok) {
        check_passed++;
        return;
    }
    check_failed++;
    printf("FAIL %s:%d: %s\n", file, line, what);
}

void check_str(const char *got, const char *want, const char *file, int line)
{
    int ok = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
    if (ok) {
        check_passed++;
        return;
    }
    check_failed++;
    printf("FAIL %s:%d: got \"%s\", want \"%s\"\n", file, line, got ? got : "(null)",
           want ? want : "(null)");
}

int main(void)
{
    test_sha256();
    test_pe();
    test_paths();
    test_cmdline_all();
    test_policy_all();
    test_textbuf_all();
    test_tftp_error();
    test_tftp_oack();
    test_dhcp();
    test_dhcp6();
    test_devpath();
    test_http_status();
    test_crc32();
    test_http_headers();
    test_pcr11();
    test_line_all();
    test_inet_csum();
    test_ether();
    test_arp();
    test_ipv4_net();
    test_udp();
    test_tftp_rx();
    test_frame_rx();
    test_tcp();
    test_tcp_rx();
    test_http_rx();
    test_syslog_msg();
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}
