/* Tests of lr_demod on streams from lr_mod through lr_channel: BPSK, QPSK and OQPSK with a
 * frequency offset and noise decode with the right bit error rate and report lock, Es/N0
 * and frequency; any split of the input gives the same soft symbols; silence, NaN, huge
 * values and a stream that stops and restarts do not stall it; both SIMD paths; PM. */
#include <math.h>

#include "../lr_channel.h"
#include "../lr_cpu.h"
#include "../lr_demod.h"
#include "../lr_iq.h"
#include "../lr_mod.h"
#include "lr_test.h"

#define NSYM 20000
#define NS (NSYM * 4 + 200)
static struct lr_mod mod;
static struct lr_channel chan;
static struct lr_demod dem, dem2;
static uint8_t bits[2 * NSYM];
static float iq[2 * (3 * NS)], soft[2 * NSYM + 4000], soft2[2 * NSYM + 4000];

static struct lr_demod_config dconfig(int scheme)
{
    struct lr_demod_config c = {0};
    c.scheme = scheme;
    c.coding = LR_MOD_NRZ_L;
    c.sps = 4.0;
    c.rolloff = 0.35;
    c.fs_hz = 4e6;
    c.carrier_bw = 0.002;
    c.timing_bw = 0.002;
    c.acq_range_hz = 20e3;
    c.acq_frames = 8;
    c.lock_symbols = 512;
    c.unlock_symbols = 2048;
    return c;
}

/* n_bits random bits modulated with `scheme`, through a channel; returns samples. */
static size_t make_signal(int scheme, size_t n_bits, double cfo, double esn0_db, uint64_t seed)
{
    for (size_t i = 0; i < n_bits; i++)
        bits[i] = (uint8_t)(lr_test_rand(&seed) >> 63);
    struct lr_mod_config mc = {scheme, LR_MOD_NRZ_L, 4.0, 0.35, 1.0, 0.0, 0.0};
    CHECK_EQ(lr_mod_init(&mod, &mc), LR_OK);
    int64_t n = lr_mod_process(&mod, bits, n_bits, LR_IQ_CF32, iq, NS);
    int64_t t = lr_mod_flush(&mod, LR_IQ_CF32, iq + 2 * n, (size_t)(NS - n));
    CHECK(n > 0 && t > 0);
    CHECK_EQ(lr_channel_init(&chan, 4e6, seed), LR_OK);
    chan.freq_hz = cfo;
    chan.phase_cycles = 0.37;
    chan.noise_sigma = sqrt(4.0 / pow(10.0, esn0_db / 10.0) / 2.0);
    CHECK_EQ(lr_channel_process(&chan, iq, (size_t)(n + t), iq, NS), n + t);
    return (size_t)(n + t);
}

/* Errors of the hard decisions of soft[from .. from+count) against bits, at the best
 * alignment (delay up to 64) and polarity. */
static double bit_error_rate(const float *s, size_t n_soft, size_t n_bits, size_t from, size_t count)
{
    double best = 1.0;
    for (int delay = -64; delay <= 64; delay++) {
        size_t errs = 0, seen = 0;
        for (size_t i = from; i < from + count && i < n_soft; i++) {
            long b = (long)i + delay;
            if (b < 0 || (size_t)b >= n_bits)
                continue;
            errs += (s[i] > 0) != bits[b];
            seen++;
        }
        if (seen < count / 2)
            continue;
        double e = (double)errs / seen;
        best = fmin(best, fmin(e, 1.0 - e));
    }
    return best;
}

TEST(bpsk_with_offset_and_noise_decodes_at_the_theoretical_error_rate)
{
    size_t n = make_signal(LR_MOD_BPSK, NSYM, 2500.0, 7.0, 21);
    struct lr_demod_config c = dconfig(LR_MOD_BPSK);
    CHECK_EQ(lr_demod_init(&dem, &c), LR_OK);
    int64_t k = lr_demod_process(&dem, iq, n, soft, sizeof soft / sizeof soft[0]);
    CHECK(k > NSYM - 10 && k < NSYM + 30); /* the pulse tails add 16 */
    /* Es/N0 7 dB: BER Q(sqrt(2 * 5.01)) = 7.7e-4 */
    double ber = bit_error_rate(soft, (size_t)k, NSYM, 4000, 15000);
    CHECK(ber < 2.5e-3);
    CHECK(dem.locked);
    CHECK(fabs(dem.freq_offset_hz - 2500.0) < 30.0);
    CHECK(fabs(dem.esn0_db - 7.0) < 0.7);
    CHECK_EQ(dem.acquisitions, 1);
}

