/* libFuzzer target: the CLTU decoder and the BCH(63,56) codeblock decoder (lr_cltu.h),
 * CCSDS 231.0-B-4 §3 and §5, in both correction modes and start tolerances, with the
 * output and description buffers cut short so that decoding resumes across calls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_cltu.h"

#define MAX_IN 8192

static void check_block(const uint8_t *cb, int correct)
{
    uint8_t info[7], again[8];
    int r = lr_bch_decode_block(cb, correct, info);
    if (r == LR_E_UNCORRECTABLE)
        return;
    if (r < 0 || r > 1 || (r == 1 && !correct))
        abort();
    if (lr_bch_encode(info, 7, again, sizeof again) != 8)
        abort();
    /* The result re-encodes to the received codeblock, filler bit aside, but for
     * the one bit reported corrected. */
    int diff = 0;
    for (int i = 0; i < 8; i++)
        diff += __builtin_popcount((unsigned)(again[i] ^ cb[i]) & (i == 7 ? 0xFEu : 0xFFu));
    if (diff != r)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[MAX_IN], encoded[MAX_IN + 64];
    struct lr_cltu_info info[8];
    if (size < 2)
        return 0;
    int correct = data[0] & 1, tolerance = (data[0] >> 1) & 3; /* 2 and 3 are invalid */
    size_t n_info = 1 + (data[0] >> 3 & 7), n_out = (size_t)data[1] * 7;
    data += 2;
    size -= 2;
    if (size > MAX_IN)
        size = MAX_IN;
    for (size_t i = 0; i + 8 <= size; i += 8)
        check_block(data + i, correct);

    struct lr_cltu_decoder d;
    int rc = lr_cltu_decoder_init(&d, correct, tolerance);
    if ((rc == LR_OK) != (tolerance <= 1))
        abort();
    if (rc != LR_OK)
        return 0;
    size_t pos = 0;
    uint64_t cltus = 0;
    for (int calls = 0; pos < size && calls < 1000; calls++) {
        size_t consumed = (size_t)-1;
        int64_t k = lr_cltu_decode(&d, data + pos, size - pos, out, n_out, info, n_info, &consumed);
        if (consumed > size - pos)
            abort();
        if (k == LR_E_SPACE) /* the first CLTU found does not fit in out */
            break;
        if (k < 0 || (size_t)k > n_info)
            abort();
        uint64_t end_of_data = 0;
        for (int64_t i = 0; i < k; i++) {
            const struct lr_cltu_info *c = &info[i];
            if (c->start >= size - pos || c->n_data % 7 || c->out_offset < end_of_data ||
                c->out_offset + c->n_data > n_out || c->end < LR_CLTU_END_TAIL || c->end > LR_CLTU_END_TRUNCATED)
                abort();
            end_of_data = c->out_offset + c->n_data;
        }
        cltus += (uint64_t)k;
        if (!consumed)
            break;
        pos += consumed;
    }
    if (d.cltus < cltus || d.corrected > d.codeblocks || (!correct && d.corrected))
        abort();

    /* A CLTU built from the input decodes back to it, fill octets appended. */
    size_t n = size < 1024 ? size : 1024, len = lr_cltu_encoded_len(n);
    if (lr_cltu_encode(data, n, encoded, sizeof encoded) != (int64_t)len)
        abort();
    size_t consumed;
    if (lr_cltu_decoder_init(&d, correct, tolerance) != LR_OK ||
        lr_cltu_decode(&d, encoded, len, out, sizeof out, info, 1, &consumed) != 1 ||
        info[0].end != LR_CLTU_END_TAIL || info[0].n_data < n || info[0].n_data >= n + 7 ||
        memcmp(out + info[0].out_offset, data, n))
        abort();
    for (size_t i = n; i < info[0].n_data; i++)
        if (out[info[0].out_offset + i] != 0x55) /* 231.0-B-4 §5.3 fill */
            abort();
    return 0;
}
