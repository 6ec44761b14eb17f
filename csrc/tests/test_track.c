/* Tests of lr_track against signals made by lr_siggen: open-loop correlations on every kernel,
 * epoch positions, pull-in of the loops, the pilot mode, the sample formats, hostile input and
 * argument checks. */
#include <math.h>

#include "../lr_cpu.h"
#include "../lr_siggen.h"
#include "../lr_track.h"
#include "lr_test.h"

#define FS 12.0e6
#define CARRIER 2492.028e6
#define N_MAIN 10230
#define N_DATA 2046
#define RATE_MAIN 5.115e6
#define RATE_DATA 1.023e6
#define N_SIGNS 64
#define MAX_SAMPLES 1200000

static int8_t gen_main[N_MAIN + LR_SIGGEN_CHIP_PAD], gen_data[N_DATA + LR_SIGGEN_CHIP_PAD];
static int8_t trk_main[N_MAIN + 2 * LR_TRACK_CODE_PAD], trk_data[N_DATA + 2 * LR_TRACK_CODE_PAD];
static int8_t pilot_signs[N_SIGNS], data_signs[N_SIGNS];
static float samples[2 * MAX_SAMPLES];
static int8_t samples8[2 * MAX_SAMPLES];
static int16_t samples16[2 * MAX_SAMPLES];
static struct lr_track_dump dumps[4096];

static void make_codes(uint64_t seed)
{
    for (int i = 0; i < N_MAIN; i++)
        gen_main[i] = (lr_test_rand(&seed) >> 63) ? -1 : 1;
    for (int i = 0; i < N_DATA; i++)
        gen_data[i] = (lr_test_rand(&seed) >> 63) ? -1 : 1;
    for (int i = 0; i < LR_SIGGEN_CHIP_PAD; i++) {
        gen_main[N_MAIN + i] = gen_main[i];
        gen_data[N_DATA + i] = gen_data[i];
    }
    for (int i = 0; i < N_MAIN + 2 * LR_TRACK_CODE_PAD; i++)
        trk_main[i] = gen_main[((i - LR_TRACK_CODE_PAD) % N_MAIN + N_MAIN) % N_MAIN] < 0 ? -1 : 0;
    for (int i = 0; i < N_DATA + 2 * LR_TRACK_CODE_PAD; i++)
        trk_data[i] = gen_data[((i - LR_TRACK_CODE_PAD) % N_DATA + N_DATA) % N_DATA] < 0 ? -1 : 0;
    for (int i = 0; i < N_SIGNS; i++) {
        pilot_signs[i] = (lr_test_rand(&seed) >> 63) ? -1 : 1;
        data_signs[i] = (lr_test_rand(&seed) >> 63) ? -1 : 1;
    }
}

/* An AFS-like node: data code on I, pilot on Q, both starting their epoch at code_phase_main / 5. */
static void make_signal(struct lr_siggen *g, double doppler, double phase_main, double amplitude, double sigma)
{
    CHECK_EQ(lr_siggen_init(g, FS, 0.0, 3), LR_OK);
    g->noise_sigma = sigma;
    g->n_channels = 2;
    double scale = 1.0 + doppler / CARRIER;
    struct lr_siggen_channel *d = &g->channel[0], *p = &g->channel[1];
    d->chips = gen_data;
    d->n_chips = N_DATA;
    d->n_table = N_DATA + LR_SIGGEN_CHIP_PAD;
    d->epoch_signs = data_signs;
    d->n_signs = N_SIGNS;
    d->component = LR_SIGGEN_I;
    d->enabled = 1;
    d->code_phase_chips = phase_main * N_DATA / N_MAIN;
    d->code_rate_cps = RATE_DATA * scale;
    d->doppler_hz = doppler;
    d->amplitude = amplitude;
    d->carrier_phase_cycles = 0.3;
    *p = *d;
    p->chips = gen_main;
    p->n_chips = N_MAIN;
    p->n_table = N_MAIN + LR_SIGGEN_CHIP_PAD;
    p->epoch_signs = pilot_signs;
    p->component = LR_SIGGEN_Q;
    p->code_phase_chips = phase_main;
    p->code_rate_cps = RATE_MAIN * scale;
}

