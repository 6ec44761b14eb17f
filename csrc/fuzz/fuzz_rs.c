/* libFuzzer target: the Reed-Solomon decoder (lr_rs.h) at every E, depth, basis and
 * virtual fill, on both SIMD paths.  CCSDS 131.0-B-4 §4: a codeword the decoder
 * reports as corrected must re-encode to itself within E symbols of the received
 * one (exactly the reported count), and an uncorrectable one is passed through. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_cpu.h"
#include "../lr_rs.h"

#define MAX_BLOCK (8 * 255)

static struct lr_rs rs; /* 60 KiB: too large for the stack of a fuzz iteration */

/* Decode block (one codeblock) on the given SIMD level and check the properties. */
static void decode_and_check(const uint8_t *block, const uint8_t *sent, size_t block_len, size_t data_len,
                             int level, uint8_t *data, int16_t *corrected)
{
    static uint8_t again[MAX_BLOCK];
    size_t depth = (size_t)rs.interleave, n = (size_t)rs.n;
    if (lr_simd_force(level) != LR_OK)
        return;
    if (lr_rs_decode(&rs, block, block_len, data, data_len, corrected, depth) != (int64_t)data_len)
        abort();
    if (lr_rs_encode(&rs, data, data_len, again, block_len) != (int64_t)block_len)
        abort();
    for (size_t j = 0; j < depth; j++) {
        size_t diff = 0, data_diff = 0, errors = 0, wrong = 0;
        for (size_t i = 0; i < n; i++) {
            size_t at = i * depth + j;
            diff += again[at] != block[at];
            if (sent) {
                errors += sent[at] != block[at];
                wrong += sent[at] != again[at];
            }
            if (at < data_len)
                data_diff += data[at] != block[at];
        }
        if (corrected[j] == -1) {
            if (data_diff) /* uncorrectable: data passed through as received */
                abort();
        } else if (corrected[j] < 0 || corrected[j] > rs.e || (size_t)corrected[j] != diff) {
            abort();
        }
        /* Within E symbol errors of the codeword sent, the decoder must restore it. */
        if (sent && errors <= (size_t)rs.e && ((size_t)corrected[j] != errors || wrong))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t block[MAX_BLOCK], sent[MAX_BLOCK], out[2][MAX_BLOCK];
    const uint8_t *reference = NULL;
    static const int depths[8] = {1, 2, 3, 4, 5, 8, 6, 0}; /* the last two are invalid */
    int16_t corrected[2][8];
    if (size < 4)
        return 0;
    int e = data[0] & 1 ? 16 : 8;
    int depth = depths[(data[0] >> 1) & 7];
    int dual = (data[0] >> 4) & 1;
    int mode = (data[0] >> 5) & 3;
    int fill = data[1] | (data[2] & 1) << 8; /* 0 .. 511: some are out of range */
    if (lr_rs_init(&rs, e, depth, dual, fill) != LR_OK) {
        if (depth == 6 || depth == 0 || fill >= 255 - 2 * e || fill < 0)
            return 0;
        abort(); /* a valid configuration was refused */
    }
    if (depth == 6 || depth == 0 || fill >= 255 - 2 * e)
        abort(); /* an invalid one was accepted */
    size_t block_len = (size_t)lr_rs_block_len(&rs), data_len = (size_t)lr_rs_data_len(&rs);
    data += 3;
    size -= 3;
    if (mode == 0) { /* the input is the received codeblock, zero-padded */
        memset(block, 0, block_len);
        memcpy(block, data, size < block_len ? size : block_len);
    } else { /* a valid codeblock from the input, then symbol errors at chosen positions */
        size_t n_data = size < data_len ? size : data_len;
        memset(out[0], 0, data_len);
        memcpy(out[0], data, n_data);
        if (lr_rs_encode(&rs, out[0], data_len, sent, block_len) != (int64_t)block_len)
            abort();
        memcpy(block, sent, block_len);
        reference = sent;
        /* Each error: two octets of position, one of value. */
        for (size_t at = n_data; at + 3 <= size; at += 3) {
            size_t pos = ((size_t)data[at] << 8 | data[at + 1]) % block_len;
            block[pos] ^= data[at + 2] ? data[at + 2] : 1;
        }
    }
    decode_and_check(block, reference, block_len, data_len, LR_SIMD_PORTABLE, out[0], corrected[0]);
    if (lr_simd_supported() >= LR_SIMD_AVX2) {
        decode_and_check(block, reference, block_len, data_len, LR_SIMD_AVX2, out[1], corrected[1]);
        if (memcmp(out[0], out[1], data_len) || memcmp(corrected[0], corrected[1], (size_t)depth * sizeof(int16_t)))
            abort(); /* the two paths disagree */
    }
    lr_simd_force(-1);
    /* A length that is not a whole number of codeblocks is refused, never read past. */
    if (size && size % block_len && lr_rs_decode(&rs, data, size, out[0], sizeof out[0], corrected[0], 8) >= 0)
        abort();
    return 0;
}
