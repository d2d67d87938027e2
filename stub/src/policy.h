/* The `.policy` section: what the stub does on failure, where it fetches from, how it
 * asks for TFTP transfers and how long a file may take. Pure: no EFI calls. */
#ifndef STUB_POLICY_H
#define STUB_POLICY_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ON_ERROR_RESET, ON_ERROR_HALT, ON_ERROR_EXIT } on_error_action;
typedef enum { SOURCE_AUTO, SOURCE_LOCAL, SOURCE_NET, SOURCE_HTTP } boot_source;
/* Whose network stack carries the stub's transfers: its own over the firmware's NIC driver
 * (SNP), or the firmware's protocols (MTFTP4, HTTP, PXE Base Code). */
typedef enum { NET_STACK_OWN, NET_STACK_FIRMWARE } net_stack;
/* Whether a netbooted stub also sends its console lines over syslog (log_net.c). */
typedef enum { LOG_NET_ON, LOG_NET_OFF } log_net_mode;


typedef struct {
    on_error_action on_error;
    unsigned error_delay;   /* seconds, 0..600 */
    boot_source source;
    unsigned tftp_blksize;  /* RFC 2348 block size asked for, 512..65464 */
    unsigned tftp_window;   /* RFC 7440 window asked for, 1..256 (1: lock-step, no option) */
    unsigned fetch_timeout; /* seconds one file may take over the network, 1..3600 */
    net_stack stack;
    log_net_mode log;
} stub_policy;

#define POLICY_DEFAULT_DELAY 5
#define POLICY_MAX_DELAY 600
/* 16 KiB blocks (11 IP fragments each) in windows of 8: within 15% of the fastest setting
 * measured under QEMU, and a burst of 128 KiB that NIC receive rings take. */
#define POLICY_DEFAULT_BLKSIZE 16384
#define POLICY_MIN_BLKSIZE 512
#define POLICY_MAX_BLKSIZE 65464
#define POLICY_DEFAULT_WINDOW 8
#define POLICY_MAX_WINDOW 256
/* Two minutes: a 100 MiB initrd at 1 MB/s, yet well below the boot manager's 5-minute
 * watchdog, so that a slow server ends in an error line and the policy, not in a reset. */
#define POLICY_DEFAULT_FETCH_TIMEOUT 120
#define POLICY_MAX_FETCH_TIMEOUT 3600

/* Called for each line that cannot be used: `message` is static text, `detail` the offending
 * bytes from the section (may be empty). */
typedef void (*policy_warning_fn)(void *ctx, const char *message, const uint8_t *detail,
                                  size_t detail_len);

/* Parse `.policy` (key=value lines). Anything unusable is reported and its default kept. */
void policy_defaults(stub_policy *policy);
void policy_parse(const uint8_t *text, size_t len, stub_policy *policy, policy_warning_fn warn,
                  void *ctx);

#endif
