/* Tests of lr_mod: the table path against the direct FIR, block-split invariance, signal
 * power, zero intersymbol interference after a matched filter, NRZ-M, PM's constant
 * envelope and carrier, and argument and state errors. */
#include <math.h>

#include "../lr_iq.h"
#include "../lr_mod.h"
#include "lr_test.h"

#define NBITS 6000
static struct lr_mod m1, m2;
static uint8_t bits[NBITS];
static float out1[2 * 40000], out2[2 * 40000];

static void random_bits(uint64_t seed)
{
    for (int i = 0; i < NBITS; i++)
        bits[i] = (uint8_t)(lr_test_rand(&seed) >> 63);
}

static struct lr_mod_config config(int scheme, double sps, double rolloff)
{
    struct lr_mod_config c = {0};
    c.scheme = scheme;
    c.coding = LR_MOD_NRZ_L;
    c.sps = sps;
    c.rolloff = rolloff;
    c.amplitude = 1.0;
    return c;
}

/* Whole stream (bits then flush) into out; returns samples. */
static size_t run(struct lr_mod *m, const struct lr_mod_config *c, int fir, float *out, size_t piece)
{
    CHECK_EQ(lr_mod_init(m, c), LR_OK);
    size_t n = 0;
    for (size_t i = 0; i < NBITS; i += piece) {
        size_t k = NBITS - i < piece ? NBITS - i : piece;
        int64_t r = fir ? lr_mod_reference(m, bits + i, k, LR_IQ_CF32, out + 2 * n, 40000 - n)
                        : lr_mod_process(m, bits + i, k, LR_IQ_CF32, out + 2 * n, 40000 - n);
        CHECK(r >= 0);
        n += (size_t)r;
    }
    int64_t r = lr_mod_flush(m, LR_IQ_CF32, out + 2 * n, 40000 - n);
    CHECK(r > 0);
    return n + (size_t)r;
}

TEST(table_path_equals_direct_fir_for_every_scheme)
{
    const int schemes[] = {LR_MOD_BPSK, LR_MOD_QPSK, LR_MOD_OQPSK};
    const double rates[] = {4.0, 2.5, 3.3};
    random_bits(11);
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < 3; r++) {
            struct lr_mod_config c = config(schemes[s], rates[r], 0.2 + 0.15 * r);
            size_t a = run(&m1, &c, 0, out1, NBITS);
            size_t b = run(&m2, &c, 1, out2, NBITS);
            CHECK_EQ(a, b);
            double worst = 0.0;
            for (size_t i = 0; i < 2 * a; i++)
                worst = fmax(worst, fabs(out1[i] - out2[i]));
            CHECK(worst < 1e-5);
        }
}

TEST(any_split_of_the_bits_gives_the_same_samples)
{
    random_bits(12);
    struct lr_mod_config c = config(LR_MOD_OQPSK, 3.7, 0.35);
    size_t a = run(&m1, &c, 0, out1, NBITS);
    size_t b = run(&m2, &c, 0, out2, 7);
    CHECK_EQ(a, b);
    CHECK(memcmp(out1, out2, sizeof(float) * 2 * a) == 0);
    /* one sample per symbol period, plus the pulse's 16 symbols of tails */
    CHECK(fabs((double)a - (NBITS / 2 + 16) * 3.7) < 4.0);
}

TEST(signal_power_is_amplitude_squared)
{
    random_bits(13);
    for (int s = 0; s < 3; s++) {
        struct lr_mod_config c = config(s, 4.0, 0.35);
        size_t n = run(&m1, &c, 0, out1, NBITS);
        double p = 0.0;
        size_t from = 200, to = n - 200;
        for (size_t i = from; i < to; i++)
            p += out1[2 * i] * out1[2 * i] + out1[2 * i + 1] * out1[2 * i + 1];
        p /= (double)(to - from);
        CHECK(fabs(p - 1.0) < 0.03);
    }
}

TEST(matched_filter_at_symbol_peaks_gives_the_levels_without_isi)
{
    random_bits(14);
    struct lr_mod_config c = config(LR_MOD_BPSK, 4.0, 0.35);
    run(&m1, &c, 0, out1, NBITS);
    /* symbol k peaks at sample (k + 8) * 4; the RRC pulse convolved with itself is a raised
     * cosine, 1 at 0 and 0 at other whole symbols (up to the truncation to 16 symbols) */
    double worst = 0.0;
    for (int k = 20; k < NBITS - 20; k++) {
        double acc = 0.0;
        for (int t = -48; t <= 48; t++)
            acc += out1[2 * ((k + 8) * 4 + t)] * lr_rrc(t / 4.0, 0.35) / 4.0;
        double level = bits[k] ? -1.0 : 1.0;
        worst = fmax(worst, fabs(acc - level));
    }
    CHECK(worst < 0.03);
}

