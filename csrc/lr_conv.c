/* lr_conv.c - CCSDS K=7 r=1/2 convolutional code, puncturing and Viterbi decoding; see lr_conv.h. */
#include "lr_conv.h"

#include <string.h>

#include "lr_cpu.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

/* CCSDS 131.0-B-4 §3.3: G1 = 171 octal, G2 = 133 octal, written with the
 * current input bit in bit 0 of the shift register (libfec's V27POLYB/A). */
#define G1_TAPS 0x4Fu
#define G2_TAPS 0x6Du
#define RING LR_VITERBI27_RING
#define METRIC_START_PENALTY 16384u
#define RENORM_MASK 15u

static inline unsigned parity7(unsigned x)
{
    return (unsigned)__builtin_parity(x);
}

/* ---------------------------------------------------------------- encoder */

int lr_conv_enc_init(struct lr_conv_enc *enc, int invert_g2)
{
    if (!enc)
        return LR_E_ARG;
    enc->reg = 0;
    enc->invert_g2 = invert_g2 ? 1u : 0u;
    return LR_OK;
}

static void encode_bitserial(struct lr_conv_enc *enc, const uint8_t *in, size_t n_in, uint8_t *out)
{
    unsigned reg = enc->reg & 0x3Fu, inv = enc->invert_g2 ? 1u : 0u;
    for (size_t i = 0; i < n_in; i++) {
        unsigned word = 0;
        for (int b = 7; b >= 0; b--) {
            reg = ((reg << 1) | ((in[i] >> b) & 1u)) & 0x7Fu;
            word = (word << 2) | (parity7(reg & G1_TAPS) << 1) | (parity7(reg & G2_TAPS) ^ inv);
        }
        out[2 * i] = (uint8_t)(word >> 8);
        out[2 * i + 1] = (uint8_t)word;
        reg &= 0x3Fu;
    }
    enc->reg = reg;
}

/* Bit i of x moves to bit 2i. */
static inline uint64_t spread32(uint64_t x)
{
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0Full;
    x = (x | (x << 2)) & 0x3333333333333333ull;
    x = (x | (x << 1)) & 0x5555555555555555ull;
    return x;
}

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = (x << 8) | p[i];
    return x;
}

static inline void store_be64(uint8_t *p, uint64_t x)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
}

/* 64 input bits at once: with the bits MSB first in x, u[t-k] for every t is
 * x shifted right by k with the previous k bits shifted in at the top. */
static void encode_word(struct lr_conv_enc *enc, const uint8_t *in, size_t n_in, uint8_t *out)
{
    uint64_t prev = enc->reg & 0x3Fu;
    const uint64_t inv = enc->invert_g2 ? ~0ull : 0ull;
    size_t i = 0;
    for (; i + 8 <= n_in; i += 8) {
        uint64_t x = load_be64(in + i);
        uint64_t s1 = (x >> 1) | (prev << 63), s2 = (x >> 2) | (prev << 62);
        uint64_t s3 = (x >> 3) | (prev << 61), s5 = (x >> 5) | (prev << 59);
        uint64_t s6 = (x >> 6) | (prev << 58);
        uint64_t c1 = x ^ s1 ^ s2 ^ s3 ^ s6;
        uint64_t c2 = (x ^ s2 ^ s3 ^ s5 ^ s6) ^ inv;
        store_be64(out + 2 * i, (spread32(c1 >> 32) << 1) | spread32(c2 >> 32));
        store_be64(out + 2 * i + 8, (spread32(c1 & 0xFFFFFFFFu) << 1) | spread32(c2 & 0xFFFFFFFFu));
        prev = x & 0x3Fu;
    }
    enc->reg = (uint32_t)prev;
    encode_bitserial(enc, in + i, n_in - i, out + 2 * i);
}

int64_t lr_conv_encode_kernel(int kernel, struct lr_conv_enc *enc, const uint8_t *in, size_t n_in,
                              uint8_t *out, size_t n_out)
{
    if (!enc || (n_in && (!in || !out)))
        return LR_E_ARG;
    if (n_in > n_out / 2)
        return LR_E_SPACE;
    if (kernel == LR_CONV_ENC_BITSERIAL)
        encode_bitserial(enc, in, n_in, out);
    else
        encode_word(enc, in, n_in, out);
    return (int64_t)(2 * n_in);
}

