/* Tests of lr_cltu: published BCH vectors, single-error correction, double-error
 * detection, CLTU framing, and garbage and truncation. */
#include "../lr_cltu.h"
#include "lr_test.h"

/* Bit-serial definition of the parity (CCSDS 231.0-B-4 §3.2). */
static uint8_t parity_bitwise(const uint8_t *info)
{
    unsigned reg = 0; /* 7 bits */
    for (int i = 0; i < 56; i++) {
        unsigned in = (info[i / 8] >> (7 - i % 8)) & 1u;
        unsigned fb = in ^ ((reg >> 6) & 1u);
        reg = (reg << 1) & 0x7Fu;
        if (fb)
            reg ^= 0x45u; /* x^6 + x^2 + 1: g(x) without its x^7 term */
    }
    return (uint8_t)((~reg & 0x7Fu) << 1);
}

/* Vectors of CCSDS 230.2-G (TC synchronization and channel coding, test data). */
TEST(published_parity_vectors)
{
    static const uint8_t v[4][8] = {
        {0x22, 0xF6, 0x00, 0xFF, 0x00, 0x42, 0x1A, 0x12},
        {0x8C, 0xC0, 0x0E, 0x01, 0x0D, 0x19, 0x06, 0x5A},
        {0x30, 0x1B, 0x00, 0x09, 0x00, 0x82, 0x00, 0x54},
        {0x10, 0xE4, 0xC1, 0x55, 0x55, 0x55, 0x55, 0x3E},
    };
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(lr_bch_parity(v[i]), v[i][7]);
        CHECK_EQ(parity_bitwise(v[i]), v[i][7]);
    }
}

TEST(parity_table_matches_bitwise_on_random_blocks)
{
    uint64_t seed = 11;
    for (int i = 0; i < 5000; i++) {
        uint8_t info[7];
        lr_test_fill(&seed, info, 7);
        CHECK_EQ(lr_bch_parity(info), parity_bitwise(info));
    }
}

TEST(every_single_bit_error_is_corrected)
{
    uint64_t seed = 12;
    uint8_t cb[8], bad[8], info[7];
    for (int t = 0; t < 20; t++) {
        lr_test_fill(&seed, cb, 7);
        cb[7] = lr_bch_parity(cb);
        CHECK_EQ(lr_bch_decode_block(cb, 1, info), 0);
        CHECK(memcmp(info, cb, 7) == 0);
        for (int pos = 0; pos < 63; pos++) {
            memcpy(bad, cb, 8);
            bad[pos / 8] ^= (uint8_t)(0x80 >> (pos % 8));
            CHECK_EQ(lr_bch_decode_block(bad, 1, info), 1);
            CHECK(memcmp(info, cb, 7) == 0);
            CHECK_EQ(lr_bch_decode_block(bad, 0, info), LR_E_UNCORRECTABLE);
        }
        /* The filler bit carries nothing. */
        memcpy(bad, cb, 8);
        bad[7] ^= 1;
        CHECK_EQ(lr_bch_decode_block(bad, 0, info), 0);
    }
}

