/* Tests of lr_tm: header bits, frame parsing, and the multiplexer/demultiplexer round trip with gaps. */
#include "../lr_crc.h"
#include "../lr_spp.h"
#include "../lr_tm.h"
#include "lr_test.h"

static struct lr_tm_demux demux;
static uint8_t packets[200000], frames[250 * 1115], rebuilt[200000];

/* 132.0-B-3 §4.1.2: SCID 0x2A5, VC 5, OCF, counts 0x12/0x34, sec hdr, FHP 0x123. */
TEST(header_fields_land_on_their_bits)
{
    struct lr_tm_header h = {0, 5, 0x2A5, 1, 0x12, 0x34, 1, 0, 0, 3, 0, 0x123};
    uint8_t out[6];
    CHECK_EQ(lr_tm_header_pack(&h, out, 6), 6);
    const uint8_t want[6] = {0x2A, 0x5B, 0x12, 0x34, 0x99, 0x23};
    CHECK(memcmp(out, want, 6) == 0);
    struct lr_tm_header b;
    CHECK_EQ(lr_tm_header_unpack(&b, out, 6), 6);
    CHECK_EQ(b.scid, 0x2A5);
    CHECK_EQ(b.vcid, 5);
    CHECK_EQ(b.fhp, 0x123);
    CHECK_EQ(b.segment_length_id, 3);
    h.vcid = 8;
    CHECK_EQ(lr_tm_header_pack(&h, out, 6), LR_E_ARG);
}

static size_t make_packets(uint64_t *seed, int n, size_t max_data)
{
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        uint8_t data[3000];
        size_t dl = 1 + lr_test_rand(seed) % max_data;
        lr_test_fill(seed, data, dl);
        struct lr_spp_header h = {0, 0, 0, 3, (uint16_t)(i % 2000), (uint16_t)i, 0};
        pos += (size_t)lr_spp_build(&h, data, dl, packets + pos, sizeof packets - pos);
    }
    return pos;
}

TEST(mux_then_demux_gives_back_the_packets)
{
    uint64_t seed = 11;
    size_t n = make_packets(&seed, 120, 2500);
    struct lr_tm_mux_mc mc = {{0x1AB, 1115, 1, 1, 0, 0x55}, 0x01020304, {0}, 0, {0}, 0};
    struct lr_tm_mux_vc vc = {0};
    vc.mc = &mc;
    vc.vcid = 3;
    int64_t f = lr_tm_mux_pack(&vc, packets, n, frames, sizeof frames);
    CHECK(f > 0);
    int64_t g = lr_tm_mux_flush(&vc, frames + f * 1115, sizeof frames - (size_t)f * 1115);
    CHECK(g == 1 || g == 2);
    if (f <= 0 || g <= 0)
        return;
    size_t nf = (size_t)(f + g);
    for (size_t i = 0; i < nf; i++) {
        struct lr_tm_frame_info fi;
        CHECK_EQ(lr_tm_frame_parse(&fi, &mc.cfg, frames + i * 1115, 1115), 1115 - 12);
        CHECK_EQ(fi.header.mc_count, i);
        CHECK_EQ(fi.ocf, 0x01020304);
    }
    memset(&demux, 0, sizeof demux);
    demux.cfg = mc.cfg;
    demux.vc_mask = 1 << 3;
    demux.drop_idle = 1;
    CHECK_EQ(lr_tm_demux_frames(&demux, frames, nf * 1115, rebuilt, sizeof rebuilt), (int64_t)n);
    CHECK(memcmp(rebuilt, packets, n) == 0);
    CHECK_EQ(demux.packets, 120);
    CHECK_EQ(demux.idle_packets, 1);
    CHECK_EQ(demux.fhp_mismatches + demux.vc_gaps + demux.crc_errors, 0);
    CHECK_EQ(demux.last_ocf, 0x01020304);
}

