/* The console lines of a netbooted stub, also sent as RFC 5424 syslog messages over UDP (port
 * 514) to the log server of the boot's DHCP (option 7), else the boot server (stub/FORMAT.md,
 * "Console lines over syslog"). Through a child of the firmware's UDP4 or UDP6 service binding
 * on the boot NIC; transmit tokens with static buffers, never waited for per line. */
#ifndef STUB_LOG_NET_H
#define STUB_LOG_NET_H

#include <efi.h>
#include <stddef.h>

#include "policy.h"

/* The longest waits for sends still in flight: before the kernel starts (or the stub's own
 * network path takes the NIC), and before the stub resets, halts or returns after an error. */
#define LOG_NET_KERNEL_WAIT_MS 20
#define LOG_NET_ERROR_WAIT_MS 1000

/* Start sending when the stub was netbooted (PXE or HTTP Boot on `device`) and `policy` does
 * not say `log=off`; lines printed before are sent now. Otherwise they are dropped and no
 * more are kept. Again after log_net_stop: sending resumes (the kernel came back). */
void log_net_start(EFI_HANDLE device, const stub_policy *policy);

/* console.c: one finished line (no CRLF). Queued, and sent at once when it can be. */
void log_net_line(const char *text, size_t len);

/* The stub's own network path holds the NIC at TPL_CALLBACK (snp.h): sends in flight are
 * given a short bounded wait, then lines stay queued until log_net_resume. */
void log_net_pause(void);
void log_net_resume(void);

/* Send what is queued, wait at most `wait_ms` for it, cancel the rest and take the UDP child
 * away: nothing of the stub's is left in the firmware's network stack. */
void log_net_stop(unsigned wait_ms);

#endif
