#include "policy.h"

void policy_defaults(stub_policy *policy)
{
    policy->on_error = ON_ERROR_RESET;
    policy->error_delay = POLICY_DEFAULT_DELAY;
    policy->source = SOURCE_AUTO;
    policy->tftp_blksize = POLICY_DEFAULT_BLKSIZE;
    policy->tftp_window = POLICY_DEFAULT_WINDOW;
    policy->fetch_timeout = POLICY_DEFAULT_FETCH_TIMEOUT;
    policy->stack = NET_STACK_OWN;
    policy->log = LOG_NET_ON;
}

static int is_blank(uint8_t c) { return c == ' ' || c == '\t' || c == '\r'; }

static int equals(const uint8_t *bytes, size_t len, const char *word)
{
    size_t i = 0;
    for (; i < len && word[i]; i++)
        if (bytes[i] != (uint8_t)word[i])
            return 0;
    return i == len && word[i] == '\0';
}

/* Index of `value` in the NULL-terminated `words`, or -1. */
static int pick(const uint8_t *value, size_t len, const char *const *words)
{
    for (int i = 0; words[i]; i++)
        if (equals(value, len, words[i]))
            return i;
    return -1;
}

/* A decimal number in [low, high] with at most 5 digits. */
static int parse_number(const uint8_t *value, size_t len, unsigned low, unsigned high, unsigned *out)
{
    unsigned n = 0;
    if (len == 0 || len > 5)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return 0;
        n = n * 10 + (unsigned)(value[i] - '0');
    }
    if (n < low || n > high)
        return 0;
    *out = n;
    return 1;
}

static void apply_line(const uint8_t *line, size_t len, stub_policy *policy,
                       policy_warning_fn warn, void *ctx)
{
    static const char *const on_error_words[] = {"reset", "halt", "exit", NULL};
    static const char *const source_words[] = {"auto", "local", "net", "http", NULL};
    static const char *const stack_words[] = {"own", "firmware", NULL};
    static const char *const log_words[] = {"on", "off", NULL};
    while (len > 0 && is_blank(line[0])) {
        line++;
        len--;
    }
    while (len > 0 && is_blank(line[len - 1]))
        len--;
    if (len == 0 || line[0] == '#')
        return;
    size_t eq = 0;
    while (eq < len && line[eq] != '=')
        eq++;
    if (eq == len) {
        warn(ctx, "line without '=' (ignored)", line, len);
        return;
    }
    size_t key_len = eq, value_start = eq + 1;
    while (key_len > 0 && is_blank(line[key_len - 1]))
        key_len--;
    while (value_start < len && is_blank(line[value_start]))
        value_start++;
    const uint8_t *value = line + value_start;
    size_t value_len = len - value_start;

    if (equals(line, key_len, "on-error")) {
        int i = pick(value, value_len, on_error_words);
        if (i < 0) {
            warn(ctx, "bad on-error value (using reset)", value, value_len);
            policy->on_error = ON_ERROR_RESET;
        } else {
            policy->on_error = (on_error_action)i;
        }
    } else if (equals(line, key_len, "error-delay")) {
        if (value_len > 3 || !parse_number(value, value_len, 0, POLICY_MAX_DELAY, &policy->error_delay)) {
            warn(ctx, "bad error-delay value, 0..600 (using 5)", value, value_len);
            policy->error_delay = POLICY_DEFAULT_DELAY;
        }
    } else if (equals(line, key_len, "source")) {
        int i = pick(value, value_len, source_words);
        if (i < 0) {
            warn(ctx, "bad source value (using auto)", value, value_len);
            policy->source = SOURCE_AUTO;
        } else {
            policy->source = (boot_source)i;
        }
    } else if (equals(line, key_len, "tftp-blksize")) {
        if (!parse_number(value, value_len, POLICY_MIN_BLKSIZE, POLICY_MAX_BLKSIZE, &policy->tftp_blksize)) {
            warn(ctx, "bad tftp-blksize value, 512..65464 (using 16384)", value, value_len);
            policy->tftp_blksize = POLICY_DEFAULT_BLKSIZE;
        }
    } else if (equals(line, key_len, "tftp-window")) {
        if (!parse_number(value, value_len, 1, POLICY_MAX_WINDOW, &policy->tftp_window)) {
            warn(ctx, "bad tftp-window value, 1..256 (using 8)", value, value_len);
            policy->tftp_window = POLICY_DEFAULT_WINDOW;
        }
    } else if (equals(line, key_len, "fetch-timeout")) {
        if (value_len > 4 ||
            !parse_number(value, value_len, 1, POLICY_MAX_FETCH_TIMEOUT, &policy->fetch_timeout)) {
            warn(ctx, "bad fetch-timeout value, 1..3600 (using 120)", value, value_len);
            policy->fetch_timeout = POLICY_DEFAULT_FETCH_TIMEOUT;
        }
    } else if (equals(line, key_len, "net-stack")) {
        int i = pick(value, value_len, stack_words);
        if (i < 0) {
            warn(ctx, "bad net-stack value, own or firmware (using own)", value, value_len);
            policy->stack = NET_STACK_OWN;
        } else {
            policy->stack = (net_stack)i;
        }
    } else if (equals(line, key_len, "log")) {
        int i = pick(value, value_len, log_words);
        if (i < 0) {
            warn(ctx, "bad log value, on or off (using on)", value, value_len);
            policy->log = LOG_NET_ON;
        } else {
            policy->log = (log_net_mode)i;
        }
    } else {
        warn(ctx, "unknown key (ignored)", line, key_len);
    }
}

void policy_parse(const uint8_t *text, size_t len, stub_policy *policy, policy_warning_fn warn,
                  void *ctx)
{
    policy_defaults(policy);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '\n' || text[i] == 0) {
            apply_line(text + start, i - start, policy, warn, ctx);
            start = i + 1;
        }
    }
}
