/* Tests of lr_rand: published first bytes, the stored tables against the shift
 * registers, agreement of every kernel and the per-frame restart. */
#include "../lr_cpu.h"
#include "../lr_rand.h"
#include "lr_test.h"

/* CCSDS 131.0-B-4 §10.4 (TM) and 231.0-B-4 §6 / 230.2-G (TC) first bytes. */
TEST(tm_sequence_starts_ff480ec0)
{
    static const uint8_t want[16] = {0xFF, 0x48, 0x0E, 0xC0, 0x9A, 0x0D, 0x70, 0xBC,
                                     0x8E, 0x2C, 0x93, 0xAD, 0xA7, 0xB7, 0x46, 0xCE};
    uint8_t zero[16] = {0}, out[16];
    for (int k = LR_RAND_AUTO; k <= LR_RAND_AVX2; k++) {
        CHECK_EQ(lr_rand_apply(LR_RAND_TM, k, 0, zero, 16, out, 16), 16);
        CHECK(memcmp(out, want, 16) == 0);
    }
}

TEST(tc_sequence_starts_ff399e5a)
{
    static const uint8_t want[8] = {0xFF, 0x39, 0x9E, 0x5A, 0x68, 0xE9, 0x06, 0xF5};
    uint8_t zero[8] = {0}, out[8];
    for (int k = LR_RAND_AUTO; k <= LR_RAND_AVX2; k++) {
        CHECK_EQ(lr_rand_apply(LR_RAND_TC, k, 0, zero, 8, out, 8), 8);
        CHECK(memcmp(out, want, 8) == 0);
    }
}

TEST(kernels_agree_at_every_phase_and_length)
{
    static uint8_t in[1200], ref[1200], got[1200];
    uint64_t seed = 7;
    lr_test_fill(&seed, in, sizeof in);
    for (int seq = LR_RAND_TM; seq <= LR_RAND_TC; seq++)
        for (size_t phase = 0; phase < 600; phase += 37)
            for (size_t n = 0; n < sizeof in; n += 97) {
                CHECK_EQ(lr_rand_apply(seq, LR_RAND_LFSR, phase, in, n, ref, n), (long long)n);
                for (int k = LR_RAND_WORDS; k <= LR_RAND_AVX2; k++) {
                    CHECK_EQ(lr_rand_apply(seq, k, phase, in, n, got, n), (long long)n);
                    CHECK(memcmp(got, ref, n) == 0);
                }
            }
}

TEST(sequence_has_period_255_bytes)
{
    uint8_t zero[510] = {0}, out[510];
    for (int seq = LR_RAND_TM; seq <= LR_RAND_TC; seq++) {
        lr_rand_apply(seq, LR_RAND_LFSR, 0, zero, 510, out, 510);
        CHECK(memcmp(out, out + 255, 255) == 0);
        CHECK(memcmp(out, out + 1, 254) != 0);
    }
}

TEST(frames_skip_asm_and_restart_sequence)
{
    uint8_t in[3 * 20], out[3 * 20], one[16];
    uint64_t seed = 3;
    lr_test_fill(&seed, in, sizeof in);
    CHECK_EQ(lr_rand_frames(LR_RAND_TM, LR_RAND_AUTO, 20, 4, in, 60, out, 60), 60);
    for (int f = 0; f < 3; f++) {
        CHECK(memcmp(out + f * 20, in + f * 20, 4) == 0);
        lr_rand_apply(LR_RAND_TM, LR_RAND_LFSR, 0, in + f * 20 + 4, 16, one, 16);
        CHECK(memcmp(out + f * 20 + 4, one, 16) == 0);
    }
    /* In place, twice, is the identity. */
    uint8_t copy[60];
    memcpy(copy, in, 60);
    lr_rand_frames(LR_RAND_TM, LR_RAND_AUTO, 20, 4, copy, 60, copy, 60);
    lr_rand_frames(LR_RAND_TM, LR_RAND_AUTO, 20, 4, copy, 60, copy, 60);
    CHECK(memcmp(copy, in, 60) == 0);
}

TEST(bad_arguments_are_reported)
{
    uint8_t buf[40] = {0};
    CHECK_EQ(lr_rand_apply(2, LR_RAND_AUTO, 0, buf, 4, buf, 4), LR_E_ARG);
    CHECK_EQ(lr_rand_apply(LR_RAND_TM, LR_RAND_AUTO, 0, buf, 8, buf, 4), LR_E_SPACE);
    CHECK_EQ(lr_rand_frames(LR_RAND_TM, LR_RAND_AUTO, 0, 0, buf, 40, buf, 40), LR_E_ARG);
    CHECK_EQ(lr_rand_frames(LR_RAND_TM, LR_RAND_AUTO, 8, 9, buf, 40, buf, 40), LR_E_ARG);
    CHECK_EQ(lr_rand_frames(LR_RAND_TM, LR_RAND_AUTO, 12, 4, buf, 40, buf, 40), LR_E_FORMAT);
    CHECK_EQ(lr_rand_frames(LR_RAND_TM, LR_RAND_AUTO, 10, 4, buf, 40, buf, 30), LR_E_SPACE);
}

int main(void)
{
    RUN(tm_sequence_starts_ff480ec0);
    RUN(tc_sequence_starts_ff399e5a);
    RUN(kernels_agree_at_every_phase_and_length);
    RUN(sequence_has_period_255_bytes);
    RUN(frames_skip_asm_and_restart_sequence);
    RUN(bad_arguments_are_reported);
    lr_simd_force(LR_SIMD_PORTABLE);
    RUN(kernels_agree_at_every_phase_and_length);
    lr_simd_force(-1);
    TEST_EXIT();
}
