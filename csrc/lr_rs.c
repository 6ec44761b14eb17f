/* lr_rs.c - CCSDS Reed-Solomon encoder and decoder; see lr_rs.h.
 *
 * Both directions rest on one kernel: dividing a codeword's data symbols by
 * g(x) with a 2E-symbol shift register, one table row (lfsr[f], 32 bytes) per
 * symbol.  For encoding, the remainder is the check symbols.  For decoding, the
 * remainder XOR the received check symbols is r(x) mod g(x), which is zero for
 * a clean codeword (the fast exit) and otherwise yields the syndromes with only
 * 2E*2E multiplications.  The AVX2 path keeps the register in one ymm and runs
 * four codewords at once so that their dependency chains overlap.
 *
 * Errors are located with Berlekamp-Massey and a Chien search and valued with
 * Forney's formula; the error pattern found is checked against every syndrome
 * before anything is corrected, so a miscorrection can only happen when the
 * received word lies within E symbols of another codeword.
 */
#include "lr_rs.h"

#include <string.h>

#include "lr_cpu.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

#define RS_POLY 0x187 /* F(x) = x^8 + x^7 + x^2 + x + 1, CCSDS 131.0-B-4 §4.3.4 */
#define RS_PRIM 11    /* roots are powers of beta = alpha^11, §4.3.3 */
#define RS_GROUP 4

/* Rows of the conventional-to-dual-basis matrix T, first row first, each row
 * written with its first column as the most significant bit: CCSDS 131.0-B-4
 * Annex F (z = x T, x = (x0..x7) with x0 the coefficient of alpha^7). */
static const uint8_t rs_t_rows[8] = {0x8d, 0xef, 0xec, 0x86, 0xfa, 0x99, 0xaf, 0x7b};

/* No branch for zero: log[0] = 511 lands every product with 0 in exp's zero tail. */
static inline uint8_t gf_mul(const struct lr_rs *rs, uint8_t a, uint8_t b)
{
    return rs->exp[rs->log[a] + rs->log[b]];
}

static inline int mod255(int x)
{
    x %= 255;
    return x < 0 ? x + 255 : x;
}

int lr_rs_init(struct lr_rs *rs, int e, int interleave, int dual_basis, int virtual_fill)
{
    if (!rs || (e != 8 && e != 16))
        return LR_E_ARG;
    if (interleave < 1 || interleave > 8 || interleave == 6 || interleave == 7)
        return LR_E_ARG; /* §4.3.7: I = 1, 2, 3, 4, 5, 8 */
    if (virtual_fill < 0 || virtual_fill >= 255 - 2 * e)
        return LR_E_ARG;
    memset(rs, 0, sizeof *rs);
    rs->e = e;
    rs->interleave = interleave;
    rs->dual_basis = dual_basis ? 1 : 0;
    rs->virtual_fill = virtual_fill;
    rs->n = 255 - virtual_fill;
    rs->k = 255 - 2 * e - virtual_fill;

    unsigned x = 1;
    for (int i = 0; i < 255; i++) {
        rs->exp[i] = (uint8_t)x;
        rs->exp[i + 255] = (uint8_t)x;
        rs->log[x] = (uint16_t)i;
        x <<= 1;
        if (x & 0x100)
            x ^= RS_POLY;
    }
    rs->log[0] = 511;

    /* g(x) = prod (x + beta^j), j = 128-E .. 127+E (§4.3.3), built one root at a time. */
    int nroots = 2 * e;
    uint8_t *g = rs->genpoly;
    g[0] = 1;
    for (int r = 0; r < nroots; r++) {
        uint8_t root = rs->exp[mod255(RS_PRIM * (128 - e + r))];
        g[r + 1] = g[r];
        for (int m = r; m > 0; m--)
            g[m] = (uint8_t)(g[m - 1] ^ gf_mul(rs, g[m], root));
        g[0] = gf_mul(rs, g[0], root);
    }

    for (int v = 0; v < 256; v++) {
        uint8_t z = 0;
        for (int bit = 0; bit < 8; bit++)
            if (v & (1 << bit))
                z ^= rs_t_rows[7 - bit];
        rs->to_wire[v] = dual_basis ? z : (uint8_t)v;
    }
    for (int v = 0; v < 256; v++)
        rs->to_conv[rs->to_wire[v]] = (uint8_t)v;

    for (int f = 0; f < 256; f++)
        for (int j = 0; j < nroots; j++)
            rs->lfsr[f][j] = gf_mul(rs, (uint8_t)f, g[nroots - 1 - j]);
    for (int j = 0; j < nroots; j++)
        for (int i = 0; i < nroots; i++) {
            uint8_t w = rs->exp[mod255(RS_PRIM * (128 - e + i) * (nroots - 1 - j))];
            for (int v = 0; v < 16; v++) {
                rs->syndrome[j][v][i] = gf_mul(rs, w, (uint8_t)v);
                rs->syndrome[j][16 + v][i] = gf_mul(rs, w, (uint8_t)(v << 4));
            }
        }
    for (int j = 1; j <= e; j++)
        for (int l = 0; l < 32; l++) {
            uint8_t w = rs->exp[mod255(-RS_PRIM * j * l)];
            for (int v = 0; v < 16; v++) {
                rs->chien_start[j][v][l] = gf_mul(rs, w, (uint8_t)v);
                rs->chien_start[j][16 + v][l] = gf_mul(rs, w, (uint8_t)(v << 4));
            }
        }
    for (int j = 1; j <= e; j++) {
        uint8_t c = rs->exp[mod255(-32 * RS_PRIM * j)];
        for (int v = 0; v < 16; v++) {
            rs->chien[j][v] = gf_mul(rs, c, (uint8_t)v);
            rs->chien[j][16 + v] = gf_mul(rs, c, (uint8_t)(v << 4));
        }
    }
    return LR_OK;
}

