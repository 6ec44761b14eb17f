/* lr_sync.c - ASM attachment and the TM frame synchroniser; see lr_sync.h. */
#include "lr_sync.h"

#include <string.h>

#include "lr_cpu.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

#define SYNC_MAX_FRAME_LEN (1u << 24)

/* asm_bits bits starting at bit q of in (MSB first), right-aligned. */
static uint32_t bits_at(const uint8_t *in, size_t q, unsigned nb)
{
    size_t b = q >> 3;
    unsigned sh = (unsigned)(q & 7u), need = (sh + nb + 7) >> 3;
    uint64_t w = 0;
    for (unsigned i = 0; i < need; i++)
        w = (w << 8) | in[b + i];
    w >>= need * 8 - sh - nb;
    return (uint32_t)(w & ((1ull << nb) - 1));
}

/* Is a candidate with e differing bits a hit?  Sets *inv and *errors if so. */
static inline int judge(const struct lr_sync_config *c, unsigned e, uint32_t tol, uint32_t *errors,
                        int *inv)
{
    if (e <= tol) {
        *errors = e;
        *inv = 0;
        return 1;
    }
    if (c->detect_inverted && c->asm_bits - e <= tol) {
        *errors = c->asm_bits - e;
        *inv = 1;
        return 1;
    }
    return 0;
}

