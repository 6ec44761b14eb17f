/* lr_crc.c - CRC-16/CCITT-FALSE kernels and the Proximity-1 CRC-32; see lr_crc.h. */
#include "lr_crc.h"

#include <string.h>

#include "lr_cpu.h"
#include "lr_crc_tables.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

static uint16_t crc16_bytewise(uint16_t crc, const uint8_t *p, size_t n)
{
    const uint16_t *t = lr_crc16_slice[0];
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ t[(crc >> 8) ^ p[i]]);
    return crc;
}

static uint16_t crc16_slice16(uint16_t crc, const uint8_t *p, size_t n)
{
    const uint16_t(*t)[256] = lr_crc16_slice;
    while (n >= 16) {
        /* The register meets the first two bytes; each byte then contributes
         * its CRC shifted past the bytes that follow it. */
        unsigned b0 = p[0] ^ (crc >> 8), b1 = p[1] ^ (crc & 0xFFu);
        crc = (uint16_t)(t[15][b0] ^ t[14][b1] ^ t[13][p[2]] ^ t[12][p[3]] ^ t[11][p[4]] ^
                         t[10][p[5]] ^ t[9][p[6]] ^ t[8][p[7]] ^ t[7][p[8]] ^ t[6][p[9]] ^
                         t[5][p[10]] ^ t[4][p[11]] ^ t[3][p[12]] ^ t[2][p[13]] ^ t[1][p[14]] ^
                         t[0][p[15]]);
        p += 16;
        n -= 16;
    }
    return crc16_bytewise(crc, p, n);
}

#if LR_HAVE_X86_DISPATCH
/* Folding after Intel's "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ" (2009), in its non-reflected form.  A 128-bit block A that lies d
 * bits ahead of block B is replaced by A_hi*(x^(d+64) mod P) + A_lo*(x^d mod P),
 * which is congruent to A*x^d modulo P and at most 79 bits long.  What is left
 * at the end (one block plus a tail) has the same CRC as the whole message. */
LR_TARGET_AVX2 static inline __m128i fold(__m128i a, __m128i b, __m128i k)
{
    __m128i hi = _mm_clmulepi64_si128(a, k, 0x11);
    __m128i lo = _mm_clmulepi64_si128(a, k, 0x00);
    return _mm_xor_si128(_mm_xor_si128(hi, lo), b);
}

LR_TARGET_AVX2 static uint16_t crc16_clmul(uint16_t crc, const uint8_t *p, size_t n)
{
    if (n < 64)
        return crc16_slice16(crc, p, n);
    const __m128i bswap = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m128i k512 = _mm_set_epi64x(LR_CRC16_X576, LR_CRC16_X512);
    const __m128i k128 = _mm_set_epi64x(LR_CRC16_X192, LR_CRC16_X128);
#define LOAD(off) _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + (off))), bswap)
    __m128i a0 = LOAD(0), a1 = LOAD(16), a2 = LOAD(32), a3 = LOAD(48);
    /* The initial register is the same as XOR-ing it into the first 16 bits. */
    a0 = _mm_xor_si128(a0, _mm_insert_epi16(_mm_setzero_si128(), crc, 7));
    p += 64;
    n -= 64;
    while (n >= 64) {
        a0 = fold(a0, LOAD(0), k512);
        a1 = fold(a1, LOAD(16), k512);
        a2 = fold(a2, LOAD(32), k512);
        a3 = fold(a3, LOAD(48), k512);
        p += 64;
        n -= 64;
    }
    __m128i r = fold(fold(fold(a0, a1, k128), a2, k128), a3, k128);
    while (n >= 16) {
        r = fold(r, LOAD(0), k128);
        p += 16;
        n -= 16;
    }
#undef LOAD
    uint8_t last[16];
    _mm_storeu_si128((__m128i *)last, _mm_shuffle_epi8(r, bswap));
    return crc16_slice16(crc16_slice16(0, last, 16), p, n);
}
#endif

uint16_t lr_crc16_ccitt_kernel(int kernel, uint16_t crc, const uint8_t *data, size_t n)
{
    if (kernel == LR_CRC_AUTO)
        kernel = lr_simd_level() >= LR_SIMD_AVX2 ? LR_CRC_CLMUL : LR_CRC_SLICE16;
    switch (kernel) {
    case LR_CRC_CLMUL:
#if LR_HAVE_X86_DISPATCH
        if (lr_simd_supported() >= LR_SIMD_AVX2)
            return crc16_clmul(crc, data, n);
#endif
        return crc16_slice16(crc, data, n);
    case LR_CRC_SLICE16:
        return crc16_slice16(crc, data, n);
    default:
        return crc16_bytewise(crc, data, n);
    }
}

uint16_t lr_crc16_ccitt(uint16_t crc, const uint8_t *data, size_t n)
{
    return lr_crc16_ccitt_kernel(LR_CRC_AUTO, crc, data, n);
}

int64_t lr_crc16_ccitt_frames(int kernel, const uint8_t *data, size_t frame_len, size_t n_frames,
                              uint16_t *out, size_t n_out)
{
    if (n_out < n_frames)
        return LR_E_SPACE;
    if (kernel == LR_CRC_AUTO)
        kernel = lr_simd_level() >= LR_SIMD_AVX2 ? LR_CRC_CLMUL : LR_CRC_SLICE16;
    for (size_t i = 0; i < n_frames; i++)
        out[i] = lr_crc16_ccitt_kernel(kernel, 0xFFFF, data + i * frame_len, frame_len);
    return (int64_t)n_frames;
}

/* CCSDS 211.2-B-3 §3.3.3: generator 0x00A00805, MSB first.  Nibble table:
 * the register change for each 4-bit value shifted out of the top. */
static const uint32_t crc32_prox1_nibble[16] = {
    0x00000000, 0x00A00805, 0x0140100A, 0x01E0180F, 0x02802014, 0x02202811, 0x03C0301E, 0x0360381B,
    0x05004028, 0x05A0482D, 0x04405022, 0x04E05827, 0x0780603C, 0x07206839, 0x06C07036, 0x06607833};

uint32_t lr_crc32_prox1(uint32_t crc, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)data[i] << 24;
        crc = (crc << 4) ^ crc32_prox1_nibble[crc >> 28];
        crc = (crc << 4) ^ crc32_prox1_nibble[crc >> 28];
    }
    return crc;
}
