/* Path rules against the vectors shared with workbench/paths.py, plus the IPv4 parser. */
#include <stdlib.h>

#include "check.h"
#include "paths.h"

struct path_vector {
    const char *input;
    size_t input_len;
    const char *error;
    const char *tftp_name;
    int has_server;
    uint8_t server[4];
    const char *esp_path;
};

#include "paths_vectors.h"

static void check_vector(const struct path_vector *v)
{
    stub_path path;
    /* Exact-size heap copy: the section has no NUL and ASan guards its end. */
    uint8_t *copy = malloc(v->input_len ? v->input_len : 1);
    memcpy(copy, v->input, v->input_len);
    const char *reason = path_parse(copy, v->input_len, &path);
    free(copy);
    CHECK_STR(reason, v->error);
    if (v->error || reason)
        return;
    CHECK_STR(path.name, v->tftp_name);
    CHECK(path.name_len == strlen(v->tftp_name));
    CHECK(path.is_url == v->has_server);
    CHECK(memcmp(path.server, v->server, 4) == 0);

    uint16_t ucs2[STUB_PATH_MAX + 1];
    char narrow[STUB_PATH_MAX * 3];
    if (path_esp_ucs2(&path, ucs2, STUB_PATH_MAX + 1) != NULL) {
        CHECK(!"path_esp_ucs2 failed");
        return;
    }
    /* Compare as UTF-8 again: re-encode the UCS-2 units. */
    size_t n = 0;
    for (size_t i = 0; ucs2[i]; i++) {
        uint16_t c = ucs2[i];
        if (c < 0x80) {
            narrow[n++] = (char)c;
        } else if (c < 0x800) {
            narrow[n++] = (char)(0xc0 | c >> 6);
            narrow[n++] = (char)(0x80 | (c & 0x3f));
        } else {
            narrow[n++] = (char)(0xe0 | c >> 12);
            narrow[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
            narrow[n++] = (char)(0x80 | (c & 0x3f));
        }
    }
    narrow[n] = '\0';
    CHECK_STR(narrow, v->esp_path);
}

static void test_ipv4(void)
{
    uint8_t ip[4];
    CHECK(parse_ipv4((const uint8_t *)"10.0.2.2", 8, ip) && ip[0] == 10 && ip[3] == 2);
    CHECK(parse_ipv4((const uint8_t *)"255.255.255.255", 15, ip) && ip[1] == 255);
    CHECK(!parse_ipv4((const uint8_t *)"10.0.2.2", 7, ip));  /* "10.0.2." */
    CHECK(!parse_ipv4((const uint8_t *)"1.2.3.4 ", 8, ip));
    CHECK(!parse_ipv4((const uint8_t *)"1.2.3.1000", 10, ip));
    CHECK(!parse_ipv4((const uint8_t *)"", 0, ip));
    CHECK(!parse_ipv4((const uint8_t *)"1..3.4", 6, ip));
}

static void test_small_buffers(void)
{
    stub_path path;
    uint16_t ucs2[4];
    CHECK_STR(path_parse((const uint8_t *)"\\EFI\\Linux", 10, &path), NULL);
    CHECK_STR(path_esp_ucs2(&path, ucs2, 4), "path too long");
    CHECK_STR(path_esp_ucs2(&path, ucs2, 1), "path too long");
    CHECK_STR(path_parse((const uint8_t *)"\\abc", 4, &path), NULL);
    CHECK_STR(path_esp_ucs2(&path, ucs2, 4), "path too long");  /* needs "\abc" + NUL = 5 */
    CHECK_STR(path_parse((const uint8_t *)"\\ab", 3, &path), NULL);
    CHECK_STR(path_esp_ucs2(&path, ucs2, 4), NULL);
    CHECK(ucs2[0] == '\\' && ucs2[1] == 'a' && ucs2[2] == 'b' && ucs2[3] == 0);
    /* A code point beyond UCS-2 cannot name a file on the ESP. */
    CHECK_STR(path_parse((const uint8_t *)"\\\xf0\x9f\x90\xa7", 5, &path), NULL);
    CHECK_STR(path_esp_ucs2(&path, ucs2, 4), "character outside UCS-2 in path");
}

void test_paths(void)
{
    for (size_t i = 0; i < sizeof path_vectors / sizeof path_vectors[0]; i++)
        check_vector(&path_vectors[i]);
    CHECK(sizeof path_vectors / sizeof path_vectors[0] >= 30);
    test_ipv4();
    test_small_buffers();
}
