/* lr_track.c - tracking correlators and loops; see lr_track.h. */
#include "lr_track.h"

#include <math.h>
#include <string.h>

#include "lr_cpu.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

_Static_assert(sizeof(((struct lr_tracker *)0)->channel) / sizeof(struct lr_track_channel) ==
                   LR_TRACK_MAX_CHANNELS,
               "channel array size");

#define SUB 4096                /* samples converted to float at a time */
#define SEG LR_TRACK_SEGMENT    /* longest run of samples on one fixed-point phase */
#define PAD LR_TRACK_CODE_PAD
#define FIX_BITS 21             /* fractional bits of the fixed-point chip phase */
#define FIX_ONE (1u << FIX_BITS)
#define TWO_PI 6.283185307179586476925286766559
#define INPUT_LIMIT 1e15f       /* larger cf32 components (and NaN) count as 0 */
#define SCALAR_TABLE_BITS 10    /* the reference kernel's sin/cos table: 1024 entries */

/* Kaplan & Hegarty, "Understanding GPS" 2nd ed., ch. 5, loop-filter table: third-order PLL
 * (w0 = Bn / 0.7845, a3 = 1.1, b3 = 2.4) and second-order FLL (w0 = Bn / 0.53, a2 = 1.414). */
#define PLL3_W0 0.7845
#define PLL3_A3 1.1
#define PLL3_B3 2.4
#define FLL2_W0 0.53
#define FLL2_A2 1.414

/* ---------------------------------------------------------------- segments ----
 * A run of samples of one channel inside one epoch, with its NCO values frozen.  Both
 * kernels read the same description: fixed-point chip phases (the SIMD kernels) and the
 * double phases they come from (the scalar reference). */
struct seg_code {
    const int8_t *tab; /* code table shifted to the run's first chip */
    uint32_t acc;      /* fixed-point phase of the first sample, relative to tab */
    uint32_t step;     /* fixed-point chips per sample */
    double phase;      /* chips at the first sample (reference kernel) */
    double rate;       /* chips per sample (reference kernel) */
    const int8_t *table; /* whole table (reference kernel) */
    uint32_t n_chips;
};

struct segment {
    const float *re, *im;
    size_t n;
    double phase0; /* carrier cycles at the first sample */
    double dphi;   /* carrier cycles per sample */
    struct seg_code main, data;
    uint32_t half;      /* half the early-late spacing, fixed point */
    double half_chips;  /* the same in chips */
    int has_data;
    int wide; /* more than one chip per sample: vector gathers instead of permutes */
};

/* Sums of one run: E, P, L, D as (re, im). */
struct sums {
    float v[8];
};

/* Carrier rotator lanes: exp(j*2*pi*(phase0 + k*dphi)) for k = 0..7, in double, then float. */
static void rotator_lanes(double phase0, double dphi, float *re, float *im, int lanes, float *w_re,
                          float *w_im)
{
    double p = phase0 - floor(phase0);
    for (int k = 0; k < lanes; k++) {
        double a = TWO_PI * (p + k * dphi);
        re[k] = (float)cos(a);
        im[k] = (float)sin(a);
    }
    double a = TWO_PI * lanes * dphi;
    *w_re = (float)cos(a);
    *w_im = (float)sin(a);
}

static inline uint32_t sign_bit_of(const int8_t *tab, uint32_t acc)
{
    return (uint32_t)(tab[acc >> FIX_BITS] & 1) << 31;
}

static inline float xor_sign(float x, uint32_t sign)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u ^= sign;
    memcpy(&x, &u, 4);
    return x;
}

/* Samples [from, n) one at a time with the rotator lanes cr/ci (lane k is sample from + k),
 * the fixed-point phases of sample `from` given. */