/* A state that lr_rs_init did not fill (or that was overwritten) must not lead
 * to a division by zero or an access outside the tables. */
static int state_ok(const struct lr_rs *rs)
{
    return rs && (rs->e == 8 || rs->e == 16) && rs->interleave >= 1 && rs->interleave <= 8 &&
           rs->virtual_fill >= 0 && rs->virtual_fill < 255 - 2 * rs->e &&
           rs->n == 255 - rs->virtual_fill && rs->k == rs->n - 2 * rs->e;
}

int64_t lr_rs_data_len(const struct lr_rs *rs)
{
    return (int64_t)rs->interleave * rs->k;
}

int64_t lr_rs_block_len(const struct lr_rs *rs)
{
    return (int64_t)rs->interleave * rs->n;
}

/* ---- the division kernel --------------------------------------------------
 * Register byte j holds the coefficient of x^(2E-1-j) of the running remainder.
 * A symbol s (conventional) enters as f = s ^ reg[0]; the register shifts one
 * byte towards reg[0] and takes lfsr[f].  Bytes 2E..31 stay zero. */

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Four divisions interleaved (ILP), the register of each in four 64-bit words. */
static void divide4_portable(const struct lr_rs *rs, const uint8_t *const src[RS_GROUP],
                             size_t stride, size_t len, uint8_t rem[RS_GROUP][32])
{
    uint64_t w[RS_GROUP][4] = {{0}};
    const uint8_t *map = rs->to_conv;
    for (size_t i = 0; i < len; i++) {
        size_t off = i * stride;
        for (int c = 0; c < RS_GROUP; c++) {
            const uint8_t *row = rs->lfsr[map[src[c][off]] ^ (unsigned)(w[c][0] & 0xFF)];
            w[c][0] = ((w[c][0] >> 8) | (w[c][1] << 56)) ^ load_le64(row);
            w[c][1] = ((w[c][1] >> 8) | (w[c][2] << 56)) ^ load_le64(row + 8);
            w[c][2] = ((w[c][2] >> 8) | (w[c][3] << 56)) ^ load_le64(row + 16);
            w[c][3] = (w[c][3] >> 8) ^ load_le64(row + 24);
        }
    }
    for (int c = 0; c < RS_GROUP; c++)
        for (int k = 0; k < 4; k++)
            store_le64(rem[c] + 8 * k, w[c][k]);
}

#if LR_HAVE_X86_DISPATCH
LR_TARGET_AVX2 static inline __m256i shift_down1(__m256i r)
{
    return _mm256_alignr_epi8(_mm256_permute2x128_si256(r, r, 0x81), r, 1);
}

LR_TARGET_AVX2 static inline unsigned low_byte(__m256i r)
{
    return (unsigned)_mm_cvtsi128_si32(_mm256_castsi256_si128(r)) & 0xFFu;
}

/* Four independent divisions, interleaved: each step's latency (extract, load,
 * xor) is hidden behind the other three. */