TEST(nrz_m_changes_level_on_ones_only)
{
    struct lr_mod_config c = config(LR_MOD_BPSK, 2.0, 0.35);
    c.coding = LR_MOD_NRZ_M;
    for (int i = 0; i < NBITS; i++)
        bits[i] = (uint8_t)(i >= 3000); /* zeros, then ones */
    run(&m1, &c, 0, out1, NBITS);
    /* during the zeros the level holds: the samples settle on one value */
    CHECK(fabs(out1[2 * 2000] - out1[2 * 2400]) < 1e-3);
    /* during the ones it alternates every symbol */
    double a = out1[2 * (2 * 4500 + 16)], b = out1[2 * (2 * 4501 + 16)];
    CHECK(a * b < 0.0);
}

TEST(pm_has_a_constant_envelope_and_a_carrier_period)
{
    struct lr_mod_config c = config(LR_MOD_PCM_PSK_PM, 64.0, 0.0);
    c.subcarrier_cycles_per_sample = 0.125;
    c.mod_index_rad = 1.2;
    c.amplitude = 0.5;
    CHECK_EQ(lr_mod_init(&m1, &c), LR_OK);
    CHECK_EQ(lr_mod_carrier(&m1, 100, LR_IQ_CF32, out1, 100), 100);
    CHECK(out1[0] == 0.5f && out1[1] == 0.0f && out1[198] == 0.5f);
    random_bits(15);
    int64_t n = lr_mod_process(&m1, bits, 200, LR_IQ_CF32, out1, 40000);
    CHECK_EQ(n, 200 * 64);
    double worst = 0.0, peak = 0.0;
    for (int64_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(hypot(out1[2 * i], out1[2 * i + 1]) - 0.5));
        peak = fmax(peak, fabs(atan2(out1[2 * i + 1], out1[2 * i])));
    }
    CHECK(worst < 1e-5);
    CHECK(fabs(peak - 1.2) < 1e-3); /* the phase reaches the modulation index */
}

TEST(errors_leave_the_state_alone)
{
    struct lr_mod_config c = config(LR_MOD_BPSK, 1.5, 0.35);
    CHECK_EQ(lr_mod_init(&m1, &c), LR_E_ARG);
    c = config(LR_MOD_BPSK, 4.0, 0.1);
    CHECK_EQ(lr_mod_init(&m1, &c), LR_E_ARG);
    c = config(7, 4.0, 0.35);
    CHECK_EQ(lr_mod_init(&m1, &c), LR_E_ARG);
    c = config(LR_MOD_QPSK, 4.0, 0.35);
    c.amplitude = NAN;
    CHECK_EQ(lr_mod_init(&m1, &c), LR_E_ARG);
    c = config(LR_MOD_QPSK, 4.0, 0.35);
    CHECK_EQ(lr_mod_init(&m1, &c), LR_OK);
    random_bits(16);
    CHECK_EQ(lr_mod_process(&m1, bits, 100, LR_IQ_CF32, out1, 10), LR_E_SPACE);
    CHECK_EQ(m1.n_symbols, 0);
    CHECK_EQ(lr_mod_process(&m1, bits, 100, 9, out1, 40000), LR_E_ARG);
    CHECK_EQ(lr_mod_carrier(&m1, 10, LR_IQ_CF32, out1, 40000), LR_E_STATE);
    CHECK(lr_mod_flush(&m1, LR_IQ_CF32, out1, 40000) > 0);
    CHECK_EQ(lr_mod_process(&m1, bits, 100, LR_IQ_CF32, out1, 40000), LR_E_STATE);
}

TEST(ci16_output_is_the_cf32_output_rounded)
{
    random_bits(17);
    struct lr_mod_config c = config(LR_MOD_QPSK, 4.0, 0.35);
    c.amplitude = 8000.0;
    CHECK_EQ(lr_mod_init(&m1, &c), LR_OK);
    CHECK_EQ(lr_mod_init(&m2, &c), LR_OK);
    int16_t ci[2 * 20000];
    int64_t a = lr_mod_process(&m1, bits, NBITS, LR_IQ_CF32, out1, 40000);
    int64_t b = lr_mod_process(&m2, bits, NBITS, LR_IQ_CI16, ci, 20000);
    CHECK_EQ(a, b);
    int worst = 0;
    for (int64_t i = 0; i < 2 * a; i++) {
        int d = abs(ci[i] - (int)lrintf(out1[i]));
        worst = d > worst ? d : worst;
    }
    CHECK(worst <= 1);
    CHECK_EQ(m2.clipped, 0);
}

int main(void)
{
    RUN(table_path_equals_direct_fir_for_every_scheme);
    RUN(any_split_of_the_bits_gives_the_same_samples);
    RUN(signal_power_is_amplitude_squared);
    RUN(matched_filter_at_symbol_peaks_gives_the_levels_without_isi);
    RUN(nrz_m_changes_level_on_ones_only);
    RUN(pm_has_a_constant_envelope_and_a_carrier_period);
    RUN(errors_leave_the_state_alone);
    RUN(ci16_output_is_the_cf32_output_rounded);
    TEST_EXIT();
}