static void tail_scalar(const struct segment *s, size_t from, const float *cr, const float *ci, uint32_t pm,
                        uint32_t pd, struct sums *out)
{
    for (size_t i = from, k = 0; i < s->n; i++, k++) {
        float xr = s->re[i], xi = s->im[i];
        float br = xr * cr[k] + xi * ci[k];
        float bi = xi * cr[k] - xr * ci[k];
        uint32_t se = sign_bit_of(s->main.tab, pm + s->half);
        uint32_t sp = sign_bit_of(s->main.tab, pm);
        uint32_t sl = sign_bit_of(s->main.tab, pm - s->half);
        out->v[0] += xor_sign(br, se);
        out->v[1] += xor_sign(bi, se);
        out->v[2] += xor_sign(br, sp);
        out->v[3] += xor_sign(bi, sp);
        out->v[4] += xor_sign(br, sl);
        out->v[5] += xor_sign(bi, sl);
        if (s->has_data) {
            uint32_t sd = sign_bit_of(s->data.tab, pd);
            out->v[6] += xor_sign(br, sd);
            out->v[7] += xor_sign(bi, sd);
        }
        pm += s->main.step;
        pd += s->data.step;
    }
}

/* ------------------------------------------------------- portable kernel -- */

typedef float v4f __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline v4u signs4(const int8_t *tab, uint32_t acc, uint32_t step)
{
    v4u m = {sign_bit_of(tab, acc), sign_bit_of(tab, acc + step), sign_bit_of(tab, acc + 2 * step),
             sign_bit_of(tab, acc + 3 * step)};
    return m;
}

static inline __attribute__((always_inline)) void
correlate_portable_impl(const struct segment *s, struct sums *out, int has_data)
{
    float lr[4], li[4], w_re, w_im;
    rotator_lanes(s->phase0, s->dphi, lr, li, 4, &w_re, &w_im);
    v4f cr = load4(lr), ci = load4(li);
    v4f acc[8] = {{0}};
    uint32_t pm = s->main.acc, pd = s->data.acc;
    const uint32_t sm = s->main.step, sd = s->data.step, half = s->half;
    size_t i = 0;
    for (; i + 4 <= s->n; i += 4) {
        v4f xr = load4(s->re + i), xi = load4(s->im + i);
        v4f br = xr * cr + xi * ci;
        v4f bi = xi * cr - xr * ci;
        v4u e = signs4(s->main.tab, pm + half, sm), p = signs4(s->main.tab, pm, sm),
            l = signs4(s->main.tab, pm - half, sm);
        acc[0] += (v4f)((v4u)br ^ e);
        acc[1] += (v4f)((v4u)bi ^ e);
        acc[2] += (v4f)((v4u)br ^ p);
        acc[3] += (v4f)((v4u)bi ^ p);
        acc[4] += (v4f)((v4u)br ^ l);
        acc[5] += (v4f)((v4u)bi ^ l);
        if (has_data) {
            v4u d = signs4(s->data.tab, pd, sd);
            acc[6] += (v4f)((v4u)br ^ d);
            acc[7] += (v4f)((v4u)bi ^ d);
        }
        v4f t = cr * w_re - ci * w_im;
        ci = cr * w_im + ci * w_re;
        cr = t;
        pm += 4 * sm;
        pd += 4 * sd;
    }
    for (int k = 0; k < 8; k++)
        out->v[k] = acc[k][0] + acc[k][1] + acc[k][2] + acc[k][3];
    memcpy(lr, &cr, sizeof lr);
    memcpy(li, &ci, sizeof li);
    tail_scalar(s, i, lr, li, pm, pd, out);
}

static void correlate_portable(const struct segment *s, struct sums *out)
{
    if (s->has_data)
        correlate_portable_impl(s, out, 1);
    else
        correlate_portable_impl(s, out, 0);
}

/* ----------------------------------------------------------- AVX2 kernel -- */
#if LR_HAVE_X86_DISPATCH
/* Sign masks of 8 samples whose chips lie within the 8 chips from acc0's: one 8-byte load and a
 * lane permute instead of a gather. */
LR_TARGET_AVX2 static inline __m256 mask_permute(const int8_t *tab, uint32_t acc0, __m256i acc)
{
    const uint32_t i0 = acc0 >> FIX_BITS;
    __m256i c8 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(tab + i0)));
    __m256i rel = _mm256_sub_epi32(_mm256_srli_epi32(acc, FIX_BITS), _mm256_set1_epi32((int)i0));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_permutevar8x32_epi32(c8, rel), 31));
}

