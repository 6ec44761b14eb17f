/* Tests of lr_iq: rounding, clipping and NaN in ci16/ci8, both SIMD paths alike, and the
 * way back to cf32. */
#include <math.h>

#include "../lr_cpu.h"
#include "../lr_iq.h"
#include "lr_test.h"

#define N 1000
static float in[2 * N], back[2 * N];
static int16_t a16[2 * N], b16[2 * N];

TEST(ci16_rounds_clips_counts_and_zeroes_nan_on_both_paths)
{
    uint64_t seed = 5;
    for (int i = 0; i < 2 * N; i++)
        in[i] = (float)((int64_t)(lr_test_rand(&seed) % 100000) - 50000) + 0.25f;
    in[0] = NAN;
    in[1] = 32767.4f;
    in[2] = -40000.0f;
    in[3] = 2.5f;
    int expected = 0;
    for (int i = 1; i < 2 * N; i++) /* 32767.4 rounds to the limit but counts as clipped */
        expected += fabsf(in[i]) > 32767.0f;
    CHECK_EQ(lr_simd_force(LR_SIMD_PORTABLE), LR_OK);
    CHECK_EQ(lr_iq_from_cf32(in, N, 1.0, LR_IQ_CI16, a16, N), expected);
    lr_simd_force(-1);
    CHECK_EQ(lr_iq_from_cf32(in, N, 1.0, LR_IQ_CI16, b16, N), expected);
    CHECK(memcmp(a16, b16, sizeof a16) == 0);
    CHECK_EQ(a16[0], 0);
    CHECK_EQ(a16[1], 32767);
    CHECK_EQ(a16[2], -32767);
    CHECK_EQ(a16[3], 2); /* ties to even */
    CHECK_EQ(a16[4], (int16_t)lrintf(in[4] > 32767 ? 32767 : in[4] < -32767 ? -32767 : in[4]));
}

TEST(ci8_and_the_way_back)
{
    int8_t c8[2 * N];
    for (int i = 0; i < 2 * N; i++)
        in[i] = (float)(i % 300) - 150.0f;
    int64_t clipped = lr_iq_from_cf32(in, N, 1.0, LR_IQ_CI8, c8, N);
    CHECK(clipped > 0);
    CHECK_EQ(lr_iq_to_cf32(c8, N, LR_IQ_CI8, 0.5, back, N), N);
    for (int i = 0; i < 2 * N; i++) {
        float want = in[i] > 127 ? 127 : in[i] < -127 ? -127 : in[i];
        CHECK(back[i] == 0.5f * want);
    }
    CHECK_EQ(lr_iq_from_cf32(in, N, 1.0, 5, c8, N), LR_E_ARG);
    CHECK_EQ(lr_iq_to_cf32(c8, N, LR_IQ_CI8, 1.0, back, N - 1), LR_E_SPACE);
}

int main(void)
{
    RUN(ci16_rounds_clips_counts_and_zeroes_nan_on_both_paths);
    RUN(ci8_and_the_way_back);
    TEST_EXIT();
}
