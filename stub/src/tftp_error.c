#include "tftp_error.h"

static const char *const code_names[] = {
    NULL, "file not found", "access denied", "disk full", "illegal operation",
    "unknown transfer ID", "file already exists", "no such user", "option negotiation refused",
};
#define CODE_COUNT (sizeof code_names / sizeof code_names[0])

static int contains_word(const uint8_t *text, size_t len, const char *word)
{
    for (size_t i = 0; i < len; i++) {
        size_t k = 0;
        while (word[k] && i + k < len) {
            uint8_t c = text[i + k];
            if (c >= 'A' && c <= 'Z')
                c = (uint8_t)(c - 'A' + 'a');
            if (c != (uint8_t)word[k])
                break;
            k++;
        }
        if (!word[k])
            return 1;
    }
    return 0;
}

tftp_error_kind tftp_error_classify(unsigned code, const uint8_t *message, size_t len)
{
    switch (code) {
    case TFTP_ERROR_FILE_NOT_FOUND:
        return TFTP_ERR_NOT_FOUND;
    case TFTP_ERROR_ACCESS_VIOLATION:
        return TFTP_ERR_ACCESS_DENIED;
    case TFTP_ERROR_OPTION_REFUSED:
        return TFTP_ERR_OPTION_REFUSED;
    case TFTP_ERROR_NOT_DEFINED:
        break;
    default:
        return TFTP_ERR_OTHER;
    }
    if (contains_word(message, len, "not found") || contains_word(message, len, "no such file"))
        return TFTP_ERR_NOT_FOUND;
    if (contains_word(message, len, "access") || contains_word(message, len, "permission"))
        return TFTP_ERR_ACCESS_DENIED;
    if (contains_word(message, len, "option"))
        return TFTP_ERR_OPTION_REFUSED;
    return TFTP_ERR_OTHER;
}

void tftp_error_describe(text_buf *tb, unsigned code, const uint8_t *message, size_t len)
{
    tb_str(tb, "TFTP error: ");
    switch (tftp_error_classify(code, message, len)) {
    case TFTP_ERR_NOT_FOUND:
        tb_str(tb, code_names[TFTP_ERROR_FILE_NOT_FOUND]);
        return;
    case TFTP_ERR_ACCESS_DENIED:
        tb_str(tb, code_names[TFTP_ERROR_ACCESS_VIOLATION]);
        return;
    case TFTP_ERR_OPTION_REFUSED:
        tb_str(tb, code_names[TFTP_ERROR_OPTION_REFUSED]);
        return;
    case TFTP_ERR_OTHER:
        break;
    }
    if (code < CODE_COUNT && code_names[code]) {
        tb_str(tb, code_names[code]);
        return;
    }
    if (code != TFTP_ERROR_NOT_DEFINED) {
        tb_str(tb, "code ");
        tb_u64(tb, code);
        if (len)
            tb_str(tb, " ");
    }
    if (len || code == TFTP_ERROR_NOT_DEFINED)
        tb_quoted(tb, message, len);
}
