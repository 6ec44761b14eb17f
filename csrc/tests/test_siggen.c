/* Tests of lr_siggen: one channel against a double-precision model, block-split
 * invariance, both SIMD paths, noise statistics, clipping and argument checks. */
#include <math.h>

#include "../lr_cpu.h"
#include "../lr_siggen.h"
#include "lr_test.h"

#define N_CHIPS 1023
#define FS 4.0e6
#define TWO_PI 6.283185307179586

static int8_t table[N_CHIPS + LR_SIGGEN_CHIP_PAD];

static void make_table(uint64_t seed)
{
    for (int i = 0; i < N_CHIPS; i++)
        table[i] = (lr_test_rand(&seed) >> 63) ? -1 : 1;
    for (int i = 0; i < LR_SIGGEN_CHIP_PAD; i++)
        table[N_CHIPS + i] = table[i];
}

static void one_channel(struct lr_siggen *s, double code_phase, double doppler, int component)
{
    CHECK_EQ(lr_siggen_init(s, FS, 0.0, 7), LR_OK);
    s->n_channels = 1;
    struct lr_siggen_channel *c = &s->channel[0];
    c->chips = table;
    c->n_chips = N_CHIPS;
    c->n_table = N_CHIPS + LR_SIGGEN_CHIP_PAD;
    c->component = component;
    c->enabled = 1;
    c->code_phase_chips = code_phase;
    c->code_rate_cps = 1.023e6 * (1.0 + doppler / 1575.42e6);
    c->carrier_phase_cycles = 0.125;
    c->doppler_hz = doppler;
    c->amplitude = 0.5;
}

/* Largest |out - model| over n samples, the model evaluated in double. */
static double model_error(const struct lr_siggen_channel *c0, const float *out, size_t n, double rate)
{
    double worst = 0.0;
    double step = c0->code_rate_cps / FS;
    for (size_t i = 0; i < n; i++) {
        double t = i / FS;
        double p = fmod(c0->code_phase_chips + i * step, N_CHIPS);
        long epoch = (long)floor((c0->code_phase_chips + i * step) / N_CHIPS);
        double sign = c0->n_signs ? c0->epoch_signs[epoch % c0->n_signs] : 1.0;
        double ph = TWO_PI * (c0->carrier_phase_cycles + c0->doppler_hz * t + 0.5 * rate * t * t);
        double a = c0->amplitude * sign * table[(int)p];
        double re = a * cos(ph), im = a * sin(ph);
        if (c0->component == LR_SIGGEN_Q) {
            double tmp = re;
            re = -im;
            im = tmp;
        }
        double e = fmax(fabs(out[2 * i] - re), fabs(out[2 * i + 1] - im));
        if (e > worst)
            worst = e;
    }
    return worst;
}

static float buf_a[2 * 40000], buf_b[2 * 40000];

TEST(one_channel_matches_double_model_on_both_paths)
{
    make_table(1);
    for (int level = LR_SIMD_PORTABLE; level <= lr_simd_supported(); level++) {
        CHECK_EQ(lr_simd_force(level), LR_OK);
        for (int comp = LR_SIGGEN_I; comp <= LR_SIGGEN_Q; comp++) {
            struct lr_siggen s;
            one_channel(&s, 17.31234, -4321.5, comp);
            struct lr_siggen_channel c0 = s.channel[0];
            CHECK_EQ(lr_siggen_generate(&s, 12345, LR_SIGGEN_CF32, buf_a, 40000), 12345);
            CHECK(model_error(&c0, buf_a, 12345, 0.0) < 2e-5);
            CHECK_EQ(s.channel[0].epochs, 3); /* 12345 samples = 3.087 ms */
        }
    }
    lr_simd_force(-1);
}

TEST(epoch_signs_flip_whole_code_epochs)
{
    make_table(2);
    static const int8_t signs[3] = {1, -1, -1};
    struct lr_siggen s;
    one_channel(&s, 1000.4321, 250.0, LR_SIGGEN_I);
    s.channel[0].epoch_signs = signs;
    s.channel[0].n_signs = 3;
    struct lr_siggen_channel c0 = s.channel[0];
    CHECK_EQ(lr_siggen_generate(&s, 30000, LR_SIGGEN_CF32, buf_a, 40000), 30000);
    CHECK(model_error(&c0, buf_a, 30000, 0.0) < 2e-5);
    CHECK_EQ(s.channel[0].sign_index, s.channel[0].epochs % 3);
}