TEST(qpsk_and_oqpsk_decode_up_to_their_phase_ambiguity)
{
    for (int s = LR_MOD_QPSK; s <= LR_MOD_OQPSK; s++) {
        size_t n = make_signal(s, 2 * NSYM, -4000.0, 12.0, 22 + (uint64_t)s);
        struct lr_demod_config c = dconfig(s);
        CHECK_EQ(lr_demod_init(&dem, &c), LR_OK);
        int64_t k = lr_demod_process(&dem, iq, n, soft, sizeof soft / sizeof soft[0]);
        CHECK(k > 2 * NSYM - 20);
        CHECK(dem.locked);
        CHECK(fabs(dem.freq_offset_hz + 4000.0) < 30.0);
        /* The I rail alone (every other soft symbol) against the bits it came from, or the Q
         * rail's: one of the two rails carries the I bits up to sign in every lock point. */
        static float rail[NSYM + 100];
        static uint8_t saved[2 * NSYM];
        memcpy(saved, bits, sizeof saved);
        double best = 1.0;
        for (int from_rail = 0; from_rail < 2; from_rail++)
            for (int to_rail = 0; to_rail < 2; to_rail++) {
                size_t m = 0;
                for (int64_t i = from_rail; i + 1 < k; i += 2)
                    rail[m++] = soft[i];
                for (int i = 0; i < NSYM; i++)
                    bits[i] = saved[2 * i + to_rail];
                best = fmin(best, bit_error_rate(rail, m, NSYM, 4000, 12000));
            }
        memcpy(bits, saved, sizeof saved);
        CHECK(best < 1e-3);
    }
}

TEST(any_split_of_the_input_gives_the_same_soft_symbols)
{
    size_t n = make_signal(LR_MOD_BPSK, NSYM / 2, 1000.0, 8.0, 23);
    struct lr_demod_config c = dconfig(LR_MOD_BPSK);
    CHECK_EQ(lr_demod_init(&dem, &c), LR_OK);
    CHECK_EQ(lr_demod_init(&dem2, &c), LR_OK);
    int64_t a = lr_demod_process(&dem, iq, n, soft, sizeof soft / sizeof soft[0]);
    size_t done = 0, piece = 1, b = 0;
    while (done < n) {
        size_t k = n - done < piece ? n - done : piece;
        int64_t r = lr_demod_process(&dem2, iq + 2 * done, k, soft2 + b, sizeof soft2 / sizeof soft2[0] - b);
        CHECK(r >= 0);
        b += (size_t)r;
        done += k;
        piece = piece * 2 + 3;
        if (piece > 5000)
            piece = 1;
    }
    CHECK_EQ(a, (int64_t)b);
    CHECK(memcmp(soft, soft2, sizeof(float) * b) == 0);
}

