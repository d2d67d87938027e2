/* `.policy` parsing (policy.c). */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "policy.h"

struct warnings {
    int count;
    char last[128];
};

static void collect(void *ctx, const char *message, const uint8_t *detail, size_t len)
{
    struct warnings *w = ctx;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s: %.*s", message, (int)len, (const char *)detail);
}

static stub_policy parse_policy(const char *text, struct warnings *w)
{
    stub_policy policy;
    size_t len = strlen(text);
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    memset(w, 0, sizeof *w);
    policy_parse(copy, len, &policy, collect, w);
    free(copy);
    return policy;
}

static void test_policy(void)
{
    struct warnings w;
    stub_policy p = parse_policy("", &w);
    CHECK(p.on_error == ON_ERROR_RESET && p.error_delay == 5 && p.source == SOURCE_AUTO && !w.count);

    p = parse_policy("on-error=halt\nerror-delay=0\nsource=net\n", &w);
    CHECK(p.on_error == ON_ERROR_HALT && p.error_delay == 0 && p.source == SOURCE_NET && !w.count);

    p = parse_policy("  on-error = exit \r\n# comment\n\nerror-delay=600\r\nsource=local", &w);
    CHECK(p.on_error == ON_ERROR_EXIT && p.error_delay == 600 && p.source == SOURCE_LOCAL && !w.count);

    p = parse_policy("error-delay=601", &w);
    CHECK(p.error_delay == 5 && w.count == 1);
    CHECK_STR(w.last, "bad error-delay value, 0..600 (using 5): 601");
    p = parse_policy("error-delay=-1\nerror-delay=\nerror-delay=1x\nerror-delay=0005", &w);
    CHECK(p.error_delay == 5 && w.count == 4);
    p = parse_policy("on-error=explode", &w);
    CHECK(p.on_error == ON_ERROR_RESET && w.count == 1);
    CHECK_STR(w.last, "bad on-error value (using reset): explode");
    p = parse_policy("on-error=halt\non-error=RESET", &w);
    CHECK(p.on_error == ON_ERROR_RESET && w.count == 1);  /* a bad value falls back to the default */
    p = parse_policy("source=http", &w);
    CHECK(p.source == SOURCE_HTTP && !w.count);
    p = parse_policy("source=ftp", &w);
    CHECK(p.source == SOURCE_AUTO && w.count == 1);
    p = parse_policy("colour=blue\nsource=net", &w);
    CHECK(p.source == SOURCE_NET && w.count == 1);
    CHECK_STR(w.last, "unknown key (ignored): colour");
    p = parse_policy("just words", &w);
    CHECK(w.count == 1);
    CHECK_STR(w.last, "line without '=' (ignored): just words");
    p = parse_policy("error-delay=7\0on-error=halt", &w);  /* strlen stops at the NUL */
    CHECK(p.error_delay == 7 && p.on_error == ON_ERROR_RESET);

    /* Every prefix of a policy parses without reading past its end. */
    const char *full = "on-error=halt\nerror-delay=12\nsource=net\nbogus";
    for (size_t n = 0; n <= strlen(full); n++) {
        char cut[64];
        memcpy(cut, full, n);
        cut[n] = '\0';
        parse_policy(cut, &w);
    }
    CHECK(1);
}

static void test_tftp_keys(void)
{
    struct warnings w;
    stub_policy p = parse_policy("", &w);
    CHECK(p.tftp_blksize == 16384 && p.tftp_window == 8);
    p = parse_policy("tftp-blksize=8192\ntftp-window=64", &w);
    CHECK(p.tftp_blksize == 8192 && p.tftp_window == 64 && !w.count);
    p = parse_policy("tftp-blksize=512\ntftp-window=1", &w);
    CHECK(p.tftp_blksize == 512 && p.tftp_window == 1 && !w.count);
    p = parse_policy("tftp-blksize=65464\ntftp-window=256", &w);
    CHECK(p.tftp_blksize == 65464 && p.tftp_window == 256 && !w.count);
    p = parse_policy("tftp-blksize=511", &w);
    CHECK(p.tftp_blksize == 16384 && w.count == 1);
    CHECK_STR(w.last, "bad tftp-blksize value, 512..65464 (using 16384): 511");
    p = parse_policy("tftp-blksize=65465\ntftp-blksize=999999\ntftp-blksize=x", &w);
    CHECK(p.tftp_blksize == 16384 && w.count == 3);
    p = parse_policy("tftp-window=0\ntftp-window=257", &w);
    CHECK(p.tftp_window == 8 && w.count == 2);
    CHECK_STR(w.last, "bad tftp-window value, 1..256 (using 8): 257");
    /* error-delay keeps its three-digit limit. */
    p = parse_policy("error-delay=00005", &w);
    CHECK(p.error_delay == 5 && w.count == 1);
}

/* The per-file deadline: seconds, 1..3600, at most 4 digits, 120 by default. */
static void test_fetch_timeout(void)
{
    struct warnings w;
    stub_policy p = parse_policy("", &w);
    CHECK(p.fetch_timeout == 120);
    p = parse_policy("fetch-timeout=5", &w);
    CHECK(p.fetch_timeout == 5 && !w.count);
    p = parse_policy(" fetch-timeout = 3600 ", &w);
    CHECK(p.fetch_timeout == 3600 && !w.count);
    p = parse_policy("fetch-timeout=1", &w);
    CHECK(p.fetch_timeout == 1 && !w.count);
    p = parse_policy("fetch-timeout=0", &w);
    CHECK(p.fetch_timeout == 120 && w.count == 1);
    CHECK_STR(w.last, "bad fetch-timeout value, 1..3600 (using 120): 0");
    p = parse_policy("fetch-timeout=3601\nfetch-timeout=00060\nfetch-timeout=1m\nfetch-timeout=", &w);
    CHECK(p.fetch_timeout == 120 && w.count == 4);
}

/* Whose network stack carries transfers: the stub's own by default. */
static void test_net_stack(void)
{
    struct warnings w;
    stub_policy p = parse_policy("", &w);
    CHECK(p.stack == NET_STACK_OWN);
    p = parse_policy("net-stack=firmware", &w);
    CHECK(p.stack == NET_STACK_FIRMWARE && !w.count);
    p = parse_policy("net-stack = own", &w);
    CHECK(p.stack == NET_STACK_OWN && !w.count);
    p = parse_policy("net-stack=firmware\nnet-stack=Firmware", &w);
    CHECK(p.stack == NET_STACK_OWN && w.count == 1);
    CHECK_STR(w.last, "bad net-stack value, own or firmware (using own): Firmware");
}

/* Console lines over syslog when netbooted: on by default, `log=off` stops them. */
static void test_log(void)
{
    struct warnings w;
    stub_policy p = parse_policy("", &w);
    CHECK(p.log == LOG_NET_ON);
    p = parse_policy("log=off", &w);
    CHECK(p.log == LOG_NET_OFF && !w.count);
    p = parse_policy(" log = on \r\nsource=net", &w);
    CHECK(p.log == LOG_NET_ON && p.source == SOURCE_NET && !w.count);
    p = parse_policy("log=off\nlog=OFF", &w);
    CHECK(p.log == LOG_NET_ON && w.count == 1);
    CHECK_STR(w.last, "bad log value, on or off (using on): OFF");
    p = parse_policy("log=\nlog=no\nlogs=off", &w);
    CHECK(p.log == LOG_NET_ON && w.count == 3);
    CHECK_STR(w.last, "unknown key (ignored): logs");
}

void test_policy_all(void)
{
    test_log();
    test_net_stack();
    test_policy();
    test_tftp_keys();
    test_fetch_timeout();
}