static void track_channel(struct lr_tracker *t, double doppler, double phase_main, int kernel)
{
    CHECK_EQ(lr_track_init(t, FS, 0.0), LR_OK);
    t->kernel = kernel;
    t->n_channels = 1;
    struct lr_track_channel *c = &t->channel[0];
    c->main.table = trk_main;
    c->main.n_chips = N_MAIN;
    c->main.n_table = N_MAIN + 2 * LR_TRACK_CODE_PAD;
    c->main.component = 1;
    c->data.table = trk_data;
    c->data.n_chips = N_DATA;
    c->data.n_table = N_DATA + 2 * LR_TRACK_CODE_PAD;
    c->data.component = 0;
    c->enabled = 1;
    c->mode = LR_TRACK_COSTAS;
    c->n_coherent = 1;
    c->chip_rate_cps = RATE_MAIN;
    c->code_rate_cps = RATE_MAIN * (1.0 + doppler / CARRIER);
    c->code_phase_chips = phase_main;
    c->carrier_cycles = 0.3;
    c->carrier_hz = doppler;
    c->pll_freq_hz = doppler;
    c->carrier_freq_hz = CARRIER;
    c->early_late_chips = 0.5;
    c->epoch_start = -phase_main / (c->code_rate_cps / FS);
}

TEST(open_loop_correlations_agree_on_every_kernel_and_find_the_signs)
{
    make_codes(1);
    struct lr_siggen g;
    const double doppler = 1234.5, phase = 4321.25, amp = 0.5;
    make_signal(&g, doppler, phase, amp, 0.0);
    const size_t n = 240000; /* 20 ms */
    CHECK_EQ(lr_siggen_generate(&g, n, LR_SIGGEN_CF32, samples, MAX_SAMPLES), (int64_t)n);
    struct lr_track_dump ref[16];
    int n_ref = 0;
    for (int kernel = 0; kernel < 3; kernel++) {
        int level = kernel == 2 ? lr_simd_supported() : LR_SIMD_PORTABLE;
        CHECK_EQ(lr_simd_force(level), LR_OK);
        struct lr_tracker t;
        track_channel(&t, doppler, phase, kernel == 0 ? LR_TRACK_KERNEL_SCALAR : LR_TRACK_KERNEL_SIMD);
        CHECK(lr_track_max_dumps(&t, n) >= 11);
        int64_t got = lr_track_process(&t, samples, LR_TRACK_CF32, n, dumps, 4096);
        CHECK_EQ(got, 10); /* the partial first epoch and nine whole ones */
        CHECK_EQ(t.next_sample, n);
        if (kernel == 0) {
            memcpy(ref, dumps, sizeof(struct lr_track_dump) * 10);
            n_ref = (int)got;
        }
        for (int k = 1; k < got; k++) {
            const struct lr_track_dump *d = &dumps[k];
            double epoch_samples = N_MAIN / (RATE_MAIN * (1.0 + doppler / CARRIER)) * FS;
            double step = RATE_MAIN * (1.0 + doppler / CARRIER) / FS;
            if (k == 1)
                CHECK(fabs(d->start_sample - (N_MAIN - phase) / step) < 1e-6);
            else
                CHECK(fabs(d->start_sample - dumps[k - 1].start_sample - epoch_samples) < 1e-6);
            CHECK(fabs(d->n_samples - epoch_samples) <= 1.0);
            /* Pilot in quadrature: the prompt is j * amp * sign * n with the carrier phase matched. */
            double sign = pilot_signs[k % N_SIGNS];
            CHECK(fabs(d->p_im - sign * amp * d->n_samples) < 1e-3 * amp * d->n_samples);
            /* The data code leaks into the pilot's in-phase part by its cross-correlation (~1%). */
            CHECK(fabs(d->p_re) < 0.05 * amp * d->n_samples);
            double data_sign = data_signs[k % N_SIGNS];
            CHECK(fabs(d->d_re - data_sign * amp * d->n_samples) < 0.02 * amp * d->n_samples);
            /* Early and late sit symmetrically on the correlation triangle. */
            double e = hypot(d->e_re, d->e_im), l = hypot(d->l_re, d->l_im), p = hypot(d->p_re, d->p_im);
            CHECK(fabs(e - l) < 0.04 * p);
            CHECK(e > 0.65 * p && e < 0.85 * p);
            CHECK(fabs(d->pll_error_cycles) < 0.01);
            CHECK(fabs(d->dll_error_chips) < 0.02);
            if (n_ref) {
                const float *a = &d->e_re, *b = &ref[k].e_re;
                for (int j = 0; j < 8; j++)
                    CHECK(fabs(a[j] - b[j]) < 2e-3 * amp * d->n_samples);
                CHECK(fabs(d->start_sample - ref[k].start_sample) < 1e-9);
            }
        }
        /* Open loop: the NCOs keep what was set. */
        CHECK(t.channel[0].carrier_hz == doppler);
        CHECK(t.channel[0].code_rate_cps == RATE_MAIN * (1.0 + doppler / CARRIER));
        CHECK(fabs(t.channel[0].code_phase_chips - g.channel[1].code_phase_chips) < 1e-6);
    }
    lr_simd_force(-1);
}

