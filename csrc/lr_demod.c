/* lr_demod.c - the CCSDS demodulator; see lr_demod.h. */
#include "lr_demod.h"

#include <math.h>
#include <string.h>

#include "lr_cpu.h"
#include "lr_mod.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

#define PI 3.14159265358979323846
#define TWO_PI 6.283185307179586476925286766559
#define FRAME LR_DEMOD_FRAME
#define MAX_TAPS LR_DEMOD_MAX_TAPS
#define YHIST 4          /* matched-filter outputs kept for the cubic interpolator */
#define RX_SPAN 12.0     /* matched filter length in symbols */
#define MAX_MAG 1e15f    /* input magnitudes are bounded so powers stay finite */
#define PERIOD_PULL 0.02 /* the timing loop may move the symbol period by 2% */

/* GCC fuses a product and a sum into one multiply-add where the target has FMA, even across
 * statements and intrinsics; the rotator must round the same way on every path. */
#if defined(__GNUC__) && !defined(__clang__)
#define LR_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define LR_NO_CONTRACT
#endif

_Static_assert(sizeof(((struct lr_demod *)0)->taps) == sizeof(float) * MAX_TAPS, "taps");
_Static_assert(sizeof(((struct lr_demod *)0)->xr) == sizeof(float) * (MAX_TAPS + FRAME + 8), "xr");
_Static_assert(sizeof(((struct lr_demod *)0)->yr) == sizeof(float) * (YHIST + FRAME + 8), "yr");
_Static_assert(sizeof(((struct lr_demod *)0)->acq_r) == sizeof(float) * LR_DEMOD_FFT, "acq");

/* sin(pi*y) for |y| <= 1/2: odd polynomial, error below 4e-9 (the fit siggen uses). */
static inline double sinpi_poly(double y)
{
    double z = y * y;
    return y * (3.141592579788996 +
                z * (-5.167706865106639 + z * (2.5500311756893668 + z * (-0.5980440852343096 +
                                                                         z * 0.07721816880167454))));
}

/* cos and sin of an angle in radians, by folding into the polynomial's range. */
static inline void fast_sincos(double angle, double *c, double *s)
{
    double x = angle * (1.0 / TWO_PI);
    double t = x - floor(x);
    double u = t < 0.5 ? 2.0 * t : 2.0 * t - 2.0; /* angle pi*u, u in [-1, 1) */
    double au = fabs(u);
    *s = sinpi_poly(au > 0.5 ? copysign(1.0, u) - u : u);
    *c = sinpi_poly(0.5 - au);
}

static inline double sgn(double x)
{
    return x >= 0.0 ? 1.0 : -1.0;
}

static inline void advance(struct lr_demod *d, double step);

static void loop_gains(double bn, double kd, double *kp, double *ki)
{
    /* Second-order loop, damping 1/sqrt(2), noise bandwidth bn per update. */
    const double zeta = 0.70710678118654752;
    double th = bn / (zeta + 0.25 / zeta);
    double den = 1.0 + 2.0 * zeta * th + th * th;
    *kp = 4.0 * zeta * th / den / kd;
    *ki = 4.0 * th * th / den / kd;
}

static int fft_size(int frames)
{
    int n = 1024;
    while (n < frames * FRAME)
        n *= 2;
    return n;
}

static int is_rrc(int scheme)
{
    return scheme == LR_MOD_BPSK || scheme == LR_MOD_QPSK || scheme == LR_MOD_OQPSK;
}

/* ------------------------------------------------------------------- init -- */

static void reset_carrier(struct lr_demod *d)
{
    d->theta = d->freq = d->theta_u = d->slip_ref = 0.0;
    d->lock_num = d->lock_den = 0.0;
    d->lock_metric = 0.0;
    d->unlocked_run = 0;
    d->pll_phase = d->pll_freq = 0.0;
}

