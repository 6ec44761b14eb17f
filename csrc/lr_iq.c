/* lr_iq.c - complex sample format conversion; see lr_iq.h. */
#include "lr_iq.h"

#include <math.h>
#include <string.h>

#include "lr_cpu.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

int lr_iq_format_ok(int format)
{
    return format == LR_IQ_CF32 || format == LR_IQ_CI16 || format == LR_IQ_CI8;
}

size_t lr_iq_sample_size(int format)
{
    return format == LR_IQ_CF32 ? 8 : format == LR_IQ_CI16 ? 4 : 2;
}

/* Round to nearest (ties to even, as the vector path), clip to +/-limit, NaN to 0. */
static inline int32_t quantise(float x, float limit, uint64_t *clipped)
{
    if (!(x == x))
        return 0;
    if (x > limit) {
        (*clipped)++;
        return (int32_t)limit;
    }
    if (x < -limit) {
        (*clipped)++;
        return -(int32_t)limit;
    }
    return (int32_t)rintf(x);
}

static uint64_t store_portable(const float *re, const float *im, size_t n, int format, void *out, size_t at)
{
    uint64_t clipped = 0;
    if (format == LR_IQ_CF32) {
        float *o = (float *)out + 2 * at;
        for (size_t i = 0; i < n; i++) {
            o[2 * i] = re[i];
            o[2 * i + 1] = im[i];
        }
    } else if (format == LR_IQ_CI16) {
        int16_t *o = (int16_t *)out + 2 * at;
        for (size_t i = 0; i < n; i++) {
            o[2 * i] = (int16_t)quantise(re[i], 32767.0f, &clipped);
            o[2 * i + 1] = (int16_t)quantise(im[i], 32767.0f, &clipped);
        }
    } else {
        int8_t *o = (int8_t *)out + 2 * at;
        for (size_t i = 0; i < n; i++) {
            o[2 * i] = (int8_t)quantise(re[i], 127.0f, &clipped);
            o[2 * i + 1] = (int8_t)quantise(im[i], 127.0f, &clipped);
        }
    }
    return clipped;
}

#if LR_HAVE_X86_DISPATCH
/* ci16 eight samples at a time: clip in float (counting), round, interleave, pack. */
LR_TARGET_AVX2 static uint64_t store_ci16_avx2(const float *re, const float *im, size_t n, int16_t *o)
{
    const __m256 hi = _mm256_set1_ps(32767.0f), lo = _mm256_set1_ps(-32767.0f);
    uint64_t clipped = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = _mm256_loadu_ps(re + i), q = _mm256_loadu_ps(im + i);
        r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
        q = _mm256_and_ps(q, _mm256_cmp_ps(q, q, _CMP_ORD_Q));
        __m256 over_r = _mm256_or_ps(_mm256_cmp_ps(r, hi, _CMP_GT_OQ), _mm256_cmp_ps(r, lo, _CMP_LT_OQ));
        __m256 over_q = _mm256_or_ps(_mm256_cmp_ps(q, hi, _CMP_GT_OQ), _mm256_cmp_ps(q, lo, _CMP_LT_OQ));
        clipped += (uint64_t)__builtin_popcount((unsigned)_mm256_movemask_ps(over_r)) +
                   (uint64_t)__builtin_popcount((unsigned)_mm256_movemask_ps(over_q));
        r = _mm256_max_ps(_mm256_min_ps(r, hi), lo);
        q = _mm256_max_ps(_mm256_min_ps(q, hi), lo);
        __m256i ri = _mm256_cvtps_epi32(r), qi = _mm256_cvtps_epi32(q);
        /* interleave: lanes (r0 q0 r1 q1 ...) as int32, then pack to int16 */
        __m256i a = _mm256_unpacklo_epi32(ri, qi); /* r0 q0 r1 q1 | r4 q4 r5 q5 */
        __m256i b = _mm256_unpackhi_epi32(ri, qi); /* r2 q2 r3 q3 | r6 q6 r7 q7 */
        __m256i p = _mm256_packs_epi32(a, b);      /* r0 q0 r1 q1 r2 q2 r3 q3 | r4 .. q7 */
        _mm256_storeu_si256((__m256i *)(o + 2 * i), p);
    }
    clipped += store_portable(re + i, im + i, n - i, LR_IQ_CI16, o, i);
    return clipped;
}
#endif

uint64_t lr_iq_store(const float *re, const float *im, size_t n, int format, void *out, size_t at)
{
#if LR_HAVE_X86_DISPATCH
    if (format == LR_IQ_CI16 && lr_simd_level() >= LR_SIMD_AVX2)
        return store_ci16_avx2(re, im, n, (int16_t *)out + 2 * at);
#endif
    return store_portable(re, im, n, format, out, at);
}

int64_t lr_iq_from_cf32(const float *in, size_t n, double scale, int format, void *out, size_t n_out)
{
    if (!lr_iq_format_ok(format) || (n && (in == NULL || out == NULL)) || !isfinite(scale))
        return LR_E_ARG;
    if (n_out < n)
        return LR_E_SPACE;
    float re[256], im[256];
    uint64_t clipped = 0;
    const float s = (float)scale;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 256 ? n - done : 256;
        for (size_t i = 0; i < k; i++) {
            re[i] = s * in[2 * (done + i)];
            im[i] = s * in[2 * (done + i) + 1];
        }
        clipped += lr_iq_store(re, im, k, format, out, done);
        done += k;
    }
    return (int64_t)clipped;
}

int64_t lr_iq_to_cf32(const void *in, size_t n, int format, double scale, float *out, size_t n_out)
{
    if (!lr_iq_format_ok(format) || (n && (in == NULL || out == NULL)) || !isfinite(scale))
        return LR_E_ARG;
    if (n_out < n)
        return LR_E_SPACE;
    const float s = (float)scale;
    if (format == LR_IQ_CF32) {
        const float *p = in;
        for (size_t i = 0; i < 2 * n; i++)
            out[i] = s * p[i];
    } else if (format == LR_IQ_CI16) {
        const int16_t *p = in;
        for (size_t i = 0; i < 2 * n; i++)
            out[i] = s * (float)p[i];
    } else {
        const int8_t *p = in;
        for (size_t i = 0; i < 2 * n; i++)
            out[i] = s * (float)p[i];
    }
    return (int64_t)n;
}