TEST(doppler_rate_keeps_phase_quadratic_across_blocks)
{
    make_table(3);
    struct lr_siggen s;
    one_channel(&s, 3.777, 1000.0, LR_SIGGEN_I);
    s.channel[0].doppler_rate_hz_s = 900.0;
    s.channel[0].code_rate_cps = 1.023e6; /* the model holds the code rate */
    struct lr_siggen_channel c0 = s.channel[0];
    size_t done = 0, sizes[] = {1, 7, 1500, 333, 4096, 10000, 20000 - 15937};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        CHECK_EQ(lr_siggen_generate(&s, sizes[k], LR_SIGGEN_CF32, buf_a + 2 * done, 40000 - done),
                 (long long)sizes[k]);
        done += sizes[k];
    }
    CHECK_EQ(done, 20000);
    CHECK(model_error(&c0, buf_a, 20000, 900.0) < 5e-5);
    CHECK(fabs(s.channel[0].doppler_hz - (1000.0 + 900.0 * 20000 / FS)) < 1e-9);
}

static void noisy_pair(struct lr_siggen *s)
{
    make_table(4);
    one_channel(s, 500.5, 3000.0, LR_SIGGEN_I);
    s->noise_sigma = 1.0;
    s->seed = 0x0123456789ABCDEFull;
}

TEST(noise_does_not_depend_on_block_sizes)
{
    struct lr_siggen s1, s2;
    noisy_pair(&s1);
    noisy_pair(&s2);
    CHECK_EQ(lr_siggen_generate(&s1, 40000, LR_SIGGEN_CF32, buf_a, 40000), 40000);
    uint64_t seed = 5;
    size_t done = 0;
    while (done < 40000) {
        size_t n = 1 + lr_test_rand(&seed) % 3000;
        if (n > 40000 - done)
            n = 40000 - done;
        CHECK_EQ(lr_siggen_generate(&s2, n, LR_SIGGEN_CF32, buf_b + 2 * done, n), (long long)n);
        done += n;
    }
    double worst = 0;
    for (size_t i = 0; i < 2 * 40000; i++)
        worst = fmax(worst, fabs(buf_a[i] - buf_b[i]));
    CHECK(worst < 1e-4);
    CHECK_EQ(s2.sample_index, 40000);
}

TEST(portable_and_avx2_agree_with_noise)
{
    if (lr_simd_supported() < LR_SIMD_AVX2)
        return;
    static int16_t q1[2 * 40000], q2[2 * 40000];
    for (int fmt = LR_SIGGEN_CF32; fmt <= LR_SIGGEN_CI8; fmt++) {
        struct lr_siggen s1, s2;
        noisy_pair(&s1);
        noisy_pair(&s2);
        s1.scale = s2.scale = fmt == LR_SIGGEN_CI16 ? 2000.0 : fmt == LR_SIGGEN_CI8 ? 20.0 : 1.0;
        void *o1 = fmt == LR_SIGGEN_CF32 ? (void *)buf_a : (void *)q1;
        void *o2 = fmt == LR_SIGGEN_CF32 ? (void *)buf_b : (void *)q2;
        lr_simd_force(LR_SIMD_PORTABLE);
        CHECK_EQ(lr_siggen_generate(&s1, 39999, fmt, o1, 40000), 39999);
        lr_simd_force(LR_SIMD_AVX2);
        CHECK_EQ(lr_siggen_generate(&s2, 39999, fmt, o2, 40000), 39999);
        double worst = 0;
        for (size_t i = 0; i < 2 * 39999; i++) {
            double a = fmt == LR_SIGGEN_CF32 ? buf_a[i] : fmt == LR_SIGGEN_CI16 ? q1[i] : ((int8_t *)q1)[i];
            double b = fmt == LR_SIGGEN_CF32 ? buf_b[i] : fmt == LR_SIGGEN_CI16 ? q2[i] : ((int8_t *)q2)[i];
            worst = fmax(worst, fabs(a - b));
        }
        CHECK(worst <= (fmt == LR_SIGGEN_CF32 ? 1e-5 : 1.0));
        CHECK(s1.clipped <= s2.clipped + 2 && s2.clipped <= s1.clipped + 2);
    }
    lr_simd_force(-1);
}

