/* SHA-256 (FIPS 180-4). Pure: no EFI calls, compiled for the host tests too. */
#ifndef STUB_SHA256_H
#define STUB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

typedef struct {
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_used;
} sha256_ctx;

void sha256_init(sha256_ctx *ctx);
void sha256_update(sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(sha256_ctx *ctx, uint8_t digest[SHA256_DIGEST_SIZE]);
void sha256_digest(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_SIZE]);

/* Whether blocks go through the CPU's SHA-256 instructions (x86: CPUID leaf 7 EBX bit 29; arm64:
 * ID_AA64ISAR0_EL1.SHA2) rather than the portable code; both give the same digests.
 * sha256_force_generic(1) keeps the portable code (tests compare the two); 0 lets the CPU
 * decide again. */
int sha256_uses_cpu_instructions(void);
void sha256_force_generic(int on);

/* Lower-case hex of a digest into out (65 bytes with the NUL). */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char out[2 * SHA256_DIGEST_SIZE + 1]);

#endif
