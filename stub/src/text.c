#include "text.h"

size_t utf8_decode(const uint8_t *in, size_t len, uint32_t *code_point)
{
    if (len == 0)
        return 0;
    uint8_t lead = in[0];
    size_t need;
    uint32_t value, minimum;
    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    } else if ((lead & 0xe0) == 0xc0) {
        need = 2; value = lead & 0x1f; minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
        need = 3; value = lead & 0x0f; minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
        need = 4; value = lead & 0x07; minimum = 0x10000;
    } else {
        return 0;
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((in[i] & 0xc0) != 0x80)
            return 0;
        value = value << 6 | (in[i] & 0x3f);
    }
    if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return 0;
    *code_point = value;
    return need;
}

const char *cmdline_to_ucs2(const uint8_t *in, size_t len, uint16_t *out, size_t out_cap,
                            size_t *out_units)
{
    size_t units = 0;
    while (len > 0 && in[len - 1] == 0)
        len--;
    *out_units = 0;
    if (out_cap == 0)
        return "no room for the command line";
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t used = utf8_decode(in + i, len - i, &cp);
        if (used == 0)
            return "invalid UTF-8";
        if (cp == 0)
            return "NUL byte inside the command line";
        size_t need = cp > 0xffff ? 2 : 1;
        if (units + need + 1 > out_cap)
            return "no room for the command line";
        if (cp > 0xffff) {
            cp -= 0x10000;
            out[units++] = (uint16_t)(0xd800 | cp >> 10);
            out[units++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
        } else {
            out[units++] = (uint16_t)cp;
        }
        i += used;
    }
    out[units] = 0;
    *out_units = units;
    return NULL;
}

void policy_defaults(stub_policy *policy)
{
    policy->on_error = ON_ERROR_RESET;
    policy->error_delay = POLICY_DEFAULT_DELAY;
    policy->source = SOURCE_AUTO;
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

static int parse_delay(const uint8_t *value, size_t len, unsigned *out)
{
    unsigned n = 0;
    if (len == 0 || len > 3)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return 0;
        n = n * 10 + (unsigned)(value[i] - '0');
    }
    if (n > POLICY_MAX_DELAY)
        return 0;
    *out = n;
    return 1;
}

static void apply_line(const uint8_t *line, size_t len, stub_policy *policy,
                       policy_warning_fn warn, void *ctx)
{
    static const char *const on_error_words[] = {"reset", "halt", "exit", NULL};
    static const char *const source_words[] = {"auto", "local", "net", NULL};
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
        if (!parse_delay(value, value_len, &policy->error_delay)) {
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

void tb_init(text_buf *tb, char *buf, size_t cap)
{
    tb->buf = buf;
    tb->cap = cap;
    tb->len = 0;
    if (cap)
        buf[0] = '\0';
}

static void tb_char(text_buf *tb, char c)
{
    if (tb->len + 1 >= tb->cap)
        return;
    tb->buf[tb->len++] = c;
    tb->buf[tb->len] = '\0';
}

void tb_str(text_buf *tb, const char *s)
{
    while (*s)
        tb_char(tb, *s++);
}

void tb_bytes(text_buf *tb, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        tb_char(tb, (char)bytes[i]);
}

void tb_u64(text_buf *tb, uint64_t value)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n > 0)
        tb_char(tb, digits[--n]);
}

/* Control bytes, and bytes of non-ASCII characters, which OVMF's serial console turns into '?':
 * escaped, the line stays exact on every console. */
static int needs_escape(uint8_t c) { return c < 0x20 || c >= 0x7f; }

void tb_quoted(text_buf *tb, const uint8_t *bytes, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    tb_char(tb, '"');
    for (size_t i = 0; i < len; i++) {
        uint8_t c = bytes[i];
        if (c == '"' || c == '\\') {
            tb_char(tb, '\\');
            tb_char(tb, (char)c);
        } else if (needs_escape(c)) {
            tb_str(tb, "\\x");
            tb_char(tb, hex[c >> 4]);
            tb_char(tb, hex[c & 15]);
        } else {
            tb_char(tb, (char)c);
        }
    }
    tb_char(tb, '"');
}

void tb_value(text_buf *tb, const uint8_t *bytes, size_t len)
{
    int quote = len == 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = bytes[i] == ' ' || bytes[i] == '"' || needs_escape(bytes[i]);
    if (quote)
        tb_quoted(tb, bytes, len);
    else
        tb_bytes(tb, bytes, len);
}