/* The portable path writes chips a run of samples at a time below one chip per sample, with
 * separate code for runs of up to 4, up to 8 and more samples; the AVX2 path looks every sample
 * up.  A chip taken from the wrong index would differ by twice the amplitude. */
TEST(portable_and_avx2_chips_agree_at_every_chip_rate)
{
    if (lr_simd_supported() < LR_SIMD_AVX2)
        return;
    static const double samples_per_chip[] = {0.7, 1.0, 1.0001, 1.5, 2.0, 2.5, 2.999, 3.0, 3.91, 4.0, 4.0001, 4.6,
                                              5.87, 6.5, 8.0, 8.0001, 11.73, 19.55, 250.0, 4000.0};
    make_table(8);
    for (size_t k = 0; k < sizeof samples_per_chip / sizeof samples_per_chip[0]; k++) {
        struct lr_siggen s1, s2;
        one_channel(&s1, 1022.75 - k, 1234.5, (int)(k & 1));
        s1.channel[0].code_rate_cps = FS / samples_per_chip[k];
        s2 = s1;
        lr_simd_force(LR_SIMD_PORTABLE);
        CHECK_EQ(lr_siggen_generate(&s1, 39999, LR_SIGGEN_CF32, buf_a, 40000), 39999);
        lr_simd_force(LR_SIMD_AVX2);
        CHECK_EQ(lr_siggen_generate(&s2, 39999, LR_SIGGEN_CF32, buf_b, 40000), 39999);
        double worst = 0;
        for (size_t i = 0; i < 2 * 39999; i++)
            worst = fmax(worst, fabs(buf_a[i] - buf_b[i]));
        CHECK(worst <= 1e-5);
        CHECK_EQ(s1.channel[0].epochs, s2.channel[0].epochs);
    }
    lr_simd_force(-1);
}

TEST(noise_has_unit_variance_zero_mean_and_gaussian_tails)
{
    struct lr_siggen s;
    CHECK_EQ(lr_siggen_init(&s, FS, 0.0, 99), LR_OK);
    s.noise_sigma = 1.0;
    double sum = 0, sum2 = 0, cross = 0;
    long beyond2 = 0, n = 0;
    for (int block = 0; block < 10; block++) {
        CHECK_EQ(lr_siggen_generate(&s, 40000, LR_SIGGEN_CF32, buf_a, 40000), 40000);
        for (size_t i = 0; i < 40000; i++) {
            double re = buf_a[2 * i], im = buf_a[2 * i + 1];
            sum += re + im;
            sum2 += re * re + im * im;
            cross += re * im;
            beyond2 += (fabs(re) > 2.0) + (fabs(im) > 2.0);
            n += 2;
        }
    }
    CHECK(fabs(sum / n) < 0.01);
    CHECK(fabs(sum2 / n - 1.0) < 0.01);
    CHECK(fabs(cross / (n / 2)) < 0.01);
    /* P(|x| > 2) = 0.0455 for a unit normal */
    CHECK(fabs((double)beyond2 / n - 0.0455) < 0.002);
}

TEST(ci16_clips_and_counts)
{
    static int16_t q[2 * 1000];
    struct lr_siggen s;
    make_table(5);
    one_channel(&s, 0.5, 0.0, LR_SIGGEN_I);
    s.channel[0].carrier_phase_cycles = 0.0;
    s.channel[0].amplitude = 1.0;
    s.scale = 40000.0; /* |I| = 40000 on every sample, Q = 0 */
    CHECK_EQ(lr_siggen_generate(&s, 1000, LR_SIGGEN_CI16, q, 1000), 1000);
    CHECK_EQ(s.clipped, 1000);
    for (int i = 0; i < 1000; i++)
        CHECK(abs(q[2 * i]) == 32767 && abs(q[2 * i + 1]) == 0);
}