LR_TARGET_AVX2 static void divide4_avx2(const struct lr_rs *rs, const uint8_t *const src[RS_GROUP],
                                        size_t stride, size_t len, uint8_t rem[RS_GROUP][32])
{
    __m256i r0 = _mm256_setzero_si256(), r1 = r0, r2 = r0, r3 = r0;
    const uint8_t *map = rs->to_conv;
    const uint8_t *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3];
    for (size_t i = 0; i < len; i++) {
        size_t off = i * stride;
        unsigned f0 = map[s0[off]] ^ low_byte(r0);
        unsigned f1 = map[s1[off]] ^ low_byte(r1);
        unsigned f2 = map[s2[off]] ^ low_byte(r2);
        unsigned f3 = map[s3[off]] ^ low_byte(r3);
        r0 = _mm256_xor_si256(shift_down1(r0), _mm256_loadu_si256((const __m256i *)rs->lfsr[f0]));
        r1 = _mm256_xor_si256(shift_down1(r1), _mm256_loadu_si256((const __m256i *)rs->lfsr[f1]));
        r2 = _mm256_xor_si256(shift_down1(r2), _mm256_loadu_si256((const __m256i *)rs->lfsr[f2]));
        r3 = _mm256_xor_si256(shift_down1(r3), _mm256_loadu_si256((const __m256i *)rs->lfsr[f3]));
    }
    _mm256_storeu_si256((__m256i *)rem[0], r0);
    _mm256_storeu_si256((__m256i *)rem[1], r1);
    _mm256_storeu_si256((__m256i *)rem[2], r2);
    _mm256_storeu_si256((__m256i *)rem[3], r3);
}
#endif

/* Remainders of codewords first .. first+count-1 (count <= RS_GROUP) of a run of
 * codeblocks whose data start at data (block stride data_stride). */
static void divide_group(const struct lr_rs *rs, int simd, const uint8_t *data, size_t data_stride,
                         size_t first, size_t count, uint8_t rem[RS_GROUP][32])
{
    size_t depth = (size_t)rs->interleave, len = (size_t)rs->k;
    const uint8_t *src[RS_GROUP];
    for (size_t c = 0; c < count; c++)
        src[c] = data + ((first + c) / depth) * data_stride + (first + c) % depth;
    for (size_t c = count; c < RS_GROUP; c++)
        src[c] = src[0];
#if LR_HAVE_X86_DISPATCH
    if (simd >= LR_SIMD_AVX2) {
        divide4_avx2(rs, src, depth, len, rem);
        return;
    }
#else
    (void)simd;
#endif
    divide4_portable(rs, src, depth, len, rem);
}

int64_t lr_rs_encode(const struct lr_rs *rs, const uint8_t *in, size_t n_in, uint8_t *out,
                     size_t n_out)
{
    if (!state_ok(rs))
        return LR_E_ARG;
    size_t data_len = (size_t)lr_rs_data_len(rs), block_len = (size_t)lr_rs_block_len(rs);
    if (n_in % data_len)
        return LR_E_ARG;
    size_t blocks = n_in / data_len, depth = (size_t)rs->interleave, nroots = 2 * (size_t)rs->e;
    if (n_out / block_len < blocks)
        return LR_E_SPACE;
    for (size_t b = 0; b < blocks; b++)
        memcpy(out + b * block_len, in + b * data_len, data_len);

    int simd = lr_simd_level();
    size_t codewords = blocks * depth;
    uint8_t rem[RS_GROUP][32];
    for (size_t first = 0; first < codewords; first += RS_GROUP) {
        size_t count = codewords - first < RS_GROUP ? codewords - first : RS_GROUP;
        divide_group(rs, simd, in, data_len, first, count, rem);
        for (size_t c = 0; c < count; c++) {
            size_t cw = first + c;
            uint8_t *parity = out + (cw / depth) * block_len + data_len + cw % depth;
            for (size_t m = 0; m < nroots; m++)
                parity[m * depth] = rs->to_wire[rem[c][m]];
        }
    }
    return (int64_t)(blocks * block_len);
}

/* ---- error correction ---------------------------------------------------- */

/* Chien search over the transmitted positions: an error at degree p has locator
 * X = beta^p and Lambda(X^-1) = 0.  Virtual-fill positions (p >= n) are known
 * zeros and are not searched, so a root there leaves too few roots found.
 * Writes the root degrees, ascending, to pos; returns how many (at most len). */
static int chien_portable(const struct lr_rs *rs, const uint8_t *lam, int len, int *pos)
{
    int idx[17], step[17], terms = 0, found = 0;
    for (int j = 1; j <= len; j++) {
        if (!lam[j])
            continue;
        idx[terms] = rs->log[lam[j]];
        step[terms++] = 255 - (RS_PRIM * j) % 255;
    }
    for (int p = 0; p < rs->n; p++) {
        uint8_t sum = 1;
        for (int t = 0; t < terms; t++) {
            sum ^= rs->exp[idx[t]];
            idx[t] += step[t];
            idx[t] -= idx[t] >= 255 ? 255 : 0;
        }
        if (!sum) {
            pos[found++] = p;
            if (found == len)
                break;
        }
    }
    return found;
}

