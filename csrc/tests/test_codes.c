/* Tests of lr_codes: published chip vectors, code properties and argument checks. */
#include "../lr_codes.h"
#include "lr_test.h"

/* First n chips as an integer, chip 0 as the most significant bit. */
static uint32_t head_bits(const uint8_t *c, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 1) | c[i];
    return v;
}

/* IS-GPS-200 Table 3-Ia: first 10 chips in octal, PRN 1..10. */
TEST(gps_l1ca_first_10_chips_match_table_3_ia)
{
    static const uint32_t octal[10] = {01440, 01620, 01710, 01744, 01133,
                                       01455, 01131, 01454, 01626, 01504};
    uint8_t c[LR_GPS_L1CA_CHIPS];
    for (int prn = 1; prn <= 10; prn++) {
        CHECK_EQ(lr_code_generate(LR_CODE_GPS_L1CA, prn, c, sizeof c), LR_GPS_L1CA_CHIPS);
        CHECK_EQ(head_bits(c, 10), octal[prn - 1]);
    }
}

/* Gold codes: every periodic autocorrelation sidelobe is -65, -1 or 63 (in +-1 chips). */
TEST(gps_l1ca_autocorrelation_sidelobes_are_three_valued)
{
    uint8_t c[LR_GPS_L1CA_CHIPS];
    for (int prn = 1; prn <= 32; prn += 7) {
        CHECK_EQ(lr_code_generate(LR_CODE_GPS_L1CA, prn, c, sizeof c), LR_GPS_L1CA_CHIPS);
        int bad = 0;
        for (int lag = 1; lag < LR_GPS_L1CA_CHIPS; lag++) {
            int r = 0;
            for (int i = 0; i < LR_GPS_L1CA_CHIPS; i++)
                r += (c[i] ^ c[(i + lag) % LR_GPS_L1CA_CHIPS]) ? -1 : 1;
            bad += r != -65 && r != -1 && r != 63;
        }
        CHECK_EQ(bad, 0);
    }
}

/* LSIS-AFS V1.0 Tables C-1, D-2 and E-2, PRN 1: first and last 24 chips. */
TEST(afs_prn1_codes_match_first_and_last_24_chips)
{
    static uint8_t c[LR_AFS_Q_PRIMARY_CHIPS];
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_I, 1, c, sizeof c), LR_AFS_I_CHIPS);
    CHECK_EQ(head_bits(c, 24), 0x5D6430);
    CHECK_EQ(head_bits(c + LR_AFS_I_CHIPS - 24, 24), 0xCF00CE);
    /* G2 initialisation 0x514 is the complement of the first 11 code chips. */
    CHECK_EQ(head_bits(c, 11) ^ 0x7FF, 0x514);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_PRIMARY, 1, c, sizeof c), LR_AFS_Q_PRIMARY_CHIPS);
    CHECK_EQ(head_bits(c, 24), 0x17D437);
    CHECK_EQ(head_bits(c + LR_AFS_Q_PRIMARY_CHIPS - 24, 24), 0x40F7E2);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_TERTIARY, 1, c, sizeof c), LR_AFS_Q_TERTIARY_CHIPS);
    CHECK_EQ(head_bits(c, 24), 0xE4D09E);
    CHECK_EQ(head_bits(c + LR_AFS_Q_TERTIARY_CHIPS - 24, 24), 0xF2164C);
    CHECK_EQ(c[LR_AFS_Q_TERTIARY_CHIPS - 1], 0);
}

