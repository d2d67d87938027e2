/* Path rules and HTTP URLs against the vectors shared with workbench/paths.py, plus the IP
 * address parsers. */
#include <stdlib.h>

#include "check.h"
#include "paths.h"
#include "url.h"

struct path_vector {
    const char *input;
    size_t input_len;
    const char *error;
    const char *tftp_name;
    path_scheme scheme;
    int absolute;
    int family;
    uint8_t server[16];
    const char *authority;
    int https;
    const char *esp_path;
};

struct url_vector {
    const char *base;
    size_t base_len;
    const char *input;
    size_t input_len;
    const char *url;
    const char *error;
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
    CHECK(path.scheme == v->scheme);
    CHECK(path.is_url == (v->scheme != PATH_PLAIN));
    CHECK(path.absolute == v->absolute);
    CHECK(path.family == v->family);
    CHECK(memcmp(path.server, v->server, 16) == 0);
    CHECK_STR(path.authority, v->authority);
    CHECK(path.https == v->https);

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

static void check_url_vector(const struct url_vector *v)
{
    stub_path path;
    char url[STUB_URL_MAX];
    uint8_t *base = v->base ? malloc(v->base_len ? v->base_len : 1) : NULL;
    if (base)
        memcpy(base, v->base, v->base_len);
    CHECK_STR(path_parse((const uint8_t *)v->input, v->input_len, &path), NULL);
    const char *reason = url_for_path(base, v->base_len, &path, url, sizeof url);
    free(base);
    CHECK_STR(reason, v->error);
    if (!reason)
        CHECK_STR(url, v->url);
}

static void test_ipv6(void)
{
    uint8_t ip[16];
    static const uint8_t loopback[16] = {[15] = 1};
    CHECK(parse_ipv6((const uint8_t *)"::1", 3, ip) && memcmp(ip, loopback, 16) == 0);
    CHECK(parse_ipv6((const uint8_t *)"fd00::2", 7, ip) && ip[0] == 0xfd && ip[15] == 2 && ip[1] == 0);
    CHECK(parse_ipv6((const uint8_t *)"1::", 3, ip) && ip[1] == 1 && ip[15] == 0);
    CHECK(parse_ipv6((const uint8_t *)"::", 2, ip));
    CHECK(!parse_ipv6((const uint8_t *)":", 1, ip));
    CHECK(!parse_ipv6((const uint8_t *)"", 0, ip));
    CHECK(!parse_ipv6((const uint8_t *)":::", 3, ip));
    CHECK(!parse_ipv6((const uint8_t *)"1:2:3:4:5:6:7", 13, ip));
}

static void test_authority(void)
{
    static const char *const good[] = {"h", "10.0.2.2:80", "[::1]", "[fd00::2]:8080", "a-b.c.example:65535", "x:1"};
    static const char *const bad[] = {"", ":80", "h:", "h:0", "h:99999", "h:123456", "[::1", "[x]", "-h", "h.", ".h", "a_b", "u@h", "h:8a"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(valid_http_authority((const uint8_t *)good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!valid_http_authority((const uint8_t *)bad[i], strlen(bad[i])));
}

static const char *target(const char *url, url_target *t)
{
    return url_ipv4_target((const uint8_t *)url, strlen(url), t);
}

/* The own HTTP path's view of a URL: an IPv4 host, a port, the path to ask for. */
static void test_url_ipv4_target(void)
{
    url_target t;
    const char *url = "http://10.0.2.2:8080/EFI/Linux/vmlinuz?x=1#frag";
    CHECK(target(url, &t) == NULL);
    CHECK(t.ip[0] == 10 && t.ip[1] == 0 && t.ip[2] == 2 && t.ip[3] == 2 && t.port == 8080);
    CHECK(t.authority_len == 13 && memcmp(url + t.authority_start, "10.0.2.2:8080", 13) == 0);
    CHECK(t.path_len == 22 && memcmp(url + t.path_start, "/EFI/Linux/vmlinuz?x=1", 22) == 0);
    CHECK(target("HTTP://192.168.1.1", &t) == NULL && t.port == 80 && t.path_len == 0);
    CHECK_STR(target("https://10.0.2.2/a", &t), "https:// needs the firmware's TLS");
    CHECK_STR(target("http://boot.example/a", &t), "the URL's host is not an IPv4 address");
    CHECK_STR(target("http://[fd00::1]/a", &t), "the URL's host is not an IPv4 address");
    CHECK(target("http://10.0.2.2:0/a", &t) != NULL);
    CHECK(target("http://10.0.2.2:65536/a", &t) != NULL);
    CHECK(target("http://10.0.2.2:/a", &t) != NULL);
    CHECK_STR(target("http://10.0.2.2?q", &t), "the URL has a query but no path");
    CHECK(target("tftp://10.0.2.2/a", &t) != NULL);
}

static void test_url_small_buffer(void)
{
    stub_path path;
    char url[24];
    const uint8_t base[] = "http://10.0.2.2/EFI/BOOT/BOOTX64.EFI";
    CHECK_STR(path_parse((const uint8_t *)"\\EFI\\Linux\\vmlinuz", 18, &path), NULL);
    CHECK_STR(url_for_path(base, sizeof base - 1, &path, url, sizeof url), "URL too long");
    CHECK(strlen(url) < sizeof url);
    CHECK(url_is_http(base, sizeof base - 1));
    CHECK(!url_is_http((const uint8_t *)"http://h/\x01", 10));
}

void test_paths(void)
{
    for (size_t i = 0; i < sizeof path_vectors / sizeof path_vectors[0]; i++)
        check_vector(&path_vectors[i]);
    CHECK(sizeof path_vectors / sizeof path_vectors[0] >= 30);
    for (size_t i = 0; i < sizeof url_vectors / sizeof url_vectors[0]; i++)
        check_url_vector(&url_vectors[i]);
    test_ipv4();
    test_ipv6();
    test_authority();
    test_url_small_buffer();
    test_url_ipv4_target();
    test_small_buffers();
}