int64_t lr_conv_encode(struct lr_conv_enc *enc, const uint8_t *in, size_t n_in, uint8_t *out,
                       size_t n_out)
{
    return lr_conv_encode_kernel(LR_CONV_ENC_AUTO, enc, in, n_in, out, n_out);
}

int64_t lr_conv_encode_soft(struct lr_conv_enc *enc, const uint8_t *in, size_t n_in, uint8_t *out,
                            size_t n_out)
{
    if (!enc || (n_in && (!in || !out)))
        return LR_E_ARG;
    if (n_in > n_out / 16)
        return LR_E_SPACE;
    uint8_t packed[128];
    size_t done = 0;
    while (done < n_in) {
        size_t n = n_in - done < 64 ? n_in - done : 64;
        encode_word(enc, in + done, n, packed);
        for (size_t k = 0; k < 2 * n; k++)
            for (int b = 0; b < 8; b++)
                out[16 * done + 8 * k + (size_t)b] = (uint8_t)(0u - ((packed[k] >> (7 - b)) & 1u));
        done += n;
    }
    return (int64_t)(16 * n_in);
}

int64_t lr_conv_encode_tail(struct lr_conv_enc *enc, int soft, uint8_t *out, size_t n_out)
{
    if (!enc || !out)
        return LR_E_ARG;
    if (n_out < 2 * LR_CONV_TAIL_BITS)
        return LR_E_SPACE;
    unsigned reg = enc->reg & 0x3Fu, one = soft ? 255u : 1u, inv = enc->invert_g2 ? 1u : 0u;
    for (int b = 0; b < LR_CONV_TAIL_BITS; b++) {
        reg = (reg << 1) & 0x7Fu;
        out[2 * b] = (uint8_t)(parity7(reg & G1_TAPS) * one);
        out[2 * b + 1] = (uint8_t)((parity7(reg & G2_TAPS) ^ inv) * one);
    }
    enc->reg = 0;
    return 2 * LR_CONV_TAIL_BITS;
}

/* ---------------------------------------------------------------- puncturing */

/* CCSDS 131.0-B-4 §3.4 table 3-1, read column by column as the rate-1/2
 * symbol sequence C1(1) C2(1) C1(2) C2(2) ...; 1 = sent. */
static const struct {
    unsigned period; /* rate-1/2 symbols per pattern */
    unsigned sent;
    uint8_t keep[14];
} punct_pattern[] = {
    [LR_CONV_R1_2] = {2, 2, {1, 1}},
    [LR_CONV_R2_3] = {4, 3, {1, 1, 0, 1}},
    [LR_CONV_R3_4] = {6, 4, {1, 1, 0, 1, 1, 0}},
    [LR_CONV_R5_6] = {10, 6, {1, 1, 0, 1, 1, 0, 0, 1, 1, 0}},
    [LR_CONV_R7_8] = {14, 8, {1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0}},
};

int lr_conv_punct_init(struct lr_conv_punct *p, int rate)
{
    if (!p || rate < LR_CONV_R1_2 || rate > LR_CONV_R7_8)
        return LR_E_ARG;
    p->rate = rate;
    p->phase = 0;
    return LR_OK;
}

static int punct_valid(const struct lr_conv_punct *p)
{
    return p && p->rate >= LR_CONV_R1_2 && p->rate <= LR_CONV_R7_8 &&
           p->phase < punct_pattern[p->rate].period;
}

int64_t lr_conv_puncture(struct lr_conv_punct *p, const uint8_t *in, size_t n_in, uint8_t *out,
                         size_t n_out)
{
    if (!punct_valid(p) || (n_in && (!in || !out)))
        return LR_E_ARG;
    const uint8_t *keep = punct_pattern[p->rate].keep;
    unsigned period = punct_pattern[p->rate].period, phase = p->phase;
    size_t w = 0;
    for (size_t i = 0; i < n_in; i++) {
        if (keep[phase]) {
            if (w == n_out)
                return LR_E_SPACE;
            out[w++] = in[i];
        }
        if (++phase == period)
            phase = 0;
    }
    p->phase = phase;
    return (int64_t)w;
}