int lr_demod_init(struct lr_demod *d, const struct lr_demod_config *cfg)
{
    if (d == NULL || cfg == NULL)
        return LR_E_ARG;
    const int rrc = is_rrc(cfg->scheme);
    if (!rrc && cfg->scheme != LR_MOD_PCM_PSK_PM)
        return LR_E_ARG;
    if (cfg->coding != LR_MOD_NRZ_L && cfg->coding != LR_MOD_NRZ_M)
        return LR_E_ARG;
    if (!(cfg->fs_hz >= 1.0 && cfg->fs_hz <= 1e10))
        return LR_E_ARG;
    if (rrc && !(cfg->sps >= 2.0 && cfg->sps <= 64.0))
        return LR_E_ARG;
    if (!rrc && !(cfg->sps >= 2.0 && cfg->sps <= 1e5))
        return LR_E_ARG;
    if (rrc && !(cfg->rolloff >= 0.2 && cfg->rolloff <= 0.5))
        return LR_E_ARG;
    if (!(cfg->carrier_bw > 0.0 && cfg->carrier_bw <= 0.1) || !(cfg->timing_bw > 0.0 && cfg->timing_bw <= 0.1))
        return LR_E_ARG;
    if (cfg->acq_frames < 1 || cfg->acq_frames > 8 || cfg->lock_symbols < 1 || cfg->unlock_symbols < 1)
        return LR_E_ARG;
    int power = cfg->scheme == LR_MOD_BPSK ? 2 : cfg->scheme == LR_MOD_PCM_PSK_PM ? 1 : 4;
    if (!(cfg->acq_range_hz >= 0.0 && cfg->acq_range_hz * power < 0.45 * cfg->fs_hz))
        return LR_E_ARG;
    double sc_per_symbol = 0.0;
    if (!rrc) {
        sc_per_symbol = cfg->subcarrier_hz * cfg->sps / cfg->fs_hz;
        if (!(sc_per_symbol >= 0.999999) || fabs(sc_per_symbol - round(sc_per_symbol)) > 1e-6 ||
            !(cfg->fs_hz / cfg->subcarrier_hz >= 4.0) || !(sc_per_symbol <= 64.5) ||
            !(cfg->mod_index_rad > 0.0 && cfg->mod_index_rad <= 3.0))
            return LR_E_ARG;
    }
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    d->bits_per_symbol = cfg->scheme == LR_MOD_QPSK || cfg->scheme == LR_MOD_OQPSK ? 2 : 1;
    d->period = cfg->sps;
    d->timing_sps = cfg->sps;
    d->agc_power = -1.0; /* unknown until the first frame */
    d->agc_gain = 1.0;
    d->amp = 0.5;
    d->inv_amp = 2.0;
    d->lock_coef = 1.0 / cfg->lock_symbols;
    d->searching = cfg->acq_range_hz > 0.0;
    d->sc_per_symbol = round(sc_per_symbol);
    if (rrc) {
        int half = (int)ceil(RX_SPAN / 2.0 * cfg->sps);
        if (2 * half + 1 > MAX_TAPS)
            half = (MAX_TAPS - 1) / 2;
        d->n_taps = 2 * half + 1;
        double energy = 0.0;
        for (int k = 0; k < d->n_taps; k++) {
            double h = lr_rrc((k - half) / cfg->sps, cfg->rolloff);
            d->taps[k] = (float)h;
            energy += h * h;
        }
        for (int k = 0; k < d->n_taps; k++)
            d->taps[k] = (float)(d->taps[k] / sqrt(energy));
        /* The first point: the pulse peak of symbol 0 comes n_taps - 1 samples into the
         * filter output, counted from its history; start half a period earlier with a
         * mid point, so the first on-time point falls near a peak of a modulator stream. */
        d->pos_i = YHIST;
        d->pos_f = cfg->sps / 2.0;
        advance(d, 0.0);
        d->is_on = 0;
        /* Costas: detector gain 1 on normalised symbols.  Gardner on RRC pulses: about 2. */
        loop_gains(cfg->carrier_bw, 1.0, &d->c_kp, &d->c_ki);
        loop_gains(cfg->timing_bw, 2.0, &d->t_kp, &d->t_ki);
        d->t_kp *= cfg->sps;
        d->t_ki *= cfg->sps;
    } else {
        /* PLL per sample on the residual carrier; subcarrier loop per subcarrier cycle. */
        double fsym = cfg->fs_hz / cfg->sps;
        loop_gains(cfg->carrier_bw * fsym / cfg->fs_hz, 1.0, &d->c_kp, &d->c_ki);
        loop_gains(cfg->timing_bw * fsym / cfg->subcarrier_hz, TWO_PI, &d->sc_kp, &d->sc_ki);
        d->sc_freq = cfg->subcarrier_hz / cfg->fs_hz;
    }
    reset_carrier(d);
    return LR_OK;
}

size_t lr_demod_max_soft(const struct lr_demod *d, size_t n_samples)
{
    /* the samples that wait for a whole filter group (< 16) and the interpolator's history
     * may complete symbols too */
    double sym = ((double)n_samples + 32.0) / (d->cfg.sps * (1.0 - 2.0 * PERIOD_PULL)) + 4.0;
    if (!is_rrc(d->cfg.scheme)) /* PM: at most a symbol per half subcarrier cycle */
        sym = 2.0 * (double)n_samples * d->cfg.subcarrier_hz / d->cfg.fs_hz * (1.0 + PERIOD_PULL) + 4.0;
    return (size_t)ceil(sym) * (size_t)d->bits_per_symbol;
}

/* --------------------------------------------------------------------- FFT -- */

/* In-place radix-2 complex FFT of n (a power of two) points. */
static void fft(float *re, float *im, int n)
{
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        double ang = -TWO_PI / len;
        double wr = cos(ang), wi = sin(ang);
        for (int i = 0; i < n; i += len) {
            double cr = 1.0, ci = 0.0;
            for (int k = 0; k < len / 2; k++) {
                int a = i + k, b = i + k + len / 2;
                float tr = (float)(re[b] * cr - im[b] * ci);
                float ti = (float)(re[b] * ci + im[b] * cr);
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
                double t = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = t;
            }
        }
    }
}

/* The offset (cycles per sample) from `center` of the strongest line of the M-th power of
 * the collected samples, divided by M, among the offsets that keep center + offset within
 * the search range; 0 when no line stands out of the noise (8 times the mean bin power). */
static double acquire(struct lr_demod *d, double center)
{
    const int n = fft_size(d->cfg.acq_frames);
    const int m = d->cfg.scheme == LR_MOD_BPSK ? 2 : d->cfg.scheme == LR_MOD_PCM_PSK_PM ? 1 : 4;
    for (int i = d->acq_fill; i < n; i++)
        d->acq_r[i] = d->acq_i[i] = 0.0f;
    double norm = 0.0;
    for (int i = 0; i < n; i++)
        norm += (double)d->acq_r[i] * d->acq_r[i] + (double)d->acq_i[i] * d->acq_i[i];
    if (!(norm > 0.0) || !isfinite(norm))
        return 0.0;
    float scale = (float)(1.0 / sqrt(norm / n));
    for (int i = 0; i < n; i++) {
        float r = d->acq_r[i] * scale, q = d->acq_i[i] * scale;
        for (int k = 1; k < m; k *= 2) {
            float t = r * r - q * q;
            q = 2.0f * r * q;
            r = t;
        }
        d->acq_r[i] = r;
        d->acq_i[i] = q;
    }
    fft(d->acq_r, d->acq_i, n);
    const double range = d->cfg.acq_range_hz / d->cfg.fs_hz; /* cycles per sample */
    int lo = (int)ceil((-range - center) * m * n), hi = (int)floor((range - center) * m * n);
    if (lo < -n / 2 + 1)
        lo = -n / 2 + 1;
    if (hi > n / 2 - 1)
        hi = n / 2 - 1;
    int best = 0;
    double best_p = -1.0, sum = 0.0;
    for (int k = lo; k <= hi; k++) {
        int b = k < 0 ? k + n : k;
        double p = (double)d->acq_r[b] * d->acq_r[b] + (double)d->acq_i[b] * d->acq_i[b];
        sum += p;
        if (p > best_p) {
            best_p = p;
            best = k;
        }
    }
    if (hi < lo || !(best_p > 8.0 * sum / (hi - lo + 1)))
        return 0.0;
    /* Parabolic interpolation between bins on the magnitudes. */
    double mag[3];
    for (int j = -1; j <= 1; j++) {
        int b = ((best + j) % n + n) % n;
        mag[j + 1] = sqrt((double)d->acq_r[b] * d->acq_r[b] + (double)d->acq_i[b] * d->acq_i[b]);
    }
    double den = mag[0] - 2.0 * mag[1] + mag[2];
    double frac = den < 0.0 ? 0.5 * (mag[0] - mag[2]) / den : 0.0;
    if (!(fabs(frac) <= 0.5))
        frac = 0.0;
    return (best + frac) / n / m;
}