/* Bit count without relying on a popcnt instruction (the portable build has none). */
static inline unsigned popcount32(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

/* The big-endian value of 8 octets loaded into a native word. */
static inline uint64_t load_be64_fix(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return w;
#else
    return __builtin_bswap64(w);
#endif
}

static int64_t find_bitwise(const struct lr_sync_config *c, const uint8_t *in, size_t from, size_t to,
                            uint32_t tol, uint32_t *errors, int *inv)
{
    size_t stride = c->byte_aligned ? 8 : 1;
    if (c->byte_aligned)
        from = (from + 7) & ~(size_t)7;
    for (size_t q = from; q <= to; q += stride) {
        unsigned e = (unsigned)__builtin_popcount(bits_at(in, q, c->asm_bits) ^ c->asm_word);
        if (judge(c, e, tol, errors, inv))
            return (int64_t)q;
    }
    return -1;
}

static int64_t find_window(const struct lr_sync_config *c, const uint8_t *in, size_t from, size_t to,
                           uint32_t tol, uint32_t *errors, int *inv)
{
    const unsigned nb = c->asm_bits;
    const uint64_t mask = (1ull << nb) - 1;
    const size_t n_bytes = (to + nb + 7) >> 3;
    const unsigned last_shift = c->byte_aligned ? 0 : 7;
    const unsigned inv_from = c->detect_inverted ? nb - tol : 64; /* 64: never */
    if (c->byte_aligned)
        from = (from + 7) & ~(size_t)7;
    if (from > to)
        return -1;
    for (size_t i = from >> 3; 8 * i <= to; i++) {
        uint64_t w = 0;
        if (i + 8 <= n_bytes) {
            memcpy(&w, in + i, 8);
            w = load_be64_fix(w);
        } else {
            for (size_t k = 0; k < 8; k++)
                w = (w << 8) | (i + k < n_bytes ? in[i + k] : 0);
        }
        for (unsigned sh = 0; sh <= last_shift; sh++) {
            size_t q = 8 * i + sh;
            if (q < from)
                continue;
            if (q > to)
                return -1;
            uint32_t cand = (uint32_t)((w >> (64 - nb - sh)) & mask);
            unsigned e = popcount32(cand ^ c->asm_word);
            if (LR_UNLIKELY(e <= tol || e >= inv_from)) {
                judge(c, e, tol, errors, inv);
                return (int64_t)q;
            }
        }
    }
    return -1;
}

/* The same eight-by-eight step as find_avx2 below, in GNU C vectors that any target
 * lowers to its own SIMD (two SSE2 registers on baseline x86-64, NEON on aarch64).
 * The popcount is the SWAR one; a block with a possible hit is handed to
 * find_window, which finds the first hit in it exactly. */
typedef uint32_t lr_v8u32 __attribute__((vector_size(32)));

static int64_t find_vector(const struct lr_sync_config *c, const uint8_t *in, size_t from, size_t to,
                           uint32_t tol, uint32_t *errors, int *inv)
{
    const unsigned nb = c->asm_bits;
    const size_t n_bytes = (to + nb + 7) >> 3;
    size_t i = (from + 7) >> 3;
    if (8 * i > from) {
        int64_t r = find_window(c, in, from, 8 * i - 1 < to ? 8 * i - 1 : to, tol, errors, inv);
        if (r >= 0 || 8 * i > to)
            return r;
    }
    const uint32_t pat = c->asm_word << (32 - nb), keep = 0xFFFFFFFFu << (32 - nb);
    /* e <= tol  <=>  e - (tol + 1) < 0;  e >= inv_from  <=>  (inv_from - 1) - e < 0:
     * the sign bits, with no vector compare (which baseline targets lack for 8 lanes). */
    const uint32_t lo_bias = tol + 1, hi_bias = c->detect_inverted ? nb - tol - 1 : 0x7FFFFFFFu;
    const unsigned last_shift = c->byte_aligned ? 0 : 7;
    const lr_v8u32 m1 = {0}, k55 = m1 + 0x55555555u, k33 = m1 + 0x33333333u, k0f = m1 + 0x0F0F0F0Fu;
    for (; 8 * i + 63 <= to && i + 12 <= n_bytes; i += 8) {
        lr_v8u32 w, nx;
        for (int j = 0; j < 8; j++) {
            const uint8_t *p = in + i + (size_t)j;
            w[j] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            nx[j] = p[4];
        }
        lr_v8u32 any = {0};
        for (unsigned sh = 0; sh <= last_shift; sh++) {
            lr_v8u32 x = (((w << sh) | (nx >> (8 - sh))) ^ pat) & keep;
            x = x - ((x >> 1) & k55);
            x = (x & k33) + ((x >> 2) & k33);
            x = (x + (x >> 4)) & k0f;
            x = x + (x >> 8);
            lr_v8u32 e = (x + (x >> 16)) & 0x3Fu;
            any |= (e - lo_bias) | (hi_bias - e);
        }
        uint32_t flag = 0;
        for (int j = 0; j < 8; j++)
            flag |= any[j];
        flag >>= 31;
        if (LR_UNLIKELY(flag)) {
            int64_t r = find_window(c, in, 8 * i, 8 * i + 63, tol, errors, inv);
            if (r >= 0)
                return r;
        }
    }
    if (8 * i > to)
        return -1;
    return find_window(c, in, 8 * i, to, tol, errors, inv);
}

#if LR_HAVE_X86_DISPATCH
/* Eight octet positions by eight bit shifts per step: each 32-bit lane holds the
 * big-endian word at one octet and the octet after it, and the candidate at shift
 * s is (word << s) | (next >> (8 - s)). */
LR_TARGET_AVX2 static int64_t find_avx2(const struct lr_sync_config *c, const uint8_t *in, size_t from,
                                        size_t to, uint32_t tol, uint32_t *errors, int *inv)
{
    const unsigned nb = c->asm_bits;
    const size_t n_bytes = (to + nb + 7) >> 3;
    size_t i = (from + 7) >> 3;
    if (8 * i > from) {
        int64_t r = find_window(c, in, from, 8 * i - 1 < to ? 8 * i - 1 : to, tol, errors, inv);
        if (r >= 0 || 8 * i > to)
            return r;
    }
    const __m256i shuf_w = _mm256_setr_epi8(3, 2, 1, 0, 4, 3, 2, 1, 5, 4, 3, 2, 6, 5, 4, 3, 3, 2, 1, 0, 4,
                                            3, 2, 1, 5, 4, 3, 2, 6, 5, 4, 3);
    const __m256i shuf_n = _mm256_setr_epi8(4, -1, -1, -1, 5, -1, -1, -1, 6, -1, -1, -1, 7, -1, -1, -1, 4,
                                            -1, -1, -1, 5, -1, -1, -1, 6, -1, -1, -1, 7, -1, -1, -1);
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2,
                                         2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i nib = _mm256_set1_epi8(0x0F), ones8 = _mm256_set1_epi8(1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    const __m256i pattern = _mm256_set1_epi32((int)(c->asm_word << (32 - nb)));
    const __m256i keep = _mm256_set1_epi32((int)(0xFFFFFFFFu << (32 - nb)));
    const __m256i lo_limit = _mm256_set1_epi32((int)tol + 1);
    const __m256i hi_limit = _mm256_set1_epi32(c->detect_inverted ? (int)(nb - tol) - 1 : 64);
    const unsigned last_shift = c->byte_aligned ? 0 : 7;
    for (; 8 * i + 63 <= to && i + 20 <= n_bytes; i += 8) {
        __m256i v = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(in + i + 4)),
                                     _mm_loadu_si128((const __m128i *)(in + i)));
        __m256i w = _mm256_shuffle_epi8(v, shuf_w), nx = _mm256_shuffle_epi8(v, shuf_n);
        unsigned masks[8] = {0}, any = 0;
        for (unsigned sh = 0; sh <= last_shift; sh++) {
            __m256i cand = _mm256_or_si256(_mm256_sll_epi32(w, _mm_cvtsi32_si128((int)sh)),
                                           _mm256_srl_epi32(nx, _mm_cvtsi32_si128((int)(8 - sh))));
            __m256i x = _mm256_and_si256(_mm256_xor_si256(cand, pattern), keep);
            __m256i cnt = _mm256_add_epi8(
                _mm256_shuffle_epi8(lut, _mm256_and_si256(x, nib)),
                _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), nib)));
            __m256i e = _mm256_madd_epi16(_mm256_maddubs_epi16(cnt, ones8), ones16);
            __m256i hit = _mm256_or_si256(_mm256_cmpgt_epi32(lo_limit, e), _mm256_cmpgt_epi32(e, hi_limit));
            masks[sh] = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(hit));
            any |= masks[sh];
        }
        if (LR_UNLIKELY(any)) {
            size_t best = SIZE_MAX;
            for (unsigned sh = 0; sh <= last_shift; sh++)
                if (masks[sh]) {
                    size_t q = 8 * (i + (size_t)__builtin_ctz(masks[sh])) + sh;
                    best = q < best ? q : best;
                }
            unsigned e = (unsigned)__builtin_popcount(bits_at(in, best, nb) ^ c->asm_word);
            judge(c, e, tol, errors, inv);
            return (int64_t)best;
        }
    }
    if (8 * i > to)
        return -1;
    return find_window(c, in, 8 * i, to, tol, errors, inv);
}
#endif

