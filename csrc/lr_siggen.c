/* lr_siggen.c - multi-channel GNSS signal synthesis; see lr_siggen.h. */
#include "lr_siggen.h"

#include <math.h>
#include <string.h>

#include "lr_cpu.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

_Static_assert(sizeof(((struct lr_siggen *)0)->channel) / sizeof(struct lr_siggen_channel) ==
                   LR_SIGGEN_MAX_CHANNELS,
               "channel array size");

#define SB LR_SIGGEN_SUBBLOCK
#define FIX_BITS 24 /* fractional bits of the per-segment code phase */
#define FIX_ONE (1u << FIX_BITS)

/* Channels per pass over the accumulators: up to CARRIERS carrier rotators, each shared by one
 * or two channels (see channels_subblock). */
#define CARRIERS 4
#define SLOTS (2 * CARRIERS)

/* Work space of one sub-block; rounded up so vector loops may run past the end. */
struct subblock {
    float acc_re[SB + 32];
    float acc_im[SB + 32];
    float chip[SLOTS][SB + 48];
    struct channel_cache *cache; /* one per channel, valid for one call */
};

/* The portable kernels use GNU C vector extensions of four lanes, which compile to
 * SSE2 on x86-64 and to NEON on aarch64. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef uint16_t v4h __attribute__((vector_size(8)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store4(float *p, v4f v)
{
    memcpy(p, &v, sizeof v);
}

/* ---------------------------------------------------------------- noise ----
 * Counter-based: the two uniform words of sample g are a hash of (seed, g), so the
 * noise does not depend on how a run is cut into blocks.  The mix is a 32-bit
 * multiply-xorshift with the constants of Wellons' "hash prospector" lowbias32. */
static inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x21F0AAADu;
    x ^= x >> 15;
    x *= 0x735A2D97u;
    x ^= x >> 15;
    return x;
}

/* Polynomials fitted by csrc/gen/siggen_poly.py: sin(pi*y) for |y| <= 1/2, error 3.4e-9
 * (seeds the carrier rotators); and the odd polynomial z*P(z^2), P(w) = IH_C1 + w*(IH_C3 +
 * w*(IH_C5 + w*IH_C7)), that maps a standardised Irwin-Hall sum of three uniforms to unit
 * variance and kurtosis 2.996. */
#define SINPI_D1 3.141592579788996
#define SINPI_D3 (-5.167706865106639)
#define SINPI_D5 2.5500311756893668
#define SINPI_D7 (-0.5980440852343096)
#define SINPI_D9 0.07721816880167454
#define IH_C1 0.9436414028047574
#define IH_C3 0.02722629578374275
#define IH_C5 (-0.006527154600064334)
#define IH_C7 0.0010740306419513336
/* The centred sum of the fields of a word (see ih_sum4) has standard deviation 1024 (to 3e-7). */
#define IH_K (1.0 / 1024.0)

/* The noise words of a counter x: a is lowbias32 without its first xorshift (which, for a
 * counter under a fixed key, only changes the key), b one more multiply-xorshift round of a. */
#define MIX_M1 0x21F0AAADu

/* words4 from its first product h = (x ^ key0) * MIX_M1. */
static inline void words4_from(v4u h, uint32_t key1, v4u *a, v4u *b)
{
    h ^= h >> 15;
    h *= 0x735A2D97u;
    h ^= h >> 15;
    v4u k = ((h ^ (h >> 16)) ^ key1) * 0x2C1B3C6Du;
    *a = h;
    *b = k ^ (k >> 13);
}

static inline void words4(v4u x, uint32_t key0, uint32_t key1, v4u *a, v4u *b)
{
    words4_from((x ^ key0) * MIX_M1, key1, a, b);
}

/* Irwin-Hall sum of the three fields of each word, centred: bits 0-10 + bits 11-21 + 2 * bits
 * 22-31, minus 3070, in [-3070, 3070], symmetric about 0, standard deviation 1024. */
static inline v4i ih_sum4(v4u x)
{
    return (v4i)((x & 0x7FFu) + ((x >> 11) & 0x7FFu) + ((x >> 21) & 0x7FEu)) - 3070;
}

/* Keys and output-scaled polynomial of one sub-block's noise (both paths use the same). */
struct noise {
    uint32_t key0, key1;
    float p1, p3, p5, p7; /* IH_Ck * IH_K^k * noise_sigma * scale */
};

/* Irwin-Hall sum x mapped to a near-Gaussian of standard deviation noise_sigma * scale: that
 * times z*P(z^2) with z = x*IH_K, evaluated in x. */
static inline v4f ih_map4(v4i s, const struct noise *nz)
{
    v4f x = __builtin_convertvector(s, v4f);
    v4f x2 = x * x;
    return x * (nz->p1 + x2 * (nz->p3 + x2 * (nz->p5 + x2 * nz->p7)));
}

/* Noise of samples g .. g+3: the real part is ih_map4 of ih_sum4(a), the imaginary part that of
 * b, for the words a and b of the counter.  gauss_add_avx2 computes the same. */
static inline void gauss4(uint32_t g, const struct noise *nz, v4f *re, v4f *im)
{
    const v4u lane = {0, 1, 2, 3};
    v4u a, b;
    words4(g + lane, nz->key0, nz->key1, &a, &b);
    *re = ih_map4(ih_sum4(a), nz);
    *im = ih_map4(ih_sum4(b), nz);
}

/* ------------------------------------------------------- portable kernels -- */

/* The runs of chips_portable: `stores` vector stores of four per run (enough for runs of up to
 * 4 * stores samples), or for 0 as many as the run needs, the last run cut at n. */
static inline __attribute__((always_inline)) void
chip_runs(float *chip, size_t n, const int8_t *chips, uint32_t frac, uint32_t step, uint32_t q,
          uint32_t short_run, uint32_t d0, const v4f *sign_of, int stores)
{
    size_t j = 0, d = d0;
    uint64_t acc = frac + (uint64_t)d0 * step; /* the phase at the end of the current run */
    uint64_t end = FIX_ONE;                    /* where the current chip ends */
    for (;;) {
        const v4f v = sign_of[(uint8_t)*chips >> 7];
        if (stores == 0) {
            size_t e = j + d < n ? j + d : n;
            for (size_t t = j; t < e; t += 4)
                store4(chip + t, v);
        } else {
            for (int u = 0; u < stores; u++)
                store4(chip + j + 4 * u, v);
        }
        j += d;
        if (j >= n)
            return;
        chips++;
        end += FIX_ONE;
        /* The next run starts at acc, in [end - FIX_ONE, end - FIX_ONE + step). */
        uint64_t a = acc + short_run;
        uint32_t longer = a < end;
        d = q - 1 + longer;
        acc = longer ? a + step : a;
    }
}

/* chip[j] = +/-amp by the sign of chips[(frac + j*step) >> FIX_BITS], for j < n; writes up to 7
 * entries past n (the work space has room for them, and a later segment overwrites them). */
static void chips_portable(float *chip, size_t n, const int8_t *chips, uint32_t frac, uint32_t step,
                           float amp)
{
    /* Inside a segment the index never passes n_chips (a pad entry), so no clamp. */
    if (step > 0 && step < FIX_ONE) {
        /* Below a chip per sample every chip lasts a whole run of samples: one vector store per
         * four of them instead of a lookup per sample.  A run that starts at phase acc (in
         * [k, k + step) for chip k, in fixed point) ends at the first sample past (k+1) << FIX_BITS:
         * after q or q - 1 samples, q = ceil(FIX_ONE / step).  Only the first run, which may start
         * anywhere in its chip, needs a division. */
        const v4f sign_of[2] = {{amp, amp, amp, amp}, {-amp, -amp, -amp, -amp}};
        const uint32_t q = (FIX_ONE + step - 1) / step;
        const uint32_t short_run = (q - 1) * step;
        const uint32_t d0 = (FIX_ONE - frac + step - 1) / step;
        if (q <= 4)
            chip_runs(chip, n, chips, frac, step, q, short_run, d0, sign_of, 1);
        else if (q <= 8)
            chip_runs(chip, n, chips, frac, step, q, short_run, d0, sign_of, 2);
        else
            chip_runs(chip, n, chips, frac, step, q, short_run, d0, sign_of, 0);
        return;
    }
    uint32_t amp_bits;
    memcpy(&amp_bits, &amp, 4);
    uint32_t acc = frac;
    for (size_t j = 0; j < n; j++) {
        uint32_t v = amp_bits ^ ((uint32_t)(int32_t)chips[acc >> FIX_BITS] & 0x80000000u);
        memcpy(chip + j, &v, 4);
        acc += step;
    }
}