/* ------------------------------------------------------- vector kernels ---- */

typedef float v4f __attribute__((vector_size(16)));

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

/* The NCO's phasors exp(-j*2*pi*(phase + k*freq)) for the k < FRAME samples of a frame: the
 * phasor of every eighth sample from the polynomial in double, the seven between by turning
 * it in double, each rounded to float once.  A sample's phasor depends only on its place in
 * the frame, so any split of the input rotates alike. */
static void nco_table(float *re, float *im, double phase, double freq)
{
    double w_re[8], w_im[8];
    for (int l = 0; l < 8; l++)
        fast_sincos(-TWO_PI * l * freq, &w_re[l], &w_im[l]);
    for (int k = 0; k < FRAME; k += 8) {
        double c, s;
        fast_sincos(-TWO_PI * (phase + k * freq), &c, &s);
        for (int l = 0; l < 8; l++) {
            re[k + l] = (float)(c * w_re[l] - s * w_im[l]);
            im[k + l] = (float)(c * w_im[l] + s * w_re[l]);
        }
    }
}

/* x *= the table's phasors; every sample gets the same roundings (a product each, then the
 * sum) whatever the vector width: no fused multiply-adds, and never inlined into the AVX2
 * variant. */
LR_NO_CONTRACT __attribute__((noinline)) static void rotate_portable(float *xr, float *xi, size_t n, const float *pr, const float *pi)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f a = load4(xr + i), b = load4(xi + i), c = load4(pr + i), s = load4(pi + i);
        v4f ac = a * c, bs = b * s, as = a * s, bc = b * c;
        store4(xr + i, ac - bs);
        store4(xi + i, as + bc);
    }
    for (; i < n; i++) {
        volatile float ac = xr[i] * pr[i], bs = xi[i] * pi[i], as = xr[i] * pi[i], bc = xi[i] * pr[i];
        xr[i] = ac - bs;
        xi[i] = as + bc;
    }
}

static void rotate_scalar(float *xr, float *xi, size_t n, double phase, double freq)
{
    /* the benchmark's baseline: the NCO in libm, sample by sample */
    for (size_t i = 0; i < n; i++) {
        double ang = -TWO_PI * (phase + (double)i * freq);
        float c = (float)cos(ang), s = (float)sin(ang);
        float a = xr[i], b = xi[i];
        xr[i] = a * c - b * s;
        xi[i] = a * s + b * c;
    }
}

/* y[k] = sum_t taps[t] * x[k + t], k < n (x holds n + n_taps - 1 samples). */
__attribute__((noinline)) static void fir_portable(const float *taps, int n_taps, const float *x, float *y, size_t n)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        v4f a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0};
        for (int t = 0; t < n_taps; t++) {
            v4f h = {taps[t], taps[t], taps[t], taps[t]};
            a0 += h * load4(x + k + t);
            a1 += h * load4(x + k + t + 4);
        }
        store4(y + k, a0);
        store4(y + k + 4, a1);
    }
    for (; k < n; k++) {
        float a = 0.0f;
        for (int t = 0; t < n_taps; t++)
            a += taps[t] * x[k + t];
        y[k] = a;
    }
}

static void fir_scalar(const float *taps, int n_taps, const float *x, float *y, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        float a = 0.0f;
        for (int t = 0; t < n_taps; t++)
            a += taps[t] * x[k + t];
        y[k] = a;
    }
}

#if LR_HAVE_X86_DISPATCH
LR_TARGET_AVX2 static void fir_avx2(const float *taps, int n_taps, const float *x, float *y, size_t n)
{
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        int t = 0;
        for (; t + 2 <= n_taps; t += 2) {
            __m256 h0 = _mm256_broadcast_ss(taps + t), h1 = _mm256_broadcast_ss(taps + t + 1);
            a0 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(x + k + t), a0);
            a1 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(x + k + t + 8), a1);
            b0 = _mm256_fmadd_ps(h1, _mm256_loadu_ps(x + k + t + 1), b0);
            b1 = _mm256_fmadd_ps(h1, _mm256_loadu_ps(x + k + t + 9), b1);
        }
        for (; t < n_taps; t++) {
            __m256 h = _mm256_broadcast_ss(taps + t);
            a0 = _mm256_fmadd_ps(h, _mm256_loadu_ps(x + k + t), a0);
            a1 = _mm256_fmadd_ps(h, _mm256_loadu_ps(x + k + t + 8), a1);
        }
        _mm256_storeu_ps(y + k, _mm256_add_ps(a0, b0));
        _mm256_storeu_ps(y + k + 8, _mm256_add_ps(a1, b1));
    }
    if (k < n)
        fir_portable(taps, n_taps, x + k, y + k, n - k);
}

LR_NO_CONTRACT LR_TARGET_AVX2 static void rotate_avx2(float *xr, float *xi, size_t n, const float *pr, const float *pi)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(xr + i), b = _mm256_loadu_ps(xi + i);
        __m256 c = _mm256_loadu_ps(pr + i), s = _mm256_loadu_ps(pi + i);
        _mm256_storeu_ps(xr + i, _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)));
        _mm256_storeu_ps(xi + i, _mm256_add_ps(_mm256_mul_ps(a, s), _mm256_mul_ps(b, c)));
    }
    if (i < n)
        rotate_portable(xr + i, xi + i, n - i, pr + i, pi + i);
}
#endif

