/* Tests of lr_crc: published check values, the generated tables, and agreement of every kernel. */
#include "../lr_crc.h"
#include "../lr_cpu.h"
#include "../lr_crc_tables.h"
#include "lr_test.h"

static uint16_t crc16_bitwise(uint16_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static uint16_t xpow_mod(int n)
{
    uint32_t r = 1;
    for (int i = 0; i < n; i++) {
        r <<= 1;
        if (r & 0x10000)
            r ^= 0x11021;
    }
    return (uint16_t)r;
}

/* CRC-16/CCITT-FALSE check value (Greg Cook's CRC catalogue). */
TEST(check_value_123456789_is_29b1)
{
    const uint8_t msg[] = "123456789";
    for (int k = LR_CRC_BYTEWISE; k <= LR_CRC_CLMUL; k++)
        CHECK_EQ(lr_crc16_ccitt_kernel(k, 0xFFFF, msg, 9), 0x29B1);
}

/* A CCSDS space packet whose CRC is 0x75FB. */
TEST(ccsds_packet_vector_is_75fb)
{
    const uint8_t msg[] = {0x06, 0x00, 0x0C, 0xF0, 0x00, 0x04, 0x00, 0x55,
                           0x88, 0x73, 0xC9, 0x00, 0x00, 0x05, 0x21};
    CHECK_EQ(lr_crc16_ccitt(0xFFFF, msg, sizeof msg), 0x75FB);
}

TEST(tables_match_bitwise_definition)
{
    uint8_t buf[16] = {0};
    for (int k = 0; k < 16; k++)
        for (int b = 0; b < 256; b++) {
            buf[0] = (uint8_t)b;
            CHECK_EQ(lr_crc16_slice[k][b], crc16_bitwise(0, buf, (size_t)k + 1));
        }
    CHECK_EQ(LR_CRC16_X128, xpow_mod(128));
    CHECK_EQ(LR_CRC16_X192, xpow_mod(192));
    CHECK_EQ(LR_CRC16_X512, xpow_mod(512));
    CHECK_EQ(LR_CRC16_X576, xpow_mod(576));
}

TEST(kernels_agree_on_random_lengths_and_registers)
{
    static uint8_t buf[4096];
    uint64_t seed = 0x1234567u;
    lr_test_fill(&seed, buf, sizeof buf);
    for (size_t n = 0; n < 700; n++) {
        uint16_t init = (uint16_t)lr_test_rand(&seed);
        size_t off = lr_test_rand(&seed) % 64;
        uint16_t want = crc16_bitwise(init, buf + off, n);
        for (int k = LR_CRC_BYTEWISE; k <= LR_CRC_CLMUL; k++)
            CHECK_EQ(lr_crc16_ccitt_kernel(k, init, buf + off, n), want);
    }
    CHECK_EQ(lr_crc16_ccitt_kernel(LR_CRC_CLMUL, 0xFFFF, buf, sizeof buf),
             crc16_bitwise(0xFFFF, buf, sizeof buf));
}

TEST(frames_batch_matches_single_calls_and_checks_space)
{
    static uint8_t buf[1113 * 5];
    uint16_t out[5];
    uint64_t seed = 99;
    lr_test_fill(&seed, buf, sizeof buf);
    CHECK_EQ(lr_crc16_ccitt_frames(LR_CRC_AUTO, buf, 1113, 5, out, 5), 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(out[i], crc16_bitwise(0xFFFF, buf + i * 1113, 1113));
    CHECK_EQ(lr_crc16_ccitt_frames(LR_CRC_AUTO, buf, 1113, 5, out, 4), LR_E_SPACE);
}

TEST(portable_path_can_be_forced)
{
    CHECK_EQ(lr_simd_force(LR_SIMD_PORTABLE), LR_OK);
    CHECK_EQ(lr_simd_level(), LR_SIMD_PORTABLE);
    CHECK_EQ(lr_simd_force(99), LR_E_ARG);
    CHECK_EQ(lr_simd_force(-1), LR_OK);
    CHECK_EQ(lr_simd_level(), lr_simd_supported());
}

static uint32_t crc32_prox1_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 24;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x00A00805u : crc << 1;
    }
    return crc;
}

/* CCSDS 211.2-B-3 §3.3.3 / issue vector: 12 34 56 78 -> 0x34D74CB3. */
TEST(prox1_crc32_vector_is_34d74cb3)
{
    const uint8_t msg[] = {0x12, 0x34, 0x56, 0x78};
    CHECK_EQ(lr_crc32_prox1(0, msg, 4), 0x34D74CB3);
    CHECK_EQ(lr_crc32_prox1(lr_crc32_prox1(0, msg, 2), msg + 2, 2), 0x34D74CB3);
}

TEST(prox1_crc32_matches_bitwise_definition)
{
    static uint8_t buf[2048];
    uint64_t seed = 31;
    lr_test_fill(&seed, buf, sizeof buf);
    for (size_t n = 0; n < 300; n++)
        CHECK_EQ(lr_crc32_prox1(0, buf + n, n), crc32_prox1_bitwise(0, buf + n, n));
}

int main(void)
{
    RUN(check_value_123456789_is_29b1);
    RUN(ccsds_packet_vector_is_75fb);
    RUN(tables_match_bitwise_definition);
    RUN(kernels_agree_on_random_lengths_and_registers);
    RUN(frames_batch_matches_single_calls_and_checks_space);
    RUN(portable_path_can_be_forced);
    RUN(prox1_crc32_vector_is_34d74cb3);
    RUN(prox1_crc32_matches_bitwise_definition);
    TEST_EXIT();
}