TEST(demux_reports_lost_frame_and_crc_error_and_recovers)
{
    uint64_t seed = 12;
    size_t n = make_packets(&seed, 200, 300);
    struct lr_tm_mux_mc mc = {{7, 512, 0, 1, 0, 0}, 0, {0}, 0, {0}, 0};
    struct lr_tm_mux_vc vc = {0};
    vc.mc = &mc;
    int64_t f = lr_tm_mux_pack(&vc, packets, n, frames, sizeof frames);
    CHECK(f > 20);
    if (f <= 20)
        return;
    /* Remove frame 5 and corrupt frame 10. */
    memmove(frames + 5 * 512, frames + 6 * 512, (size_t)(f - 6) * 512);
    frames[9 * 512 + 100] ^= 1;
    memset(&demux, 0, sizeof demux);
    demux.cfg = mc.cfg;
    demux.vc_mask = 1;
    int64_t got = lr_tm_demux_frames(&demux, frames, (size_t)(f - 1) * 512, rebuilt, sizeof rebuilt);
    CHECK(got > 0 && (size_t)got < n);
    CHECK_EQ(demux.crc_errors, 1);
    CHECK_EQ(demux.mc_gaps, 2);
    CHECK_EQ(demux.vc_gaps, 2);
    CHECK_EQ(demux.vc_frames_lost, 2);
    CHECK(demux.packets > 150 && demux.packets < 200);
    /* Every packet delivered is one of the originals, whole. */
    struct lr_spp_entry e[300];
    struct lr_spp_index_state st = {0};
    int64_t k = lr_spp_index(&st, rebuilt, (size_t)got, e, 300);
    CHECK_EQ(k, (int64_t)demux.packets);
    CHECK_EQ(st.stop, LR_SPP_STOP_END);
}

TEST(short_gap_flush_spills_idle_packet_into_a_second_frame)
{
    struct lr_tm_mux_mc mc = {{1, 100, 0, 0, 0, 0xAA}, 0, {0}, 0, {0}, 0};
    struct lr_tm_mux_vc vc = {0};
    vc.mc = &mc;
    uint8_t data[100];
    memset(data, 1, sizeof data);
    struct lr_spp_header h = {0, 0, 0, 3, 9, 0, 0};
    /* data field is 94 octets: a 90-octet packet leaves 4. */
    int64_t n = lr_spp_build(&h, data, 84, packets, sizeof packets);
    CHECK_EQ(lr_tm_mux_pack(&vc, packets, (size_t)n, frames, sizeof frames), 0);
    CHECK_EQ(lr_tm_mux_flush(&vc, frames, sizeof frames), 2);
    struct lr_tm_header b;
    lr_tm_header_unpack(&b, frames + 100, 6);
    CHECK_EQ(b.fhp, LR_TM_FHP_NO_PACKET);
    CHECK_EQ(lr_tm_mux_idle_frame(&vc, frames, 100), 1);
    lr_tm_header_unpack(&b, frames, 6);
    CHECK_EQ(b.fhp, LR_TM_FHP_IDLE);
    CHECK_EQ(b.vc_count, 2);
    CHECK_EQ(frames[50], 0xAA);
    CHECK_EQ(lr_tm_mux_flush(&vc, frames, sizeof frames), 0);
    /* A packet stream cut short is refused whole. */
    CHECK_EQ(lr_tm_mux_pack(&vc, packets, (size_t)n - 1, frames, sizeof frames), LR_E_FORMAT);
    CHECK_EQ(lr_tm_mux_pack(&vc, packets, (size_t)n, frames, 10), 0);
    CHECK_EQ(lr_tm_mux_pack(&vc, packets, (size_t)n, frames, 10), LR_E_SPACE);
}

TEST(demux_survives_random_frames)
{
    uint64_t seed = 5;
    memset(&demux, 0, sizeof demux);
    demux.cfg = (struct lr_tm_config){0x55, 64, 0, 0, 0, 0};
    demux.vc_mask = 0xFF;
    for (int round = 0; round < 300; round++) {
        lr_test_fill(&seed, frames, 64 * 50);
        for (int i = 0; i < 50; i++) {
            frames[i * 64] = 0x05;
            frames[i * 64 + 1] = (uint8_t)(0x50 | (frames[i * 64 + 1] & 0x0E));
            frames[i * 64 + 4] &= 0x07;
        }
        int64_t got = lr_tm_demux_frames(&demux, frames, 64 * 50, rebuilt, sizeof rebuilt);
        CHECK(got >= 0);
    }
    CHECK(demux.frames == 300 * 50);
}

/* Found by fuzzing: a 6-octet "frame" whose header announces a secondary header. */
TEST(header_only_frame_with_secondary_header_flag_is_malformed)
{
    const uint8_t f[6] = {0x00, 0x00, 0, 0, 0x80, 0};
    struct lr_tm_config cfg = {0, 6, 0, 0, 0, 0};
    struct lr_tm_frame_info fi;
    CHECK_EQ(lr_tm_frame_parse(&fi, &cfg, f, sizeof f), LR_E_FORMAT);
}

int main(void)
{
    RUN(header_fields_land_on_their_bits);
    RUN(mux_then_demux_gives_back_the_packets);
    RUN(demux_reports_lost_frame_and_crc_error_and_recovers);
    RUN(short_gap_flush_spills_idle_packet_into_a_second_frame);
    RUN(demux_survives_random_frames);
    RUN(header_only_frame_with_secondary_header_flag_is_malformed);
    TEST_EXIT();
}
