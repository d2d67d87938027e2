/* `.policy` on arbitrary bytes: every value lands in its documented range. */
#include <assert.h>

#include "policy.h"

static void ignore(void *ctx, const char *message, const uint8_t *detail, size_t len)
{
    (void)ctx;
    assert(message && (detail || len == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stub_policy policy;
    policy_parse(data, size, &policy, ignore, NULL);
    assert(policy.on_error <= ON_ERROR_EXIT && policy.source <= SOURCE_HTTP);
    assert(policy.error_delay <= POLICY_MAX_DELAY);
    assert(policy.tftp_blksize >= POLICY_MIN_BLKSIZE && policy.tftp_blksize <= POLICY_MAX_BLKSIZE);
    assert(policy.tftp_window >= 1 && policy.tftp_window <= POLICY_MAX_WINDOW);
    return 0;
}
