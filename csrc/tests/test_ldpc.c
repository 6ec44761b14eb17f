/* Tests of lr_ldpc: the (7,4) Hamming code by hand, a random (3,6)-regular code through noise,
 * hostile soft input and graphs, and the buffer checks. */
#include <math.h>

#include "../lr_ldpc.h"
#include "lr_test.h"

/* H of the (7,4) Hamming code: rows 1011100, 1101010, 0111001. */
static const uint32_t ham_rows[] = {0, 4, 8, 12};
static const uint32_t ham_vars[] = {0, 2, 3, 4, 0, 1, 3, 5, 1, 2, 3, 6};
static const struct lr_ldpc_graph hamming = {7, 3, 12, ham_rows, ham_vars};

TEST(hamming_corrects_one_weak_wrong_bit)
{
    /* Codeword 1011100 (H c = 0), sent as LLR +4 for 0 and -4 for 1; bit 2 arrives weakly wrong. */
    const uint8_t cw[7] = {1, 0, 1, 1, 1, 0, 0};
    CHECK_EQ(lr_ldpc_syndrome_weight(&hamming, cw, 7), 0);
    float llr[7];
    for (int i = 0; i < 7; i++)
        llr[i] = cw[i] ? -4.0f : 4.0f;
    llr[2] = 1.0f;
    uint8_t bits[7];
    float work[19];
    CHECK_EQ(lr_ldpc_work_size(&hamming), 19);
    int64_t r = lr_ldpc_decode(&hamming, llr, 7, bits, 7, work, 19, 20, 0.75f);
    CHECK(r >= 1);
    for (int i = 0; i < 7; i++)
        CHECK_EQ(bits[i], cw[i]);
    uint8_t wrong[7] = {1, 0, 0, 1, 1, 0, 0};
    CHECK(lr_ldpc_syndrome_weight(&hamming, wrong, 7) > 0);
}

/* A random (3,6)-regular code by the configuration model: 2000 variables, 1000 checks. */
#define NV 2000
#define NC 1000
#define NE (3 * NV)
static uint32_t rows[NC + 1], vars[NE];
static float llr[NV], work[NE + NV];
static uint8_t bits[NV];

static void random_code(uint64_t seed)
{
    uint32_t sockets[NE];
    for (uint32_t e = 0; e < NE; e++)
        sockets[e] = e / 3;
    for (uint32_t e = NE - 1; e > 0; e--) {
        uint32_t j = (uint32_t)(lr_test_rand(&seed) % (e + 1));
        uint32_t tmp = sockets[e];
        sockets[e] = sockets[j];
        sockets[j] = tmp;
    }
    for (uint32_t r = 0; r <= NC; r++)
        rows[r] = 6 * r;
    for (uint32_t e = 0; e < NE; e++)
        vars[e] = sockets[e];
}