/* Lane k of the rotator holds exp(j*2*pi*(theta0 + k*dphi)) for k < 32; w turns it
 * by 32 samples.  Four independent chains of eight hide the multiply latency. */
struct rotator {
    float re[32], im[32];
    float w_re, w_im;     /* turn by 32 samples */
    float w16_re, w16_im; /* turn by 16 samples */
    float w8_re, w8_im;   /* turn by 8 samples */
};

/* sin and cos of 2*pi*x (x in cycles) with the sin(pi*y) polynomial in double: error
 * below 4e-9, ample for the float rotator it seeds. */
static void sincos_cycles(double x, double *c, double *s)
{
    double t = x - floor(x);
    double u = t < 0.5 ? 2.0 * t : 2.0 * t - 2.0; /* angle pi*u, u in [-1, 1) */
    double au = fabs(u);
    double ys = au > 0.5 ? copysign(1.0, u) - u : u;
    double yc = 0.5 - au;
    double zs = ys * ys, zc = yc * yc;
    *s = ys * (SINPI_D1 + zs * (SINPI_D3 + zs * (SINPI_D5 + zs * (SINPI_D7 + zs * SINPI_D9))));
    *c = yc * (SINPI_D1 + zc * (SINPI_D3 + zc * (SINPI_D5 + zc * (SINPI_D7 + zc * SINPI_D9))));
}

/* What a channel's sub-blocks take from its carrier's turn per sample dphi: w^k for k < 8 (double)
 * and the float turns by 8, 16 and 32 samples; and from its code rate: the code step per sample,
 * in double and fixed point, and the longest segment.  Functions of dphi and of the code rate
 * alone, so one computed at an update serves every sub-block until the next (lr_siggen_generate
 * keeps one per channel while it runs). */
struct channel_cache {
    int valid, code_valid;
    double dphi;
    double wk_re[8], wk_im[8];
    float w8_re, w8_im, w16_re, w16_im, w32_re, w32_im;
    double code_rate_cps, step;
    uint32_t step_fx;
    size_t span;
};

static void cache_turn(struct channel_cache *w, double dphi)
{
    double c1, s1;
    sincos_cycles(dphi, &c1, &s1);
    double c = 1.0, s = 0.0;
    for (int k = 0; k < 8; k++) {
        w->wk_re[k] = c;
        w->wk_im[k] = s;
        double t = c * c1 - s * s1;
        s = s * c1 + c * s1;
        c = t;
    }
    /* w^8, w^16 and w^32 by squaring. */
    double wc = c1, ws = s1;
    for (int k = 0; k < 5; k++) {
        double t = wc * wc - ws * ws;
        ws = 2.0 * wc * ws;
        wc = t;
        if (k == 2) {
            w->w8_re = (float)wc;
            w->w8_im = (float)ws;
        } else if (k == 3) {
            w->w16_re = (float)wc;
            w->w16_im = (float)ws;
        }
    }
    w->w32_re = (float)wc;
    w->w32_im = (float)ws;
    w->dphi = dphi;
    w->valid = 1;
}

/* The rotator of a carrier at phase theta0 (cycles) turning dphi per sample, with w the channel's
 * cache (its turn): lanes 0..7 from theta0 and w^k in double.  Lanes 8..31 are for the kernels that
 * run more than one chain per carrier: rotators_widen adds them. */
static void rotator_setup(struct rotator *r, double theta0, double dphi, struct channel_cache *w)
{
    if (!w->valid || w->dphi != dphi)
        cache_turn(w, dphi);
    double c0, s0;
    sincos_cycles(theta0, &c0, &s0);
    for (int k = 0; k < 8; k++) {
        r->re[k] = (float)(c0 * w->wk_re[k] - s0 * w->wk_im[k]);
        r->im[k] = (float)(s0 * w->wk_re[k] + c0 * w->wk_im[k]);
    }
    r->w8_re = w->w8_re;
    r->w8_im = w->w8_im;
    r->w16_re = w->w16_re;
    r->w16_im = w->w16_im;
    r->w_re = w->w32_re;
    r->w_im = w->w32_im;
}

/* Lanes 8..31 of K rotators, from lanes 0..7 turned by 8 samples in float. */
static void rotators_widen(struct rotator *r, int K)
{
    for (int i = 0; i < K; i++) {
        const float w8r = r[i].w8_re, w8i = r[i].w8_im;
        for (int k = 8; k < 32; k++) {
            r[i].re[k] = r[i].re[k - 8] * w8r - r[i].im[k - 8] * w8i;
            r[i].im[k] = r[i].re[k - 8] * w8i + r[i].im[k - 8] * w8r;
        }
    }
}

/* acc += chip[k] * rotator k (times j for a Q component) for K carriers of one channel each, over n
 * samples, n a multiple of 32.  Each channel is eight chains of four lanes turned by 32 samples
 * (few turns, so little float error).  The loop runs chain by chain, so that one chain of every
 * channel stays in registers and the accumulators are loaded and stored once for all K channels;
 * per sample the channels are still added in order, so the sums do not depend on K. */
static inline __attribute__((always_inline)) void
accumulate_portable(struct subblock *b, size_t n, const struct rotator *r, const int *q, int K)
{
    for (int u = 0; u < 8; u++) {
        v4f xr[CARRIERS], xi[CARRIERS];
        float wr[CARRIERS], wi[CARRIERS];
        for (int k = 0; k < K; k++) {
            /* A Q channel adds c * (-im, re): keep that pair as its chain, which the same turn
             * advances, rounding for rounding (negation is exact). */
            v4f cr = load4(r[k].re + 4 * u), ci = load4(r[k].im + 4 * u);
            xr[k] = q[k] ? -ci : cr;
            xi[k] = q[k] ? cr : ci;
            wr[k] = r[k].w_re;
            wi[k] = r[k].w_im;
        }
        for (size_t i = 4 * (size_t)u; i < n; i += 32) {
            v4f re = load4(b->acc_re + i), im = load4(b->acc_im + i);
            for (int k = 0; k < K; k++) {
                v4f c = load4(b->chip[k] + i);
                re = re + c * xr[k];
                im = im + c * xi[k];
                v4f t = xr[k] * wr[k] - xi[k] * wi[k];
                xi[k] = xr[k] * wi[k] + xi[k] * wr[k];
                xr[k] = t;
            }
            store4(b->acc_re + i, re);
            store4(b->acc_im + i, im);
        }
    }
}

/* The same for K carriers shared by nch[k] (1 or 2) channels each, whose chips are in consecutive
 * slots of b->chip from 0 (q[slot]: a Q component).  A carrier keeps one chain (cr, ci); its Q
 * channel adds c * (-ci, cr), exactly what a chain of its own started at (-ci, cr) would give,
 * since without contraction the turn maps (-ci, cr) to (-ci', cr') rounding for rounding: the sums
 * are those of accumulate_portable with a rotator per channel. */
