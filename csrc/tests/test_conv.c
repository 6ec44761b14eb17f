/* Tests of lr_conv: the encoder against the code's definition, puncturing, and the Viterbi decoder. */
#include "../lr_conv.h"
#include "../lr_cpu.h"
#include "lr_test.h"

static struct lr_viterbi27 vit, vit2;

/* Direct reading of CCSDS 131.0-B-4 §3.3: u[t-k] taps, bit by bit, MSB first. */
static void encode_definition(const uint8_t *in, size_t n_bytes, int invert, uint8_t *sym)
{
    static const int g1[7] = {1, 1, 1, 1, 0, 0, 1}, g2[7] = {1, 0, 1, 1, 0, 1, 1};
    size_t n = 8 * n_bytes;
    for (size_t t = 0; t < n; t++) {
        int c1 = 0, c2 = 0;
        for (int k = 0; k < 7; k++) {
            int u = t >= (size_t)k ? (in[(t - k) / 8] >> (7 - (t - k) % 8)) & 1 : 0;
            c1 ^= g1[k] & u;
            c2 ^= g2[k] & u;
        }
        sym[2 * t] = (uint8_t)c1;
        sym[2 * t + 1] = (uint8_t)(c2 ^ invert);
    }
}

static void unpack(const uint8_t *packed, size_t n_bits, uint8_t *bits)
{
    for (size_t i = 0; i < n_bits; i++)
        bits[i] = (packed[i / 8] >> (7 - i % 8)) & 1;
}

TEST(encoder_kernels_match_the_definition)
{
    static uint8_t in[203], out[406], sym[203 * 16], bits[203 * 16];
    uint64_t seed = 7;
    lr_test_fill(&seed, in, sizeof in);
    for (int invert = 0; invert <= 1; invert++)
        for (int k = LR_CONV_ENC_AUTO; k <= LR_CONV_ENC_WORD; k++) {
            struct lr_conv_enc enc;
            CHECK_EQ(lr_conv_enc_init(&enc, invert), LR_OK);
            /* split into uneven calls: state carries across */
            CHECK_EQ(lr_conv_encode_kernel(k, &enc, in, 13, out, 26), 26);
            CHECK_EQ(lr_conv_encode_kernel(k, &enc, in + 13, 190, out + 26, 380), 380);
            encode_definition(in, sizeof in, invert, sym);
            unpack(out, sizeof in * 16, bits);
            CHECK(memcmp(bits, sym, sizeof bits) == 0);
        }
}

TEST(soft_encoder_and_tail_match_the_definition)
{
    uint8_t in[9] = {0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x80, 0x55, 0xAA, 0x00};
    uint8_t full[10] = {0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x80, 0x55, 0xAA, 0x00, 0x00};
    uint8_t soft[9 * 16 + 12], want[10 * 16];
    struct lr_conv_enc enc;
    lr_conv_enc_init(&enc, 1);
    CHECK_EQ(lr_conv_encode_soft(&enc, in, 9, soft, sizeof soft), 144);
    CHECK_EQ(lr_conv_encode_tail(&enc, 1, soft + 144, 12), 12);
    CHECK_EQ(enc.reg, 0);
    encode_definition(full, 10, 1, want);
    for (int i = 0; i < 156; i++)
        CHECK_EQ(soft[i], want[i] ? 255 : 0);
    CHECK_EQ(lr_conv_encode_soft(&enc, in, 9, soft, 143), LR_E_SPACE);
    CHECK_EQ(lr_conv_encode_tail(&enc, 0, soft, 11), LR_E_SPACE);
}