static double gauss(uint64_t *seed)
{
    double u1 = ((lr_test_rand(seed) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (lr_test_rand(seed) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

TEST(random_regular_code_decodes_the_zero_codeword_through_noise)
{
    random_code(11);
    struct lr_ldpc_graph g = {NV, NC, NE, rows, vars};
    /* Rate 1/2 at Eb/N0 = 3 dB: sigma^2 = 1 / (2 R Eb/N0); LLR = 2 y / sigma^2. */
    double sigma = sqrt(1.0 / pow(10.0, 0.3));
    uint64_t seed = 5;
    int raw_errors = 0;
    for (int i = 0; i < NV; i++) {
        double y = 1.0 + sigma * gauss(&seed);
        raw_errors += y < 0.0;
        llr[i] = (float)(2.0 * y / (sigma * sigma));
    }
    CHECK(raw_errors > 50); /* the channel really corrupts the hard decisions */
    int64_t r = lr_ldpc_decode(&g, llr, NV, bits, NV, work, NE + NV, 50, 0.75f);
    CHECK(r >= 1 && r <= 50);
    int errors = 0;
    for (int i = 0; i < NV; i++)
        errors += bits[i];
    CHECK_EQ(errors, 0);
}

TEST(undecodable_noise_reports_uncorrectable_and_still_writes_bits)
{
    random_code(12);
    struct lr_ldpc_graph g = {NV, NC, NE, rows, vars};
    uint64_t seed = 9;
    for (int i = 0; i < NV; i++)
        llr[i] = (float)gauss(&seed); /* no signal at all */
    memset(bits, 0xEE, sizeof bits);
    CHECK_EQ(lr_ldpc_decode(&g, llr, NV, bits, NV, work, NE + NV, 5, 0.75f), LR_E_UNCORRECTABLE);
    for (int i = 0; i < NV; i++)
        CHECK(bits[i] <= 1);
}

TEST(nan_and_infinite_llrs_give_finite_messages)
{
    float bad[7] = {NAN, INFINITY, -INFINITY, 3.0f, NAN, -1e38f, 2.0f};
    uint8_t out[7];
    float w[19];
    int64_t r = lr_ldpc_decode(&hamming, bad, 7, out, 7, w, 19, 10, 0.75f);
    CHECK(r >= 1 || r == LR_E_UNCORRECTABLE);
    for (int i = 0; i < 19; i++)
        CHECK(isfinite(w[i]));
}

TEST(malformed_graphs_and_small_buffers_are_refused)
{
    float l[7] = {1, 1, 1, 1, 1, 1, 1}, w[19];
    uint8_t out[7];
    const uint32_t down[] = {0, 4, 3, 12};
    struct lr_ldpc_graph g = {7, 3, 12, down, ham_vars};
    CHECK_EQ(lr_ldpc_decode(&g, l, 7, out, 7, w, 19, 10, 0.75f), LR_E_ARG);
    const uint32_t far_vars[] = {0, 2, 3, 4, 0, 1, 3, 5, 1, 2, 3, 7};
    struct lr_ldpc_graph g2 = {7, 3, 12, ham_rows, far_vars};
    CHECK_EQ(lr_ldpc_decode(&g2, l, 7, out, 7, w, 19, 10, 0.75f), LR_E_ARG);
    CHECK_EQ(lr_ldpc_syndrome_weight(&g2, out, 7), LR_E_ARG);
    const uint32_t short_rows[] = {0, 4, 8, 11};
    struct lr_ldpc_graph g3 = {7, 3, 12, short_rows, ham_vars};
    CHECK_EQ(lr_ldpc_decode(&g3, l, 7, out, 7, w, 19, 10, 0.75f), LR_E_ARG);
    CHECK_EQ(lr_ldpc_decode(&hamming, l, 7, out, 7, w, 19, 0, 0.75f), LR_E_ARG);
    CHECK_EQ(lr_ldpc_decode(&hamming, l, 7, out, 7, w, 19, 10, 0.0f), LR_E_ARG);
    CHECK_EQ(lr_ldpc_decode(&hamming, l, 7, out, 7, w, 19, 10, NAN), LR_E_ARG);
    CHECK_EQ(lr_ldpc_decode(&hamming, l, 6, out, 7, w, 19, 10, 0.75f), LR_E_SPACE);
    CHECK_EQ(lr_ldpc_decode(&hamming, l, 7, out, 6, w, 19, 10, 0.75f), LR_E_SPACE);
    CHECK_EQ(lr_ldpc_decode(&hamming, l, 7, out, 7, w, 18, 10, 0.75f), LR_E_SPACE);
    CHECK_EQ(lr_ldpc_decode(NULL, l, 7, out, 7, w, 19, 10, 0.75f), LR_E_ARG);
    CHECK_EQ(lr_ldpc_syndrome_weight(&hamming, out, 6), LR_E_SPACE);
}

TEST(a_check_on_one_variable_forces_it_to_zero)
{
    const uint32_t r[] = {0, 1};
    const uint32_t v[] = {0};
    struct lr_ldpc_graph g = {2, 1, 1, r, v};
    float l[2] = {-3.0f, -3.0f}, w[3];
    uint8_t out[2];
    CHECK_EQ(lr_ldpc_decode(&g, l, 2, out, 2, w, 3, 5, 0.75f), 1);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(out[1], 1);
}

int main(void)
{
    RUN(hamming_corrects_one_weak_wrong_bit);
    RUN(random_regular_code_decodes_the_zero_codeword_through_noise);
    RUN(undecodable_noise_reports_uncorrectable_and_still_writes_bits);
    RUN(nan_and_infinite_llrs_give_finite_messages);
    RUN(malformed_graphs_and_small_buffers_are_refused);
    RUN(a_check_on_one_variable_forces_it_to_zero);
    TEST_EXIT();
}