static inline __attribute__((always_inline)) void
accumulate_portable_shared(struct subblock *b, size_t n, const struct rotator *r, const int *nch, const int *q,
                           int K)
{
    for (int u = 0; u < 8; u++) {
        v4f cr[CARRIERS], ci[CARRIERS];
        float wr[CARRIERS], wi[CARRIERS];
        for (int k = 0; k < K; k++) {
            cr[k] = load4(r[k].re + 4 * u);
            ci[k] = load4(r[k].im + 4 * u);
            wr[k] = r[k].w_re;
            wi[k] = r[k].w_im;
        }
        for (size_t i = 4 * (size_t)u; i < n; i += 32) {
            v4f re = load4(b->acc_re + i), im = load4(b->acc_im + i);
            int slot = 0;
#pragma GCC unroll 4
            for (int k = 0; k < K; k++) {
#pragma GCC unroll 2
                for (int m = 0; m < nch[k]; m++, slot++) {
                    v4f c = load4(b->chip[slot] + i);
                    if (q[slot]) {
                        re = re - c * ci[k];
                        im = im + c * cr[k];
                    } else {
                        re = re + c * cr[k];
                        im = im + c * ci[k];
                    }
                }
                v4f t = cr[k] * wr[k] - ci[k] * wi[k];
                ci[k] = cr[k] * wi[k] + ci[k] * wr[k];
                cr[k] = t;
            }
            store4(b->acc_re + i, re);
            store4(b->acc_im + i, im);
        }
    }
}

/* The portable pass: one rotator per channel, AFS nodes (each an I then a Q channel on one carrier),
 * or any mix, each compiled for the number of carriers. */
static void accumulate_portable_carriers(struct subblock *b, size_t n, const struct rotator *r, const int *nch,
                                         const int *q, int K)
{
    static const int iq_nch[CARRIERS] = {2, 2, 2, 2}, iq_q[SLOTS] = {0, 1, 0, 1, 0, 1, 0, 1};
    int singles = 1, iq = 1;
    for (int k = 0; k < K; k++) {
        singles &= nch[k] == 1;
        iq &= nch[k] == 2;
    }
    for (int k = 0; iq && k < K; k++)
        iq = !q[2 * k] && q[2 * k + 1];
#define LR_BY_K(call4, call3, call2, call1) \
    do {                                    \
        if (K == 4)                         \
            call4;                          \
        else if (K == 3)                    \
            call3;                          \
        else if (K == 2)                    \
            call2;                          \
        else if (K == 1)                    \
            call1;                          \
    } while (0)
    if (singles)
        LR_BY_K(accumulate_portable(b, n, r, q, 4), accumulate_portable(b, n, r, q, 3),
                accumulate_portable(b, n, r, q, 2), accumulate_portable(b, n, r, q, 1));
    else if (iq)
        LR_BY_K(accumulate_portable_shared(b, n, r, iq_nch, iq_q, 4),
                accumulate_portable_shared(b, n, r, iq_nch, iq_q, 3),
                accumulate_portable_shared(b, n, r, iq_nch, iq_q, 2),
                accumulate_portable_shared(b, n, r, iq_nch, iq_q, 1));
    else
        LR_BY_K(accumulate_portable_shared(b, n, r, nch, q, 4), accumulate_portable_shared(b, n, r, nch, q, 3),
                accumulate_portable_shared(b, n, r, nch, q, 2), accumulate_portable_shared(b, n, r, nch, q, 1));
#undef LR_BY_K
}

/* ----------------------------------------------------------- AVX2 kernels -- */
#if LR_HAVE_X86_DISPATCH
/* Four chips read as one word from any address (a broadcast load). */
typedef uint32_t word_unaligned __attribute__((aligned(1), may_alias));

/* chips_avx2 below one chip per sample, `groups` groups of eight samples per load (see there).
 * Each load's phases are taken relative to its first chip i0 from the scalar phase of its first
 * sample (minus i0 << FIX_BITS, which cannot borrow: i0 is at most that sample's chip), so a lane's
 * chip is its relative phase's integer part and no vector value runs from one load to the next. */
LR_TARGET_AVX2 static inline __attribute__((always_inline)) void
chip_loads_avx2(float *chip, size_t n, const int8_t *chips, uint32_t frac, uint32_t step, float amp,
                uint32_t max_index, int groups)
{
    const __m256 vamp = _mm256_set1_ps(amp), vnamp = _mm256_set1_ps(-amp);
    const __m256i lane_phase = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                  _mm256_set1_epi32((int)step));
    __m256i group_phase[4];
    for (int u = 0; u < groups; u++)
        group_phase[u] = _mm256_add_epi32(lane_phase, _mm256_set1_epi32((int)(step * 8u * (uint32_t)u)));
    const uint64_t advance = (uint64_t)step * 8u * (uint64_t)groups;
    /* Lane k takes byte k % 4 of the word of chips i0 + 4*(k/4): its sign bit, shifted to bit 31.
     * (Broadcast loads and shifts instead of a byte-to-word extension keep the shuffle port free
     * for the permutes.) */
    const __m256i to_sign = _mm256_setr_epi32(24, 16, 8, 0, 24, 16, 8, 0);
    uint64_t acc0 = frac; /* 64 bits: a segment below a chip per sample may run a whole sub-block */
    for (size_t j = 0; j < n; j += 8 * (size_t)groups, acc0 += advance) {
        uint32_t i0 = acc0 >> FIX_BITS > max_index ? max_index : (uint32_t)(acc0 >> FIX_BITS);
        __m256i lo = _mm256_set1_epi32((int)*(const word_unaligned *)(const void *)(chips + i0));
        __m256i hi = _mm256_set1_epi32((int)*(const word_unaligned *)(const void *)(chips + i0 + 4));
        __m256i c8 = _mm256_sllv_epi32(_mm256_blend_epi32(lo, hi, 0xF0), to_sign);
        __m256 v8 = _mm256_blendv_ps(vamp, vnamp, _mm256_castsi256_ps(c8));
        __m256i rel0 = _mm256_set1_epi32((int)(uint32_t)(acc0 - ((uint64_t)i0 << FIX_BITS)));
        for (int u = 0; u < groups; u++) {
            __m256i idx = _mm256_srli_epi32(_mm256_add_epi32(rel0, group_phase[u]), FIX_BITS);
            _mm256_storeu_ps(chip + j + 8 * (size_t)u, _mm256_permutevar8x32_ps(v8, idx));
        }
    }
}

LR_TARGET_AVX2 static void chips_avx2(float *chip, size_t n, const int8_t *chips, uint32_t frac,
                                      uint32_t step, float amp, uint32_t max_index)
{
    if (step < FIX_ONE) {
        /* Eight samples span at most eight chips: one 8-byte load, turned into the eight chips'
         * +/-amp once, and a lane permute replace the gather.  At slower chip rates one load
         * serves `groups` groups of eight samples: all 8*groups samples after the first then lie
         * within its eight chips, as 1 + (8*groups - 1)*step < 8 chips.  (Lanes past n may take
         * wrong chips; they are overwritten by the next segment or never used.) */
        int groups = 1;
        while (groups < 4 && (uint64_t)(8 * (groups + 1) - 1) * step <= (uint64_t)7 << FIX_BITS)
            groups++;
        switch (groups) {
        case 4:
            chip_loads_avx2(chip, n, chips, frac, step, amp, max_index, 4);
            break;
        case 3:
            chip_loads_avx2(chip, n, chips, frac, step, amp, max_index, 3);
            break;
        case 2:
            chip_loads_avx2(chip, n, chips, frac, step, amp, max_index, 2);
            break;
        default:
            chip_loads_avx2(chip, n, chips, frac, step, amp, max_index, 1);
            break;
        }
        return;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i vstep8 = _mm256_set1_epi32((int)(step * 8u));
    const __m256 vamp = _mm256_set1_ps(amp), vnamp = _mm256_set1_ps(-amp);
    __m256i acc = _mm256_add_epi32(_mm256_set1_epi32((int)frac),
                                   _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)step)));
    const __m256i vmax = _mm256_set1_epi32((int)max_index);
    for (size_t j = 0; j < n; j += 8) {
        __m256i idx = _mm256_min_epu32(_mm256_srli_epi32(acc, FIX_BITS), vmax);
        __m256i g = _mm256_i32gather_epi32((const int *)(const void *)chips, idx, 1);
        __m256i c = _mm256_slli_epi32(g, 24);
        _mm256_storeu_ps(chip + j, _mm256_blendv_ps(vamp, vnamp, _mm256_castsi256_ps(c)));
        acc = _mm256_add_epi32(acc, vstep8);
    }
}