int64_t lr_conv_depuncture_max(const struct lr_conv_punct *p, size_t n_in)
{
    if (!punct_valid(p))
        return LR_E_ARG;
    size_t period = punct_pattern[p->rate].period, sent = punct_pattern[p->rate].sent;
    return (int64_t)((n_in / sent + 1) * period + period);
}

int64_t lr_conv_depuncture(struct lr_conv_punct *p, const uint8_t *in, size_t n_in, uint8_t *out,
                           size_t n_out)
{
    if (!punct_valid(p) || (n_in && (!in || !out)))
        return LR_E_ARG;
    const uint8_t *keep = punct_pattern[p->rate].keep;
    unsigned period = punct_pattern[p->rate].period, phase = p->phase;
    size_t w = 0;
    for (size_t i = 0; i < n_in; i++) {
        while (!keep[phase]) {
            if (w == n_out)
                return LR_E_SPACE;
            out[w++] = LR_CONV_ERASURE;
            if (++phase == period)
                phase = 0;
        }
        if (w == n_out)
            return LR_E_SPACE;
        out[w++] = in[i];
        if (++phase == period)
            phase = 0;
    }
    p->phase = phase;
    return (int64_t)w;
}

/* ---------------------------------------------------------------- Viterbi */

/* Trellis (CCSDS 131.0-B-4 §3.3): state = last six input bits, newest in
 * bit 0.  Butterfly i (0..31) joins old states i and i+32 to new states 2i
 * (input 0) and 2i+1 (input 1).  Both polynomials tap the newest and oldest
 * bits, so the branch i -> 2i carries symbols (e1, e2), i+32 -> 2i and
 * i -> 2i+1 carry their complements, and i+32 -> 2i+1 carries (e1, e2) again.
 *
 * Branch metric: a soft symbol s becomes d = s - (s >> 7) - 127 in -127..127
 * (127 and 128 both give 0, an erasure), and the cost of expecting bit e is
 * 127 + d for e = 0 and 127 - d for e = 1; a branch costs the sum over its two
 * symbols, 0..508, and its complement 508 minus that.
 *
 * Decisions: one 64-bit word per step; bit s is set when the survivor into
 * new state s came from old state (s >> 1) + 32.  A tie keeps (s >> 1). */

static inline int soft_to_d(uint8_t s)
{
    return (int)s - (s >> 7) - 127;
}

static void branch_signs(unsigned invert_g2, int16_t sign1[32], int16_t sign2[32])
{
    for (unsigned i = 0; i < 32; i++) {
        sign1[i] = parity7((2 * i) & G1_TAPS) ? -1 : 1;
        sign2[i] = (parity7((2 * i) & G2_TAPS) ^ (invert_g2 ? 1u : 0u)) ? -1 : 1;
    }
}

/* Eight 0/1 bytes (the first in the low byte) to eight bits: the multiplier
 * moves byte k to bit 56 + k, and no two partial products meet. */
static inline uint64_t pack8(const uint8_t *b)
{
    uint64_t x = 0;
    for (int k = 7; k >= 0; k--)
        x = (x << 8) | b[k];
    return (x * 0x0102040810204080ull) >> 56;
}

static inline uint64_t pack32(const uint8_t *b)
{
    return pack8(b) | pack8(b + 8) << 8 | pack8(b + 16) << 16 | pack8(b + 24) << 24;
}

/* Loops written so that compilers vectorise them with the baseline
 * instruction set; the metrics stay far below 2^16 (see acs_avx2). */