LR_TARGET_AVX2 static inline __m256 mask_gather(const int8_t *tab, __m256i acc)
{
    __m256i g = _mm256_i32gather_epi32((const int *)(const void *)tab, _mm256_srli_epi32(acc, FIX_BITS), 1);
    return _mm256_castsi256_ps(_mm256_slli_epi32(g, 31));
}

LR_TARGET_AVX2 static inline __attribute__((always_inline)) void
correlate_avx2_impl(const struct segment *s, struct sums *out, int has_data, int wide)
{
    float lr[8], li[8], w_re, w_im;
    rotator_lanes(s->phase0, s->dphi, lr, li, 8, &w_re, &w_im);
    __m256 cr = _mm256_loadu_ps(lr), ci = _mm256_loadu_ps(li);
    const __m256 wr = _mm256_set1_ps(w_re), wi = _mm256_set1_ps(w_im);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const uint32_t sm = s->main.step, sd = s->data.step, half = s->half;
    const __m256i vsm = _mm256_set1_epi32((int)(8u * sm)), vsd = _mm256_set1_epi32((int)(8u * sd));
    const __m256i vhalf = _mm256_set1_epi32((int)half);
    __m256i ap = _mm256_add_epi32(_mm256_set1_epi32((int)s->main.acc),
                                  _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)sm)));
    __m256i ad = _mm256_add_epi32(_mm256_set1_epi32((int)s->data.acc),
                                  _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)sd)));
    uint32_t pm = s->main.acc, pd = s->data.acc;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t i = 0;
    for (; i + 8 <= s->n; i += 8) {
        __m256 xr = _mm256_loadu_ps(s->re + i), xi = _mm256_loadu_ps(s->im + i);
        __m256 br = _mm256_fmadd_ps(xr, cr, _mm256_mul_ps(xi, ci));
        __m256 bi = _mm256_fmsub_ps(xi, cr, _mm256_mul_ps(xr, ci));
        __m256i ae = _mm256_add_epi32(ap, vhalf), al = _mm256_sub_epi32(ap, vhalf);
        __m256 me, mp, ml;
        if (wide) {
            me = mask_gather(s->main.tab, ae);
            mp = mask_gather(s->main.tab, ap);
            ml = mask_gather(s->main.tab, al);
        } else {
            me = mask_permute(s->main.tab, pm + half, ae);
            mp = mask_permute(s->main.tab, pm, ap);
            ml = mask_permute(s->main.tab, pm - half, al);
        }
        a0 = _mm256_add_ps(a0, _mm256_xor_ps(br, me));
        a1 = _mm256_add_ps(a1, _mm256_xor_ps(bi, me));
        a2 = _mm256_add_ps(a2, _mm256_xor_ps(br, mp));
        a3 = _mm256_add_ps(a3, _mm256_xor_ps(bi, mp));
        a4 = _mm256_add_ps(a4, _mm256_xor_ps(br, ml));
        a5 = _mm256_add_ps(a5, _mm256_xor_ps(bi, ml));
        if (has_data) {
            __m256 md = wide ? mask_gather(s->data.tab, ad) : mask_permute(s->data.tab, pd, ad);
            a6 = _mm256_add_ps(a6, _mm256_xor_ps(br, md));
            a7 = _mm256_add_ps(a7, _mm256_xor_ps(bi, md));
            ad = _mm256_add_epi32(ad, vsd);
            pd += 8u * sd;
        }
        __m256 t = _mm256_fmsub_ps(cr, wr, _mm256_mul_ps(ci, wi));
        ci = _mm256_fmadd_ps(cr, wi, _mm256_mul_ps(ci, wr));
        cr = t;
        ap = _mm256_add_epi32(ap, vsm);
        pm += 8u * sm;
    }
    __m256 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (int k = 0; k < 8; k++) {
        float v[8];
        _mm256_storeu_ps(v, acc[k]);
        out->v[k] = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }
    _mm256_storeu_ps(lr, cr);
    _mm256_storeu_ps(li, ci);
    tail_scalar(s, i, lr, li, pm, pd, out);
}