LR_TARGET_AVX2 static void accumulate_avx2(struct subblock *b, const float *chip, size_t n,
                                          const struct rotator *r, int q)
{
    __m256 cr[4], ci[4];
    for (int u = 0; u < 4; u++) {
        cr[u] = _mm256_loadu_ps(r->re + 8 * u);
        ci[u] = _mm256_loadu_ps(r->im + 8 * u);
    }
    const __m256 wr = _mm256_set1_ps(r->w_re), wi = _mm256_set1_ps(r->w_im);
    /* A Q component is j times an I one: (re, im) += c * (-ci, cr). */
    const __m256 sign = _mm256_set1_ps(q ? -0.0f : 0.0f);
    for (size_t i = 0; i < n; i += 32) {
        for (int u = 0; u < 4; u++) {
            float *are = b->acc_re + i + 8 * u, *aim = b->acc_im + i + 8 * u;
            __m256 c = _mm256_loadu_ps(chip + i + 8 * u);
            __m256 xr = q ? _mm256_xor_ps(ci[u], sign) : cr[u];
            __m256 xi = q ? cr[u] : ci[u];
            _mm256_storeu_ps(are, _mm256_fmadd_ps(c, xr, _mm256_loadu_ps(are)));
            _mm256_storeu_ps(aim, _mm256_fmadd_ps(c, xi, _mm256_loadu_ps(aim)));
            __m256 t = _mm256_fmsub_ps(cr[u], wr, _mm256_mul_ps(ci[u], wi));
            ci[u] = _mm256_fmadd_ps(cr[u], wi, _mm256_mul_ps(ci[u], wr));
            cr[u] = t;
        }
    }
}

/* Two channels in one pass over the accumulators (one load and store of each for
 * both); two chains of eight lanes per channel. */
LR_TARGET_AVX2 static void accumulate2_avx2(struct subblock *b, size_t n, const float *chip_a,
                                           const struct rotator *ra, int qa, const float *chip_b,
                                           const struct rotator *rb, int qb)
{
    __m256 ar0 = _mm256_loadu_ps(ra->re), ai0 = _mm256_loadu_ps(ra->im);
    __m256 ar1 = _mm256_loadu_ps(ra->re + 8), ai1 = _mm256_loadu_ps(ra->im + 8);
    __m256 br0 = _mm256_loadu_ps(rb->re), bi0 = _mm256_loadu_ps(rb->im);
    __m256 br1 = _mm256_loadu_ps(rb->re + 8), bi1 = _mm256_loadu_ps(rb->im + 8);
    const __m256 awr = _mm256_set1_ps(ra->w16_re), awi = _mm256_set1_ps(ra->w16_im);
    const __m256 bwr = _mm256_set1_ps(rb->w16_re), bwi = _mm256_set1_ps(rb->w16_im);
    const __m256 sa = _mm256_set1_ps(qa ? -0.0f : 0.0f), sb = _mm256_set1_ps(qb ? -0.0f : 0.0f);
#define LR_ROT(cr, ci, wr, wi)                                                 \
    do {                                                                       \
        __m256 t_ = _mm256_fmsub_ps(cr, wr, _mm256_mul_ps(ci, wi));           \
        ci = _mm256_fmadd_ps(cr, wi, _mm256_mul_ps(ci, wr));                  \
        cr = t_;                                                               \
    } while (0)
    /* For a Q channel (re, im) += c * (-ci, cr): swap the roles and flip a sign. */
#define LR_ADD(acc_re, acc_im, c, cr, ci, q, sgn)                              \
    do {                                                                       \
        __m256 xr_ = q ? _mm256_xor_ps(ci, sgn) : cr;                          \
        __m256 xi_ = q ? cr : ci;                                              \
        acc_re = _mm256_fmadd_ps(c, xr_, acc_re);                              \
        acc_im = _mm256_fmadd_ps(c, xi_, acc_im);                              \
    } while (0)
    for (size_t i = 0; i < n; i += 16) {
        for (int u = 0; u < 2; u++) {
            float *pre = b->acc_re + i + 8 * u, *pim = b->acc_im + i + 8 * u;
            __m256 re = _mm256_loadu_ps(pre), im = _mm256_loadu_ps(pim);
            __m256 ca = _mm256_loadu_ps(chip_a + i + 8 * u), cb = _mm256_loadu_ps(chip_b + i + 8 * u);
            if (u == 0) {
                LR_ADD(re, im, ca, ar0, ai0, qa, sa);
                LR_ADD(re, im, cb, br0, bi0, qb, sb);
            } else {
                LR_ADD(re, im, ca, ar1, ai1, qa, sa);
                LR_ADD(re, im, cb, br1, bi1, qb, sb);
            }
            _mm256_storeu_ps(pre, re);
            _mm256_storeu_ps(pim, im);
        }
        LR_ROT(ar0, ai0, awr, awi);
        LR_ROT(ar1, ai1, awr, awi);
        LR_ROT(br0, bi0, bwr, bwi);
        LR_ROT(br1, bi1, bwr, bwi);
    }
#undef LR_ROT
#undef LR_ADD
}

/* Four channels in one pass over the accumulators, one chain of eight lanes per channel turned
 * by eight samples at a time: half the accumulator traffic of two pairs. */
LR_TARGET_AVX2 static void accumulate4_avx2(struct subblock *b, size_t n, const struct rotator *r,
                                           const int *q)
{
    __m256 cr[4], ci[4], wr[4], wi[4], sg[4];
    for (int k = 0; k < 4; k++) {
        cr[k] = _mm256_loadu_ps(r[k].re);
        ci[k] = _mm256_loadu_ps(r[k].im);
        wr[k] = _mm256_set1_ps(r[k].w8_re);
        wi[k] = _mm256_set1_ps(r[k].w8_im);
        sg[k] = _mm256_set1_ps(q[k] ? -0.0f : 0.0f);
    }
    for (size_t i = 0; i < n; i += 8) {
        __m256 re = _mm256_loadu_ps(b->acc_re + i), im = _mm256_loadu_ps(b->acc_im + i);
        for (int k = 0; k < 4; k++) {
            /* For a Q channel (re, im) += c * (-ci, cr). */
            __m256 c = _mm256_loadu_ps(b->chip[k] + i);
            __m256 xr = q[k] ? _mm256_xor_ps(ci[k], sg[k]) : cr[k];
            __m256 xi = q[k] ? cr[k] : ci[k];
            re = _mm256_fmadd_ps(c, xr, re);
            im = _mm256_fmadd_ps(c, xi, im);
            __m256 t = _mm256_fmsub_ps(cr[k], wr[k], _mm256_mul_ps(ci[k], wi[k]));
            ci[k] = _mm256_fmadd_ps(cr[k], wi[k], _mm256_mul_ps(ci[k], wr[k]));
            cr[k] = t;
        }
        _mm256_storeu_ps(b->acc_re + i, re);
        _mm256_storeu_ps(b->acc_im + i, im);
    }
}

/* The channels of K carriers in one pass over the accumulators, carrier k shared by nch[k] (1 or
 * 2) channels in consecutive chip slots (see accumulate_portable): one chain of eight lanes per
 * carrier turned by eight samples, as accumulate4_avx2 turns one per channel, and the channels
 * added in order, so the sums are those of a rotator per channel.  For a Q channel
 * re - c*ci is re + c*(-ci) rounding for rounding. */