#if LR_HAVE_X86_DISPATCH
/* The same, 32 positions per step: lane l of term j holds lambda_j beta^(-j(p+l)),
 * and a step multiplies it by beta^(-32j) with two nibble lookups (pshufb). */
LR_TARGET_AVX2 static int chien_avx2(const struct lr_rs *rs, const uint8_t *lam, int len, int *pos)
{
    __m256i term[16], lo_tab[16], hi_tab[16];
    int terms = 0, found = 0;
    for (int j = 1; j <= len; j++) {
        if (!lam[j])
            continue;
        term[terms] = _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)rs->chien_start[j][lam[j] & 15]),
            _mm256_loadu_si256((const __m256i *)rs->chien_start[j][16 + (lam[j] >> 4)]));
        lo_tab[terms] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)rs->chien[j]));
        hi_tab[terms++] =
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(rs->chien[j] + 16)));
    }
    const __m256i nibble = _mm256_set1_epi8(0x0F), zero = _mm256_setzero_si256();
    for (int p = 0; p < rs->n && found < len; p += 32) {
        __m256i sum = _mm256_set1_epi8(1);
        for (int t = 0; t < terms; t++) {
            __m256i v = term[t];
            sum = _mm256_xor_si256(sum, v);
            __m256i lo = _mm256_shuffle_epi8(lo_tab[t], _mm256_and_si256(v, nibble));
            __m256i hi = _mm256_shuffle_epi8(hi_tab[t], _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
            term[t] = _mm256_xor_si256(lo, hi);
        }
        uint32_t roots = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(sum, zero));
        if (rs->n - p < 32)
            roots &= (1u << (rs->n - p)) - 1u;
        while (roots && found < len) {
            pos[found++] = p + __builtin_ctz(roots);
            roots &= roots - 1;
        }
    }
    return found;
}
#endif

/* Correct one codeword whose remainder r(x) mod g(x) (conventional, register
 * order) is rem, nonzero.  out is its first data byte in the output (stride
 * depth).  Returns the number of symbols corrected, or -1. */