LR_TARGET_AVX2 static void correlate_avx2(const struct segment *s, struct sums *out)
{
    if (s->wide) {
        if (s->has_data)
            correlate_avx2_impl(s, out, 1, 1);
        else
            correlate_avx2_impl(s, out, 0, 1);
    } else if (s->has_data) {
        correlate_avx2_impl(s, out, 1, 0);
    } else {
        correlate_avx2_impl(s, out, 0, 0);
    }
}
#endif

/* ------------------------------------------------------- scalar reference -- */

/* A phase in cycles as a 32-bit accumulator word (one cycle = 2^32).  x - floor(x) rounds
 * to exactly 1.0 for a tiny negative x, and 2^32 does not fit the word: that is phase 0. */
static uint32_t phase_word(double cycles)
{
    double f = cycles - floor(cycles);
    return f < 1.0 ? (uint32_t)(f * 4294967296.0) : 0u;
}

/* The structure of a classic software receiver's correlator: per sample, a carrier
 * table lookup on a 32-bit phase accumulator, then per tap a code lookup at a double
 * phase.  cos_tab/sin_tab hold 2^SCALAR_TABLE_BITS entries of one cycle. */
static void correlate_scalar(const struct segment *s, const float *cos_tab, const float *sin_tab,
                             struct sums *out)
{
    uint32_t phase = phase_word(s->phase0);
    uint32_t dphase = phase_word(s->dphi);
    const struct seg_code *m = &s->main, *d = &s->data;
    const int8_t *mt = m->table + PAD, *dt = s->has_data ? d->table + PAD : NULL;
    double pm = m->phase, pd = d->phase;
    double sum[8] = {0};
    for (size_t i = 0; i < s->n; i++) {
        uint32_t k = phase >> (32 - SCALAR_TABLE_BITS);
        float c = cos_tab[k], sn = sin_tab[k];
        float xr = s->re[i], xi = s->im[i];
        float br = xr * c + xi * sn, bi = xi * c - xr * sn;
        /* Chips at the taps' phases; floor of a phase within a chip of the code's ends
         * lands in the table's pad. */
        int ce = mt[(int)floor(pm + s->half_chips)] & 1;
        int cp = mt[(int)floor(pm)] & 1;
        int cl = mt[(int)floor(pm - s->half_chips)] & 1;
        sum[0] += ce ? -br : br;
        sum[1] += ce ? -bi : bi;
        sum[2] += cp ? -br : br;
        sum[3] += cp ? -bi : bi;
        sum[4] += cl ? -br : br;
        sum[5] += cl ? -bi : bi;
        if (dt) {
            int cd = dt[(int)floor(pd)] & 1;
            sum[6] += cd ? -br : br;
            sum[7] += cd ? -bi : bi;
        }
        pm += m->rate;
        pd += d->rate;
        phase += dphase;
    }
    for (int k = 0; k < 8; k++)
        out->v[k] = (float)sum[k];
}

/* ------------------------------------------------------------- channels -- */

static int code_valid(const struct lr_track_code *c)
{
    return c->table != NULL && c->n_chips > 0 && c->n_chips <= (1u << 24) &&
           c->n_table == (uint64_t)c->n_chips + 2 * PAD && (c->component == 0 || c->component == 1);
}