LR_TARGET_AVX2 static inline __attribute__((always_inline)) void
accumulate_carriers_avx2(struct subblock *b, size_t n, const struct rotator *r, const int *nch, const int *q,
                         int K)
{
    __m256 cr[CARRIERS], ci[CARRIERS], wr[CARRIERS], wi[CARRIERS];
#pragma GCC unroll 4
    for (int k = 0; k < K; k++) {
        cr[k] = _mm256_loadu_ps(r[k].re);
        ci[k] = _mm256_loadu_ps(r[k].im);
        wr[k] = _mm256_set1_ps(r[k].w8_re);
        wi[k] = _mm256_set1_ps(r[k].w8_im);
    }
    for (size_t i = 0; i < n; i += 8) {
        __m256 re = _mm256_loadu_ps(b->acc_re + i), im = _mm256_loadu_ps(b->acc_im + i);
        int slot = 0;
#pragma GCC unroll 4
        for (int k = 0; k < K; k++) {
#pragma GCC unroll 2
            for (int m = 0; m < nch[k]; m++, slot++) {
                __m256 c = _mm256_loadu_ps(b->chip[slot] + i);
                if (q[slot]) {
                    re = _mm256_fnmadd_ps(c, ci[k], re);
                    im = _mm256_fmadd_ps(c, cr[k], im);
                } else {
                    re = _mm256_fmadd_ps(c, cr[k], re);
                    im = _mm256_fmadd_ps(c, ci[k], im);
                }
            }
            __m256 t = _mm256_fmsub_ps(cr[k], wr[k], _mm256_mul_ps(ci[k], wi[k]));
            ci[k] = _mm256_fmadd_ps(cr[k], wi[k], _mm256_mul_ps(ci[k], wr[k]));
            cr[k] = t;
        }
        _mm256_storeu_ps(b->acc_re + i, re);
        _mm256_storeu_ps(b->acc_im + i, im);
    }
}

/* accumulate_carriers_avx2 compiled for each K, and once more for the common pass of four AFS
 * nodes (four carriers, each an I channel followed by a Q channel). */
LR_TARGET_AVX2 static void accumulate_carriers_dispatch_avx2(struct subblock *b, size_t n, const struct rotator *r,
                                                            const int *nch, const int *q, int K)
{
    static const int iq_nch[CARRIERS] = {2, 2, 2, 2}, iq_q[SLOTS] = {0, 1, 0, 1, 0, 1, 0, 1};
    if (K == 4 && !memcmp(nch, iq_nch, sizeof iq_nch) && !memcmp(q, iq_q, sizeof iq_q)) {
        accumulate_carriers_avx2(b, n, r, iq_nch, iq_q, 4);
        return;
    }
    switch (K) {
    case 4:
        accumulate_carriers_avx2(b, n, r, nch, q, 4);
        break;
    case 3:
        accumulate_carriers_avx2(b, n, r, nch, q, 3);
        break;
    case 2:
        accumulate_carriers_avx2(b, n, r, nch, q, 2);
        break;
    case 1:
        accumulate_carriers_avx2(b, n, r, nch, q, 1);
        break;
    default:
        break;
    }
}

/* acc + ih_map4(ih_sum4(x)). */
LR_TARGET_AVX2 static inline __m256 ih_avx2(__m256i x, __m256 acc, const __m256 *p)
{
    const __m256i m = _mm256_set1_epi32(0x7FF);
    __m256i s = _mm256_add_epi32(_mm256_and_si256(x, m), _mm256_and_si256(_mm256_srli_epi32(x, 11), m));
    s = _mm256_add_epi32(s, _mm256_and_si256(_mm256_srli_epi32(x, 21), _mm256_set1_epi32(0x7FE)));
    __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(s, _mm256_set1_epi32(3070)));
    __m256 v2 = _mm256_mul_ps(v, v);
    __m256 q = _mm256_fmadd_ps(v2, _mm256_fmadd_ps(v2, _mm256_fmadd_ps(v2, p[3], p[2]), p[1]), p[0]);
    return _mm256_fmadd_ps(v, q, acc);
}

/* The same draws as gauss4 for samples g .. g+7, added to *re and *im. */
LR_TARGET_AVX2 static inline void gauss_add_avx2(__m256i g, __m256i key0, __m256i key1, const __m256 *p,
                                                 __m256 *re, __m256 *im)
{
    /* words4, eight lanes */
    __m256i a = _mm256_mullo_epi32(_mm256_xor_si256(g, key0), _mm256_set1_epi32(0x21F0AAAD));
    a = _mm256_xor_si256(a, _mm256_srli_epi32(a, 15));
    a = _mm256_mullo_epi32(a, _mm256_set1_epi32(0x735A2D97));
    a = _mm256_xor_si256(a, _mm256_srli_epi32(a, 15));
    __m256i b = _mm256_xor_si256(_mm256_xor_si256(a, _mm256_srli_epi32(a, 16)), key1);
    b = _mm256_mullo_epi32(b, _mm256_set1_epi32(0x2C1B3C6D));
    b = _mm256_xor_si256(b, _mm256_srli_epi32(b, 13));
    *re = ih_avx2(a, *re, p);
    *im = ih_avx2(b, *im, p);
}

/* Scale, add noise, clip and store samples [0, n) of the sub-block at out[pos..], in one pass.
 * Whole vectors only; the caller finishes the tail with the portable code.  Compiled once per
 * format and noise (finish_avx2 chooses), so that the loop holds no test of either. */
LR_TARGET_AVX2 static inline __attribute__((always_inline)) size_t
finish_avx2_as(const struct lr_siggen *s, struct subblock *b, size_t n, uint64_t g0, const struct noise *nz,
               int format, int noisy, void *out, size_t pos, uint64_t *clipped)
{
    const __m256 vscale = _mm256_set1_ps((float)s->scale);
    const __m256i key0 = _mm256_set1_epi32((int)nz->key0), key1 = _mm256_set1_epi32((int)nz->key1);
    const __m256 p[4] = {_mm256_set1_ps(nz->p1), _mm256_set1_ps(nz->p3), _mm256_set1_ps(nz->p5),
                         _mm256_set1_ps(nz->p7)};
    const float lim = format == LR_SIGGEN_CI16 ? 32767.0f : 127.0f;
    const __m256 vlim = _mm256_set1_ps(lim), vnlim = _mm256_set1_ps(-lim);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256i g = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)g0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i eight = _mm256_set1_epi32(8);
    uint64_t clip = 0;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8, g = _mm256_add_epi32(g, eight)) {
        __m256 re = _mm256_mul_ps(_mm256_loadu_ps(b->acc_re + i), vscale);
        __m256 im = _mm256_mul_ps(_mm256_loadu_ps(b->acc_im + i), vscale);
        if (noisy)
            gauss_add_avx2(g, key0, key1, p, &re, &im);
        __m256 lo = _mm256_unpacklo_ps(re, im); /* r0 i0 r1 i1 | r4 i4 r5 i5 */
        __m256 hi = _mm256_unpackhi_ps(re, im); /* r2 i2 r3 i3 | r6 i6 r7 i7 */
        if (format == LR_SIGGEN_CF32) {
            float *o = (float *)out + 2 * (pos + i);
            _mm256_storeu_ps(o, _mm256_permute2f128_ps(lo, hi, 0x20));
            _mm256_storeu_ps(o + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
            continue;
        }
        int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(lo, abs_mask), vlim, _CMP_GT_OQ)) |
                (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(hi, abs_mask), vlim, _CMP_GT_OQ)) << 8);
        clip += (uint64_t)__builtin_popcount((unsigned)m);
        __m256i ilo = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(lo, vlim), vnlim));
        __m256i ihi = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(hi, vlim), vnlim));
        __m256i p16 = _mm256_packs_epi32(ilo, ihi); /* r0 i0 .. r3 i3 | r4 i4 .. r7 i7 */
        if (format == LR_SIGGEN_CI16) {
            _mm256_storeu_si256((__m256i *)(void *)((int16_t *)out + 2 * (pos + i)), p16);
        } else {
            __m256i p8 = _mm256_packs_epi16(p16, p16);
            p8 = _mm256_permute4x64_epi64(p8, 0x08);
            _mm_storeu_si128((__m128i *)(void *)((int8_t *)out + 2 * (pos + i)), _mm256_castsi256_si128(p8));
        }
    }
    *clipped += clip;
    return i;
}