/* Rotate n samples starting at place `at` of the current frame by the NCO. */
static void rotate(struct lr_demod *d, float *xr, float *xi, size_t n, size_t at)
{
    if (d->cfg.scalar_reference) {
        rotate_scalar(xr, xi, n, d->nco_phase + (double)at * d->nco_freq, d->nco_freq);
        return;
    }
    if (!d->nco_ready) {
        nco_table(d->nco_r, d->nco_i, d->nco_phase, d->nco_freq);
        d->nco_ready = 1;
    }
#if LR_HAVE_X86_DISPATCH
    if (lr_simd_level() >= LR_SIMD_AVX2) {
        rotate_avx2(xr, xi, n, d->nco_r + at, d->nco_i + at);
        return;
    }
#endif
    rotate_portable(xr, xi, n, d->nco_r + at, d->nco_i + at);
}

static void fir(const struct lr_demod *d, const float *x, float *y, size_t n)
{
    if (d->cfg.scalar_reference) {
        fir_scalar(d->taps, d->n_taps, x, y, n);
        return;
    }
#if LR_HAVE_X86_DISPATCH
    if (lr_simd_level() >= LR_SIMD_AVX2) {
        fir_avx2(d->taps, d->n_taps, x, y, n);
        return;
    }
#endif
    fir_portable(d->taps, d->n_taps, x, y, n);
}

/* ------------------------------------------------------------ symbol loop -- */

/* Move the next interpolation point by `step` samples.  The point is a whole sample index
 * into y and a fraction in [0, 1), so its arithmetic does not depend on where in the
 * buffer (that is, on how the input was split) it happens. */
static inline void advance(struct lr_demod *d, double step)
{
    double f = d->pos_f + step;
    double w = floor(f);
    d->pos_i += (int64_t)w;
    d->pos_f = f - w;
}

static inline void interp(const struct lr_demod *d, float *re, float *im)
{
    /* Cubic Lagrange through y[i-1 .. i+2] in Farrow form. */
    int64_t i = d->pos_i;
    float mu = (float)d->pos_f;
    const float *yr = d->yr + i, *yi = d->yi + i;
    const float third = 1.0f / 3.0f, sixth = 1.0f / 6.0f;
    float c0 = yr[0], c1 = -yr[-1] * third - yr[0] * 0.5f + yr[1] - yr[2] * sixth;
    float c2 = (yr[-1] + yr[1]) * 0.5f - yr[0], c3 = (yr[2] - yr[-1]) * sixth + (yr[0] - yr[1]) * 0.5f;
    *re = ((c3 * mu + c2) * mu + c1) * mu + c0;
    c0 = yi[0];
    c1 = -yi[-1] * third - yi[0] * 0.5f + yi[1] - yi[2] * sixth;
    c2 = (yi[-1] + yi[1]) * 0.5f - yi[0];
    c3 = (yi[2] - yi[-1]) * sixth + (yi[0] - yi[1]) * 0.5f;
    *im = ((c3 * mu + c2) * mu + c1) * mu + c0;
}

/* The amplitude of the signal part and Es/N0 from the second and fourth moments (M2M4,
 * complex constant-modulus symbols in complex Gaussian noise). */
static void update_estimates(struct lr_demod *d, double re, double im)
{
    const double a = 1.0 / 1024.0;
    double p = re * re + im * im;
    /* after the AGC a symbol's power is a few units; more is a transient, not a statistic */
    p = p < 1e4 ? p : 1e4;
    d->m2 += a * (p - d->m2);
    d->m4 += a * (p * p - d->m4);
}

/* The signal amplitude (soft symbols and loop errors are normalised by it) and Es/N0 from the
 * second and fourth moments (M2M4), once per frame.  Complex symbols: M2 = S + N,
 * M4 = S^2 + 4SN + 2N^2, Es/N0 = S/N; real ones (PM): M4 = S^2 + 6SN + 3N^2 and the noise
 * per real dimension is N0/2, so Es/N0 = S/(2N). */
static void frame_estimates(struct lr_demod *d)
{
    const int real = d->cfg.scheme == LR_MOD_PCM_PSK_PM;
    double s2 = real ? (3.0 * d->m2 * d->m2 - d->m4) / 2.0 : 2.0 * d->m2 * d->m2 - d->m4;
    double s = s2 > 0.0 ? sqrt(s2) : 0.0;
    double nz = (d->m2 - s) * (real ? 2.0 : 1.0);
    if (s > 0.0 && nz > 0.0)
        d->esn0_db = 10.0 * log10(s / nz);
    else if (s > 0.0)
        d->esn0_db = 60.0;
    else
        d->esn0_db = -30.0;
    double amp = sqrt(s > 0.05 * d->m2 ? s : d->m2);
    if (amp > 0.0)
        d->amp = amp;
    d->inv_amp = 1.0 / d->amp;
    if (d->cfg.scheme != LR_MOD_PCM_PSK_PM)
        d->lock_metric = d->lock_den > 0.0 ? d->lock_num / d->lock_den : 0.0;
}