TEST(sample_formats_give_the_same_dumps_for_integer_samples)
{
    make_codes(2);
    struct lr_siggen g;
    make_signal(&g, -800.0, 100.0, 4.0, 2.0);
    const size_t n = 60000;
    CHECK_EQ(lr_siggen_generate(&g, n, LR_SIGGEN_CI8, samples8, MAX_SAMPLES), (int64_t)n);
    for (size_t i = 0; i < 2 * n; i++) {
        samples16[i] = samples8[i];
        samples[i] = samples8[i];
    }
    struct lr_track_dump a[8], b[8], c[8];
    struct lr_tracker t;
    track_channel(&t, -800.0, 100.0, LR_TRACK_KERNEL_SIMD);
    int64_t na = lr_track_process(&t, samples8, LR_TRACK_CI8, n, a, 8);
    track_channel(&t, -800.0, 100.0, LR_TRACK_KERNEL_SIMD);
    int64_t nb = lr_track_process(&t, samples16, LR_TRACK_CI16, n, b, 8);
    track_channel(&t, -800.0, 100.0, LR_TRACK_KERNEL_SIMD);
    int64_t nc = lr_track_process(&t, samples, LR_TRACK_CF32, n, c, 8);
    CHECK(na >= 2);
    CHECK_EQ(na, nb);
    CHECK_EQ(na, nc);
    CHECK(memcmp(a, b, sizeof(struct lr_track_dump) * (size_t)na) == 0);
    CHECK(memcmp(a, c, sizeof(struct lr_track_dump) * (size_t)na) == 0);
}

