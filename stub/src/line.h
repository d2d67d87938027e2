/* The grammar of `stub: ` console lines (stub/FORMAT.md, section 7), one builder per part.
 * Pure: no EFI calls; console.c prints what these build. The workbench parses the same lines
 * (workbench/lab/console.py), and both sides run tests/vectors/console.json. */
#ifndef STUB_LINE_H
#define STUB_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "textbuf.h"

#define LINE_PREFIX "stub: "

/* Start a line: the buffer holds "stub: ". */
void line_begin(text_buf *tb, char *storage, size_t cap);
/* A bare word of a record (the step, the subject or a flag): a space first unless it is the
 * first token. The word must not contain a space, '=', '"' or '(' (the caller's constant). */
void line_word(text_buf *tb, const char *word);
/* " key=": the caller writes a value that never needs quotes (an address, a number). */
void line_key(text_buf *tb, const char *key);
/* key=value, the value quoted when it needs to be (tb_value). */
void line_field(text_buf *tb, const char *key, const char *value);
void line_field_bytes(text_buf *tb, const char *key, const uint8_t *value, size_t len);
void line_field_u64(text_buf *tb, const char *key, uint64_t value);
/* The record's free-text note, last on the line: " (text)". Closing parentheses inside stay
 * as they are: the note runs to the line's final ')'. */
void line_note(text_buf *tb, const char *text);
/* "error: <what>[ <subject>]: <reason> status=<status>"; `subject` is already a value as
 * tb_value writes it (quoted when needed), or NULL. */
void line_error(text_buf *tb, const char *what, const char *subject, const char *reason,
                const char *status);
/* "warning: <topic>: <text>", free text to the end of the line. */
void line_warning(text_buf *tb, const char *topic, const char *text);

#endif
