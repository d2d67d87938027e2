/* A minimal test harness: CHECK records a pass or a failure (with its location). */
#ifndef STUB_CHECK_H
#define STUB_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_passed, check_failed;

#define CHECK(cond) check_record((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_STR(got, want) check_str((got), (want), __FILE__, __LINE__)

void check_record(int ok, const char *what, const char *file, int line);
void check_str(const char *got, const char *want, const char *file, int line);

void test_sha256(void);
void test_pe(void);
void test_paths(void);
void test_cmdline_all(void);
void test_policy_all(void);
void test_textbuf_all(void);
void test_tftp_error(void);
void test_tftp_oack(void);
void test_dhcp(void);
void test_dhcp6(void);
void test_devpath(void);
void test_http_status(void);
void test_crc32(void);
void test_http_headers(void);
void test_line_all(void);
void test_inet_csum(void);
void test_ether(void);
void test_arp(void);
void test_ipv4_net(void);
void test_udp(void);
void test_tftp_rx(void);
void test_frame_rx(void);

#endif