static int config_ok(const struct lr_sync_config *c)
{
    if (c->asm_bits < 8 || c->asm_bits > 32)
        return 0;
    if (c->asm_bits < 32 && (c->asm_word >> c->asm_bits) != 0)
        return 0;
    if (c->frame_len == 0 || c->frame_len > SYNC_MAX_FRAME_LEN)
        return 0;
    if (2 * c->search_errors >= c->asm_bits || 2 * c->lock_errors >= c->asm_bits)
        return 0;
    if (c->kernel < LR_SYNC_AUTO || c->kernel > LR_SYNC_VECTOR || c->byte_aligned > 1 ||
        c->detect_inverted > 1)
        return 0;
    return 1;
}

int64_t lr_sync_find(const struct lr_sync_config *cfg, const uint8_t *in, size_t from, size_t to,
                     uint32_t max_errors, uint32_t *errors, int *inverted)
{
    if (!config_ok(cfg) || 2 * max_errors >= cfg->asm_bits)
        return LR_E_ARG;
    if (from > to)
        return (int64_t)to + 1;
    int64_t q;
    int kernel = cfg->kernel;
    if (kernel == LR_SYNC_AUTO)
        kernel = lr_simd_level() >= LR_SIMD_AVX2 ? LR_SYNC_AVX2 : LR_SYNC_VECTOR;
    switch (kernel) {
    case LR_SYNC_BITWISE:
        q = find_bitwise(cfg, in, from, to, max_errors, errors, inverted);
        break;
    case LR_SYNC_AVX2:
#if LR_HAVE_X86_DISPATCH
        if (lr_simd_supported() >= LR_SIMD_AVX2) {
            q = find_avx2(cfg, in, from, to, max_errors, errors, inverted);
            break;
        }
#endif
        /* fall through */
    case LR_SYNC_VECTOR:
        q = find_vector(cfg, in, from, to, max_errors, errors, inverted);
        break;
    default:
        q = find_window(cfg, in, from, to, max_errors, errors, inverted);
    }
    return q < 0 ? (int64_t)to + 1 : q;
}

