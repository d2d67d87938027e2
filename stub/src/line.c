#include "line.h"

void line_begin(text_buf *tb, char *storage, size_t cap)
{
    tb_init(tb, storage, cap);
    tb_str(tb, LINE_PREFIX);
}

/* Tokens are separated by one space; the first follows the prefix directly. */
static void separate(text_buf *tb)
{
    if (tb->len > sizeof LINE_PREFIX - 1)
        tb_str(tb, " ");
}

void line_word(text_buf *tb, const char *word)
{
    separate(tb);
    tb_str(tb, word);
}

void line_key(text_buf *tb, const char *key)
{
    separate(tb);
    tb_str(tb, key);
    tb_str(tb, "=");
}

void line_field_bytes(text_buf *tb, const char *key, const uint8_t *value, size_t len)
{
    line_key(tb, key);
    tb_value(tb, value, len);
}

void line_field(text_buf *tb, const char *key, const char *value)
{
    size_t len = 0;
    while (value[len])
        len++;
    line_field_bytes(tb, key, (const uint8_t *)value, len);
}

void line_field_u64(text_buf *tb, const char *key, uint64_t value)
{
    line_key(tb, key);
    tb_u64(tb, value);
}

void line_note(text_buf *tb, const char *text)
{
    separate(tb);
    tb_str(tb, "(");
    tb_str(tb, text);
    tb_str(tb, ")");
}

void line_error(text_buf *tb, const char *what, const char *subject, const char *reason,
                const char *status)
{
    tb_str(tb, "error: ");
    tb_str(tb, what);
    if (subject && *subject) {
        tb_str(tb, " ");
        tb_str(tb, subject);
    }
    tb_str(tb, ": ");
    tb_str(tb, reason);
    tb_str(tb, " status=");
    tb_str(tb, status);
}

void line_warning(text_buf *tb, const char *topic, const char *text)
{
    tb_str(tb, "warning: ");
    tb_str(tb, topic);
    tb_str(tb, ": ");
    tb_str(tb, text);
}