static void acs_portable(struct lr_viterbi27 *v, const uint8_t *sym, size_t n_steps)
{
    int16_t sign1[32], sign2[32];
    uint16_t m[64], even[32], odd[32];
    uint8_t from_hi_even[32], from_hi_odd[32];
    branch_signs(v->invert_g2, sign1, sign2);
    memcpy(m, v->metrics, sizeof m);
    uint64_t step = v->steps;
    for (size_t t = 0; t < n_steps; t++, step++) {
        int16_t d0 = (int16_t)soft_to_d(sym[2 * t]), d1 = (int16_t)soft_to_d(sym[2 * t + 1]);
        for (unsigned i = 0; i < 32; i++) {
            uint16_t bm = (uint16_t)(254 + sign1[i] * d0 + sign2[i] * d1);
            uint16_t cbm = (uint16_t)(508 - bm);
            uint16_t a = (uint16_t)(m[i] + bm), b = (uint16_t)(m[i + 32] + cbm);
            uint16_t c = (uint16_t)(m[i] + cbm), d = (uint16_t)(m[i + 32] + bm);
            even[i] = b < a ? b : a;
            odd[i] = d < c ? d : c;
            from_hi_even[i] = b < a;
            from_hi_odd[i] = d < c;
        }
        for (unsigned i = 0; i < 32; i++) {
            m[2 * i] = even[i];
            m[2 * i + 1] = odd[i];
        }
        v->decisions[step & (RING - 1)] =
            spread32(pack32(from_hi_even)) | spread32(pack32(from_hi_odd)) << 1;
        if ((step & RENORM_MASK) == RENORM_MASK) {
            uint16_t mn = m[0];
            for (int s = 1; s < 64; s++)
                mn = m[s] < mn ? m[s] : mn;
            for (int s = 0; s < 64; s++)
                m[s] = (uint16_t)(m[s] - mn);
        }
    }
    memcpy(v->metrics, m, sizeof m);
}

#if LR_HAVE_X86_DISPATCH
/* The same arithmetic on 16-bit lanes: registers hold old states 0-15, 16-31,
 * 32-47, 48-63; butterflies 0-15 use the first and third, 16-31 the others.
 * Range: any state is reached from the best one in 6 steps, so metrics spread
 * over at most 6 * 508; with the minimum subtracted every 16 steps they stay
 * below 16384 (the known-start penalty) + 16 * 508 + 508, far from 2^16, and
 * unsigned 16-bit lanes never wrap, so both kernels compute exact integers. */
LR_TARGET_AVX2 static void acs_avx2(struct lr_viterbi27 *v, const uint8_t *sym, size_t n_steps)
{
    int16_t sign1[32], sign2[32];
    branch_signs(v->invert_g2, sign1, sign2);
    const __m256i s1a = _mm256_loadu_si256((const __m256i *)sign1);
    const __m256i s2a = _mm256_loadu_si256((const __m256i *)sign2);
    const __m256i k254 = _mm256_set1_epi16(254), k508 = _mm256_set1_epi16(508);
    const __m256i hibytes = _mm256_set1_epi16((int16_t)0xFF00);
    __m256i m0 = _mm256_loadu_si256((const __m256i *)v->metrics);
    __m256i m1 = _mm256_loadu_si256((const __m256i *)(v->metrics + 16));
    __m256i m2 = _mm256_loadu_si256((const __m256i *)(v->metrics + 32));
    __m256i m3 = _mm256_loadu_si256((const __m256i *)(v->metrics + 48));
    uint64_t step = v->steps;
    for (size_t t = 0; t < n_steps; t++, step++) {
        __m256i d0 = _mm256_set1_epi16((int16_t)soft_to_d(sym[2 * t]));
        __m256i d1 = _mm256_set1_epi16((int16_t)soft_to_d(sym[2 * t + 1]));
        /* Butterflies 16-31 differ from 0-15 only in bit 5 of the register,
         * which G2 taps and G1 does not: same C1 sign, opposite C2 sign. */
        __m256i p = _mm256_add_epi16(k254, _mm256_sign_epi16(d0, s1a));
        __m256i q = _mm256_sign_epi16(d1, s2a);
        __m256i bma = _mm256_add_epi16(p, q), bmb = _mm256_sub_epi16(p, q);
        __m256i cbma = _mm256_sub_epi16(k508, bma), cbmb = _mm256_sub_epi16(k508, bmb);

        __m256i a = _mm256_add_epi16(m0, bma), b = _mm256_add_epi16(m2, cbma);
        __m256i evena = _mm256_min_epu16(a, b);
        __m256i lowea = _mm256_cmpeq_epi16(evena, a);
        __m256i c = _mm256_add_epi16(m0, cbma), d = _mm256_add_epi16(m2, bma);
        __m256i odda = _mm256_min_epu16(c, d);
        __m256i lowoa = _mm256_cmpeq_epi16(odda, c);

        a = _mm256_add_epi16(m1, bmb);
        b = _mm256_add_epi16(m3, cbmb);
        __m256i evenb = _mm256_min_epu16(a, b);
        __m256i loweb = _mm256_cmpeq_epi16(evenb, a);
        c = _mm256_add_epi16(m1, cbmb);
        d = _mm256_add_epi16(m3, bmb);
        __m256i oddb = _mm256_min_epu16(c, d);
        __m256i lowob = _mm256_cmpeq_epi16(oddb, c);

        /* Lane j's low byte from the even state 2j, high byte from 2j+1:
         * one movemask then gives the decisions in state order. */
        uint32_t da = (uint32_t)_mm256_movemask_epi8(_mm256_blendv_epi8(lowea, lowoa, hibytes));
        uint32_t db = (uint32_t)_mm256_movemask_epi8(_mm256_blendv_epi8(loweb, lowob, hibytes));
        v->decisions[step & (RING - 1)] = ~((uint64_t)db << 32 | da);

        /* New state 2i is even_i, 2i+1 is odd_i: interleave, then put the
         * 128-bit halves back in state order. */
        __m256i la = _mm256_unpacklo_epi16(evena, odda), ha = _mm256_unpackhi_epi16(evena, odda);
        __m256i lb = _mm256_unpacklo_epi16(evenb, oddb), hb = _mm256_unpackhi_epi16(evenb, oddb);
        m0 = _mm256_permute2x128_si256(la, ha, 0x20);
        m1 = _mm256_permute2x128_si256(la, ha, 0x31);
        m2 = _mm256_permute2x128_si256(lb, hb, 0x20);
        m3 = _mm256_permute2x128_si256(lb, hb, 0x31);

        if ((step & RENORM_MASK) == RENORM_MASK) {
            __m256i mn = _mm256_min_epu16(_mm256_min_epu16(m0, m1), _mm256_min_epu16(m2, m3));
            __m128i mn128 = _mm_min_epu16(_mm256_castsi256_si128(mn), _mm256_extracti128_si256(mn, 1));
            __m256i sub = _mm256_broadcastw_epi16(_mm_minpos_epu16(mn128));
            m0 = _mm256_sub_epi16(m0, sub);
            m1 = _mm256_sub_epi16(m1, sub);
            m2 = _mm256_sub_epi16(m2, sub);
            m3 = _mm256_sub_epi16(m3, sub);
        }
    }
    _mm256_storeu_si256((__m256i *)v->metrics, m0);
    _mm256_storeu_si256((__m256i *)(v->metrics + 16), m1);
    _mm256_storeu_si256((__m256i *)(v->metrics + 32), m2);
    _mm256_storeu_si256((__m256i *)(v->metrics + 48), m3);
}
#endif