static void update_lock(struct lr_demod *d, double zr, double zi)
{
    /* cos(2 phi) for BPSK, -cos(4 phi) for QPSK: the phase of the M-th power. */
    double num, den;
    if (d->bits_per_symbol == 1) {
        num = zr * zr - zi * zi;
        den = zr * zr + zi * zi;
    } else {
        double r2 = zr * zr - zi * zi, i2 = 2.0 * zr * zi;
        num = -(r2 * r2 - i2 * i2);
        den = (zr * zr + zi * zi) * (zr * zr + zi * zi);
    }
    const double a = d->lock_coef;
    d->lock_num += a * (num - d->lock_num);
    d->lock_den += a * (den - d->lock_den);
    /* metric = lock_num / lock_den (reported once per frame), compared without dividing */
    int was = d->locked;
    if (d->lock_num > 0.3 * d->lock_den && d->lock_den > 0.0)
        d->locked = 1;
    else if (!(d->lock_num >= 0.15 * d->lock_den) || d->lock_den <= 0.0)
        d->locked = 0;
    if (was != d->locked) {
        d->lock_changes++;
        d->slip_ref = d->theta_u;
    }
    d->unlocked_run = d->locked ? 0 : d->unlocked_run + 1;
    if (!d->locked && d->unlocked_run >= d->cfg.unlock_symbols && !d->searching && d->cfg.acq_range_hz > 0.0) {
        d->searching = 1;
        d->acq_fill = -1; /* start at the next frame */
    }
}

static void carrier_step(struct lr_demod *d, double e)
{
    if (!(e == e))
        e = 0.0;
    if (e > 1.0)
        e = 1.0;
    else if (e < -1.0)
        e = -1.0;
    d->freq += d->c_ki * e;
    double step = d->c_kp * e + d->freq;
    d->theta += step;
    d->theta_u += step;
    if (d->theta > PI)
        d->theta -= TWO_PI;
    else if (d->theta < -PI)
        d->theta += TWO_PI;
    /* Cycle slips: the loop's phase against a copy of it smoothed over 256 symbols. */
    const double ambiguity = d->bits_per_symbol == 1 ? PI : PI / 2.0;
    d->slip_ref += (d->theta_u - d->slip_ref) * (1.0 / 256.0);
    if (d->locked) {
        if (d->theta_u - d->slip_ref > ambiguity / 2.0) {
            d->cycle_slips++;
            d->slip_ref += ambiguity;
        } else if (d->theta_u - d->slip_ref < -ambiguity / 2.0) {
            d->cycle_slips++;
            d->slip_ref -= ambiguity;
        }
    } else {
        d->slip_ref = d->theta_u;
    }
}

/* Serial soft bits: level +1 is bit 0, so the soft value is minus the level; NRZ-M
 * compares each level with the previous one. */
static inline float soft_bit(struct lr_demod *d, double level)
{
    if (d->cfg.coding == LR_MOD_NRZ_M) {
        double prev = d->prev_level;
        d->prev_level = level;
        double v = -level * prev;
        return (float)(v > 4.0 ? 4.0 : v < -4.0 ? -4.0 : v);
    }
    return (float)(level > 8.0 ? -8.0 : level < -8.0 ? 8.0 : -level);
}

/* Run the symbol loop over the matched-filter outputs y[0 .. ylen-1]; returns soft count. */
static size_t symbol_loop(struct lr_demod *d, size_t ylen, float *soft)
{
    size_t out = 0;
    const int scheme = d->cfg.scheme;
    for (;;) {
        if (d->pos_i + 3 >= (int64_t)ylen)
            break;
        float vr, vi;
        interp(d, &vr, &vi);
        float zr = 0.0f, zi = 0.0f;
        if (d->is_on || scheme == LR_MOD_OQPSK) { /* only OQPSK uses its mid points derotated */
            double c, s;
            fast_sincos(-d->theta, &c, &s);
            zr = (float)(vr * c - vi * s);
            zi = (float)(vr * s + vi * c);
        }
        if (!d->is_on) {
            d->mid_prev_r = d->mid_r;
            d->mid_prev_i = d->mid_i;
            d->mid_r = vr;
            d->mid_i = vi;
            d->d_mid_prev_i = d->d_mid_i;
            d->d_mid_r = zr;
            d->d_mid_i = zi;
            advance(d, d->period / 2.0);
            d->is_on = 1;
            if (scheme == LR_MOD_OQPSK && d->have_prev) {
                /* symbol: I at the last on-time point, Q at this mid point */
                double ir = d->d_on_r, qi = zi;
                double inv = d->inv_amp;
                update_estimates(d, ir, qi);
                update_lock(d, ir * inv, qi * inv);
                double e = (d->d_on_i * sgn(ir) - zr * sgn(qi)) * inv;
                carrier_step(d, 0.5 * e);
                soft[out++] = soft_bit(d, ir * inv);
                soft[out++] = soft_bit(d, qi * inv);
                d->symbols++;
            }
            continue;
        }
        /* on-time point */
        double e_t;
        if (scheme == LR_MOD_OQPSK) {
            /* Gardner per rail after derotation: I transitions at on-time points, Q at mid points. */
            double ei = (double)d->d_mid_r * ((double)d->d_on_r - zr);
            double eq = (double)d->d_on_i * ((double)d->d_mid_prev_i - d->d_mid_i);
            e_t = ei + eq;
        } else {
            e_t = (double)d->mid_r * ((double)d->on_prev_r - vr) + (double)d->mid_i * ((double)d->on_prev_i - vi);
        }
        if (!d->have_prev)
            e_t = 0.0;
        double a2 = d->amp * d->amp;
        e_t = a2 > 0.0 ? e_t * d->inv_amp * d->inv_amp : 0.0;
        if (!(e_t == e_t))
            e_t = 0.0;
        if (e_t > 1.0)
            e_t = 1.0;
        else if (e_t < -1.0)
            e_t = -1.0;
        d->period += d->t_ki * e_t;
        double lo = d->cfg.sps * (1.0 - PERIOD_PULL), hi = d->cfg.sps * (1.0 + PERIOD_PULL);
        d->period = d->period < lo ? lo : d->period > hi ? hi : d->period;
        d->timing_sps = d->period;
        /* the phase correction is bounded like the period, so symbols never come closer
         * than sps * (1 - 2 * PERIOD_PULL) (lr_demod_max_soft counts on it) */
        double correction = d->t_kp * e_t, most = PERIOD_PULL * d->cfg.sps;
        correction = correction > most ? most : correction < -most ? -most : correction;
        advance(d, d->period / 2.0 + correction);
        d->is_on = 0;
        d->on_prev_r = vr;
        d->on_prev_i = vi;
        d->d_on_prev_r = d->d_on_r;
        d->d_on_prev_i = d->d_on_i;
        d->d_on_r = zr;
        d->d_on_i = zi;
        d->have_prev = 1;
        if (scheme == LR_MOD_OQPSK)
            continue;
        double inv = d->inv_amp;
        update_estimates(d, zr, zi);
        update_lock(d, zr * inv, zi * inv);
        double e;
        if (scheme == LR_MOD_BPSK)
            e = zi * sgn(zr) * inv;
        else
            e = (zi * sgn(zr) - zr * sgn(zi)) * inv;
        carrier_step(d, e);
        soft[out++] = soft_bit(d, zr * inv);
        if (scheme != LR_MOD_BPSK)
            soft[out++] = soft_bit(d, zi * inv);
        d->symbols++;
    }
    return out;
}

