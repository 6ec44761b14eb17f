/* Tests of lr_prox1: version-3 header bits and the PLTU (ASM, frame, CRC-32). */
#include "../lr_crc.h"
#include "../lr_prox1.h"
#include "lr_test.h"

/* 211.0-B-6 §3.2.2: version 3, expedited, SPDU, DFC 2, SCID 0x1C5, PCID 1, port 5, destination. */
TEST(header_fields_land_on_their_bits)
{
    struct lr_prox1_header h = {2, 1, 1, 2, 0x1C5, 1, 5, 1, 0x33, 0x123};
    uint8_t out[5];
    CHECK_EQ(lr_prox1_header_pack(&h, out, 5), 5);
    const uint8_t want[5] = {0xB9, 0xC5, 0xD9, 0x22, 0x33};
    CHECK(memcmp(out, want, 5) == 0);
    struct lr_prox1_header b;
    lr_prox1_header_unpack(&b, out, 5);
    CHECK_EQ(b.scid, 0x1C5);
    CHECK_EQ(b.port_id, 5);
    CHECK_EQ(b.frame_len, 0x123);
    CHECK_EQ(b.dfc_id, 2);
    h.frame_len = 2049;
    CHECK_EQ(lr_prox1_header_pack(&h, out, 5), LR_E_ARG);
}

TEST(pltu_has_asm_frame_and_crc32)
{
    uint8_t data[100], pltu[200];
    uint64_t seed = 2;
    lr_test_fill(&seed, data, sizeof data);
    struct lr_prox1_header h = {2, 0, 0, 0, 77, 0, 1, 0, 9, 0};
    CHECK_EQ(lr_prox1_pltu_build(&h, data, 100, pltu, sizeof pltu), 112);
    CHECK(pltu[0] == 0xFA && pltu[1] == 0xF3 && pltu[2] == 0x20);
    uint32_t crc = lr_crc32_prox1(0, pltu + 3, 105);
    CHECK_EQ(((uint32_t)pltu[108] << 24) | ((uint32_t)pltu[109] << 16) | ((uint32_t)pltu[110] << 8) | pltu[111],
             crc);
    struct lr_prox1_pltu_info fi;
    CHECK_EQ(lr_prox1_pltu_parse(&fi, pltu, sizeof pltu), 112);
    CHECK_EQ(fi.data_len, 100);
    CHECK(memcmp(pltu + fi.data_offset, data, 100) == 0);
    pltu[60] ^= 1;
    CHECK_EQ(lr_prox1_pltu_parse(&fi, pltu, sizeof pltu), LR_E_CHECK);
    CHECK_EQ(lr_prox1_pltu_parse(&fi, pltu, 111), LR_E_FORMAT);
    pltu[0] = 0;
    CHECK_EQ(lr_prox1_pltu_parse(&fi, pltu, sizeof pltu), LR_E_FORMAT);
    CHECK_EQ(lr_prox1_pltu_build(&h, data, 100, pltu, 111), LR_E_SPACE);
}

TEST(parser_survives_random_bytes)
{
    uint8_t buf[300];
    uint64_t seed = 3;
    for (int i = 0; i < 5000; i++) {
        size_t n = lr_test_rand(&seed) % sizeof buf;
        lr_test_fill(&seed, buf, n);
        if (n >= 3) {
            buf[0] = 0xFA;
            buf[1] = 0xF3;
            buf[2] = 0x20;
        }
        struct lr_prox1_pltu_info fi;
        int r = lr_prox1_pltu_parse(&fi, buf, n);
        CHECK(r < 0 || (size_t)r <= n);
    }
}

int main(void)
{
    RUN(header_fields_land_on_their_bits);
    RUN(pltu_has_asm_frame_and_crc32);
    RUN(parser_survives_random_bytes);
    TEST_EXIT();
}