TEST(puncturing_keeps_the_table_symbols_and_depuncturing_restores_positions)
{
    static const int sent[] = {2, 3, 4, 6, 8}, period[] = {2, 4, 6, 10, 14};
    uint8_t in[840], p[840], back[1700];
    for (int i = 0; i < 840; i++)
        in[i] = (uint8_t)(i % 251);
    for (int r = LR_CONV_R1_2; r <= LR_CONV_R7_8; r++) {
        struct lr_conv_punct pp, dp;
        CHECK_EQ(lr_conv_punct_init(&pp, r), LR_OK);
        CHECK_EQ(lr_conv_punct_init(&dp, r), LR_OK);
        int64_t n1 = lr_conv_puncture(&pp, in, 100, p, sizeof p);
        int64_t n2 = lr_conv_puncture(&pp, in + 100, 740, p + n1, sizeof p - (size_t)n1);
        CHECK_EQ(n1 + n2, 840 / period[r] * sent[r]);
        int64_t m1 = lr_conv_depuncture(&dp, p, 7, back, sizeof back);
        int64_t m2 = lr_conv_depuncture(&dp, p + 7, (size_t)(n1 + n2 - 7), back + m1, sizeof back - (size_t)m1);
        CHECK(m1 + m2 <= 840 && m1 + m2 > 840 - period[r]);
        for (int i = 0; i < m1 + m2; i++)
            CHECK(back[i] == in[i] || back[i] == LR_CONV_ERASURE);
        CHECK(lr_conv_depuncture_max(&dp, 7) >= 7);
    }
    struct lr_conv_punct bad;
    CHECK_EQ(lr_conv_punct_init(&bad, 5), LR_E_ARG);
    CHECK_EQ(lr_conv_punct_init(&bad, LR_CONV_R3_4), LR_OK);
    CHECK_EQ(lr_conv_puncture(&bad, in, 10, p, 5), LR_E_SPACE);
    bad.phase = 99;
    CHECK_EQ(lr_conv_puncture(&bad, in, 10, p, 10), LR_E_ARG);
}

static size_t encode_frame(const uint8_t *data, size_t n, int invert, uint8_t *soft)
{
    struct lr_conv_enc enc;
    lr_conv_enc_init(&enc, invert);
    lr_conv_encode_soft(&enc, data, n, soft, 16 * n);
    lr_conv_encode_tail(&enc, 1, soft + 16 * n, 12);
    return 16 * n + 12;
}

static int bit_errors(const uint8_t *data, size_t n, const uint8_t *bits)
{
    int e = 0;
    for (size_t i = 0; i < 8 * n; i++)
        e += ((data[i / 8] >> (7 - i % 8)) & 1) != bits[i];
    return e;
}

TEST(viterbi_round_trip_and_corrects_one_percent_hard_errors_on_both_paths)
{
    enum { N = 1500 };
    static uint8_t data[N], soft[16 * N + 12], bits[8 * N + 6];
    uint64_t seed = 11;
    lr_test_fill(&seed, data, N);
    size_t ns = encode_frame(data, N, 1, soft);
    int flipped = 0;
    for (size_t i = 0; i < ns; i++)
        if (lr_test_rand(&seed) % 100 == 0) {
            soft[i] ^= 255;
            flipped++;
        }
    CHECK(flipped > 150);
    for (int level = 0; level <= lr_simd_supported(); level++) {
        CHECK_EQ(lr_simd_force(level), LR_OK);
        memset(bits, 0xEE, sizeof bits);
        CHECK_EQ(lr_viterbi27_decode_block(&vit, 1, 0, soft, ns, bits, sizeof bits), 8 * N);
        CHECK_EQ(bit_errors(data, N, bits), 0);
    }
    lr_simd_force(-1);
}

TEST(avx2_and_portable_agree_on_noise_streaming_in_uneven_calls)
{
    enum { NS = 20000 };
    static uint8_t soft[NS], a[NS], b[NS];
    uint64_t seed = 5;
    lr_test_fill(&seed, soft, NS);
    int64_t na = 0, nb = 0;
    CHECK_EQ(lr_simd_force(LR_SIMD_PORTABLE), LR_OK);
    lr_viterbi27_init(&vit, -1, 40, 1);
    for (size_t off = 0, c = 1; off < NS; off += c, c = c * 3 + 1) {
        size_t n = off + c > NS ? NS - off : c;
        na += lr_viterbi27_update(&vit, soft + off, n, a + na, sizeof a - (size_t)na);
    }
    na += lr_viterbi27_finish(&vit, -1, a + na, sizeof a - (size_t)na);
    lr_simd_force(-1);
    lr_viterbi27_init(&vit2, -1, 40, 1);
    nb += lr_viterbi27_update(&vit2, soft, NS, b, sizeof b);
    nb += lr_viterbi27_finish(&vit2, -1, b + nb, sizeof b - (size_t)nb);
    CHECK_EQ(na, NS / 2);
    CHECK_EQ(nb, NS / 2);
    CHECK(memcmp(a, b, NS / 2) == 0);
    CHECK(memcmp(vit.metrics, vit2.metrics, sizeof vit.metrics) == 0);
}

