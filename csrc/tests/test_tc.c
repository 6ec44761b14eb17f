/* Tests of lr_tc: header bits, segment header, FECF and frame length limits. */
#include "../lr_crc.h"
#include "../lr_tc.h"
#include "lr_test.h"

/* 232.0-B-4 §4.1.2: bypass, data, SCID 0x2AB, VC 0x15, 11-octet frame, N(S) 0x7F. */
TEST(header_fields_land_on_their_bits)
{
    struct lr_tc_header h = {0, 1, 0, 0, 0x2AB, 0x15, 0x7F, 11};
    uint8_t out[5];
    CHECK_EQ(lr_tc_header_pack(&h, out, 5), 5);
    const uint8_t want[5] = {0x22, 0xAB, 0x54, 0x0A, 0x7F};
    CHECK(memcmp(out, want, 5) == 0);
    struct lr_tc_header b;
    CHECK_EQ(lr_tc_header_unpack(&b, out, 5), 5);
    CHECK_EQ(b.scid, 0x2AB);
    CHECK_EQ(b.vcid, 0x15);
    CHECK_EQ(b.frame_len, 11);
    CHECK_EQ(b.bypass_flag, 1);
    h.frame_len = 1025;
    CHECK_EQ(lr_tc_header_pack(&h, out, 5), LR_E_ARG);
}

TEST(frame_round_trip_with_segment_header_and_fecf)
{
    uint8_t data[100], frame[200];
    uint64_t seed = 1;
    lr_test_fill(&seed, data, sizeof data);
    struct lr_tc_frame_spec spec = {{0, 0, 0, 0, 0x123, 9, 42, 0}, {1, 1}, 1, 0x2A};
    int64_t n = lr_tc_frame_build(&spec, data, sizeof data, frame, sizeof frame);
    CHECK_EQ(n, 5 + 1 + 100 + 2);
    CHECK_EQ(lr_crc16_ccitt(0xFFFF, frame, (size_t)n), 0);
    CHECK_EQ(frame[5], 0x40 | 0x2A);
    struct lr_tc_frame_info fi;
    CHECK_EQ(lr_tc_frame_parse(&fi, &spec.cfg, frame, sizeof frame), n);
    CHECK_EQ(fi.map_id, 0x2A);
    CHECK_EQ(fi.seq_flags, 1);
    CHECK_EQ(fi.data_len, 100);
    CHECK(memcmp(frame + fi.data_offset, data, 100) == 0);
    frame[50] ^= 4;
    CHECK_EQ(lr_tc_frame_parse(&fi, &spec.cfg, frame, sizeof frame), LR_E_CHECK);
    CHECK_EQ(lr_tc_frame_parse(&fi, &spec.cfg, frame, (size_t)n - 1), LR_E_FORMAT);
}

TEST(control_commands_have_no_segment_header_and_limits_hold)
{
    uint8_t frame[1100], data[1100] = {0};
    struct lr_tc_frame_spec spec = {{0, 1, 1, 0, 7, 1, 0, 0}, {1, 1}, 3, 0};
    const uint8_t unlock[1] = {0};
    CHECK_EQ(lr_tc_frame_build(&spec, unlock, 1, frame, sizeof frame), 8);
    struct lr_tc_frame_info fi;
    CHECK_EQ(lr_tc_frame_parse(&fi, &spec.cfg, frame, 8), 8);
    CHECK_EQ(fi.has_seg_hdr, 0);
    CHECK_EQ(fi.data_len, 1);
    spec.header.ctrl_cmd_flag = 0;
    CHECK_EQ(lr_tc_frame_build(&spec, data, 1016, frame, sizeof frame), 1024);
    CHECK_EQ(lr_tc_frame_build(&spec, data, 1017, frame, sizeof frame), LR_E_ARG);
    CHECK_EQ(lr_tc_frame_build(&spec, data, 10, frame, 10), LR_E_SPACE);
    spec.map_id = 64;
    CHECK_EQ(lr_tc_frame_build(&spec, data, 10, frame, sizeof frame), LR_E_ARG);
}

TEST(parser_survives_random_bytes)
{
    uint8_t buf[1100];
    uint64_t seed = 9;
    struct lr_tc_config cfg = {1, 1};
    for (int i = 0; i < 5000; i++) {
        size_t n = lr_test_rand(&seed) % sizeof buf;
        lr_test_fill(&seed, buf, n);
        struct lr_tc_frame_info fi;
        int r = lr_tc_frame_parse(&fi, &cfg, buf, n);
        CHECK(r < 0 || (size_t)r <= n);
    }
}

int main(void)
{
    RUN(header_fields_land_on_their_bits);
    RUN(frame_round_trip_with_segment_header_and_fecf);
    RUN(control_commands_have_no_segment_header_and_limits_hold);
    RUN(parser_survives_random_bytes);
    TEST_EXIT();
}