/* ---------------------------------------------------------------- frames --- */

/* AGC gain for the next frame from the power of the one that ended; the NCO takes the
 * Costas loop's frequency; a search is started or finished. */
static void frame_end(struct lr_demod *d)
{
    frame_estimates(d);
    const double *lane = d->frame_power;
    double p = ((lane[0] + lane[1]) + (lane[2] + lane[3])) / FRAME;
    int changed = 0;
    if (d->agc_power < 0.0) {
        d->agc_power = p;
    } else if (p > 16.0 * d->agc_power) {
        d->agc_power = p; /* a signal that appears or comes back: follow it at once */
        changed = 1;
    } else if (p > d->agc_power) {
        d->agc_power += 0.5 * (p - d->agc_power); /* attack */
    } else if (p < d->agc_power / 16.0) {
        d->agc_power = 2.0 * p; /* a level drop of more than 12 dB: release at once */
        changed = 1;
    } else {
        d->agc_power += 0.05 * (p - d->agc_power);
    }
    double g = d->agc_power > 1e-30 ? 1.0 / sqrt(d->agc_power) : 1e15;
    d->agc_gain = g > 1e15 ? 1e15 : g;
    if (changed) {
        /* silence, a signal that comes back, a burst of huge values: the symbol statistics
         * and the lock detector start again, and the search runs now (it moves nothing if
         * no line stands out) */
        d->m2 = d->m4 = 0.0;
        d->amp = d->inv_amp = 1.0;
        d->lock_num = d->lock_den = 0.0;
        if (d->cfg.acq_range_hz > 0.0 && !d->searching) {
            d->searching = 1;
            d->acq_fill = -1;
        }
    }
    memset(d->frame_power, 0, sizeof d->frame_power);
    if (is_rrc(d->cfg.scheme)) {
        d->nco_phase += d->nco_freq * FRAME;
        d->nco_phase -= floor(d->nco_phase);
        d->nco_ready = 0;
        d->nco_freq += d->freq / (TWO_PI * d->cfg.sps);
        d->freq = 0.0;
        d->freq_offset_hz = d->nco_freq * d->cfg.fs_hz;
    } else {
        d->freq_offset_hz = d->pll_freq / TWO_PI * d->cfg.fs_hz;
    }
    if (d->searching) {
        int n = fft_size(d->cfg.acq_frames);
        if (d->acq_fill < 0) {
            d->acq_fill = 0;
        } else if (d->acq_fill >= d->cfg.acq_frames * FRAME || d->acq_fill >= n) {
            double center = is_rrc(d->cfg.scheme) ? d->nco_freq : 0.0;
            double f = acquire(d, center);
            d->acquisitions++;
            d->searching = 0;
            d->acq_fill = 0;
            if (is_rrc(d->cfg.scheme)) {
                d->nco_freq += f;
                d->nco_ready = 0;
                d->freq_offset_hz = d->nco_freq * d->cfg.fs_hz;
            } else {
                d->pll_freq = TWO_PI * f;
            }
            reset_carrier(d);
            if (is_rrc(d->cfg.scheme))
                /* The symbol period starts again at the nominal one: while the search ran on
                 * noise the timing loop wandered to its pull limit, from where its integrator
                 * needs seconds to come back; a transmitter's clock is ppm from nominal. */
                d->period = d->cfg.sps;
            else
                d->pll_freq = TWO_PI * f;
        }
    }
}

/* Copy n samples in, sanitised, scaled by the AGC gain; accumulate the frame's power.  The power
 * is summed in four lanes, sample k of the frame into lane k % 4 (in order within a lane), and the
 * lanes are added at the frame's end: the same sum however the input is split, and four chains
 * of additions in flight instead of one.  `at` is the place of iq[0] in the frame. */
static uint64_t take_portable(const float *iq, size_t n, size_t at, float g, float *xr, float *xi,
                              double lane[4])
{
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float r = iq[2 * i], q = iq[2 * i + 1];
        int fr = r - r == 0.0f, fq = q - q == 0.0f; /* false for NaN and infinities */
        bad += (uint64_t)(!fr + !fq);
        r = fr ? r : 0.0f;
        q = fq ? q : 0.0f;
        r = r > MAX_MAG ? MAX_MAG : r < -MAX_MAG ? -MAX_MAG : r;
        q = q > MAX_MAG ? MAX_MAG : q < -MAX_MAG ? -MAX_MAG : q;
        double rr = (double)r * r, qq = (double)q * q; /* rounded apart, then added: as the AVX2 path */
        lane[(at + i) & 3] += rr + qq;
        xr[i] = r * g;
        xi[i] = q * g;
    }
    return bad;
}