TEST(silence_nan_huge_values_and_a_restart_do_not_stall_it)
{
    struct lr_demod_config c = dconfig(LR_MOD_BPSK);
    CHECK_EQ(lr_demod_init(&dem, &c), LR_OK);
    size_t n = make_signal(LR_MOD_BPSK, NSYM / 4, 1500.0, 10.0, 24);
    CHECK(lr_demod_process(&dem, iq, n, soft, sizeof soft / sizeof soft[0]) > 0);
    CHECK(dem.locked);
    /* silence, then NaN and infinities, then values near the float range */
    static float junk[2 * 60000];
    memset(junk, 0, sizeof junk);
    CHECK(lr_demod_process(&dem, junk, 60000, soft, sizeof soft / sizeof soft[0]) >= 0);
    for (int i = 0; i < 2 * 60000; i++)
        junk[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -3e38f;
    CHECK(lr_demod_process(&dem, junk, 60000, soft, sizeof soft / sizeof soft[0]) >= 0);
    CHECK(dem.nonfinite >= 80000);
    /* the signal comes back, another offset and phase: re-acquired, decoded */
    n = make_signal(LR_MOD_BPSK, NSYM, -3000.0, 10.0, 25);
    int64_t k = lr_demod_process(&dem, iq, n, soft, sizeof soft / sizeof soft[0]);
    CHECK(k > NSYM - 20);
    for (int64_t i = 0; i < k; i++)
        CHECK(isfinite(soft[i]));
    CHECK(dem.locked);
    CHECK(fabs(dem.freq_offset_hz + 3000.0) < 30.0);
    double ber = bit_error_rate(soft, (size_t)k, NSYM, 8000, 10000);
    if (!(ber < 1e-3)) fprintf(stderr, "ber %g slips %llu\n", ber, (unsigned long long)dem.cycle_slips);
    CHECK(ber < 1e-3);
}

TEST(portable_and_avx2_paths_both_decode)
{
    for (int level = 0; level <= lr_simd_supported(); level++) {
        CHECK_EQ(lr_simd_force(level), LR_OK);
        size_t n = make_signal(LR_MOD_BPSK, NSYM / 2, 500.0, 9.0, 26);
        struct lr_demod_config c = dconfig(LR_MOD_BPSK);
        c.scalar_reference = level == 0;
        CHECK_EQ(lr_demod_init(&dem, &c), LR_OK);
        int64_t k = lr_demod_process(&dem, iq, n, soft, sizeof soft / sizeof soft[0]);
        CHECK(bit_error_rate(soft, (size_t)k, NSYM / 2, 3000, 6000) < 1e-3);
    }
    lr_simd_force(-1);
}

/* The PM uplink of these tests: 2 kbit/s on a 16 kHz subcarrier at 128 kHz, 8 cycles per
 * symbol, 64 samples; its demodulator's settings, and 2000 random bits modulated (samples). */
static struct lr_demod_config pm_config(void)
{
    struct lr_demod_config c = dconfig(LR_MOD_PCM_PSK_PM);
    c.sps = 64.0;
    c.fs_hz = 128e3;
    c.subcarrier_hz = 16e3;
    c.mod_index_rad = 1.0;
    c.carrier_bw = 0.02;
    c.timing_bw = 0.01;
    c.acq_range_hz = 5e3;
    c.lock_symbols = 64;
    c.unlock_symbols = 256;
    return c;
}

static int64_t pm_signal(uint64_t seed)
{
    for (int i = 0; i < 2000; i++)
        bits[i] = (uint8_t)(lr_test_rand(&seed) >> 63);
    struct lr_mod_config mc = {LR_MOD_PCM_PSK_PM, LR_MOD_NRZ_L, 64.0, 0.0, 1.0, 0.125, 1.0};
    CHECK_EQ(lr_mod_init(&mod, &mc), LR_OK);
    int64_t n = lr_mod_process(&mod, bits, 2000, LR_IQ_CF32, iq, 3 * NS);
    CHECK_EQ(n, 2000 * 64);
    return n;
}

/* The sample intake (sanitising, gain, the frame's power in lanes) gives the same values on the
 * portable and the AVX2 path: the PM demodulator, which has no filter whose rounding differs
 * between them, gives the same soft symbols and counters from the same hostile input, fed in
 * pieces that start anywhere in a group of four. */
TEST(sample_intake_is_the_same_on_every_path)
{
    int64_t n = pm_signal(41);
    for (int64_t i = 0; i < 2 * n; i += 9973) /* NaN, infinities, huge values, tiny ones */
        iq[i] = i % 4 == 0 ? NAN : i % 4 == 1 ? INFINITY : i % 4 == 2 ? -40.0f : 1e-30f;
    struct lr_demod_config c = pm_config();
    static const size_t pieces[] = {1, 7, 1030, 4093, 2, 333};
    struct lr_demod *d[2] = {&dem, &dem2};
    float *out[2] = {soft, soft2};
    int64_t got[2] = {0, 0};
    for (int path = 0; path < 2; path++) {
        CHECK_EQ(lr_simd_force(path == 0 ? 0 : lr_simd_supported()), LR_OK);
        CHECK_EQ(lr_demod_init(d[path], &c), LR_OK);
        size_t at = 0;
        for (int k = 0; at < (size_t)n; k++) {
            size_t m = pieces[(size_t)k % 6];
            m = m < (size_t)n - at ? m : (size_t)n - at;
            int64_t r = lr_demod_process(d[path], iq + 2 * at, m, out[path] + got[path],
                                         sizeof soft / sizeof soft[0] - (size_t)got[path]);
            CHECK(r >= 0);
            got[path] += r;
            at += m;
        }
    }
    lr_simd_force(-1);
    CHECK(got[0] > 1900);
    CHECK_EQ(got[0], got[1]);
    CHECK(memcmp(soft, soft2, sizeof(float) * (size_t)got[0]) == 0);
    CHECK_EQ(dem.nonfinite, dem2.nonfinite);
    CHECK(dem.nonfinite > 0);
    CHECK(memcmp(dem.frame_power, dem2.frame_power, sizeof dem.frame_power) == 0);
    CHECK(dem.agc_gain == dem2.agc_gain);
}

TEST(pm_residual_carrier_and_subcarrier_decode)
{
    int64_t n = pm_signal(27);
    CHECK_EQ(lr_channel_init(&chan, 128e3, 5), LR_OK);
    chan.freq_hz = 700.0;
    chan.noise_sigma = sqrt(64.0 / pow(10.0, 16.0 / 10.0) / 2.0);
    CHECK_EQ(lr_channel_process(&chan, iq, (size_t)n, iq, 3 * NS), n);
    struct lr_demod_config c = pm_config();
    CHECK_EQ(lr_demod_init(&dem, &c), LR_OK);
    int64_t k = lr_demod_process(&dem, iq, (size_t)n, soft, sizeof soft / sizeof soft[0]);
    CHECK(k > 1900);
    CHECK(dem.locked);
    CHECK(fabs(dem.freq_offset_hz - 700.0) < 5.0);
    CHECK(bit_error_rate(soft, (size_t)k, 2000, 600, 1200) < 2e-3);
}

TEST(bad_configurations_and_short_buffers_are_refused)
{
    struct lr_demod_config c = dconfig(LR_MOD_BPSK);
    c.sps = 1.5;
    CHECK_EQ(lr_demod_init(&dem, &c), LR_E_ARG);
    c = dconfig(LR_MOD_BPSK);
    c.carrier_bw = 0.0;
    CHECK_EQ(lr_demod_init(&dem, &c), LR_E_ARG);
    c = dconfig(LR_MOD_BPSK);
    c.acq_range_hz = 2e6; /* the squared signal would alias */
    CHECK_EQ(lr_demod_init(&dem, &c), LR_E_ARG);
    c = dconfig(LR_MOD_PCM_PSK_PM);
    c.subcarrier_hz = 15e3; /* not a whole number of cycles per symbol */
    CHECK_EQ(lr_demod_init(&dem, &c), LR_E_ARG);
    c = dconfig(LR_MOD_BPSK);
    CHECK_EQ(lr_demod_init(&dem, &c), LR_OK);
    CHECK_EQ(lr_demod_process(&dem, iq, 4000, soft, 10), LR_E_SPACE);
    CHECK_EQ(dem.samples, 0);
}

int main(void)
{
    RUN(bpsk_with_offset_and_noise_decodes_at_the_theoretical_error_rate);
    RUN(qpsk_and_oqpsk_decode_up_to_their_phase_ambiguity);
    RUN(any_split_of_the_input_gives_the_same_soft_symbols);
    RUN(silence_nan_huge_values_and_a_restart_do_not_stall_it);
    RUN(portable_and_avx2_paths_both_decode);
    RUN(sample_intake_is_the_same_on_every_path);
    RUN(pm_residual_carrier_and_subcarrier_decode);
    RUN(bad_configurations_and_short_buffers_are_refused);
    TEST_EXIT();
}
