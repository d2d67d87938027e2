/* The console line grammar (line.c) against tests/vectors/console.json. */
#include "check.h"
#include "line.h"

typedef enum { OP_WORD, OP_FIELD, OP_NOTE, OP_ERROR, OP_WARNING } console_op_kind;

typedef struct {
    unsigned vector;
    console_op_kind kind;
    const char *a, *b, *c, *d;
} console_op;

#include "console_vectors.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void apply(text_buf *tb, const console_op *op)
{
    char subject[512];
    text_buf st;
    switch (op->kind) {
    case OP_WORD:
        line_word(tb, op->a);
        break;
    case OP_FIELD:
        line_field(tb, op->a, op->b);
        break;
    case OP_NOTE:
        line_note(tb, op->a);
        break;
    case OP_ERROR:
        /* The stub keeps the subject as the value it prints (quoted when needed). */
        tb_init(&st, subject, sizeof subject);
        if (op->b)
            tb_value(&st, (const uint8_t *)op->b, strlen(op->b));
        line_error(tb, op->a, op->b ? subject : NULL, op->c, op->d);
        break;
    case OP_WARNING:
        line_warning(tb, op->a, op->b);
        break;
    }
}

static void test_vectors(void)
{
    size_t next = 0;
    for (unsigned v = 0; v < COUNT(console_lines); v++) {
        char storage[1024];
        text_buf tb;
        line_begin(&tb, storage, sizeof storage);
        for (; next < COUNT(console_ops) && console_ops[next].vector == v; next++)
            apply(&tb, &console_ops[next]);
        CHECK_STR(storage, console_lines[v]);
    }
    CHECK(next == COUNT(console_ops));
}

static void test_numbers_and_truncation(void)
{
    char storage[64];
    text_buf tb;
    line_begin(&tb, storage, sizeof storage);
    line_word(&tb, "measured");
    line_field_u64(&tb, "pcr", 11);
    line_field_u64(&tb, "events", 18446744073709551615ull);
    CHECK_STR(storage, "stub: measured pcr=11 events=18446744073709551615");

    /* A full line stays terminated and never overflows. */
    char small[12];
    line_begin(&tb, small, sizeof small);
    line_field(&tb, "cmdline", "a b c d e f");
    CHECK(tb.len == sizeof small - 1);
    CHECK(small[sizeof small - 1] == '\0');
}

void test_line_all(void)
{
    test_vectors();
    test_numbers_and_truncation();
}