static int channel_valid(const struct lr_tracker *t, const struct lr_track_channel *c)
{
    if (!c->enabled)
        return 1;
    if (!code_valid(&c->main) || (c->data.table != NULL && !code_valid(&c->data)))
        return 0;
    const double fs = t->fs_hz;
    if (!(c->chip_rate_cps > 0.0 && c->chip_rate_cps <= 4.0 * fs))
        return 0;
    /* The loops keep the code rate within [0.5, 2] times the nominal rate. */
    if (!(c->code_rate_cps >= 0.5 * c->chip_rate_cps && c->code_rate_cps <= 2.0 * c->chip_rate_cps))
        return 0;
    if (!((double)c->main.n_chips * fs / (0.5 * c->chip_rate_cps) < 2147483648.0))
        return 0;
    if (!(c->code_phase_chips >= 0.0 && c->code_phase_chips < (double)c->main.n_chips))
        return 0;
    if (!(c->early_late_chips >= 0.0 && c->early_late_chips <= 2.0))
        return 0;
    if (!(c->pll_bw_hz >= 0.0 && c->pll_bw_hz < 1e4) || !(c->fll_bw_hz >= 0.0 && c->fll_bw_hz < 1e4) ||
        !(c->dll_bw_hz >= 0.0 && c->dll_bw_hz < 1e4))
        return 0;
    if (!(c->carrier_freq_hz >= 0.0) || !isfinite(c->carrier_freq_hz))
        return 0;
    if (c->mode != LR_TRACK_COSTAS && c->mode != LR_TRACK_PILOT)
        return 0;
    if (c->mode == LR_TRACK_PILOT &&
        (c->pilot_signs == NULL || c->n_pilot_signs == 0 || c->pilot_index >= c->n_pilot_signs ||
         c->n_coherent < 1 || c->n_coherent > 1000))
        return 0;
    if (!isfinite(c->carrier_cycles) || !(fabs(c->carrier_hz) <= fs) || !isfinite(c->pll_rate_hz_s) ||
        !isfinite(c->pll_freq_hz) || !isfinite(c->fll_prev_re) || !isfinite(c->fll_prev_im) ||
        !isfinite(c->epoch_start))
        return 0;
    for (int k = 0; k < 8; k++)
        if (!isfinite(c->acc[k]))
            return 0;
    for (int k = 0; k < 6; k++)
        if (!isfinite(c->coh[k]))
            return 0;
    return 1;
}

int lr_track_init(struct lr_tracker *t, double fs_hz, double if_hz)
{
    if (t == NULL || !(fs_hz >= 1e3 && fs_hz <= 1e9) || !isfinite(if_hz))
        return LR_E_ARG;
    memset(t, 0, sizeof *t);
    t->fs_hz = fs_hz;
    t->if_hz = if_hz;
    return LR_OK;
}

size_t lr_track_max_dumps(const struct lr_tracker *t, size_t n_in)
{
    if (t == NULL || t->n_channels > LR_TRACK_MAX_CHANNELS || !(t->fs_hz >= 1e3 && t->fs_hz <= 1e9))
        return 0;
    size_t total = 0;
    for (uint32_t k = 0; k < t->n_channels; k++) {
        const struct lr_track_channel *c = &t->channel[k];
        if (!c->enabled || c->main.n_chips == 0 || !(c->chip_rate_cps > 0.0 && c->chip_rate_cps <= 4.0 * t->fs_hz))
            continue;
        /* At most 2x the nominal rate, so an epoch lasts at least n_chips * fs / (2 rate) samples. */
        double epochs = (double)n_in * 2.0 * c->chip_rate_cps / (t->fs_hz * c->main.n_chips);
        total += (size_t)ceil(epochs) + 2;
    }
    return total;
}

static void convert(const void *in, int format, size_t from, size_t n, float *re, float *im)
{
    if (format == LR_TRACK_CF32) {
        const float *x = (const float *)in + 2 * from;
        for (size_t i = 0; i < n; i++) {
            float a = x[2 * i], b = x[2 * i + 1];
            re[i] = fabsf(a) <= INPUT_LIMIT ? a : 0.0f;
            im[i] = fabsf(b) <= INPUT_LIMIT ? b : 0.0f;
        }
    } else if (format == LR_TRACK_CI16) {
        const int16_t *x = (const int16_t *)in + 2 * from;
        for (size_t i = 0; i < n; i++) {
            re[i] = x[2 * i];
            im[i] = x[2 * i + 1];
        }
    } else {
        const int8_t *x = (const int8_t *)in + 2 * from;
        for (size_t i = 0; i < n; i++) {
            re[i] = x[2 * i];
            im[i] = x[2 * i + 1];
        }
    }
}

/* The prompt (or any tap) turned back by the component's j: (re, im) * conj(j^component). */
static void derotate(int component, double re, double im, double *out_re, double *out_im)
{
    if (component) {
        *out_re = im;
        *out_im = -re;
    } else {
        *out_re = re;
        *out_im = im;
    }
}