LR_TARGET_AVX2 static size_t finish_avx2(const struct lr_siggen *s, struct subblock *b, size_t n, uint64_t g0,
                                         const struct noise *nz, int format, void *out, size_t pos,
                                         uint64_t *clipped)
{
    const int noisy = s->noise_sigma != 0.0;
    switch (format * 2 + noisy) {
    case LR_SIGGEN_CF32 * 2:
        return finish_avx2_as(s, b, n, g0, nz, LR_SIGGEN_CF32, 0, out, pos, clipped);
    case LR_SIGGEN_CF32 * 2 + 1:
        return finish_avx2_as(s, b, n, g0, nz, LR_SIGGEN_CF32, 1, out, pos, clipped);
    case LR_SIGGEN_CI16 * 2:
        return finish_avx2_as(s, b, n, g0, nz, LR_SIGGEN_CI16, 0, out, pos, clipped);
    case LR_SIGGEN_CI16 * 2 + 1:
        return finish_avx2_as(s, b, n, g0, nz, LR_SIGGEN_CI16, 1, out, pos, clipped);
    case LR_SIGGEN_CI8 * 2:
        return finish_avx2_as(s, b, n, g0, nz, LR_SIGGEN_CI8, 0, out, pos, clipped);
    default:
        return finish_avx2_as(s, b, n, g0, nz, LR_SIGGEN_CI8, 1, out, pos, clipped);
    }
}
#endif

/* finish_portable's one pass over whole vectors of samples [from, n) in the integer formats, doing
 * what the rest of it does sample by sample; returns where it stopped.  Everything the loop needs
 * is copied to locals first: the output stores could alias the state. */
static inline __attribute__((always_inline)) size_t
finish_int_portable(const struct lr_siggen *s, struct subblock *b, size_t from, size_t n, uint64_t g0,
                    const struct noise *nz, int format, int noisy, void *out, size_t pos, uint64_t *clipped)
{
    const float scale = (float)s->scale;
    const float lim = format == LR_SIGGEN_CI16 ? 32767.0f : 127.0f;
    const v4f vlim = {lim, lim, lim, lim};
    const v4f round_magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f};
    const v4u abs_mask = {0x7FFFFFFFu, 0x7FFFFFFFu, 0x7FFFFFFFu, 0x7FFFFFFFu};
    const struct noise z = *nz;
    const v4u lane = {0, 1, 2, 3};
    v4u g = (uint32_t)(g0 + from) + lane;
    /* For a counter g + lane with g a multiple of 4, (g + lane) ^ key0 is the sum of g ^ (key0 & ~3)
     * and lane ^ (key0 & 3), so the first product of words4 is a scalar product plus a constant. */
    const int aligned = ((g0 + from) & 3) == 0;
    const v4u lane_product = (lane ^ (z.key0 & 3u)) * MIX_M1;
    v4i clip = {0, 0, 0, 0};
    size_t i;
    for (i = from; i + 4 <= n; i += 4, g += 4) {
        v4f c[2] = {load4(b->acc_re + i) * scale, load4(b->acc_im + i) * scale};
        if (noisy) {
            v4u w[2];
            if (aligned)
                words4_from(((uint32_t)(g0 + i) ^ (z.key0 & ~3u)) * MIX_M1 + lane_product, z.key1, &w[0],
                            &w[1]);
            else
                words4(g, z.key0, z.key1, &w[0], &w[1]);
            c[0] = c[0] + ih_map4(ih_sum4(w[0]), &z);
            c[1] = c[1] + ih_map4(ih_sum4(w[1]), &z);
        }
        v4u bits[2];
        for (int k = 0; k < 2; k++) {
            /* Beyond the limit: the limit with the sign, counted; NaN: 0; else rounded (within
             * +/-2^22 the low bits of x + 1.5 * 2^23 are x rounded to an integer). */
            v4u x = (v4u)c[k];
            v4i over = (v4f)(x & abs_mask) > vlim;
            clip -= over;
            v4u limited = (x & ~abs_mask) | (v4u)vlim;
            v4u kept = x & (v4u)(c[k] == c[k]) & (v4u)~over;
            bits[k] = (v4u)((v4f)((limited & (v4u)over) | kept) + round_magic);
        }
        if (format == LR_SIGGEN_CI16) {
            v4u w = (bits[0] & 0xFFFFu) | (bits[1] << 16);
            memcpy((int16_t *)out + 2 * (pos + i), &w, sizeof w);
        } else {
            v4h w = __builtin_convertvector((bits[0] & 0xFFu) | ((bits[1] & 0xFFu) << 8), v4h);
            memcpy((int8_t *)out + 2 * (pos + i), &w, sizeof w);
        }
    }
    *clipped += (uint64_t)(uint32_t)(clip[0] + clip[1] + clip[2] + clip[3]);
    return i;
}

/* Portable finish of samples [from, n) of the sub-block (from a multiple of 4); see
 * finish_avx2.  Rounding is to nearest even, as the AVX2 conversion does. */
static void finish_portable(const struct lr_siggen *s, struct subblock *b, size_t from, size_t n,
                            uint64_t g0, const struct noise *nz, int format, void *out, size_t pos,
                            uint64_t *clipped)
{
    const int noisy = s->noise_sigma != 0.0;
    if (format == LR_SIGGEN_CI16 && noisy)
        from = finish_int_portable(s, b, from, n, g0, nz, LR_SIGGEN_CI16, 1, out, pos, clipped);
    else if (format == LR_SIGGEN_CI16)
        from = finish_int_portable(s, b, from, n, g0, nz, LR_SIGGEN_CI16, 0, out, pos, clipped);
    else if (format == LR_SIGGEN_CI8)
        from = finish_int_portable(s, b, from, n, g0, nz, LR_SIGGEN_CI8, noisy, out, pos, clipped);
    const float scale = (float)s->scale;
    float *re = b->acc_re, *im = b->acc_im;
    if (s->noise_sigma != 0.0) {
        for (size_t i = from; i < n; i += 4) {
            v4f nr, ni;
            gauss4((uint32_t)(g0 + i), nz, &nr, &ni);
            store4(re + i, load4(re + i) * scale + nr);
            store4(im + i, load4(im + i) * scale + ni);
        }
    } else {
        for (size_t i = from; i < n; i++) {
            re[i] *= scale;
            im[i] *= scale;
        }
    }
    if (format == LR_SIGGEN_CF32) {
        float *o = (float *)out + 2 * pos;
        for (size_t i = from; i < n; i++) {
            o[2 * i] = re[i];
            o[2 * i + 1] = im[i];
        }
        return;
    }
    const float lim = format == LR_SIGGEN_CI16 ? 32767.0f : 127.0f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    uint32_t clip = 0;
    for (size_t i = from; i < n; i++) {
        float r = re[i], q = im[i];
        clip += (uint32_t)(r > lim) + (uint32_t)(r < -lim) + (uint32_t)(q > lim) + (uint32_t)(q < -lim);
        /* A NaN (a scale or amplitude that overflows float, inf - inf) would make the
         * integer conversion below undefined (C11 6.3.1.4): it becomes 0. */
        r = r == r ? r : 0.0f;
        q = q == q ? q : 0.0f;
        r = r > lim ? lim : r;
        r = r < -lim ? -lim : r;
        q = q > lim ? lim : q;
        q = q < -lim ? -lim : q;
        re[i] = (r + round_magic) - round_magic;
        im[i] = (q + round_magic) - round_magic;
    }
    if (format == LR_SIGGEN_CI16) {
        int16_t *o = (int16_t *)out + 2 * pos;
        for (size_t i = from; i < n; i++) {
            o[2 * i] = (int16_t)re[i];
            o[2 * i + 1] = (int16_t)im[i];
        }
    } else {
        int8_t *o = (int8_t *)out + 2 * pos;
        for (size_t i = from; i < n; i++) {
            o[2 * i] = (int8_t)re[i];
            o[2 * i + 1] = (int8_t)im[i];
        }
    }
    *clipped += clip;
}