#if LR_HAVE_X86_DISPATCH
/* take_portable four samples at a time: the same values, octet for octet. */
LR_NO_CONTRACT LR_TARGET_AVX2 static uint64_t take_avx2(const float *iq, size_t n, size_t at, float g, float *xr,
                                                        float *xi, double lane[4])
{
    const __m256 zero = _mm256_setzero_ps(), hi = _mm256_set1_ps(MAX_MAG), lo = _mm256_set1_ps(-MAX_MAG);
    const __m256 gain = _mm256_set1_ps(g);
    const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7); /* r0..r3 | q0..q3 */
    /* hadd gives the powers of samples 0, 2, 1, 3 of a group: their lanes, in that order */
    double acc_in[4] = {lane[at & 3], lane[(at + 2) & 3], lane[(at + 1) & 3], lane[(at + 3) & 3]};
    __m256d acc = _mm256_loadu_pd(acc_in);
    uint64_t bad = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256 v = _mm256_loadu_ps(iq + 2 * i);
        __m256 finite = _mm256_cmp_ps(_mm256_sub_ps(v, v), zero, _CMP_EQ_OQ);
        bad += (uint64_t)(8 - __builtin_popcount((unsigned)_mm256_movemask_ps(finite)));
        v = _mm256_min_ps(_mm256_max_ps(_mm256_and_ps(v, finite), lo), hi);
        __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        acc = _mm256_add_pd(acc, _mm256_hadd_pd(_mm256_mul_pd(a, a), _mm256_mul_pd(b, b)));
        __m256 s = _mm256_mul_ps(_mm256_permutevar8x32_ps(v, split), gain);
        _mm_storeu_ps(xr + i, _mm256_castps256_ps128(s));
        _mm_storeu_ps(xi + i, _mm256_extractf128_ps(s, 1));
    }
    double acc_out[4];
    _mm256_storeu_pd(acc_out, acc);
    lane[at & 3] = acc_out[0];
    lane[(at + 2) & 3] = acc_out[1];
    lane[(at + 1) & 3] = acc_out[2];
    lane[(at + 3) & 3] = acc_out[3];
    return bad + take_portable(iq + 2 * i, n - i, at + i, g, xr + i, xi + i, lane);
}
#endif

static void take_samples(struct lr_demod *d, const float *iq, size_t n, float *xr, float *xi)
{
    const size_t at = (size_t)(d->samples % FRAME);
    const float g = (float)d->agc_gain;
    uint64_t bad;
#if LR_HAVE_X86_DISPATCH
    if (!d->cfg.scalar_reference && lr_simd_level() >= LR_SIMD_AVX2)
        bad = take_avx2(iq, n, at, g, xr, xi, d->frame_power);
    else
#endif
        bad = take_portable(iq, n, at, g, xr, xi, d->frame_power);
    d->nonfinite += bad;
}

/* Filter outputs are computed in groups of FIR_GROUP at places aligned in the frame, each by
 * the same code, so any split of the input gives the same outputs; up to FIR_GROUP - 1
 * samples wait for the next call. */
#define FIR_GROUP 16
_Static_assert(FRAME % FIR_GROUP == 0, "frames hold whole filter groups");

static size_t rrc_piece(struct lr_demod *d, const float *iq, size_t n, float *soft)
{
    const int h = d->n_taps - 1;
    const size_t at = (size_t)(d->samples % FRAME); /* place of iq[0] in the frame */
    float *xr = d->xr + h + d->x_wait, *xi = d->xi + h + d->x_wait;
    take_samples(d, iq, n, xr, xi);
    rotate(d, xr, xi, n, at);
    size_t avail = (size_t)d->x_wait + n;
    size_t m = avail / FIR_GROUP * FIR_GROUP;
    d->x_wait = (int32_t)(avail - m);
    if (m == 0)
        return 0;
    fir(d, d->xr, d->yr + YHIST, m);
    fir(d, d->xi, d->yi + YHIST, m);
    memmove(d->xr, d->xr + m, sizeof(float) * ((size_t)h + (size_t)d->x_wait));
    memmove(d->xi, d->xi + m, sizeof(float) * ((size_t)h + (size_t)d->x_wait));
    if (d->searching && d->acq_fill >= 0) {
        int room = fft_size(d->cfg.acq_frames) - d->acq_fill;
        int k = (int)m < room ? (int)m : room;
        memcpy(d->acq_r + d->acq_fill, d->yr + YHIST, sizeof(float) * (size_t)k);
        memcpy(d->acq_i + d->acq_fill, d->yi + YHIST, sizeof(float) * (size_t)k);
        d->acq_fill += k;
    }
    size_t out = symbol_loop(d, YHIST + m, soft);
    d->pos_i -= (int64_t)m;
    memmove(d->yr, d->yr + m, sizeof(float) * YHIST);
    memmove(d->yi, d->yi + m, sizeof(float) * YHIST);
    return out;
}

/* ------------------------------------------------------------------ PM ---- */

/* One subcarrier cycle of the loop ended with in-phase integral ei and quadrature eq (about
 * +/-1 and the phase error): step the subcarrier loop. */
static void pm_cycle(struct lr_demod *d, double ei, double eq)
{
    const double spc = d->cfg.fs_hz / d->cfg.subcarrier_hz;
    double err = sgn(ei) * eq;
    err = err > 1.0 ? 1.0 : err < -1.0 ? -1.0 : err;
    d->sc_freq += d->sc_ki * err / spc;
    const double nominal = d->cfg.subcarrier_hz / d->cfg.fs_hz;
    if (d->sc_freq > nominal * (1.0 + PERIOD_PULL))
        d->sc_freq = nominal * (1.0 + PERIOD_PULL);
    else if (d->sc_freq < nominal * (1.0 - PERIOD_PULL))
        d->sc_freq = nominal * (1.0 - PERIOD_PULL);
    d->sc_phase += d->sc_kp * err;
}

/* Half a subcarrier cycle ended with in-phase integral hi (about +/-1/2): gather the half
 * cycles into symbols of 2 * sc_per_symbol halves; of the possible alignments, the one with
 * the largest average |symbol| is the symbol timing.  Symbols start on a subcarrier zero
 * crossing (CCSDS 401.0-B §2.2.7: the data phase-modulates the subcarrier), which is where
 * the loop's cycle starts only when it locked at 0 degrees: locked at 180 degrees (as likely:
 * the data hide the sign) it is half a cycle on, and whole-cycle alignments would all
 * straddle a data transition, two of them equally good, the timing flipping between them. */