TEST(block_boundaries_do_not_change_the_dumps)
{
    make_codes(3);
    struct lr_siggen g;
    make_signal(&g, 321.0, 7000.5, 0.3, 1.0);
    const size_t n = 150001;
    CHECK_EQ(lr_siggen_generate(&g, n, LR_SIGGEN_CF32, samples, MAX_SAMPLES), (int64_t)n);
    struct lr_track_dump whole[32], parts[32];
    struct lr_tracker t;
    track_channel(&t, 321.0, 7000.5, LR_TRACK_KERNEL_SIMD);
    t.channel[0].pll_bw_hz = 15.0;
    t.channel[0].fll_bw_hz = 5.0;
    t.channel[0].dll_bw_hz = 2.0;
    struct lr_tracker t2 = t;
    int64_t nw = lr_track_process(&t, samples, LR_TRACK_CF32, n, whole, 32);
    int64_t np = 0;
    size_t cuts[] = {0, 1, 4096, 4097, 50000, 99999, n};
    for (int k = 0; k + 1 < (int)(sizeof cuts / sizeof cuts[0]); k++) {
        int64_t r = lr_track_process(&t2, samples + 2 * cuts[k], LR_TRACK_CF32, cuts[k + 1] - cuts[k],
                                     parts + np, (size_t)(32 - np));
        CHECK(r >= 0);
        np += r;
    }
    CHECK_EQ(nw, np);
    for (int k = 0; k < nw; k++) {
        CHECK(fabs(whole[k].start_sample - parts[k].start_sample) < 1e-4);
        CHECK(fabs(whole[k].p_im - parts[k].p_im) < 1e-3 * fabs(whole[k].p_im) + 1e-2);
    }
}

TEST(loops_pull_in_a_doppler_and_code_error_and_hold_lock)
{
    make_codes(4);
    struct lr_siggen g;
    const double doppler = -2345.0, phase = 512.0;
    /* C/N0 per channel: amp^2 / (2 sigma^2 / fs) = 0.08^2 * 6e6 -> 45.8 dB-Hz. */
    make_signal(&g, doppler, phase, 0.08, 1.0);
    const size_t n = 1200000; /* 100 ms per block */
    struct lr_tracker t;
    track_channel(&t, doppler + 40.0, phase + 0.3, LR_TRACK_KERNEL_SIMD);
    struct lr_track_channel *c = &t.channel[0];
    c->pll_bw_hz = 15.0;
    c->fll_bw_hz = 10.0;
    c->dll_bw_hz = 2.0;
    for (int block = 0; block < 8; block++) {
        CHECK_EQ(lr_siggen_generate(&g, n, LR_SIGGEN_CF32, samples, MAX_SAMPLES), (int64_t)n);
        int64_t r = lr_track_process(&t, samples, LR_TRACK_CF32, n, dumps, 4096);
        CHECK(r >= 49 && r <= 51);
    }
    CHECK(fabs(c->carrier_hz - doppler) < 2.0);
    double code_error = c->code_phase_chips - g.channel[1].code_phase_chips;
    CHECK(fabs(code_error) < 0.05);
    /* Locked: the pilot sits on the imaginary axis of the raw prompt (quadrature component). */
    int locked = 0;
    for (int k = 0; k < 50; k++)
        locked += fabs(dumps[k].p_im) > 3.0 * fabs(dumps[k].p_re);
    CHECK(locked >= 45);
}

TEST(pilot_mode_wipes_the_signs_and_sums_epochs_coherently)
{
    make_codes(5);
    struct lr_siggen g;
    make_signal(&g, 500.0, 0.0, 0.5, 0.0);
    const size_t n = 240000;
    CHECK_EQ(lr_siggen_generate(&g, n, LR_SIGGEN_CF32, samples, MAX_SAMPLES), (int64_t)n);
    struct lr_tracker t;
    track_channel(&t, 500.0, 0.0, LR_TRACK_KERNEL_SIMD);
    struct lr_track_channel *c = &t.channel[0];
    c->epoch_start = 0.0;
    c->mode = LR_TRACK_PILOT;
    c->pilot_signs = pilot_signs;
    c->n_pilot_signs = N_SIGNS;
    c->pilot_index = 0;
    c->n_coherent = 2;
    c->pll_bw_hz = 10.0;
    int64_t r = lr_track_process(&t, samples, LR_TRACK_CF32, n, dumps, 4096);
    CHECK_EQ(r, 10);
    for (int k = 0; k < r; k++)
        CHECK_EQ(dumps[k].pilot_index, (uint32_t)k);
    /* Right signs: no phase error after each coherent pair, and the carrier stays put. */
    CHECK(fabs(dumps[9].pll_error_cycles) < 5e-3);
    CHECK(fabs(c->carrier_hz - 500.0) < 0.5);
    CHECK_EQ(c->pilot_index, 10);
}