/* ------------------------------------------------------------- channels -- */

static int channel_valid(const struct lr_siggen *s, const struct lr_siggen_channel *c)
{
    if (!c->enabled)
        return 1;
    if (c->chips == NULL || c->n_chips == 0 || c->n_table < (uint64_t)c->n_chips + LR_SIGGEN_CHIP_PAD)
        return 0;
    if (c->n_signs != 0 && (c->epoch_signs == NULL || c->sign_index >= c->n_signs))
        return 0;
    if (c->component != LR_SIGGEN_I && c->component != LR_SIGGEN_Q)
        return 0;
    if (!(c->code_phase_chips >= 0.0 && c->code_phase_chips < (double)c->n_chips))
        return 0;
    double step = c->code_rate_cps / s->fs_hz;
    if (!(step >= 0.0 && step < 32.0))
        return 0;
    if (!isfinite(c->carrier_phase_cycles) || !isfinite(c->doppler_hz) || !isfinite(c->doppler_rate_hz_s) ||
        !isfinite(c->amplitude))
        return 0;
    return 1;
}

/* Write channel c's chips for n samples into chip, set up its carrier rotator (unless r is NULL:
 * the channel shares the previous channel's) and advance its state; the caller then accumulates
 * chip times rotator. */
static void channel_prepare(const struct lr_siggen *s, struct lr_siggen_channel *c, float *chip, size_t n,
                            int avx2, struct rotator *r, struct channel_cache *cache)
{
    const double fs = s->fs_hz;
    if (!cache->code_valid || cache->code_rate_cps != c->code_rate_cps) {
        const double step = c->code_rate_cps / fs;
        cache->step = step;
        cache->step_fx = (uint32_t)llround(step * (double)FIX_ONE);
        if (cache->step_fx < FIX_ONE) {
            /* Below a chip per sample both paths keep the phase in 64 bits: a whole sub-block. */
            cache->span = SB;
        } else {
            /* Longest segment whose fixed-point code phase (plus 8 samples of run-out) stays below
             * 2^32 in the per-sample lookups. */
            size_t span = step > 250.0 / SB ? (size_t)(250.0 / step) : SB; /* n <= SB; and no cast of an
                                                                               * infinite 250 / step (C11 6.3.1.4) */
            cache->span = span > 8 ? span - 8 : 1;
        }
        cache->code_rate_cps = c->code_rate_cps;
        cache->code_valid = 1;
    }
    const double step = cache->step;
    const uint32_t step_fx = cache->step_fx;
    const size_t span = cache->span;
    const double n_chips = (double)c->n_chips;
    double p = c->code_phase_chips;
    size_t i = 0;
    (void)avx2;
    while (i < n) {
        size_t k = n - i;
        if (k > span)
            k = span;
        /* The epoch may end inside the segment: stop the segment there.  (A segment a whole
         * chip short of the end cannot reach it, whatever the rounding: skip the division.) */
        if (step > 0.0 && p + (double)k * step >= n_chips - 1.0) {
            double to_epoch = ceil((n_chips - p) / step);
            if (to_epoch < 1.0)
                to_epoch = 1.0;
            if (to_epoch < (double)k)
                k = (size_t)to_epoch;
        }
        float sign = 1.0f;
        if (c->n_signs)
            sign = c->epoch_signs[c->sign_index] < 0 ? -1.0f : 1.0f;
        double base = (double)(uint32_t)p; /* floor: p is in [0, n_chips) */
        uint32_t frac = (uint32_t)((p - base) * (double)FIX_ONE);
        const int8_t *tab = c->chips + (uint32_t)base;
        float amp = (float)c->amplitude * sign;
#if LR_HAVE_X86_DISPATCH
        uint32_t max_index = c->n_chips - (uint32_t)base; /* the pad repeats chip 0 */
        if (avx2)
            chips_avx2(chip + i, k, tab, frac, step_fx, amp, max_index);
        else
#endif
            chips_portable(chip + i, k, tab, frac, step_fx, amp);
        i += k;
        p += (double)k * step;
        if (p >= n_chips) {
            p -= n_chips;
            if (p >= n_chips || p < 0.0)
                p = 0.0;
            c->epochs++;
            if (c->n_signs)
                c->sign_index = c->sign_index + 1 == c->n_signs ? 0 : c->sign_index + 1;
        }
    }
    c->code_phase_chips = p;

    /* The carrier's frequency is held at its mean over the sub-block, so the phase at
     * its end is exact and the error inside it is at most rate * T^2 / 8 cycles. */
    const double t = (double)n / fs;
    const double f_mean = s->if_hz + c->doppler_hz + 0.5 * c->doppler_rate_hz_s * t;
    if (r != NULL)
        rotator_setup(r, c->carrier_phase_cycles, f_mean / fs, cache);
    double ph = c->carrier_phase_cycles + f_mean * t;
    c->carrier_phase_cycles = ph - floor(ph);
    c->doppler_hz += c->doppler_rate_hz_s * t;
}

/* Accumulate the channels of the K carriers prepared in b (carrier k shared by nch[k] channels). */
static void accumulate_pass(struct subblock *b, size_t n32, struct rotator *r, const int *nch, const int *q,
                            int K, int avx2)
{
    int shared = 0;
    for (int k = 0; k < K; k++)
        shared |= nch[k] > 1;
#if LR_HAVE_X86_DISPATCH
    if (avx2 && shared) {
        accumulate_carriers_dispatch_avx2(b, n32, r, nch, q, K);
        return;
    }
    if (avx2) {
        /* A rotator per channel: four in one pass, the rest in pairs and alone. */
        if (K == 4) {
            accumulate4_avx2(b, n32, r, q);
            return;
        }
        rotators_widen(r, K);
        int k = 0;
        if (K - k >= 2) {
            accumulate2_avx2(b, n32, b->chip[k], &r[k], q[k], b->chip[k + 1], &r[k + 1], q[k + 1]);
            k += 2;
        }
        if (K - k == 1)
            accumulate_avx2(b, b->chip[k], n32, &r[k], q[k]);
        return;
    }
#else
    (void)avx2;
    (void)shared;
#endif
    rotators_widen(r, K);
    accumulate_portable_carriers(b, n32, r, nch, q, K);
}

/* Add every enabled channel over the n samples of the sub-block.  A channel whose carrier (phase,
 * Doppler and Doppler rate) equals that of the enabled channel before it shares its rotator, as an
 * AFS node's AFS-I and AFS-Q do: the rotator is a function of those numbers alone, so the sum is
 * the same as with a rotator each, for half the rotator work. */
static void channels_subblock(struct lr_siggen *s, struct subblock *b, size_t n, int avx2)
{
    const size_t n32 = (n + 31) & ~(size_t)31;
    struct rotator r[CARRIERS];
    int nch[CARRIERS], q[SLOTS];
    int K = 0, slots = 0, open = 0; /* open: carrier K-1 may take a second channel */
    double phase = 0.0, doppler = 0.0, rate = 0.0;
    for (uint32_t i = 0; i < s->n_channels; i++) {
        struct lr_siggen_channel *c = &s->channel[i];
        if (!c->enabled)
            continue;
        int share = open && c->carrier_phase_cycles == phase && c->doppler_hz == doppler &&
                    c->doppler_rate_hz_s == rate;
        if (!share && K == CARRIERS) {
            accumulate_pass(b, n32, r, nch, q, K, avx2);
            K = slots = 0;
        }
        phase = c->carrier_phase_cycles;
        doppler = c->doppler_hz;
        rate = c->doppler_rate_hz_s;
        channel_prepare(s, c, b->chip[slots], n, avx2, share ? NULL : &r[K], &b->cache[i]);
        q[slots++] = c->component == LR_SIGGEN_Q;
        if (share) {
            nch[K - 1] = 2;
            open = 0;
        } else {
            nch[K++] = 1;
            open = 1;
        }
    }
    if (K)
        accumulate_pass(b, n32, r, nch, q, K, avx2);
}