TEST(bad_arguments_are_rejected_without_side_effects)
{
    struct lr_siggen s;
    make_table(6);
    CHECK_EQ(lr_siggen_init(&s, 0.0, 0.0, 1), LR_E_ARG);
    one_channel(&s, 0.0, 0.0, LR_SIGGEN_I);
    CHECK_EQ(lr_siggen_generate(&s, 10, 3, buf_a, 10), LR_E_ARG);
    CHECK_EQ(lr_siggen_generate(&s, 10, LR_SIGGEN_CF32, buf_a, 9), LR_E_SPACE);
    s.channel[0].n_table = N_CHIPS;
    CHECK_EQ(lr_siggen_generate(&s, 10, LR_SIGGEN_CF32, buf_a, 10), LR_E_ARG);
    s.channel[0].n_table = N_CHIPS + LR_SIGGEN_CHIP_PAD;
    s.channel[0].code_phase_chips = N_CHIPS;
    CHECK_EQ(lr_siggen_generate(&s, 10, LR_SIGGEN_CF32, buf_a, 10), LR_E_ARG);
    s.channel[0].code_phase_chips = 0.0;
    s.channel[0].code_rate_cps = 32 * FS;
    CHECK_EQ(lr_siggen_generate(&s, 10, LR_SIGGEN_CF32, buf_a, 10), LR_E_ARG);
    s.channel[0].code_rate_cps = 1.023e6;
    s.channel[0].n_signs = 2; /* no sign array */
    CHECK_EQ(lr_siggen_generate(&s, 10, LR_SIGGEN_CF32, buf_a, 10), LR_E_ARG);
    s.channel[0].n_signs = 0;
    s.channel[0].doppler_hz = NAN;
    CHECK_EQ(lr_siggen_generate(&s, 10, LR_SIGGEN_CF32, buf_a, 10), LR_E_ARG);
    CHECK_EQ(s.sample_index, 0);
    s.channel[0].doppler_hz = 0.0;
    s.n_channels = LR_SIGGEN_MAX_CHANNELS + 1;
    CHECK_EQ(lr_siggen_generate(&s, 10, LR_SIGGEN_CF32, buf_a, 10), LR_E_ARG);
    s.n_channels = 1;
    CHECK_EQ(lr_siggen_generate(&s, 0, LR_SIGGEN_CF32, NULL, 0), 0);
}

/* Found by csrc/fuzz/fuzz_siggen.c: parameters that are finite but overflow float and a
 * vanishing code rate, each of which used to reach undefined behaviour (NaN or infinity
 * cast to an integer, an int overflow); a code step longer than a short code and a table
 * of entries other than +1/-1 must not read past the table either. */
TEST(overflowing_parameters_are_handled_without_undefined_behaviour)
{
    static int16_t q[2 * 3000];
    static int8_t out8[2 * 3000];
    static int8_t short_code[1 + LR_SIGGEN_CHIP_PAD] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    struct lr_siggen s;
    /* scale 1e300 is inf as a float, and inf * 0 is NaN: ci16 and ci8 come out 0. */
    CHECK_EQ(lr_siggen_init(&s, 1e3, 0.0, 1), LR_OK);
    s.scale = 1e300;
    CHECK_EQ(lr_simd_force(LR_SIMD_PORTABLE), LR_OK);
    CHECK_EQ(lr_siggen_generate(&s, 3000, LR_SIGGEN_CI16, q, 3000), 3000);
    CHECK_EQ(lr_siggen_generate(&s, 3000, LR_SIGGEN_CI8, out8, 3000), 3000);
    int nonzero = 0;
    for (int i = 0; i < 2 * 3000; i++)
        nonzero += q[i] != 0 || out8[i] != 0;
    CHECK_EQ(nonzero, 0);
    lr_simd_force(-1);
    CHECK_EQ(lr_siggen_generate(&s, 3000, LR_SIGGEN_CI16, q, 3000), 3000);

    /* A code rate so small that 250 / step is infinite. */
    make_table(3);
    one_channel(&s, 0.0, 0.0, LR_SIGGEN_I);
    s.channel[0].code_rate_cps = 1e-300;
    for (int level = LR_SIMD_PORTABLE; level <= LR_SIMD_AVX2; level++) {
        if (lr_simd_force(level) != LR_OK)
            continue;
        CHECK_EQ(lr_siggen_generate(&s, 3000, LR_SIGGEN_CI16, q, 3000), 3000);
    }
    lr_simd_force(-1);

    /* A step of 31 chips over a one-chip code stays inside the table, on both paths. */
    one_channel(&s, 0.0, 0.0, LR_SIGGEN_I);
    s.channel[0].chips = short_code;
    s.channel[0].n_chips = 1;
    s.channel[0].n_table = 1 + LR_SIGGEN_CHIP_PAD;
    s.channel[0].code_rate_cps = 31.0 * FS;
    for (int level = LR_SIMD_PORTABLE; level <= LR_SIMD_AVX2; level++) {
        if (lr_simd_force(level) != LR_OK)
            continue;
        CHECK_EQ(lr_siggen_generate(&s, 100, LR_SIGGEN_CI16, q, 100), 100);
        CHECK(s.channel[0].code_phase_chips >= 0.0 && s.channel[0].code_phase_chips < 1.0);
    }
    lr_simd_force(-1);

    /* A table of entries other than +1/-1: the kernel reads only their sign. */
    static int8_t odd_code[1 + LR_SIGGEN_CHIP_PAD] = {-128, -128, -128, -128, -128, -128, -128, -128, -128};
    one_channel(&s, 0.0, 0.0, LR_SIGGEN_I);
    s.channel[0].chips = odd_code;
    s.channel[0].n_chips = 1;
    s.channel[0].n_table = 1 + LR_SIGGEN_CHIP_PAD;
    CHECK_EQ(lr_siggen_generate(&s, 100, LR_SIGGEN_CI16, q, 100), 100); /* the kernel reads the sign */
}