int lr_sync_init(struct lr_sync *s, const struct lr_sync_config *cfg)
{
    if (!config_ok(cfg))
        return LR_E_ARG;
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->state = LR_SYNC_SEARCH;
    return LR_OK;
}

static void copy_frame(const uint8_t *in, size_t q, size_t n, int invert, uint8_t *out)
{
    size_t b = q >> 3;
    unsigned sh = (unsigned)(q & 7u);
    uint8_t x = invert ? 0xFF : 0x00;
    if (sh == 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = in[b + i] ^ x;
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(((unsigned)in[b + i] << sh) | (in[b + i + 1] >> (8 - sh))) ^ x;
}

int64_t lr_sync_process(struct lr_sync *s, const uint8_t *in, size_t first_bit, size_t n_bits,
                        uint8_t *out, size_t n_out, struct lr_sync_frame *meta, size_t n_meta,
                        size_t *consumed)
{
    const struct lr_sync_config *c = &s->cfg;
    *consumed = 0;
    if (!config_ok(c) || first_bit > 7)
        return LR_E_ARG;
    const size_t len = c->frame_len, step = c->asm_bits + 8 * len;
    if (n_meta == 0 || n_out < len)
        return LR_E_SPACE;
    const size_t total = first_bit + n_bits;
    const uint32_t mask = (uint32_t)((1ull << c->asm_bits) - 1);
    size_t p = first_bit + s->skip_bits, nf = 0;
    while (nf < n_meta && n_out - nf * len >= len && p + step <= total) {
        uint32_t errors = 0;
        int inv = 0, st = s->state, deliver = 0;
        if (st == LR_SYNC_SEARCH) {
            size_t last = total - step;
            int64_t q = lr_sync_find(c, in, p, last, c->search_errors, &errors, &inv);
            if (q < 0 || (size_t)q > last) {
                p = last + 1;
                break;
            }
            p = (size_t)q;
            s->inverted = inv;
            s->searches_won++;
            s->run = 0;
            if (c->check_frames == 0) {
                s->state = LR_SYNC_LOCK;
                s->locks++;
            } else {
                s->state = LR_SYNC_CHECK;
            }
            deliver = 1;
        } else {
            uint32_t w = bits_at(in, p, c->asm_bits);
            if (s->inverted)
                w = ~w & mask;
            errors = (uint32_t)__builtin_popcount(w ^ c->asm_word);
            inv = s->inverted;
            if (errors <= c->lock_errors) {
                deliver = 1;
                if (st == LR_SYNC_CHECK && ++s->run >= c->check_frames) {
                    s->state = LR_SYNC_LOCK;
                    s->locks++;
                    s->run = 0;
                } else if (st == LR_SYNC_FLYWHEEL) {
                    s->state = LR_SYNC_LOCK;
                    s->run = 0;
                    st = LR_SYNC_LOCK; /* the marker is back: a locked frame */
                }
            } else if (st == LR_SYNC_CHECK) {
                /* The marker before this one was false: search again just after it.
                 * Those bits are still in the input, even when an earlier call
                 * delivered that marker's frame (see skip_bits). */
                s->checks_failed++;
                s->state = LR_SYNC_SEARCH;
                p = p + 1 - step;
                continue;
            } else {
                s->run = st == LR_SYNC_LOCK ? 1 : s->run + 1;
                if (s->run > c->flywheel_frames) {
                    s->sync_losses++;
                    s->state = LR_SYNC_SEARCH;
                    s->run = 0;
                    continue;
                }
                s->state = LR_SYNC_FLYWHEEL;
                st = LR_SYNC_FLYWHEEL;
                deliver = 1;
                s->flywheel_frames++;
            }
        }
        if (deliver) {
            copy_frame(in, p + c->asm_bits, len, inv, out + nf * len);
            struct lr_sync_frame *m = &meta[nf++];
            m->offset_bits = s->stream_bits + (p - first_bit);
            m->asm_errors = errors;
            m->inverted = (uint8_t)inv;
            m->state = (uint8_t)st;
            m->reserved = 0;
            s->frames++;
            s->asm_bit_errors += errors;
            s->inverted_frames += (uint64_t)inv;
            p += step;
        }
    }
    /* In CHECK, p is the next expected marker, one step after the last one; keep
     * the bits from just after that one for a possible rewind.  p - step + 1 is
     * never before first_bit: the last marker lies in this input, or is the one
     * whose held-back bits start it. */
    size_t keep_from = s->state == LR_SYNC_CHECK ? p + 1 - step : p;
    s->skip_bits = (uint32_t)(p - keep_from);
    *consumed = keep_from - first_bit;
    s->stream_bits += *consumed;
    return (int64_t)nf;
}

int64_t lr_asm_attach(uint32_t asm_word, size_t frame_len, const uint8_t *in, size_t n_in,
                      uint8_t *out, size_t n_out)
{
    if (frame_len == 0)
        return LR_E_ARG;
    if (n_in % frame_len)
        return LR_E_FORMAT;
    size_t n = n_in / frame_len;
    if (n_out / (frame_len + 4) < n)
        return LR_E_SPACE;
    /* Backwards, so that out may begin where in does (in place with room after). */
    for (size_t f = n; f-- > 0;) {
        uint8_t *o = out + f * (frame_len + 4);
        memmove(o + 4, in + f * frame_len, frame_len);
        o[0] = (uint8_t)(asm_word >> 24);
        o[1] = (uint8_t)(asm_word >> 16);
        o[2] = (uint8_t)(asm_word >> 8);
        o[3] = (uint8_t)asm_word;
    }
    return (int64_t)(n * (frame_len + 4));
}

#if LR_HAVE_X86_DISPATCH
LR_TARGET_AVX2 static size_t pack_soft_avx2(const int8_t *in, size_t n, uint8_t *out)
{
    /* Reverse each group of 8 symbols so that movemask puts the first at bit 7. */
    const __m256i rev = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
                                         3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
    const __m256i zero = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(in + i));
        __m256i pos = _mm256_shuffle_epi8(_mm256_cmpgt_epi8(v, zero), rev);
        uint32_t m = (uint32_t)_mm256_movemask_epi8(pos);
        memcpy(out + i / 8, &m, 4);
    }
    return i;
}
#endif

int64_t lr_sync_pack_soft(const int8_t *in, size_t n_in, uint8_t *out, size_t n_out)
{
    size_t n_bytes = (n_in + 7) / 8, i = 0;
    if (n_out < n_bytes)
        return LR_E_SPACE;
#if LR_HAVE_X86_DISPATCH
    if (lr_simd_level() >= LR_SIMD_AVX2)
        i = pack_soft_avx2(in, n_in, out);
#endif
    for (; i < n_in; i += 8) {
        unsigned b = 0;
        for (size_t k = 0; k < 8; k++)
            b = (b << 1) | (i + k < n_in && in[i + k] > 0);
        out[i / 8] = (uint8_t)b;
    }
    return (int64_t)n_bytes;
}