/* Runs n_steps trellis steps; the caller keeps steps - emitted <= RING. */
static void acs(struct lr_viterbi27 *v, const uint8_t *sym, size_t n_steps)
{
#if LR_HAVE_X86_DISPATCH
    if (lr_simd_level() >= LR_SIMD_AVX2) {
        acs_avx2(v, sym, n_steps);
        v->steps += n_steps;
        return;
    }
#endif
    acs_portable(v, sym, n_steps);
    v->steps += n_steps;
}

static unsigned best_state(const struct lr_viterbi27 *v)
{
    unsigned best = 0;
    for (unsigned s = 1; s < 64; s++)
        if (v->metrics[s] < v->metrics[best])
            best = s;
    return best;
}

/* The state before one step back. */
static inline unsigned step_back(uint64_t dec, unsigned s)
{
    return (s >> 1) | ((unsigned)(dec >> s) & 1u) << 5;
}

/* From `state` at time v->steps, skip `skip` steps back, then write the
 * input bits of the `count` steps before them to out[0..count-1]. */
static void traceback(const struct lr_viterbi27 *v, unsigned state, uint64_t skip, uint64_t count,
                      uint8_t *out)
{
    uint64_t t = v->steps;
    unsigned s = state & 63u;
    for (uint64_t k = 0; k < skip; k++)
        s = step_back(v->decisions[--t & (RING - 1)], s);
    for (uint64_t k = count; k-- > 0;) {
        out[k] = (uint8_t)(s & 1u);
        s = step_back(v->decisions[--t & (RING - 1)], s);
    }
}

