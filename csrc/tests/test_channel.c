/* Tests of lr_channel: noise statistics and block-split invariance, frequency offset and
 * rate as phase, gain 0 for an outage, NaN input, phase noise spread, argument errors. */
#include <math.h>

#include "../lr_channel.h"
#include "lr_test.h"

#define N 200000
#define TWO_PI 6.283185307179586
static float in[2 * N], a[2 * N], b[2 * N];

TEST(noise_is_unit_normal_scaled_and_split_invariant)
{
    struct lr_channel c1, c2;
    CHECK_EQ(lr_channel_init(&c1, 1e6, 42), LR_OK);
    CHECK_EQ(lr_channel_init(&c2, 1e6, 42), LR_OK);
    c1.noise_sigma = c2.noise_sigma = 0.5;
    memset(in, 0, sizeof in);
    CHECK_EQ(lr_channel_process(&c1, in, N, a, N), N);
    size_t done = 0, piece = 1;
    while (done < N) {
        size_t k = N - done < piece ? N - done : piece;
        CHECK_EQ(lr_channel_process(&c2, in + 2 * done, k, b + 2 * done, N - done), (int64_t)k);
        done += k;
        piece = piece * 3 + 1;
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    double s1 = 0, s2 = 0, s4 = 0, cross = 0;
    for (int i = 0; i < 2 * N; i++) {
        s1 += a[i];
        s2 += (double)a[i] * a[i];
        s4 += pow(a[i] / 0.5, 4);
    }
    for (int i = 0; i < N; i++)
        cross += (double)a[2 * i] * a[2 * i + 1];
    CHECK(fabs(s1 / (2 * N)) < 0.005);
    CHECK(fabs(s2 / (2 * N) - 0.25) < 0.003);
    CHECK(fabs(s4 / (2 * N) - 3.0) < 0.05); /* Gaussian kurtosis */
    CHECK(fabs(cross / N) < 0.003);
    /* the tail a bit error rate of 1e-5 lives in: P(x > 4.265) = 1e-5 */
    int tail = 0;
    for (int i = 0; i < 2 * N; i++)
        tail += fabs(a[i] / 0.5) > 3.0;
    CHECK(fabs(tail / (2.0 * N) - 0.0027) < 0.0004);
}

TEST(frequency_and_rate_turn_the_phase)
{
    struct lr_channel c;
    CHECK_EQ(lr_channel_init(&c, 1e6, 1), LR_OK);
    c.freq_hz = 1000.0;
    c.freq_rate_hz_s = 5e4;
    c.phase_cycles = 0.25;
    for (int i = 0; i < N; i++) {
        in[2 * i] = 1.0f;
        in[2 * i + 1] = 0.0f;
    }
    CHECK_EQ(lr_channel_process(&c, in, N, a, N), N);
    double worst = 0.0;
    for (int i = 0; i < N; i += 997) {
        double t = i / 1e6;
        double ph = TWO_PI * (0.25 + 1000.0 * t + 0.5 * 5e4 * t * t);
        worst = fmax(worst, fabs(remainder(atan2(a[2 * i + 1], a[2 * i]) - ph, TWO_PI)));
    }
    CHECK(worst < 1e-5);
    CHECK(fabs(c.freq_hz - (1000.0 + 5e4 * 0.2)) < 1e-6);
}

TEST(outage_gain_zero_leaves_noise_and_nan_input_becomes_zero)
{
    struct lr_channel c;
    CHECK_EQ(lr_channel_init(&c, 1e6, 3), LR_OK);
    c.gain = 0.0;
    for (int i = 0; i < 100; i++)
        in[i] = 1e6f;
    CHECK_EQ(lr_channel_process(&c, in, 50, a, 50), 50);
    for (int i = 0; i < 100; i++)
        CHECK(a[i] == 0.0f);
    c.gain = 1.0;
    in[0] = NAN;
    in[1] = INFINITY;
    CHECK_EQ(lr_channel_process(&c, in, 1, a, 1), 1);
    CHECK(a[0] == 0.0f && a[1] == 0.0f);
}

TEST(phase_noise_spreads_like_a_random_walk)
{
    struct lr_channel c;
    CHECK_EQ(lr_channel_init(&c, 1e6, 9), LR_OK);
    c.phase_noise_rad = 0.001;
    for (int i = 0; i < N; i++) {
        in[2 * i] = 1.0f;
        in[2 * i + 1] = 0.0f;
    }
    CHECK_EQ(lr_channel_process(&c, in, N, a, N), N);
    /* after k steps the phase has variance k * 1e-6; over lags of 10000, about 0.01 */
    double var = 0.0;
    int n = 0;
    for (int i = 0; i + 10000 < N; i += 50) {
        double d = remainder(atan2(a[2 * (i + 10000) + 1], a[2 * (i + 10000)]) - atan2(a[2 * i + 1], a[2 * i]),
                             TWO_PI);
        var += d * d;
        n++;
    }
    var /= n;
    CHECK(var > 0.005 && var < 0.02);
}

TEST(bad_fields_are_refused)
{
    struct lr_channel c;
    CHECK_EQ(lr_channel_init(&c, 0.0, 1), LR_E_ARG);
    CHECK_EQ(lr_channel_init(&c, 1e6, 1), LR_OK);
    c.noise_sigma = -1.0;
    CHECK_EQ(lr_channel_process(&c, in, 10, a, 10), LR_E_ARG);
    c.noise_sigma = 0.0;
    c.freq_hz = NAN;
    CHECK_EQ(lr_channel_process(&c, in, 10, a, 10), LR_E_ARG);
    c.freq_hz = 0.0;
    CHECK_EQ(lr_channel_process(&c, in, 10, a, 5), LR_E_SPACE);
    CHECK_EQ(c.sample_index, 0);
}

int main(void)
{
    RUN(noise_is_unit_normal_scaled_and_split_invariant);
    RUN(frequency_and_rate_turn_the_phase);
    RUN(outage_gain_zero_leaves_noise_and_nan_input_becomes_zero);
    RUN(phase_noise_spreads_like_a_random_walk);
    RUN(bad_fields_are_refused);
    TEST_EXIT();
}