static int correct(const struct lr_rs *rs, int simd, const uint8_t *rem, uint8_t *out, size_t depth)
{
    const int nroots = 2 * rs->e, fcr = 128 - rs->e, n = rs->n, k = rs->k;
    const uint8_t *exp = rs->exp;
    const uint16_t *log = rs->log;
    uint8_t s[32] = {0}, lam[33] = {1}, prev[33] = {1}, tmp[33];

    /* S_i = r(beta^(fcr+i)) = rem(beta^(fcr+i)) since g vanishes there: each
     * remainder coefficient adds two table rows (its nibbles times the powers of
     * all 2E roots at once). */
    uint64_t sw[4] = {0, 0, 0, 0};
    for (int j = 0; j < nroots; j++) {
        const uint8_t *lo = rs->syndrome[j][rem[j] & 15], *hi = rs->syndrome[j][16 + (rem[j] >> 4)];
        for (int w = 0; w < 4; w++)
            sw[w] ^= load_le64(lo + 8 * w) ^ load_le64(hi + 8 * w);
    }
    for (int w = 0; w < 4; w++)
        store_le64(s + 8 * w, sw[w]);

    /* Berlekamp-Massey: the shortest LFSR Lambda(x) generating S.  deg Lambda <=
     * len throughout and len never falls, so len > E is final. */
    int len = 0, prev_len = 0, shift = 1;
    uint8_t prev_d = 1;
    for (int i = 0; i < nroots; i++) {
        uint8_t d = s[i];
        for (int j = 1; j <= len; j++)
            d ^= gf_mul(rs, lam[j], s[i - j]);
        if (!d) {
            shift++;
            continue;
        }
        int lcoef = mod255(log[d] - log[prev_d]);
        memcpy(tmp, lam, sizeof tmp);
        for (int j = 0; j <= prev_len && j + shift <= nroots; j++)
            lam[j + shift] ^= exp[lcoef + log[prev[j]]];
        if (2 * len <= i) {
            prev_len = len;
            len = i + 1 - len;
            if (len > rs->e)
                return -1;
            memcpy(prev, tmp, sizeof prev);
            prev_d = d;
            shift = 1;
        } else {
            shift++;
        }
    }
    for (int j = len + 1; j <= nroots; j++)
        if (lam[j])
            return -1;

    int pos[16], found;
#if LR_HAVE_X86_DISPATCH
    if (simd >= LR_SIMD_AVX2)
        found = chien_avx2(rs, lam, len, pos);
    else
#endif
        found = chien_portable(rs, lam, len, pos);
    (void)simd;
    if (found != len)
        return -1;

    /* Forney (for S_i = sum e X^(fcr+i)): e = X^(1-fcr) Omega(X^-1) / Lambda'(X^-1),
     * with Omega(x) = S(x) Lambda(x) mod x^len (higher terms vanish for a true
     * error pattern, which the syndrome check below confirms).  Both
     * polynomials are evaluated term by term in the log domain, with no chain
     * from one term to the next. */
    uint16_t log_omega[16], log_lam[17];
    uint8_t err[16];
    int lxs[16];
    for (int i = 0; i < len; i++) {
        uint8_t acc = 0;
        for (int j = 0; j <= i; j++)
            acc ^= gf_mul(rs, lam[j], s[i - j]);
        log_omega[i] = log[acc];
    }
    for (int j = 0; j <= len; j++)
        log_lam[j] = log[lam[j]];
    for (int l = 0; l < found; l++) {
        int lx = (RS_PRIM * pos[l]) % 255, lxinv = (255 - lx) % 255, lxinv2 = (2 * lxinv) % 255;
        uint8_t num = 0, den = 0;
        for (int i = 0, t = 0; i < len; i++) {
            num ^= exp[log_omega[i] + t];
            t += lxinv;
            t -= t >= 255 ? 255 : 0;
        }
        for (int j = 1, t = 0; j <= len; j += 2) { /* odd terms: Lambda' in GF(2^m) */
            den ^= exp[log_lam[j] + t];
            t += lxinv2;
            t -= t >= 255 ? 255 : 0;
        }
        if (!num || !den)
            return -1;
        err[l] = exp[mod255(log[num] - log[den] + lx * (1 - fcr))];
        lxs[l] = lx;
    }

    /* The pattern must reproduce every syndrome, or it is not a correction. */
    int term[16], lstep[16];
    uint8_t acc[32] = {0};
    for (int l = 0; l < found; l++) {
        term[l] = mod255(log[err[l]] + lxs[l] * fcr);
        lstep[l] = lxs[l];
    }
    for (int i = 0; i < nroots; i++)
        for (int l = 0; l < found; l++) {
            acc[i] ^= exp[term[l]];
            term[l] += lstep[l];
            term[l] -= term[l] >= 255 ? 255 : 0;
        }
    if (memcmp(acc, s, (size_t)nroots) != 0)
        return -1;
    for (int l = 0; l < found; l++) {
        int t = n - 1 - pos[l]; /* transmitted index */
        if (t < k)
            out[(size_t)t * depth] ^= rs->to_wire[err[l]];
    }
    return found;
}

int64_t lr_rs_decode(const struct lr_rs *rs, const uint8_t *in, size_t n_in, uint8_t *out,
                     size_t n_out, int16_t *corrected, size_t n_corrected)
{
    if (!state_ok(rs))
        return LR_E_ARG;
    size_t data_len = (size_t)lr_rs_data_len(rs), block_len = (size_t)lr_rs_block_len(rs);
    if (n_in % block_len)
        return LR_E_ARG;
    size_t blocks = n_in / block_len, depth = (size_t)rs->interleave, nroots = 2 * (size_t)rs->e;
    size_t codewords = blocks * depth;
    if (n_out / data_len < blocks || n_corrected < codewords)
        return LR_E_SPACE;
    for (size_t b = 0; b < blocks; b++)
        memcpy(out + b * data_len, in + b * block_len, data_len);

    int simd = lr_simd_level();
    uint8_t rem[RS_GROUP][32];
    for (size_t first = 0; first < codewords; first += RS_GROUP) {
        size_t count = codewords - first < RS_GROUP ? codewords - first : RS_GROUP;
        divide_group(rs, simd, in, block_len, first, count, rem);
        for (size_t c = 0; c < count; c++) {
            size_t cw = first + c, b = cw / depth, j = cw % depth;
            const uint8_t *parity = in + b * block_len + data_len + j;
            uint8_t any = 0;
            for (size_t m = 0; m < nroots; m++) {
                rem[c][m] ^= rs->to_conv[parity[m * depth]];
                any |= rem[c][m];
            }
            corrected[cw] = any ? (int16_t)correct(rs, simd, rem[c], out + b * data_len + j, depth) : 0;
        }
    }
    return (int64_t)(blocks * data_len);
}