/* Four AFS-like nodes, I and Q of a node on one carrier (the Q code a fifth of the I rate). */
static void iq_nodes(struct lr_siggen *s, int share)
{
    make_table(9);
    CHECK_EQ(lr_siggen_init(s, FS, 0.0, 3), LR_OK);
    s->n_channels = 8;
    for (int k = 0; k < 8; k++) {
        struct lr_siggen_channel *c = &s->channel[k];
        c->chips = table;
        c->n_chips = N_CHIPS;
        c->n_table = N_CHIPS + LR_SIGGEN_CHIP_PAD;
        c->component = k & 1 ? LR_SIGGEN_Q : LR_SIGGEN_I;
        c->enabled = 1;
        c->code_phase_chips = 37.25 * k;
        c->code_rate_cps = k & 1 ? 0.2046e6 : 1.023e6;
        /* 1.0 more cycles is the same carrier to the rotator but not to the test for sharing. */
        c->carrier_phase_cycles = 0.125 * (k / 2) + (k & 1 && !share ? 1.0 : 0.0);
        c->doppler_hz = -3000.0 + 1700.0 * (k / 2);
        c->amplitude = 0.25 + 0.125 * k;
    }
}

TEST(channels_sharing_a_carrier_sum_as_with_a_rotator_each)
{
    for (int level = LR_SIMD_PORTABLE; level <= lr_simd_supported(); level++) {
        CHECK_EQ(lr_simd_force(level), LR_OK);
        struct lr_siggen shared, apart;
        iq_nodes(&shared, 1);
        iq_nodes(&apart, 0);
        /* One sub-block: the carrier phases of the two set-ups part by rounding after it. */
        CHECK_EQ(lr_siggen_generate(&shared, LR_SIGGEN_SUBBLOCK, LR_SIGGEN_CF32, buf_a, 40000), LR_SIGGEN_SUBBLOCK);
        CHECK_EQ(lr_siggen_generate(&apart, LR_SIGGEN_SUBBLOCK, LR_SIGGEN_CF32, buf_b, 40000), LR_SIGGEN_SUBBLOCK);
        CHECK(memcmp(buf_a, buf_b, 2 * LR_SIGGEN_SUBBLOCK * sizeof(float)) == 0);
    }
    lr_simd_force(-1);
}

/* Two channels driven by a schedule of code counts and Doppler every 997 samples. */
#define UPDATES 12
#define INTERVAL 997
static double sched_chips[2 * UPDATES], sched_doppler[2 * UPDATES];
static const uint32_t sched_channel[2] = {1, 0};