TEST(every_double_bit_error_is_detected)
{
    uint8_t cb[8] = {0x22, 0xF6, 0x00, 0xFF, 0x00, 0x42, 0x1A, 0x12}, bad[8], info[7];
    for (int a = 0; a < 63; a++)
        for (int b = a + 1; b < 63; b++) {
            memcpy(bad, cb, 8);
            bad[a / 8] ^= (uint8_t)(0x80 >> (a % 8));
            bad[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
            CHECK_EQ(lr_bch_decode_block(bad, 1, info), LR_E_UNCORRECTABLE);
        }
}

TEST(tail_sequence_is_uncorrectable)
{
    static const uint8_t tail[8] = {0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0x79};
    uint8_t info[7];
    CHECK_EQ(lr_bch_decode_block(tail, 1, info), LR_E_UNCORRECTABLE);
}

TEST(cltu_has_start_fill_and_tail)
{
    uint8_t data[10], cltu[64];
    for (int i = 0; i < 10; i++)
        data[i] = (uint8_t)i;
    CHECK_EQ(lr_cltu_encoded_len(10), 2 + 16 + 8);
    CHECK_EQ(lr_cltu_encode(data, 10, cltu, sizeof cltu), 26);
    CHECK_EQ(cltu[0], 0xEB);
    CHECK_EQ(cltu[1], 0x90);
    CHECK(memcmp(cltu + 2, data, 7) == 0);
    CHECK_EQ(cltu[9], lr_bch_parity(data));
    CHECK(memcmp(cltu + 10, data + 7, 3) == 0);
    for (int i = 13; i < 17; i++)
        CHECK_EQ(cltu[i], 0x55);
    CHECK_EQ(cltu[25], 0x79);
    CHECK_EQ(cltu[18], 0xC5);
    CHECK_EQ(lr_cltu_encode(data, 10, cltu, 25), LR_E_SPACE);
}

TEST(decoder_finds_cltus_in_garbage_and_corrects_errors)
{
    static uint8_t stream[4096], out[4096], data[3][100];
    struct lr_cltu_info info[8];
    struct lr_cltu_decoder d;
    uint64_t seed = 21;
    size_t n = 0, lens[3] = {100, 7, 50};
    CHECK_EQ(lr_cltu_decoder_init(&d, 1, 0), LR_OK);
    for (int c = 0; c < 3; c++) {
        memset(stream + n, 0x55, 13); /* idle pattern between CLTUs */
        n += 13;
        lr_test_fill(&seed, data[c], lens[c]);
        n += (size_t)lr_cltu_encode(data[c], lens[c], stream + n, sizeof stream - n);
    }
    stream[13 + 2 + 3] ^= 0x10;      /* one error in the first codeblock of CLTU 0 */
    stream[13 + 2 + 8 + 7] ^= 0x02;  /* one in the parity of the second */
    size_t consumed = 0;
    CHECK_EQ(lr_cltu_decode(&d, stream, n, out, sizeof out, info, 8, &consumed), 3);
    CHECK_EQ(consumed, n);
    for (int c = 0; c < 3; c++) {
        CHECK_EQ(info[c].end, LR_CLTU_END_TAIL);
        CHECK_EQ(info[c].n_data, (lens[c] + 6) / 7 * 7);
        CHECK(memcmp(out + info[c].out_offset, data[c], lens[c]) == 0);
    }
    CHECK_EQ(info[0].corrected, 2);
    CHECK_EQ(d.corrected, 2);
    CHECK_EQ(d.tails, 3);
    CHECK_EQ(d.cltus, 3);
    CHECK_EQ(d.octets_skipped, 39);
}

TEST(double_error_ends_cltu_and_search_resumes)
{
    uint8_t stream[256], out[256], data[21];
    struct lr_cltu_info info[4];
    struct lr_cltu_decoder d;
    memset(data, 0xA7, sizeof data);
    size_t n = (size_t)lr_cltu_encode(data, 21, stream, sizeof stream);
    stream[2 + 8] ^= 0x81; /* two errors in codeblock 1 */
    n += (size_t)lr_cltu_encode(data, 21, stream + n, sizeof stream - n);
    size_t consumed;
    lr_cltu_decoder_init(&d, 1, 0);
    CHECK_EQ(lr_cltu_decode(&d, stream, n, out, sizeof out, info, 4, &consumed), 2);
    CHECK_EQ(info[0].end, LR_CLTU_END_UNCORRECTABLE);
    CHECK_EQ(info[0].n_data, 7);
    CHECK_EQ(info[1].end, LR_CLTU_END_TAIL);
    CHECK_EQ(info[1].n_data, 21);
    CHECK_EQ(d.rejected, 1);
    /* Detection mode rejects a single error too. */
    stream[2 + 8] ^= 0x80;
    lr_cltu_decoder_init(&d, 0, 0);
    CHECK_EQ(lr_cltu_decode(&d, stream, n, out, sizeof out, info, 4, &consumed), 2);
    CHECK_EQ(info[0].end, LR_CLTU_END_UNCORRECTABLE);
}

TEST(truncated_cltu_and_small_buffers_are_reported)
{
    uint8_t stream[128], out[128], data[40] = {0};
    struct lr_cltu_info info[4];
    struct lr_cltu_decoder d;
    size_t n = (size_t)lr_cltu_encode(data, 40, stream, sizeof stream), consumed;
    lr_cltu_decoder_init(&d, 1, 0);
    CHECK_EQ(lr_cltu_decode(&d, stream, n - 11, out, sizeof out, info, 4, &consumed), 1);
    CHECK_EQ(info[0].end, LR_CLTU_END_TRUNCATED);
    CHECK_EQ(d.truncated, 1);
    lr_cltu_decoder_init(&d, 1, 0);
    CHECK_EQ(lr_cltu_decode(&d, stream, n, out, 20, info, 4, &consumed), LR_E_SPACE);
    CHECK_EQ(d.cltus, 0);
    CHECK_EQ(lr_cltu_decode(&d, stream, n, out, sizeof out, info, 0, &consumed), 0);
    CHECK_EQ(lr_cltu_decoder_init(&d, 1, 2), LR_E_ARG);
    CHECK_EQ(lr_bch_encode(data, 8, out, 16), LR_E_FORMAT);
    CHECK_EQ(lr_bch_encode(data, 14, out, 15), LR_E_SPACE);
}

TEST(random_garbage_never_overruns)
{
    static uint8_t stream[8192], out[2048];
    struct lr_cltu_info info[16];
    struct lr_cltu_decoder d;
    uint64_t seed = 5;
    lr_cltu_decoder_init(&d, 1, 1);
    for (int round = 0; round < 200; round++) {
        size_t n = lr_test_rand(&seed) % sizeof stream;
        lr_test_fill(&seed, stream, n);
        for (size_t i = 0; i + 1 < n; i += 1 + lr_test_rand(&seed) % 64) {
            stream[i] = 0xEB;
            stream[i + 1] = 0x90;
        }
        size_t pos = 0, consumed;
        while (pos < n) {
            int64_t r = lr_cltu_decode(&d, stream + pos, n - pos, out, sizeof out, info, 16, &consumed);
            CHECK(r >= 0);
            CHECK(consumed <= n - pos);
            for (int64_t i = 0; i < r; i++)
                CHECK(info[i].out_offset + info[i].n_data <= sizeof out);
            if (r <= 0 || consumed == 0)
                break;
            pos += consumed;
        }
    }
}

int main(void)
{
    RUN(published_parity_vectors);
    RUN(parity_table_matches_bitwise_on_random_blocks);
    RUN(every_single_bit_error_is_corrected);
    RUN(every_double_bit_error_is_detected);
    RUN(tail_sequence_is_uncorrectable);
    RUN(cltu_has_start_fill_and_tail);
    RUN(decoder_finds_cltus_in_garbage_and_corrects_errors);
    RUN(double_error_ends_cltu_and_search_resumes);
    RUN(truncated_cltu_and_small_buffers_are_reported);
    RUN(random_garbage_never_overruns);
    TEST_EXIT();
}
