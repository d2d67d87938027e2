/* MB/s of each SHA-256 block function on this host; not part of `make check`.
 * Build and run: make -C stub bench-sha256 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sha256.h"

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rate(const uint8_t *data, size_t len, int rounds)
{
    uint8_t digest[SHA256_DIGEST_SIZE];
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        double start = seconds();
        sha256_digest(data, len, digest);
        double mbs = (double)len / 1e6 / (seconds() - start);
        if (mbs > best)
            best = mbs;
    }
    return best;
}

int main(void)
{
    size_t len = 64u << 20;
    uint8_t *data = malloc(len);
    if (!data)
        return 1;
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    sha256_force_generic(1);
    printf("portable: %.0f MB/s\n", rate(data, len, 5));
    sha256_force_generic(0);
    if (sha256_uses_cpu_instructions())
        printf("sha-ni:   %.0f MB/s\n", rate(data, len, 5));
    else
        printf("sha-ni:   not offered by this CPU\n");
    free(data);
    return 0;
}
