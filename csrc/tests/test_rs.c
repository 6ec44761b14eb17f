/* Tests of lr_rs: the published vector, an independent bit-serial encoder, round
 * trips at every depth, basis and virtual fill, correction of E errors, detection
 * beyond E, hostile input, and agreement of the SIMD paths. */
#include "../lr_rs.h"
#include "../lr_cpu.h"
#include "lr_test.h"

static const int depths[] = {1, 2, 3, 4, 5, 8};

/* GF(2^8) multiply by shift-and-add over 0x187, independent of the module's tables. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    unsigned r = 0, x = a;
    for (int i = 0; i < 8; i++) {
        if (b & (1 << i))
            r ^= x;
        x <<= 1;
        if (x & 0x100)
            x ^= 0x187;
    }
    return (uint8_t)r;
}

static uint8_t ref_pow(uint8_t a, int e)
{
    uint8_t r = 1;
    for (int i = 0; i < e; i++)
        r = ref_mul(r, a);
    return r;
}

/* Check symbols of one conventional-basis codeword by long division of
 * d(x) x^2E by g(x) (CCSDS 131.0-B-4 §4.3.3), computed from scratch. */
static void ref_parity(int e, const uint8_t *data, int k, uint8_t *parity)
{
    int nroots = 2 * e;
    uint8_t g[33] = {1}, beta = ref_pow(2, 11);
    for (int r = 0; r < nroots; r++) {
        uint8_t root = ref_pow(beta, 128 - e + r);
        g[r + 1] = g[r];
        for (int m = r; m > 0; m--)
            g[m] = g[m - 1] ^ ref_mul(g[m], root);
        g[0] = ref_mul(g[0], root);
    }
    uint8_t work[255 + 32];
    memset(work, 0, sizeof work);
    memcpy(work, data, (size_t)k);
    for (int i = 0; i < k; i++) {
        uint8_t f = work[i];
        if (f)
            for (int m = 0; m <= nroots; m++)
                work[i + m] ^= ref_mul(f, g[nroots - m]);
    }
    memcpy(parity, work + k, (size_t)nroots);
}

