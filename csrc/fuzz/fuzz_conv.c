/* libFuzzer target: the rate-1/2 K=7 Viterbi decoder and the puncturing of
 * CCSDS 131.0-B-4 §3 (lr_conv.h): arbitrary soft symbols, lengths, start states,
 * traceback depths and rates, the stream fed in arbitrary pieces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_conv.h"
#include "../lr_cpu.h"

#define MAX_SYMBOLS 8192

static struct lr_viterbi27 v; /* 16 KiB of decision history */

/* Decode the whole stream in pieces; returns the bits written. */
static size_t viterbi_stream(const uint8_t *in, size_t n, const uint8_t *cuts, size_t n_cuts, int start,
                             int depth, int invert, int end_state, uint8_t *out)
{
    if (lr_viterbi27_init(&v, start, depth, invert) != LR_OK)
        abort();
    size_t pos = 0, written = 0, c = 0;
    while (pos < n) {
        size_t piece = c < n_cuts ? cuts[c++] : n - pos;
        if (piece > n - pos)
            piece = n - pos;
        int64_t bound = lr_viterbi27_max_output(&v, piece);
        if (bound < 0 || (bound > 0 && lr_viterbi27_update(&v, in + pos, piece, out + written,
                                                           (size_t)bound - 1) != LR_E_SPACE))
            abort(); /* one short of the bound is refused (and changes nothing) */
        int64_t k = lr_viterbi27_update(&v, in + pos, piece, out + written, (size_t)bound);
        if (k < 0 || k > bound)
            abort();
        written += (size_t)k;
        pos += piece;
    }
    int64_t rest = lr_viterbi27_finish(&v, end_state, out + written, MAX_SYMBOLS - written);
    if (rest < 0)
        abort();
    written += (size_t)rest;
    if (written != n / 2) /* one bit per symbol pair, an odd last symbol left over */
        abort();
    for (size_t i = 0; i < written; i++)
        if (out[i] > 1)
            abort();
    return written;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t soft[MAX_SYMBOLS], bits[2][MAX_SYMBOLS], depunct[2 * MAX_SYMBOLS], punct[MAX_SYMBOLS];
    if (size < 4)
        return 0;
    int start = (int)(data[0] % 66) - 1; /* -1 .. 64: 64 is invalid */
    int end_state = (int)(data[1] % 66) - 1;
    int depth = data[2] < 8 ? 0 : data[2] * 5; /* 0 (default) or 40 .. 1275: some too deep */
    int invert = data[3] & 1, rate = (data[3] >> 1) % 6; /* rate 5 is invalid */
    size_t n_cuts = (data[3] >> 4) & 7;
    data += 4;
    size -= 4;
    if (n_cuts > size)
        n_cuts = size;
    const uint8_t *cuts = data;
    data += n_cuts;
    size -= n_cuts;
    if (size > MAX_SYMBOLS / 2)
        size = MAX_SYMBOLS / 2;

    struct lr_conv_punct p;
    if ((lr_conv_punct_init(&p, rate) == LR_OK) != (rate <= LR_CONV_R7_8))
        abort();
    if (rate > LR_CONV_R7_8)
        return 0;
    /* Depuncture the input as received symbols, then decode it. */
    int64_t max = lr_conv_depuncture_max(&p, size);
    int64_t n = lr_conv_depuncture(&p, data, size, depunct, sizeof depunct);
    if (n < (int64_t)size || n > max || (size_t)n > sizeof depunct)
        abort();
    /* Puncturing the depunctured stream gives the received symbols back. */
    struct lr_conv_punct q;
    lr_conv_punct_init(&q, rate);
    if (lr_conv_puncture(&q, depunct, (size_t)n, punct, sizeof punct) != (int64_t)size || memcmp(punct, data, size))
        abort();
    if (n > MAX_SYMBOLS)
        n = MAX_SYMBOLS;

    int rc = lr_viterbi27_init(&v, start, depth, invert);
    int valid = start >= -1 && start < 64 && (depth == 0 || (depth >= 8 && depth <= LR_VITERBI27_DEPTH_MAX));
    if ((rc == LR_OK) != valid)
        abort();
    if (!valid || end_state > 63)
        return 0;
    size_t k = viterbi_stream(depunct, (size_t)n, cuts, n_cuts, start, depth, invert, end_state, bits[0]);
    /* The pieces do not change the result. */
    if (viterbi_stream(depunct, (size_t)n, NULL, 0, start, depth, invert, end_state, bits[1]) != k ||
        memcmp(bits[0], bits[1], k))
        abort();
    /* The same on the other SIMD path. */
    if (lr_simd_supported() >= LR_SIMD_AVX2) {
        lr_simd_force(lr_simd_level() == LR_SIMD_AVX2 ? LR_SIMD_PORTABLE : LR_SIMD_AVX2);
        viterbi_stream(depunct, (size_t)n, cuts, n_cuts, start, depth, invert, end_state, bits[1]);
        lr_simd_force(-1);
        if (memcmp(bits[0], bits[1], k))
            abort();
    }
    lr_viterbi27_decode_block(&v, invert, depth, data, size, bits[1], sizeof bits[1]);

    /* Without noise, the encoded input (as bits, with its tail) decodes to itself. */
    size_t n_info = size / 8 < 256 ? size / 8 : 256;
    struct lr_conv_enc enc;
    if (lr_conv_enc_init(&enc, invert) != LR_OK ||
        lr_conv_encode_soft(&enc, data, n_info, soft, sizeof soft) != (int64_t)(16 * n_info) ||
        lr_conv_encode_tail(&enc, 1, soft + 16 * n_info, sizeof soft - 16 * n_info) != 12)
        abort();
    size_t n_soft = 16 * n_info + 12;
    if (lr_viterbi27_decode_block(&v, invert, depth, soft, n_soft, bits[0], sizeof bits[0]) != (int64_t)(8 * n_info))
        abort();
    for (size_t i = 0; i < 8 * n_info; i++)
        if (bits[0][i] != ((data[i / 8] >> (7 - i % 8)) & 1))
            abort();
    return 0;
}