static size_t pm_half(struct lr_demod *d, double hi, float *soft)
{
    const int halves = 2 * (int)d->sc_per_symbol;
    memmove(d->sc_ring, d->sc_ring + 1, sizeof(float) * (size_t)(halves - 1));
    d->sc_ring[halves - 1] = (float)hi;
    float sum = 0.0f;
    for (int k = 0; k < halves; k++)
        sum += d->sc_ring[k];
    int slot = (int)(d->sc_halves++ % (uint64_t)halves);
    d->sc_energy[slot] += 0.02f * (fabsf(sum) - d->sc_energy[slot]);
    int best = 0;
    for (int k = 1; k < halves; k++)
        if (d->sc_energy[k] > d->sc_energy[best])
            best = k;
    if (slot != best)
        return 0;
    double level = sum / d->sc_per_symbol;
    update_estimates(d, level, 0.0);
    soft[0] = soft_bit(d, level / d->amp);
    d->symbols++;
    /* Lock: the residual carrier's mean in-phase amplitude against the noise of that mean
     * (lock_num over about lock_symbols * sps samples), and its share of the power. */
    double n_avg = (double)d->cfg.lock_symbols * d->cfg.sps;
    double t = d->lock_den > 0.0 ? d->lock_num / sqrt(d->lock_den / (2.0 * n_avg)) : 0.0;
    d->lock_metric = d->lock_den > 0.0 ? d->lock_num / sqrt(d->lock_den) : 0.0;
    int was = d->locked;
    d->locked = t > 6.0 ? 1 : t < 3.0 ? 0 : d->locked;
    if (was != d->locked)
        d->lock_changes++;
    d->unlocked_run = d->locked ? 0 : d->unlocked_run + 1;
    if (!d->locked && d->unlocked_run >= d->cfg.unlock_symbols && !d->searching && d->cfg.acq_range_hz > 0.0) {
        d->searching = 1;
        d->acq_fill = -1;
    }
    return 1;
}

static size_t pm_piece(struct lr_demod *d, const float *iq, size_t n, float *soft)
{
    float *xr = d->xr, *xi = d->xi;
    take_samples(d, iq, n, xr, xi);
    if (d->searching && d->acq_fill >= 0) {
        int room = fft_size(d->cfg.acq_frames) - d->acq_fill;
        int k = (int)n < room ? (int)n : room;
        memcpy(d->acq_r + d->acq_fill, xr, sizeof(float) * (size_t)k);
        memcpy(d->acq_i + d->acq_fill, xi, sizeof(float) * (size_t)k);
        d->acq_fill += k;
    }
    size_t out = 0;
    const double j0c = fabs(j0(d->cfg.mod_index_rad)) + 1e-3;
    const double a = 1.0 / ((double)d->cfg.lock_symbols * d->cfg.sps);
    const double half_cycle = 0.5 * d->cfg.fs_hz / d->cfg.subcarrier_hz;
    const double j1x2 = 2.0 * fabs(j1(d->cfg.mod_index_rad)) + 1e-3;
    for (size_t i = 0; i < n; i++) {
        double c, s;
        fast_sincos(-d->pll_phase, &c, &s);
        double zr = xr[i] * c - xi[i] * s, zi = xr[i] * s + xi[i] * c;
        /* residual carrier PLL: Im(z) is J0(m) * A * sin(phase error) on average; the
         * detector is linear in the noise (no limiter); the AGC holds the total power at 1 */
        double e = zi / j0c;
        e = e > 1.0 ? 1.0 : e < -1.0 ? -1.0 : e;
        d->pll_freq += d->c_ki * e;
        d->pll_phase += d->c_kp * e + d->pll_freq;
        d->pll_phase = remainder(d->pll_phase, TWO_PI);
        d->lock_num += a * (zr - d->lock_num);
        d->lock_den += a * (zr * zr + zi * zi - d->lock_den);
        /* the subcarrier: Im(z) = A sin(m d sin(w t)), whose fundamental is 2 J1(m) A d sin(w t) */
        double phase = zi / j1x2;
        double sc, ss;
        fast_sincos(TWO_PI * d->sc_phase, &sc, &ss);
        d->sc_acc_i += phase * ss;
        d->sc_acc_q += phase * sc;
        d->sc_half_i += phase * ss;
        double before = d->sc_phase;
        d->sc_phase += d->sc_freq;
        if (before < 0.5 && d->sc_phase >= 0.5) {
            out += pm_half(d, d->sc_half_i / half_cycle, soft + out);
            d->sc_half_i = 0.0;
        }
        if (d->sc_phase >= 1.0) {
            d->sc_phase -= floor(d->sc_phase);
            out += pm_half(d, d->sc_half_i / half_cycle, soft + out);
            d->sc_half_i = 0.0;
            pm_cycle(d, d->sc_acc_i / half_cycle, d->sc_acc_q / half_cycle);
            d->sc_acc_i = d->sc_acc_q = 0.0;
        }
    }
    return out;
}

/* ---------------------------------------------------------------- public --- */

int64_t lr_demod_process(struct lr_demod *d, const float *iq, size_t n, float *soft, size_t n_soft)
{
    if (d == NULL || (n && iq == NULL) || (soft == NULL && n_soft))
        return LR_E_ARG;
    if (n_soft < lr_demod_max_soft(d, n))
        return LR_E_SPACE;
    const int rrc = is_rrc(d->cfg.scheme);
    size_t out = 0, done = 0;
    while (done < n) {
        size_t in_frame = (size_t)(d->samples % FRAME);
        size_t k = FRAME - in_frame;
        if (k > n - done)
            k = n - done;
        out += rrc ? rrc_piece(d, iq + 2 * done, k, soft + out) : pm_piece(d, iq + 2 * done, k, soft + out);
        done += k;
        d->samples += k;
        if (d->samples % FRAME == 0)
            frame_end(d);
    }
    return (int64_t)out;
}
