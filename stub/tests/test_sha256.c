/* SHA-256 against the FIPS 180-4 example vectors, one-shot and fed in odd chunks. */
#include <stdlib.h>

#include "check.h"
#include "sha256.h"

static void hex_of(const void *data, size_t len, char out[65])
{
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(data, len, digest);
    sha256_hex(digest, out);
}

static void chunked_hex(const uint8_t *data, size_t len, size_t chunk, char out[65])
{
    sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    for (size_t i = 0; i < len; i += chunk)
        sha256_update(&ctx, data + i, len - i < chunk ? len - i : chunk);
    sha256_final(&ctx, digest);
    sha256_hex(digest, out);
}

/* Every test below, once per block function. */
static void test_sha256_vectors(void)
{
    static const struct {
        const char *message;
        const char *digest;
    } vectors[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    char hex[65];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const char *m = vectors[i].message;
        hex_of(m, strlen(m), hex);
        CHECK_STR(hex, vectors[i].digest);
        for (size_t chunk = 1; chunk <= 67; chunk += 3) {
            chunked_hex((const uint8_t *)m, strlen(m), chunk, hex);
            CHECK_STR(hex, vectors[i].digest);
        }
    }

    size_t million = 1000000;
    uint8_t *a = malloc(million);
    CHECK(a != NULL);
    if (!a)
        return;
    memset(a, 'a', million);
    const char *million_a = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    hex_of(a, million, hex);
    CHECK_STR(hex, million_a);
    static const size_t chunks[] = {1, 7, 55, 56, 63, 64, 65, 1000, 4097, 999999};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        chunked_hex(a, million, chunks[i], hex);
        CHECK_STR(hex, million_a);
    }
    free(a);

    /* Lengths around the padding boundary (55/56/64 bytes) agree between one-shot and chunks. */
    uint8_t buf[130];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 50; len <= 130; len++) {
        char one[65], two[65];
        hex_of(buf, len, one);
        chunked_hex(buf, len, 13, two);
        CHECK_STR(two, one);
    }
}

static uint64_t next_random(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 33;
}

/* The portable code and the SHA extensions agree on every length 0..1000 (every padding case
 * and alignment) and on a few MiB of random bytes fed in uneven pieces. */
static void test_paths_agree(void)
{
    size_t big = 3 * 1024 * 1024 + 17;
    uint8_t *data = malloc(big + 1);
    CHECK(data != NULL);
    if (!data)
        return;
    uint64_t seed = 0x5eed;
    for (size_t i = 0; i < big + 1; i++)
        data[i] = (uint8_t)next_random(&seed);
    int mismatches = 0;
    for (size_t len = 0; len <= 1000; len++) {
        char generic[65], fast[65];
        sha256_force_generic(1);
        hex_of(data + (len & 1), len, generic);  /* odd lengths start unaligned */
        sha256_force_generic(0);
        hex_of(data + (len & 1), len, fast);
        mismatches += strcmp(generic, fast) != 0;
    }
    CHECK(mismatches == 0);
    char generic[65], fast[65];
    sha256_force_generic(1);
    chunked_hex(data + 1, big, 65536 + 3, generic);
    sha256_force_generic(0);
    hex_of(data + 1, big, fast);
    CHECK_STR(fast, generic);
    chunked_hex(data + 1, big, 4093, fast);
    CHECK_STR(fast, generic);
    free(data);
}

void test_sha256(void)
{
    sha256_force_generic(1);
    CHECK(!sha256_uses_cpu_instructions());
    test_sha256_vectors();
    sha256_force_generic(0);
#if defined(__x86_64__)
    /* CI's machines have SHA-NI: there a CPU without it fails loudly rather than test the
     * same code twice (STUB_TEST_NO_SHA_NI=1 accepts one). Elsewhere it is said, not failed. */
    const char *no_sha_ni = getenv("STUB_TEST_NO_SHA_NI");
    const char *ci = getenv("CI");
    int accepted = (no_sha_ni && strcmp(no_sha_ni, "1") == 0) || !ci || strcmp(ci, "true") != 0;
    if (!sha256_uses_cpu_instructions())
        printf("note: this CPU has no SHA instructions: only the portable SHA-256 is tested\n");
    CHECK(sha256_uses_cpu_instructions() || accepted);
#endif
    test_sha256_vectors();
    test_paths_agree();
}