TEST(unknown_start_state_decodes_from_mid_stream)
{
    enum { N = 600 };
    static uint8_t data[N], soft[16 * N + 12], bits[8 * N];
    uint64_t seed = 3;
    lr_test_fill(&seed, data, N);
    encode_frame(data, N, 1, soft);
    /* start 40 bytes in: the encoder is in an arbitrary state there */
    lr_viterbi27_init(&vit, -1, 0, 1);
    int64_t n = lr_viterbi27_update(&vit, soft + 16 * 40, 16 * (N - 40), bits, sizeof bits);
    n += lr_viterbi27_finish(&vit, -1, bits + n, sizeof bits - (size_t)n);
    CHECK_EQ(n, 8 * (N - 40));
    int errors = 0;
    for (int i = 16; i < 8 * (N - 40); i++) /* a few leading bits may be unsettled */
        errors += ((data[40 + i / 8] >> (7 - i % 8)) & 1) != bits[i];
    CHECK_EQ(errors, 0);
}

TEST(punctured_rates_round_trip_through_depuncture_and_viterbi)
{
    enum { N = 700 };
    static uint8_t data[N], soft[16 * N + 12], p[16 * N + 12], dp[16 * N + 40], bits[8 * N + 6];
    uint64_t seed = 9;
    lr_test_fill(&seed, data, N);
    size_t ns = encode_frame(data, N, 0, soft);
    for (int r = LR_CONV_R2_3; r <= LR_CONV_R7_8; r++) {
        struct lr_conv_punct pp;
        lr_conv_punct_init(&pp, r);
        int64_t np = lr_conv_puncture(&pp, soft, ns, p, sizeof p);
        lr_conv_punct_init(&pp, r);
        int64_t nd = lr_conv_depuncture(&pp, p, (size_t)np, dp, sizeof dp);
        CHECK(nd <= (int64_t)ns);
        while (nd < (int64_t)ns)
            dp[nd++] = LR_CONV_ERASURE;
        CHECK_EQ(lr_viterbi27_decode_block(&vit, 0, 192, dp, ns, bits, sizeof bits), 8 * N);
        CHECK_EQ(bit_errors(data, N, bits), 0);
    }
}

TEST(bad_arguments_and_short_buffers_are_rejected_without_crashing)
{
    uint8_t soft[64] = {0}, out[64];
    CHECK_EQ(lr_viterbi27_init(&vit, 64, 0, 1), LR_E_ARG);
    CHECK_EQ(lr_viterbi27_init(&vit, 0, 7, 1), LR_E_ARG);
    CHECK_EQ(lr_viterbi27_init(&vit, 0, 2000, 1), LR_E_ARG);
    CHECK_EQ(lr_viterbi27_init(NULL, 0, 0, 1), LR_E_ARG);
    CHECK_EQ(lr_viterbi27_decode_block(&vit, 1, 0, soft, 11, out, 64), LR_E_FORMAT);
    CHECK_EQ(lr_viterbi27_decode_block(&vit, 1, 0, soft, 10, out, 64), LR_E_FORMAT);
    CHECK_EQ(lr_viterbi27_decode_block(&vit, 1, 0, soft, 64, out, 31), LR_E_SPACE);
    CHECK_EQ(lr_viterbi27_decode_block(&vit, 1, 0, soft, 64, out, 32), 26);
    lr_viterbi27_init(&vit, 0, 0, 1);
    CHECK_EQ(lr_viterbi27_update(&vit, soft, 64, out, 31), LR_E_SPACE);
    CHECK_EQ(lr_viterbi27_update(&vit, soft, 63, out, 31), 0);
    CHECK_EQ(lr_viterbi27_finish(&vit, 0, out, 30), LR_E_SPACE);
    CHECK_EQ(lr_viterbi27_finish(&vit, 0, out, 31), 31);
    vit.steps = 1;
    vit.emitted = 5000;
    CHECK_EQ(lr_viterbi27_update(&vit, soft, 2, out, 64), LR_E_ARG);
    CHECK_EQ(lr_conv_encode(NULL, soft, 1, out, 2), LR_E_ARG);
}

int main(void)
{
    RUN(encoder_kernels_match_the_definition);
    RUN(soft_encoder_and_tail_match_the_definition);
    RUN(puncturing_keeps_the_table_symbols_and_depuncturing_restores_positions);
    RUN(viterbi_round_trip_and_corrects_one_percent_hard_errors_on_both_paths);
    RUN(avx2_and_portable_agree_on_noise_streaming_in_uneven_calls);
    RUN(unknown_start_state_decodes_from_mid_stream);
    RUN(punctured_rates_round_trip_through_depuncture_and_viterbi);
    RUN(bad_arguments_and_short_buffers_are_rejected_without_crashing);
    TEST_EXIT();
}
