/* SHA-256 as specified in FIPS 180-4, section 6.2. The block functions compute the same
 * thing: the CPU's SHA-256 instructions where it has them (x86 SHA extensions by CPUID, the
 * Armv8 SHA2 instructions by ID_AA64ISAR0_EL1), else portable C. */
#include "sha256.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_HAVE_SHA_NI 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define SHA256_HAVE_ARMV8 1
#endif

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

/* Eight rounds at a time with the variables renamed instead of moved, and the schedule kept
 * as a ring of 16 words extended as the rounds go: about a third fewer instructions than the
 * textbook loop, which counts twice under emulation. */
#define SIGMA0(x) (rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22))
#define SIGMA1(x) (rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25))
#define SMALL0(x) (rotr(x, 7) ^ rotr(x, 18) ^ ((x) >> 3))
#define SMALL1(x) (rotr(x, 17) ^ rotr(x, 19) ^ ((x) >> 10))
#define CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))
/* W[i] for i >= 16, in place in the ring w[16]. */
#define EXTEND(i) \
    (w[(i) & 15] += SMALL1(w[((i) - 2) & 15]) + w[((i) - 7) & 15] + SMALL0(w[((i) - 15) & 15]))
#define ROUND(a, b, c, d, e, f, g, h, i, wi)                              \
    do {                                                                  \
        uint32_t t1 = h + SIGMA1(e) + CH(e, f, g) + round_constants[i] + (wi); \
        d += t1;                                                          \
        h = t1 + SIGMA0(a) + MAJ(a, b, c);                                \
    } while (0)
#define EIGHT(i, W)                              \
    do {                                         \
        ROUND(a, b, c, d, e, f, g, h, (i) + 0, W((i) + 0)); \
        ROUND(h, a, b, c, d, e, f, g, (i) + 1, W((i) + 1)); \
        ROUND(g, h, a, b, c, d, e, f, (i) + 2, W((i) + 2)); \
        ROUND(f, g, h, a, b, c, d, e, (i) + 3, W((i) + 3)); \
        ROUND(e, f, g, h, a, b, c, d, (i) + 4, W((i) + 4)); \
        ROUND(d, e, f, g, h, a, b, c, (i) + 5, W((i) + 5)); \
        ROUND(c, d, e, f, g, h, a, b, (i) + 6, W((i) + 6)); \
        ROUND(b, c, d, e, f, g, h, a, (i) + 7, W((i) + 7)); \
    } while (0)
#define LOADED(i) w[i]

static void compress_one(uint32_t state[8], const uint8_t block[64])
{
    uint32_t w[16];
    for (unsigned i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    EIGHT(0, LOADED);
    EIGHT(8, LOADED);
    for (unsigned i = 16; i < 64; i += 16) {
        EIGHT(i, EXTEND);
        EIGHT(i + 8, EXTEND);
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

static void compress_generic(uint32_t state[8], const uint8_t *blocks, size_t count)
{
    for (size_t i = 0; i < count; i++)
        compress_one(state, blocks + 64 * i);
}

#ifdef SHA256_HAVE_SHA_NI
/* The SHA extensions keep the state as two vectors, ABEF and CDGH; each SHA256RNDS2 does two
 * rounds, and SHA256MSG1/MSG2 extend the message schedule four words at a time. ms_abi makes
 * the function save and restore XMM6-15 itself: the firmware's calling convention keeps them
 * across calls, and the stub's own code (System V, which does not) returns to the firmware. */
__attribute__((target("sha,sse4.1"), ms_abi)) static void compress_sha_ni(uint32_t state[8],
                                                                           const uint8_t *blocks,
                                                                           size_t count)
{
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);

    for (size_t b = 0; b < count; b++) {
        const uint8_t *block = blocks + 64 * b;
        __m128i abef_before = abef, cdgh_before = cdgh, w[4];
        for (unsigned j = 0; j < 4; j++)
            w[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * j)), byte_swap);
        for (unsigned j = 0; j < 16; j++) {
            if (j >= 4) {
                /* w[j&3] holds W[4j-16..]; the others W[4j-12..], W[4j-8..], W[4j-4..]. */
                __m128i t = _mm_sha256msg1_epu32(w[j & 3], w[(j + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[(j + 3) & 3], w[(j + 2) & 3], 4));
                w[j & 3] = _mm_sha256msg2_epu32(t, w[(j + 3) & 3]);
            }
            __m128i k = _mm_loadu_si128((const __m128i *)&round_constants[4 * j]);
            __m128i m = _mm_add_epi32(w[j & 3], k);
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0e));
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }

    __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xf0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* CPUID leaf 7 EBX bit 29 (SHA), with leaf 1's SSSE3 and SSE4.1 that the code above uses. */
static int cpu_has_sha_ni(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid(1, a, b, c, d);
    if (!(c & (1u << 9)) || !(c & (1u << 19)))
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1;
}
#define cpu_has_sha_instructions cpu_has_sha_ni
#elif defined(SHA256_HAVE_ARMV8)
/* The state stays as ABCD and EFGH; SHA256H/SHA256H2 do four rounds, SHA256SU0/SU1 extend the
 * schedule four words at a time. AAPCS64 (the firmware's convention too) has the compiler keep
 * d8-d15 for the caller. */
__attribute__((target("+crypto"))) static void compress_armv8(uint32_t state[8], const uint8_t *blocks,
                                                              size_t count)
{
    uint32x4_t abcd = vld1q_u32(&state[0]), efgh = vld1q_u32(&state[4]);
    for (size_t b = 0; b < count; b++) {
        const uint8_t *block = blocks + 64 * b;
        uint32x4_t abcd_before = abcd, efgh_before = efgh, w[4];
        for (unsigned j = 0; j < 4; j++)
            w[j] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(block + 16 * j)));
        for (unsigned j = 0; j < 16; j++) {
            if (j >= 4) /* w[j&3] holds W[4j-16..]; the others W[4j-12..], W[4j-8..], W[4j-4..]. */
                w[j & 3] = vsha256su1q_u32(vsha256su0q_u32(w[j & 3], w[(j + 1) & 3]), w[(j + 2) & 3],
                                           w[(j + 3) & 3]);
            uint32x4_t wk = vaddq_u32(w[j & 3], vld1q_u32(&round_constants[4 * j]));
            uint32x4_t abcd_now = abcd;
            abcd = vsha256hq_u32(abcd, efgh, wk);
            efgh = vsha256h2q_u32(efgh, abcd_now, wk);
        }
        abcd = vaddq_u32(abcd, abcd_before);
        efgh = vaddq_u32(efgh, efgh_before);
    }
    vst1q_u32(&state[0], abcd);
    vst1q_u32(&state[4], efgh);
}