int lr_siggen_init(struct lr_siggen *s, double fs_hz, double if_hz, uint64_t seed)
{
    if (s == NULL || !(fs_hz >= 1e3 && fs_hz <= 1e9) || !isfinite(if_hz))
        return LR_E_ARG;
    memset(s, 0, sizeof *s);
    s->fs_hz = fs_hz;
    s->if_hz = if_hz;
    s->seed = seed;
    s->scale = 1.0;
    return LR_OK;
}

static int state_valid(const struct lr_siggen *s, int format)
{
    if (format < LR_SIGGEN_CF32 || format > LR_SIGGEN_CI8)
        return 0;
    if (!(s->fs_hz >= 1e3 && s->fs_hz <= 1e9) || !isfinite(s->if_hz) || !(s->noise_sigma >= 0.0) ||
        !isfinite(s->noise_sigma) || !isfinite(s->scale) || s->n_channels > LR_SIGGEN_MAX_CHANNELS)
        return 0;
    for (uint32_t c = 0; c < s->n_channels; c++)
        if (!channel_valid(s, &s->channel[c]))
            return 0;
    return 1;
}

/* A call's work space: chips past a segment's end read as zeros, and no channel cache is filled yet. */
static void workspace_init(struct subblock *b, struct channel_cache *caches)
{
    memset(b->chip, 0, sizeof b->chip);
    for (int i = 0; i < LR_SIGGEN_MAX_CHANNELS; i++)
        caches[i].valid = caches[i].code_valid = 0;
    b->cache = caches;
}

/* Samples [pos, pos + n_samples) of out from the (valid) state, advancing it. */
static void synthesize(struct lr_siggen *s, struct subblock *b, size_t pos, size_t n_samples, int format, void *out,
                       int avx2)
{
    const double sig = s->noise_sigma * s->scale;
    const size_t end = pos + n_samples;
    while (pos < end) {
        uint64_t g0 = s->sample_index;
        size_t n = end - pos;
        if (n > SB)
            n = SB;
        /* The noise counter's low word must not wrap inside a sub-block. */
        uint64_t to_wrap = 0x100000000ull - (g0 & 0xFFFFFFFFull);
        if ((uint64_t)n > to_wrap)
            n = (size_t)to_wrap;
        size_t n32 = (n + 31) & ~(size_t)31;
        memset(b->acc_re, 0, n32 * sizeof(float));
        memset(b->acc_im, 0, n32 * sizeof(float));
        channels_subblock(s, b, n, avx2);
        /* Keys of this sub-block: the whole seed and the counter's high word. */
        struct noise nz;
        nz.key0 = mix32((uint32_t)s->seed ^
                        mix32((uint32_t)(s->seed >> 32) ^ mix32((uint32_t)(g0 >> 32) ^ 0xBB67AE85u)));
        nz.key1 = mix32(nz.key0 ^ 0x6A09E667u);
        nz.p1 = (float)(IH_C1 * IH_K * sig);
        nz.p3 = (float)(IH_C3 * IH_K * IH_K * IH_K * sig);
        nz.p5 = (float)(IH_C5 * IH_K * IH_K * IH_K * IH_K * IH_K * sig);
        nz.p7 = (float)(IH_C7 * IH_K * IH_K * IH_K * IH_K * IH_K * IH_K * IH_K * sig);
        size_t done = 0;
#if LR_HAVE_X86_DISPATCH
        if (avx2)
            done = finish_avx2(s, b, n, g0, &nz, format, out, pos, &s->clipped);
#endif
        finish_portable(s, b, done, n, g0, &nz, format, out, pos, &s->clipped);
        s->sample_index += n;
        pos += n;
    }
}

int64_t lr_siggen_generate(struct lr_siggen *s, size_t n_samples, int format, void *out, size_t n_out)
{
    if (s == NULL || (out == NULL && n_samples > 0) || !state_valid(s, format))
        return LR_E_ARG;
    if (n_out < n_samples)
        return LR_E_SPACE;
    if (n_samples > (size_t)INT64_MAX)
        return LR_E_ARG;
    struct subblock b;
    struct channel_cache caches[LR_SIGGEN_MAX_CHANNELS];
    workspace_init(&b, caches);
    synthesize(s, &b, 0, n_samples, format, out, lr_simd_level() >= LR_SIMD_AVX2);
    return (int64_t)n_samples;
}

static int schedule_valid(const struct lr_siggen *s, const struct lr_siggen_schedule *plan)
{
    if (plan == NULL || plan->interval == 0 || plan->n_tracks > LR_SIGGEN_MAX_CHANNELS)
        return 0;
    if (plan->n_tracks > 0 && plan->n_updates > 0 &&
        (plan->channel == NULL || plan->code_chips == NULL || plan->doppler_hz == NULL))
        return 0;
    for (uint32_t t = 0; t < plan->n_tracks && plan->n_updates > 0; t++)
        if (plan->channel[t] >= s->n_channels)
            return 0;
    return 1;
}

/* Set the tracked channels' code rates and Doppler for update j of the plan (which starts now);
 * returns 0, changing nothing, if any of them would leave its valid range. */
static int schedule_apply(struct lr_siggen *s, const struct lr_siggen_schedule *plan, size_t j)
{
    const double span_s = (double)plan->interval / s->fs_hz;
    double rate[LR_SIGGEN_MAX_CHANNELS], doppler[LR_SIGGEN_MAX_CHANNELS];
    for (uint32_t t = 0; t < plan->n_tracks; t++) {
        const struct lr_siggen_channel *c = &s->channel[plan->channel[t]];
        /* Where the code is now, in chips since the first epoch's start, read back from the state
         * so that rounding never accumulates. */
        const double now = (double)(c->epochs * (uint64_t)c->n_chips) + c->code_phase_chips;
        rate[t] = (plan->code_chips[(size_t)t * plan->n_updates + j] - now) / span_s;
        doppler[t] = plan->doppler_hz[(size_t)t * plan->n_updates + j];
        const double step = rate[t] / s->fs_hz;
        if (!(step >= 0.0 && step < 32.0) || !isfinite(doppler[t]))
            return 0;
    }
    for (uint32_t t = 0; t < plan->n_tracks; t++) {
        s->channel[plan->channel[t]].code_rate_cps = rate[t];
        s->channel[plan->channel[t]].doppler_hz = doppler[t];
    }
    return 1;
}

int64_t lr_siggen_generate_scheduled(struct lr_siggen *s, const struct lr_siggen_schedule *plan, size_t n_samples,
                                     int format, void *out, size_t n_out)
{
    if (s == NULL || (out == NULL && n_samples > 0) || !state_valid(s, format) || !schedule_valid(s, plan))
        return LR_E_ARG;
    if (n_out < n_samples)
        return LR_E_SPACE;
    if (n_samples > (size_t)INT64_MAX)
        return LR_E_ARG;
    const int avx2 = lr_simd_level() >= LR_SIMD_AVX2;
    struct subblock b;
    struct channel_cache caches[LR_SIGGEN_MAX_CHANNELS];
    workspace_init(&b, caches);
    size_t done = 0;
    while (done < n_samples) {
        const uint64_t into = s->sample_index % plan->interval;
        if (into == 0) {
            const uint64_t update = s->sample_index / plan->interval;
            if (update < plan->first_update || update - plan->first_update >= plan->n_updates)
                break; /* the caller gives the next updates */
            if (!schedule_apply(s, plan, (size_t)(update - plan->first_update)))
                return done ? (int64_t)done : LR_E_ARG;
        }
        size_t n = n_samples - done;
        if ((uint64_t)n > plan->interval - into)
            n = (size_t)(plan->interval - into);
        synthesize(s, &b, done, n, format, out, avx2);
        done += n;
    }
    return (int64_t)done;
}