TEST(hostile_samples_keep_the_state_finite)
{
    make_codes(6);
    for (size_t i = 0; i < 2 * 50000; i++)
        samples[i] = (i % 7 == 0) ? NAN : (i % 11 == 0) ? INFINITY : (i % 13 == 0) ? 3e38f : 0.0f;
    struct lr_tracker t;
    track_channel(&t, 100.0, 10.0, LR_TRACK_KERNEL_SIMD);
    t.channel[0].pll_bw_hz = 15.0;
    t.channel[0].fll_bw_hz = 10.0;
    t.channel[0].dll_bw_hz = 2.0;
    int64_t r = lr_track_process(&t, samples, LR_TRACK_CF32, 50000, dumps, 4096);
    CHECK(r >= 1);
    for (int k = 0; k < r; k++)
        CHECK(isfinite(dumps[k].p_re) && isfinite(dumps[k].e_im) && isfinite(dumps[k].pll_error_cycles));
    CHECK(isfinite(t.channel[0].carrier_hz) && isfinite(t.channel[0].code_rate_cps));
    /* All zeros: no signal, no NaN from 0/0 discriminators. */
    memset(samples, 0, sizeof(float) * 2 * 50000);
    r = lr_track_process(&t, samples, LR_TRACK_CF32, 50000, dumps, 4096);
    CHECK(r >= 1);
    CHECK(isfinite(t.channel[0].carrier_hz) && isfinite(t.channel[0].code_phase_chips));
}

TEST(bad_arguments_are_refused_without_touching_the_state)
{
    make_codes(7);
    struct lr_tracker t;
    CHECK_EQ(lr_track_init(&t, 10.0, 0.0), LR_E_ARG);
    CHECK_EQ(lr_track_init(&t, FS, NAN), LR_E_ARG);
    track_channel(&t, 0.0, 0.0, LR_TRACK_KERNEL_SIMD);
    struct lr_tracker keep = t;
    float x[64] = {0};
    struct lr_track_dump d[4];
    CHECK_EQ(lr_track_process(&t, x, 3, 32, d, 4), LR_E_ARG);
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 1), LR_E_SPACE);
    t.channel[0].code_phase_chips = N_MAIN;
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    t.channel[0].main.n_table = N_MAIN;
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    t.channel[0].code_rate_cps = 3.0 * RATE_MAIN;
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    t.channel[0].mode = LR_TRACK_PILOT; /* no signs */
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    t.channel[0].carrier_hz = INFINITY;
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    t.channel[0].dll_bw_hz = -1.0;
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    t.channel[0].early_late_chips = 3.0;
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    t.kernel = 7;
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    t = keep;
    CHECK_EQ(lr_track_process(&t, NULL, LR_TRACK_CF32, 32, d, 4), LR_E_ARG);
    CHECK(memcmp(&t, &keep, sizeof t) == 0);
    CHECK_EQ(lr_track_process(&t, x, LR_TRACK_CF32, 32, d, 4), 0);
    CHECK_EQ(t.next_sample, 32);
}

int main(void)
{
    RUN(open_loop_correlations_agree_on_every_kernel_and_find_the_signs);
    RUN(sample_formats_give_the_same_dumps_for_integer_samples);
    RUN(block_boundaries_do_not_change_the_dumps);
    RUN(loops_pull_in_a_doppler_and_code_error_and_hold_lock);
    RUN(pilot_mode_wipes_the_signs_and_sums_epochs_coherently);
    RUN(hostile_samples_keep_the_state_finite);
    RUN(bad_arguments_are_refused_without_touching_the_state);
    TEST_EXIT();
}