/* ID_AA64ISAR0_EL1.SHA2, bits [15:12]: 1 for SHA256H and friends. Readable at EL1 and EL2,
 * where UEFI runs. */
static int cpu_has_sha_instructions(void)
{
    uint64_t isar0;
    __asm__ volatile("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
    return ((isar0 >> 12) & 0xf) >= 1;
}
#else
static int cpu_has_sha_instructions(void) { return 0; }
#endif

static int force_generic;
static int block_function_chosen, use_sha_instructions;

/* Chosen once, on first use: no CPUID before the firmware has handed over. */
static void choose_block_function(void)
{
    use_sha_instructions = !force_generic && cpu_has_sha_instructions();
    block_function_chosen = 1;
}

void sha256_force_generic(int on)
{
    force_generic = on;
    block_function_chosen = 0;
}

int sha256_uses_cpu_instructions(void)
{
    if (!block_function_chosen)
        choose_block_function();
    return use_sha_instructions;
}

static void compress(uint32_t state[8], const uint8_t *blocks, size_t count)
{
#if defined(SHA256_HAVE_SHA_NI)
    if (sha256_uses_cpu_instructions()) {
        compress_sha_ni(state, blocks, count);
        return;
    }
#elif defined(SHA256_HAVE_ARMV8)
    if (sha256_uses_cpu_instructions()) {
        compress_armv8(state, blocks, count);
        return;
    }
#endif
    compress_generic(state, blocks, count);
}

void sha256_init(sha256_ctx *ctx)
{
    static const uint32_t initial[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    for (unsigned i = 0; i < 8; i++)
        ctx->state[i] = initial[i];
    ctx->total_bytes = 0;
    ctx->block_used = 0;
}

void sha256_update(sha256_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *in = data;
    ctx->total_bytes += len;
    if (ctx->block_used > 0) {
        while (len > 0 && ctx->block_used < 64) {
            ctx->block[ctx->block_used++] = *in++;
            len--;
        }
        if (ctx->block_used < 64)
            return;
        compress(ctx->state, ctx->block, 1);
        ctx->block_used = 0;
    }
    /* Whole blocks straight from the input: no copy for the bulk of a kernel. */
    if (len >= 64) {
        compress(ctx->state, in, len / 64);
        in += len / 64 * 64;
        len %= 64;
    }
    while (len > 0) {
        ctx->block[ctx->block_used++] = *in++;
        len--;
    }
}

void sha256_final(sha256_ctx *ctx, uint8_t digest[SHA256_DIGEST_SIZE])
{
    uint64_t bit_length = ctx->total_bytes * 8;
    ctx->block[ctx->block_used++] = 0x80;
    if (ctx->block_used > 56) {
        while (ctx->block_used < 64)
            ctx->block[ctx->block_used++] = 0;
        compress(ctx->state, ctx->block, 1);
        ctx->block_used = 0;
    }
    while (ctx->block_used < 56)
        ctx->block[ctx->block_used++] = 0;
    for (unsigned i = 0; i < 8; i++)
        ctx->block[56 + i] = (uint8_t)(bit_length >> (56 - 8 * i));
    compress(ctx->state, ctx->block, 1);
    for (unsigned i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(ctx->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->state[i];
    }
}

void sha256_digest(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_SIZE])
{
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, data, len);
    sha256_final(&ctx, digest);
}

void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char out[2 * SHA256_DIGEST_SIZE + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * SHA256_DIGEST_SIZE] = '\0';
}