static void scheduled_pair(struct lr_siggen *s)
{
    make_table(10);
    CHECK_EQ(lr_siggen_init(s, FS, 0.0, 11), LR_OK);
    s->noise_sigma = 0.5;
    s->n_channels = 2;
    for (int k = 0; k < 2; k++) {
        struct lr_siggen_channel *c = &s->channel[k];
        c->chips = table;
        c->n_chips = N_CHIPS;
        c->n_table = N_CHIPS + LR_SIGGEN_CHIP_PAD;
        c->component = k;
        c->enabled = 1;
        c->code_phase_chips = 100.0 + 500.0 * k;
        c->code_rate_cps = 1.023e6;
        c->amplitude = 0.5;
    }
    for (int t = 0; t < 2; t++)
        for (int j = 0; j < UPDATES; j++) {
            double end_s = (j + 1) * INTERVAL / FS;
            /* The code of channel sched_channel[t] at 1.023 Mchip/s with a range rate. */
            sched_chips[t * UPDATES + j] = (t ? 100.0 : 600.0) + 1.023e6 * end_s * (1.0 + (t ? 2e-6 : -3e-6)) +
                                           0.01 * j * j;
            sched_doppler[t * UPDATES + j] = (t ? 3151.0 : -4727.0) + 5.0 * j;
        }
}

TEST(scheduled_updates_equal_updates_between_calls)
{
    static int16_t q1[2 * UPDATES * INTERVAL], q2[2 * UPDATES * INTERVAL], q3[2 * UPDATES * INTERVAL];
    for (int level = LR_SIMD_PORTABLE; level <= lr_simd_supported(); level++) {
        CHECK_EQ(lr_simd_force(level), LR_OK);
        struct lr_siggen s1, s2, s3;
        scheduled_pair(&s1);
        scheduled_pair(&s2);
        scheduled_pair(&s3);
        struct lr_siggen_schedule plan = {INTERVAL, 0, UPDATES, 2, sched_channel, sched_chips, sched_doppler};
        CHECK_EQ(lr_siggen_generate_scheduled(&s1, &plan, 3 * INTERVAL, LR_SIGGEN_CI16, q1, 3 * INTERVAL),
                 3 * INTERVAL);
        CHECK_EQ(lr_siggen_generate_scheduled(&s1, &plan, UPDATES * INTERVAL, LR_SIGGEN_CI16, q1 + 6 * INTERVAL,
                                              UPDATES * INTERVAL),
                 (UPDATES - 3) * INTERVAL);
        /* The same updates made by hand between calls: the same samples and state, bit for bit. */
        for (int j = 0; j < UPDATES; j++) {
            for (int t = 0; t < 2; t++) {
                struct lr_siggen_channel *c = &s2.channel[sched_channel[t]];
                double now = (double)(c->epochs * N_CHIPS) + c->code_phase_chips;
                c->code_rate_cps = (sched_chips[t * UPDATES + j] - now) / (INTERVAL / FS);
                c->doppler_hz = sched_doppler[t * UPDATES + j];
            }
            CHECK_EQ(lr_siggen_generate(&s2, INTERVAL, LR_SIGGEN_CI16, q2 + 2 * j * INTERVAL, INTERVAL), INTERVAL);
        }
        CHECK(memcmp(q1, q2, sizeof q1) == 0);
        CHECK(memcmp(&s1, &s2, sizeof s1) == 0);
        /* Each code count is reached at its update's end. */
        double last = (double)(s1.channel[1].epochs * N_CHIPS) + s1.channel[1].code_phase_chips;
        CHECK(fabs(last - sched_chips[UPDATES - 1]) < 1e-6);
        /* Cut anywhere, even inside an update: the carrier phase then takes other roundings. */
        size_t done = 0, cuts[] = {1, 2000, 3 * INTERVAL, 5000, UPDATES * INTERVAL};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            size_t n = cuts[k] - done;
            CHECK_EQ(lr_siggen_generate_scheduled(&s3, &plan, n, LR_SIGGEN_CI16, q3 + 2 * done, n), (long long)n);
            done += n;
        }
        int worst = 0;
        for (size_t i = 0; i < 2 * UPDATES * INTERVAL; i++)
            worst = abs(q3[i] - q1[i]) > worst ? abs(q3[i] - q1[i]) : worst;
        CHECK(worst <= 1);
        for (int k = 0; k < 2; k++) {
            CHECK(fabs(s3.channel[k].code_phase_chips - s1.channel[k].code_phase_chips) < 1e-9);
            CHECK(fabs(s3.channel[k].carrier_phase_cycles - s1.channel[k].carrier_phase_cycles) < 1e-9);
            CHECK_EQ(s3.channel[k].epochs, s1.channel[k].epochs);
        }
    }
    lr_simd_force(-1);
}