static double two_quadrant(double y, double x)
{
    return x == 0.0 ? 0.0 : atan(y / x);
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Loop update at the end of an epoch whose taps are in c->acc. */
static void loop_update(const struct lr_tracker *t, struct lr_track_channel *c)
{
    const double t_epoch = (double)c->main.n_chips / c->chip_rate_cps;
    const int comp = c->main.component;
    double e[2], p[2], l[2];
    derotate(comp, c->acc[0], c->acc[1], &e[0], &e[1]);
    derotate(comp, c->acc[2], c->acc[3], &p[0], &p[1]);
    derotate(comp, c->acc[4], c->acc[5], &l[0], &l[1]);
    const int pilot = c->mode == LR_TRACK_PILOT;
    double period = t_epoch;
    if (pilot) {
        double sign = c->pilot_signs[c->pilot_index] < 0 ? -1.0 : 1.0;
        c->pilot_index = c->pilot_index + 1 >= c->n_pilot_signs ? 0 : c->pilot_index + 1;
        c->coh[0] += sign * e[0];
        c->coh[1] += sign * e[1];
        c->coh[2] += sign * p[0];
        c->coh[3] += sign * p[1];
        c->coh[4] += sign * l[0];
        c->coh[5] += sign * l[1];
        if (++c->coherent_count < c->n_coherent)
            return;
        period = t_epoch * c->coherent_count;
        e[0] = c->coh[0], e[1] = c->coh[1], p[0] = c->coh[2], p[1] = c->coh[3], l[0] = c->coh[4],
        l[1] = c->coh[5];
        memset(c->coh, 0, sizeof c->coh);
        c->coherent_count = 0;
    }
    /* Discriminators: the PLL's in cycles, the FLL's in Hz, the DLL's in chips. */
    double pll = (pilot ? atan2(p[1], p[0]) : two_quadrant(p[1], p[0])) / TWO_PI;
    double fll = 0.0;
    if (c->fll_have_prev) {
        double cross = c->fll_prev_re * p[1] - c->fll_prev_im * p[0];
        double dot = c->fll_prev_re * p[0] + c->fll_prev_im * p[1];
        fll = (pilot ? atan2(cross, dot) : two_quadrant(cross, dot)) / (TWO_PI * period);
    }
    c->fll_prev_re = p[0];
    c->fll_prev_im = p[1];
    c->fll_have_prev = 1;
    double ae = hypot(e[0], e[1]), al = hypot(l[0], l[1]);
    double dll = ae + al > 0.0 ? (1.0 - 0.5 * c->early_late_chips) * (ae - al) / (ae + al) : 0.0;
    c->pll_error_cycles = pll;
    c->fll_error_hz = fll;
    c->dll_error_chips = dll;

    const double fs = t->fs_hz;
    if (c->pll_bw_hz > 0.0 || c->fll_bw_hz > 0.0) {
        /* FLL-assisted third-order PLL with trapezoidal integrators (Kaplan & Hegarty, ch. 5). */
        const double wp = c->pll_bw_hz / PLL3_W0, wf = c->fll_bw_hz / FLL2_W0;
        double rate = c->pll_rate_hz_s + period * (wp * wp * wp * pll + wf * wf * fll);
        rate = clamp(rate, -1e6, 1e6);
        double freq = c->pll_freq_hz +
                      period * (0.5 * (rate + c->pll_rate_hz_s) + PLL3_A3 * wp * wp * pll + FLL2_A2 * wf * fll);
        freq = clamp(freq, -0.5 * fs, 0.5 * fs);
        double nco = clamp(0.5 * (freq + c->pll_freq_hz) + PLL3_B3 * wp * pll, -0.5 * fs, 0.5 * fs);
        c->pll_rate_hz_s = rate;
        c->pll_freq_hz = freq;
        c->carrier_hz = nco;
    }
    if (c->dll_bw_hz > 0.0) {
        double aided = c->carrier_freq_hz > 0.0 ? c->chip_rate_cps * (1.0 + c->carrier_hz / c->carrier_freq_hz)
                                                : c->chip_rate_cps;
        /* First-order DLL: gain 4 Bn (chips per second per chip of error). */
        c->code_rate_cps = clamp(aided + 4.0 * c->dll_bw_hz * dll, 0.5 * c->chip_rate_cps, 2.0 * c->chip_rate_cps);
    }
}

/* End of the epoch in progress at stream position end_pos: write its dump, update the loops,
 * start the next epoch. */
static void epoch_end(const struct lr_tracker *t, struct lr_track_channel *c, uint32_t index, double end_pos,
                      double end_carrier, struct lr_track_dump *d)
{
    d->channel = index;
    d->mode = c->mode;
    d->epoch = c->epochs;
    d->start_sample = c->epoch_start;
    d->carrier_cycles = end_carrier;
    d->carrier_hz = c->carrier_hz;
    d->code_rate_cps = c->code_rate_cps;
    d->e_re = (float)c->acc[0];
    d->e_im = (float)c->acc[1];
    d->p_re = (float)c->acc[2];
    d->p_im = (float)c->acc[3];
    d->l_re = (float)c->acc[4];
    d->l_im = (float)c->acc[5];
    d->d_re = (float)c->acc[6];
    d->d_im = (float)c->acc[7];
    d->n_samples = c->epoch_samples;
    d->pilot_index = c->mode == LR_TRACK_PILOT ? c->pilot_index : 0;
    d->reserved = 0;
    loop_update(t, c);
    d->pll_error_cycles = (float)c->pll_error_cycles;
    d->fll_error_hz = (float)c->fll_error_hz;
    d->dll_error_chips = (float)c->dll_error_chips;
    c->epochs++;
    c->epoch_start = end_pos;
    memset(c->acc, 0, sizeof c->acc);
    c->epoch_samples = 0;
}

static void seg_code_setup(struct seg_code *sc, const struct lr_track_code *code, double phase, double rate)
{
    double base = floor(phase);
    sc->tab = code->table + (uint32_t)base;
    sc->acc = (uint32_t)((PAD + (phase - base)) * (double)FIX_ONE);
    sc->step = (uint32_t)llround(rate * (double)FIX_ONE);
    sc->phase = phase;
    sc->rate = rate;
    sc->table = code->table;
    sc->n_chips = code->n_chips;
}

struct kernel {
    int which; /* 0 portable, 1 AVX2, 2 scalar reference */
    const float *cos_tab, *sin_tab;
};

/* Run channel c over the n converted samples re/im, which start at stream sample abs0. */
static void channel_run(const struct lr_tracker *t, struct lr_track_channel *c, uint32_t index, const float *re,
                        const float *im, size_t n, uint64_t abs0, const struct kernel *k,
                        struct lr_track_dump *out, size_t *n_dumps)
{
    const double fs = t->fs_hz;
    const double n_chips = (double)c->main.n_chips;
    const int has_data = c->data.table != NULL;
    const double data_ratio = has_data ? (double)c->data.n_chips / n_chips : 0.0;
    size_t i = 0;
    while (i < n) {
        const double step = c->code_rate_cps / fs;
        double p = c->code_phase_chips;
        /* Samples of this epoch left: those whose prompt phase is below n_chips. */
        double left_d = ceil((n_chips - p) / step);
        size_t left = left_d < 1.0 ? 1 : (size_t)left_d;
        /* A run spans at most SEG samples and SEG chips of either code, so the fixed-point
         * phase stays below 2^(32 - FIX_BITS) chips. */
        double widest = has_data && data_ratio > 1.0 ? step * data_ratio : step;
        size_t limit = widest > 1.0 ? (size_t)(SEG / widest) : SEG;
        if (limit < 1)
            limit = 1;
        size_t kn = n - i;
        if (kn > limit)
            kn = limit;
        int ends = 0;
        if (kn >= left) {
            kn = left;
            ends = 1;
        }
        const double f = t->if_hz + c->carrier_hz;
        struct segment s;
        s.re = re + i;
        s.im = im + i;
        s.n = kn;
        s.phase0 = c->carrier_cycles;
        s.dphi = f / fs;
        seg_code_setup(&s.main, &c->main, p, step);
        s.has_data = has_data;
        if (has_data)
            seg_code_setup(&s.data, &c->data, p * data_ratio, step * data_ratio);
        else
            memset(&s.data, 0, sizeof s.data);
        s.half_chips = 0.5 * c->early_late_chips;
        s.half = (uint32_t)llround(s.half_chips * (double)FIX_ONE);
        s.wide = widest > 1.0;
        struct sums sum;
        memset(&sum, 0, sizeof sum);
#if LR_HAVE_X86_DISPATCH
        if (k->which == 1)
            correlate_avx2(&s, &sum);
        else
#endif
            if (k->which == 2)
            correlate_scalar(&s, k->cos_tab, k->sin_tab, &sum);
        else
            correlate_portable(&s, &sum);
        for (int j = 0; j < 8; j++)
            c->acc[j] += sum.v[j];
        c->epoch_samples += (uint32_t)kn;
        i += kn;
        p += (double)kn * step;
        c->carrier_cycles += (double)kn * f / fs;
        if (ends) {
            if (p < n_chips)
                p = n_chips;
            double over = (p - n_chips) / step; /* samples past the crossing */
            double end_pos = (double)(abs0 + i) - over;
            double end_carrier = c->carrier_cycles - over * f / fs;
            p -= n_chips;
            if (!(p >= 0.0 && p < n_chips))
                p = 0.0;
            c->code_phase_chips = p;
            epoch_end(t, c, index, end_pos, end_carrier, &out[(*n_dumps)++]);
        } else {
            c->code_phase_chips = p < n_chips ? p : nextafter(n_chips, 0.0);
        }
    }
}

int64_t lr_track_process(struct lr_tracker *t, const void *in, int format, size_t n_in,
                         struct lr_track_dump *out, size_t n_out)
{
    if (t == NULL || (in == NULL && n_in > 0) || format < LR_TRACK_CF32 || format > LR_TRACK_CI8)
        return LR_E_ARG;
    if (!(t->fs_hz >= 1e3 && t->fs_hz <= 1e9) || !isfinite(t->if_hz) || t->n_channels > LR_TRACK_MAX_CHANNELS ||
        (t->kernel != LR_TRACK_KERNEL_SIMD && t->kernel != LR_TRACK_KERNEL_SCALAR))
        return LR_E_ARG;
    if (n_in > ((size_t)1 << 40))
        return LR_E_ARG;
    for (uint32_t k = 0; k < t->n_channels; k++)
        if (!channel_valid(t, &t->channel[k]))
            return LR_E_ARG;
    if (out == NULL && n_in > 0)
        return LR_E_ARG;
    if (n_out < lr_track_max_dumps(t, n_in))
        return LR_E_SPACE;

    struct kernel k = {0, NULL, NULL};
    float cos_tab[1 << SCALAR_TABLE_BITS], sin_tab[1 << SCALAR_TABLE_BITS];
    if (t->kernel == LR_TRACK_KERNEL_SCALAR) {
        for (int j = 0; j < (1 << SCALAR_TABLE_BITS); j++) {
            double a = TWO_PI * (j + 0.5) / (1 << SCALAR_TABLE_BITS);
            cos_tab[j] = (float)cos(a);
            sin_tab[j] = (float)sin(a);
        }
        k.which = 2;
        k.cos_tab = cos_tab;
        k.sin_tab = sin_tab;
    } else if (lr_simd_level() >= LR_SIMD_AVX2) {
        k.which = 1;
    }
    float re[SUB + 8], im[SUB + 8];
    size_t n_dumps = 0;
    for (size_t pos = 0; pos < n_in; pos += SUB) {
        size_t m = n_in - pos < SUB ? n_in - pos : SUB;
        convert(in, format, pos, m, re, im);
        for (uint32_t j = 0; j < t->n_channels; j++) {
            struct lr_track_channel *c = &t->channel[j];
            if (c->enabled)
                channel_run(t, c, j, re, im, m, t->next_sample, &k, out, &n_dumps);
        }
        t->next_sample += m;
    }
    return (int64_t)n_dumps;
}