/* The PRN tables and the explicit-parameter generators give the same code (PRN 1). */
TEST(explicit_parameter_generators_equal_prn_tables)
{
    static uint8_t a[LR_AFS_Q_PRIMARY_CHIPS], b[LR_AFS_Q_PRIMARY_CHIPS];
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_PRIMARY, 1, a, sizeof a), LR_AFS_Q_PRIMARY_CHIPS);
    CHECK_EQ(lr_afs_q_primary_weil(5111, 412, b, sizeof b), LR_AFS_Q_PRIMARY_CHIPS);
    CHECK(memcmp(a, b, LR_AFS_Q_PRIMARY_CHIPS) == 0);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_I, 1, a, sizeof a), LR_AFS_I_CHIPS);
    CHECK_EQ(lr_afs_i_gold(1845, b, sizeof b), LR_AFS_I_CHIPS);
    CHECK(memcmp(a, b, LR_AFS_I_CHIPS) == 0);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_TERTIARY, 1, a, sizeof a), LR_AFS_Q_TERTIARY_CHIPS);
    CHECK_EQ(lr_afs_q_tertiary_weil(1, b, sizeof b), LR_AFS_Q_TERTIARY_CHIPS);
    CHECK(memcmp(a, b, LR_AFS_Q_TERTIARY_CHIPS) == 0);
}

/* IS-GPS-800 §3.2.2.1.1: 0110100 starts at chip p (1-based) for any p. */
TEST(weil_primary_carries_insertion_before_index_p)
{
    static uint8_t c[LR_AFS_Q_PRIMARY_CHIPS];
    const uint8_t ins[7] = {0, 1, 1, 0, 1, 0, 0};
    for (int p = 1; p <= 10223; p += 1703) {
        CHECK_EQ(lr_afs_q_primary_weil(17, p, c, sizeof c), LR_AFS_Q_PRIMARY_CHIPS);
        CHECK(memcmp(c + p - 1, ins, 7) == 0);
    }
}

TEST(secondary_codes_match_table_10)
{
    static const uint8_t want[4] = {0xE, 0x7, 0xB, 0xD};
    uint8_t c[4];
    for (int s = 0; s < 4; s++) {
        CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_SECONDARY, s, c, sizeof c), 4);
        CHECK_EQ(head_bits(c, 4), want[s]);
    }
}

TEST(bad_arguments_and_short_buffers_are_refused)
{
    static uint8_t c[LR_AFS_Q_PRIMARY_CHIPS];
    memset(c, 0xAA, sizeof c);
    CHECK_EQ(lr_code_generate(LR_CODE_GPS_L1CA, 0, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_code_generate(LR_CODE_GPS_L1CA, 38, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_I, 211, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_SECONDARY, 4, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_SECONDARY, -1, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_code_generate(99, 1, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_code_length(99), LR_E_ARG);
    CHECK_EQ(lr_code_prn_max(-1), LR_E_ARG);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_PRIMARY, 5, c, LR_AFS_Q_PRIMARY_CHIPS - 1), LR_E_SPACE);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_I, 5, c, LR_AFS_I_CHIPS - 1), LR_E_SPACE);
    CHECK_EQ(lr_code_generate(LR_CODE_GPS_L1CA, 5, c, 0), LR_E_SPACE);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_TERTIARY, 5, c, 1499), LR_E_SPACE);
    CHECK_EQ(lr_code_generate(LR_CODE_AFS_Q_SECONDARY, 0, c, 3), LR_E_SPACE);
    CHECK_EQ(c[0], 0xAA);
    CHECK_EQ(lr_afs_q_primary_weil(0, 1, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_afs_q_primary_weil(5112, 1, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_afs_q_primary_weil(1, 10224, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_afs_q_tertiary_weil(750, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_afs_i_gold(2047, c, sizeof c), LR_E_ARG);
    CHECK_EQ(lr_afs_i_gold(-1, c, sizeof c), LR_E_ARG);
}

int main(void)
{
    RUN(gps_l1ca_first_10_chips_match_table_3_ia);
    RUN(gps_l1ca_autocorrelation_sidelobes_are_three_valued);
    RUN(afs_prn1_codes_match_first_and_last_24_chips);
    RUN(explicit_parameter_generators_equal_prn_tables);
    RUN(weil_primary_carries_insertion_before_index_p);
    RUN(secondary_codes_match_table_10);
    RUN(bad_arguments_and_short_buffers_are_refused);
    TEST_EXIT();
}