TEST(a_schedule_stops_at_its_last_update_and_refuses_bad_plans)
{
    static int16_t q[2 * UPDATES * INTERVAL];
    struct lr_siggen s, kept;
    scheduled_pair(&s);
    /* Updates 2 .. 4 only: nothing before update 2, and a stop at the start of update 5. */
    static double chips3[2 * 3], doppler3[2 * 3];
    for (int t = 0; t < 2; t++)
        for (int j = 0; j < 3; j++) {
            chips3[t * 3 + j] = sched_chips[t * UPDATES + 2 + j];
            doppler3[t * 3 + j] = sched_doppler[t * UPDATES + 2 + j];
        }
    struct lr_siggen_schedule plan = {INTERVAL, 2, 3, 2, sched_channel, chips3, doppler3};
    CHECK_EQ(lr_siggen_generate_scheduled(&s, &plan, 100, LR_SIGGEN_CI16, q, 100), 0);
    CHECK_EQ(s.sample_index, 0);
    CHECK_EQ(lr_siggen_generate(&s, 2 * INTERVAL - 5, LR_SIGGEN_CI16, q, UPDATES * INTERVAL), 2 * INTERVAL - 5);
    CHECK_EQ(lr_siggen_generate_scheduled(&s, &plan, UPDATES * INTERVAL, LR_SIGGEN_CI16, q, UPDATES * INTERVAL),
             3 * INTERVAL + 5);
    CHECK_EQ(s.sample_index, 5 * INTERVAL);
    /* Update 4 was the last made: track 0 drives channel 1, track 1 channel 0. */
    CHECK(s.channel[1].doppler_hz == doppler3[0 * 3 + 2]);
    CHECK(s.channel[0].doppler_hz == doppler3[1 * 3 + 2]);
    plan.first_update = 5;
    kept = s;
    plan.interval = 0;
    CHECK_EQ(lr_siggen_generate_scheduled(&s, &plan, 10, LR_SIGGEN_CI16, q, 10), LR_E_ARG);
    plan.interval = INTERVAL;
    static const uint32_t too_far[2] = {0, 2};
    plan.channel = too_far;
    CHECK_EQ(lr_siggen_generate_scheduled(&s, &plan, 10, LR_SIGGEN_CI16, q, 10), LR_E_ARG);
    plan.channel = sched_channel;
    /* A code count behind the channel's own would need a negative rate. */
    static double behind[2 * 3];
    plan.code_chips = behind;
    CHECK_EQ(lr_siggen_generate_scheduled(&s, &plan, 10, LR_SIGGEN_CI16, q, 10), LR_E_ARG);
    CHECK(memcmp(&s, &kept, sizeof s) == 0);
}

int main(void)
{
    RUN(one_channel_matches_double_model_on_both_paths);
    RUN(epoch_signs_flip_whole_code_epochs);
    RUN(doppler_rate_keeps_phase_quadratic_across_blocks);
    RUN(noise_does_not_depend_on_block_sizes);
    RUN(portable_and_avx2_agree_with_noise);
    RUN(portable_and_avx2_chips_agree_at_every_chip_rate);
    RUN(channels_sharing_a_carrier_sum_as_with_a_rotator_each);
    RUN(scheduled_updates_equal_updates_between_calls);
    RUN(a_schedule_stops_at_its_last_update_and_refuses_bad_plans);
    RUN(noise_has_unit_variance_zero_mean_and_gaussian_tails);
    RUN(ci16_clips_and_counts);
    RUN(bad_arguments_are_rejected_without_side_effects);
    RUN(overflowing_parameters_are_handled_without_undefined_behaviour);
    TEST_EXIT();
}