int lr_viterbi27_init(struct lr_viterbi27 *v, int start_state, int depth, int invert_g2)
{
    if (!v || start_state < -1 || start_state > 63)
        return LR_E_ARG;
    if (depth == 0)
        depth = LR_VITERBI27_DEPTH_DEFAULT;
    if (depth < 8 || depth > LR_VITERBI27_DEPTH_MAX)
        return LR_E_ARG;
    for (int s = 0; s < 64; s++)
        v->metrics[s] = (start_state < 0 || s == start_state) ? 0 : METRIC_START_PENALTY;
    v->steps = 0;
    v->emitted = 0;
    v->depth = (uint32_t)depth;
    v->invert_g2 = invert_g2 ? 1u : 0u;
    v->have_half = 0;
    v->half = 0;
    return LR_OK;
}

static int viterbi_valid(const struct lr_viterbi27 *v)
{
    return v && v->depth >= 8 && v->depth <= LR_VITERBI27_DEPTH_MAX && v->emitted <= v->steps &&
           v->steps - v->emitted <= RING && v->have_half <= 1;
}

int64_t lr_viterbi27_max_output(const struct lr_viterbi27 *v, size_t n_in)
{
    if (!viterbi_valid(v))
        return LR_E_ARG;
    return (int64_t)((v->steps - v->emitted) + (n_in + v->have_half) / 2);
}

/* Emits everything but the last `depth` steps once the history is full. */
static size_t run_steps(struct lr_viterbi27 *v, const uint8_t *sym, size_t n_steps, uint8_t *out)
{
    size_t written = 0;
    while (n_steps) {
        uint64_t room = RING - (v->steps - v->emitted);
        size_t chunk = n_steps < room ? n_steps : (size_t)room;
        acs(v, sym, chunk);
        sym += 2 * chunk;
        n_steps -= chunk;
        if (v->steps - v->emitted == RING) {
            uint64_t count = RING - v->depth;
            traceback(v, best_state(v), v->depth, count, out + written);
            v->emitted += count;
            written += (size_t)count;
        }
    }
    return written;
}

int64_t lr_viterbi27_update(struct lr_viterbi27 *v, const uint8_t *in, size_t n_in, uint8_t *out,
                            size_t n_out)
{
    if (!viterbi_valid(v) || (n_in && !in))
        return LR_E_ARG;
    int64_t bound = lr_viterbi27_max_output(v, n_in);
    if ((uint64_t)bound > n_out)
        return LR_E_SPACE;
    if (bound && !out)
        return LR_E_ARG;
    size_t written = 0;
    if (v->have_half && n_in) {
        uint8_t pair[2] = {(uint8_t)v->half, in[0]};
        written += run_steps(v, pair, 1, out);
        v->have_half = 0;
        in++;
        n_in--;
    }
    written += run_steps(v, in, n_in / 2, out + written);
    if (n_in & 1u) {
        v->have_half = 1;
        v->half = in[n_in - 1];
    }
    return (int64_t)written;
}

int64_t lr_viterbi27_finish(struct lr_viterbi27 *v, int end_state, uint8_t *out, size_t n_out)
{
    if (!viterbi_valid(v) || end_state < -1 || end_state > 63)
        return LR_E_ARG;
    uint64_t count = v->steps - v->emitted;
    if (count > n_out)
        return LR_E_SPACE;
    if (count && !out)
        return LR_E_ARG;
    traceback(v, end_state < 0 ? best_state(v) : (unsigned)end_state, 0, count, out);
    v->emitted = v->steps;
    v->have_half = 0;
    return (int64_t)count;
}

int64_t lr_viterbi27_decode_block(struct lr_viterbi27 *v, int invert_g2, int depth, const uint8_t *in,
                                  size_t n_in, uint8_t *out, size_t n_out)
{
    if (!v || (n_in && !in))
        return LR_E_ARG;
    if (n_in % 2 || n_in / 2 < LR_CONV_TAIL_BITS)
        return LR_E_FORMAT;
    if (n_out < n_in / 2)
        return LR_E_SPACE;
    int rc = lr_viterbi27_init(v, 0, depth, invert_g2);
    if (rc < 0)
        return rc;
    int64_t k = lr_viterbi27_update(v, in, n_in, out, n_out);
    if (k < 0)
        return k;
    int64_t rest = lr_viterbi27_finish(v, 0, out + k, n_out - (size_t)k);
    if (rest < 0)
        return rest;
    return k + rest - LR_CONV_TAIL_BITS;
}