static int unhex(const char *s, uint8_t *out)
{
    int n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* CCSDS-published example: RS(255,223), conventional basis, data 0x00..0xDE. */
TEST(vector_rs255_223_conventional)
{
    struct lr_rs rs;
    uint8_t data[223], block[255], want[32];
    CHECK_EQ(lr_rs_init(&rs, 16, 1, 0, 0), LR_OK);
    for (int i = 0; i < 223; i++)
        data[i] = (uint8_t)i;
    unhex("2fbd4fb4748494b9acd554627212eeb3ebed41191de1d36320ea49290b25abcf", want);
    for (int level = LR_SIMD_PORTABLE; level <= lr_simd_supported(); level++) {
        lr_simd_force(level);
        memset(block, 0, sizeof block);
        CHECK_EQ(lr_rs_encode(&rs, data, 223, block, 255), 255);
        CHECK(memcmp(block, data, 223) == 0);
        CHECK(memcmp(block + 223, want, 32) == 0);
    }
    lr_simd_force(-1);
}

TEST(dual_basis_tables_are_inverse_and_linear)
{
    struct lr_rs rs;
    CHECK_EQ(lr_rs_init(&rs, 16, 1, 1, 0), LR_OK);
    int identity = 1;
    for (int v = 0; v < 256; v++) {
        CHECK_EQ(rs.to_conv[rs.to_wire[v]], v);
        identity &= rs.to_wire[v] == v;
        for (int w = 0; w < 256; w += 37)
            CHECK_EQ(rs.to_wire[v ^ w], rs.to_wire[v] ^ rs.to_wire[w]);
    }
    CHECK(!identity);
    /* Annex F: alpha^0 = 1 maps to the last row of T. */
    CHECK_EQ(rs.to_wire[1], 0x7b);
}

/* Encode random data for every (E, I, basis, Q) and compare each codeword with
 * the bit-serial reference (after basis conversion), then decode it back. */
TEST(round_trip_every_depth_basis_and_fill)
{
    static uint8_t data[3 * 8 * 239], block[3 * 8 * 255], back[3 * 8 * 239];
    static const int fills[] = {0, 1, 100, 200};
    int16_t counts[3 * 8];
    uint64_t seed = 7;
    for (int e = 8; e <= 16; e += 8)
        for (size_t di = 0; di < sizeof depths / sizeof *depths; di++)
            for (int dual = 0; dual <= 1; dual++)
                for (size_t fi = 0; fi < 4; fi++) {
                    struct lr_rs rs;
                    int depth = depths[di], q = fills[fi];
                    if (q >= 255 - 2 * e)
                        continue;
                    CHECK_EQ(lr_rs_init(&rs, e, depth, dual, q), LR_OK);
                    int k = 255 - 2 * e - q, n = 255 - q;
                    size_t dlen = (size_t)(depth * k), blen = (size_t)(depth * n);
                    lr_test_fill(&seed, data, 3 * dlen);
                    CHECK_EQ(lr_rs_encode(&rs, data, 3 * dlen, block, sizeof block),
                             (int64_t)(3 * blen));
                    for (int b = 0; b < 3; b++)
                        for (int j = 0; j < depth; j++) {
                            uint8_t cw[255] = {0}, par[32];
                            for (int t = 0; t < k; t++)
                                cw[q + t] = rs.to_conv[data[b * dlen + (size_t)(t * depth + j)]];
                            ref_parity(e, cw, 255 - 2 * e, par);
                            int same = 1;
                            for (int m = 0; m < 2 * e; m++)
                                same &= block[b * blen + (size_t)((k + m) * depth + j)] ==
                                        rs.to_wire[par[m]];
                            CHECK(same);
                        }
                    memset(back, 0, sizeof back);
                    CHECK_EQ(lr_rs_decode(&rs, block, 3 * blen, back, sizeof back, counts, 24),
                             (int64_t)(3 * dlen));
                    CHECK(memcmp(back, data, 3 * dlen) == 0);
                    for (int c = 0; c < 3 * depth; c++)
                        CHECK_EQ(counts[c], 0);
                }
}

/* Put `errors` symbol errors at distinct random transmitted positions of codeword j. */
static void corrupt(uint64_t *seed, uint8_t *block, int n, int depth, int j, int errors)
{
    uint8_t hit[255] = {0};
    for (int placed = 0; placed < errors;) {
        int t = (int)(lr_test_rand(seed) % (uint64_t)n);
        uint8_t v = (uint8_t)(lr_test_rand(seed) >> 56);
        if (hit[t] || !v)
            continue;
        hit[t] = 1;
        block[t * depth + j] ^= v;
        placed++;
    }
}

TEST(corrects_exactly_e_errors_at_random_positions_on_each_path)
{
    static uint8_t data[5 * 239], block[5 * 255], rx[5 * 255], back[5 * 239];
    int16_t counts[5];
    uint64_t seed = 11;
    for (int level = LR_SIMD_PORTABLE; level <= lr_simd_supported(); level++) {
        lr_simd_force(level);
        for (int e = 8; e <= 16; e += 8)
            for (int dual = 0; dual <= 1; dual++)
                for (int q = 0; q <= 33; q += 33) {
                    struct lr_rs rs;
                    CHECK_EQ(lr_rs_init(&rs, e, 5, dual, q), LR_OK);
                    size_t dlen = (size_t)lr_rs_data_len(&rs), blen = (size_t)lr_rs_block_len(&rs);
                    for (int trial = 0; trial < 40; trial++) {
                        lr_test_fill(&seed, data, dlen);
                        lr_rs_encode(&rs, data, dlen, block, blen);
                        memcpy(rx, block, blen);
                        for (int j = 0; j < 5; j++)
                            corrupt(&seed, rx, rs.n, 5, j, j == 4 ? 0 : e - (j % 2) * trial % e);
                        CHECK_EQ(lr_rs_decode(&rs, rx, blen, back, dlen, counts, 5), (int64_t)dlen);
                        CHECK(memcmp(back, data, dlen) == 0);
                        for (int j = 0; j < 5; j++)
                            CHECK_EQ(counts[j], j == 4 ? 0 : e - (j % 2) * trial % e);
                    }
                }
    }
    lr_simd_force(-1);
}

TEST(flags_more_than_e_errors)
{
    static uint8_t data[2 * 239], block[2 * 255], rx[2 * 255], back[2 * 239];
    int16_t counts[2];
    uint64_t seed = 13;
    int flagged = 0, trials = 0;
    for (int e = 8; e <= 16; e += 8)
        for (int dual = 0; dual <= 1; dual++) {
            struct lr_rs rs;
            CHECK_EQ(lr_rs_init(&rs, e, 2, dual, 0), LR_OK);
            size_t dlen = (size_t)lr_rs_data_len(&rs), blen = (size_t)lr_rs_block_len(&rs);
            for (int trial = 0; trial < 100; trial++) {
                lr_test_fill(&seed, data, dlen);
                lr_rs_encode(&rs, data, dlen, block, blen);
                memcpy(rx, block, blen);
                corrupt(&seed, rx, 255, 2, 0, e + 1 + trial % 20);
                CHECK_EQ(lr_rs_decode(&rs, rx, blen, back, dlen, counts, 2), (int64_t)dlen);
                trials++;
                if (counts[0] < 0) {
                    flagged++;
                    /* An uncorrectable codeword passes through as received. */
                    int same = 1;
                    for (int t = 0; t < rs.k; t++)
                        same &= back[t * 2] == rx[t * 2];
                    CHECK(same);
                }
                CHECK_EQ(counts[1], 0);
            }
        }
    /* A miscorrection needs the word within E of another codeword: rare (< 1e-4). */
    CHECK(flagged >= trials - 1);
}

TEST(garbage_never_crashes_and_is_flagged)
{
    static uint8_t rx[8 * 255 * 4], back[8 * 255 * 4];
    int16_t counts[32];
    uint64_t seed = 17;
    int flagged = 0;
    for (int e = 8; e <= 16; e += 8) {
        struct lr_rs rs;
        CHECK_EQ(lr_rs_init(&rs, e, 8, e == 16, 3), LR_OK);
        size_t blen = (size_t)lr_rs_block_len(&rs);
        for (int trial = 0; trial < 20; trial++) {
            lr_test_fill(&seed, rx, 4 * blen);
            if (trial == 0)
                memset(rx, 0xFF, 4 * blen);
            CHECK_EQ(lr_rs_decode(&rs, rx, 4 * blen, back, sizeof back, counts, 32),
                     4 * lr_rs_data_len(&rs));
            for (int c = 0; c < 32; c++) {
                CHECK(counts[c] >= -1 && counts[c] <= e);
                flagged += counts[c] < 0;
            }
        }
    }
    CHECK(flagged >= 2 * 20 * 32 - 10);
    /* All zeros is a codeword (in either basis, as the maps are linear). */
    struct lr_rs rs;
    lr_rs_init(&rs, 16, 1, 1, 0);
    memset(rx, 0, 255);
    CHECK_EQ(lr_rs_decode(&rs, rx, 255, back, 223, counts, 1), 223);
    CHECK_EQ(counts[0], 0);
}

TEST(bad_arguments_and_small_buffers_are_rejected)
{
    struct lr_rs rs;
    uint8_t buf[600], out[600];
    int16_t counts[2];
    CHECK_EQ(lr_rs_init(&rs, 12, 1, 0, 0), LR_E_ARG);
    CHECK_EQ(lr_rs_init(&rs, 16, 6, 0, 0), LR_E_ARG);
    CHECK_EQ(lr_rs_init(&rs, 16, 0, 0, 0), LR_E_ARG);
    CHECK_EQ(lr_rs_init(&rs, 16, 9, 0, 0), LR_E_ARG);
    CHECK_EQ(lr_rs_init(&rs, 16, 1, 0, 223), LR_E_ARG);
    CHECK_EQ(lr_rs_init(&rs, 16, 1, 0, -1), LR_E_ARG);
    CHECK_EQ(lr_rs_init(&rs, 16, 1, 0, 222), LR_OK);
    CHECK_EQ(lr_rs_init(&rs, 16, 2, 0, 0), LR_OK);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(lr_rs_encode(&rs, buf, 445, out, sizeof out), LR_E_ARG);
    CHECK_EQ(lr_rs_encode(&rs, buf, 446, out, 509), LR_E_SPACE);
    CHECK_EQ(lr_rs_encode(&rs, buf, 0, out, 0), 0);
    CHECK_EQ(lr_rs_decode(&rs, buf, 509, out, sizeof out, counts, 2), LR_E_ARG);
    CHECK_EQ(lr_rs_decode(&rs, buf, 510, out, 445, counts, 2), LR_E_SPACE);
    CHECK_EQ(lr_rs_decode(&rs, buf, 510, out, 446, counts, 1), LR_E_SPACE);
    CHECK_EQ(lr_rs_decode(&rs, buf, 510, out, 446, counts, 2), 446);
    struct lr_rs blank;
    memset(&blank, 0, sizeof blank);
    CHECK_EQ(lr_rs_encode(&blank, buf, 446, out, sizeof out), LR_E_ARG);
    CHECK_EQ(lr_rs_decode(&blank, buf, 510, out, sizeof out, counts, 2), LR_E_ARG);
    rs.k = 300;
    CHECK_EQ(lr_rs_decode(&rs, buf, 510, out, sizeof out, counts, 2), LR_E_ARG);
}

TEST(batch_matches_one_codeblock_at_a_time)
{
    static uint8_t data[7 * 3 * 223], whole[7 * 3 * 255], one[3 * 255];
    uint64_t seed = 23;
    struct lr_rs rs;
    lr_rs_init(&rs, 16, 3, 1, 0);
    lr_test_fill(&seed, data, sizeof data);
    CHECK_EQ(lr_rs_encode(&rs, data, sizeof data, whole, sizeof whole), (int64_t)sizeof whole);
    for (int b = 0; b < 7; b++) {
        lr_rs_encode(&rs, data + b * 3 * 223, 3 * 223, one, sizeof one);
        CHECK(memcmp(one, whole + b * 3 * 255, sizeof one) == 0);
    }
}

int main(void)
{
    RUN(vector_rs255_223_conventional);
    RUN(dual_basis_tables_are_inverse_and_linear);
    RUN(round_trip_every_depth_basis_and_fill);
    RUN(corrects_exactly_e_errors_at_random_positions_on_each_path);
    RUN(flags_more_than_e_errors);
    RUN(garbage_never_crashes_and_is_flagged);
    RUN(bad_arguments_and_small_buffers_are_rejected);
    RUN(batch_matches_one_codeblock_at_a_time);
    TEST_EXIT();
}
