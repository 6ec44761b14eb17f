/* Tests of lr_spp: header fields at their bit positions, idle packets and the batch indexer. */
#include "../lr_spp.h"
#include "lr_test.h"

/* 133.0-B-2 §4.1.3: version 0, TC, sec hdr, APID 0x123, first segment, count 0x2345, length 9. */
TEST(header_fields_land_on_their_bits)
{
    struct lr_spp_header h = {0, 1, 1, LR_SPP_SEQ_FIRST, 0x123, 0x2345, 9};
    uint8_t out[6];
    CHECK_EQ(lr_spp_header_pack(&h, out, sizeof out), 6);
    const uint8_t want[6] = {0x19, 0x23, 0x63, 0x45, 0x00, 0x09};
    CHECK(memcmp(out, want, 6) == 0);
    struct lr_spp_header back;
    CHECK_EQ(lr_spp_header_unpack(&back, out, 6), 6);
    CHECK_EQ(back.type, 1);
    CHECK_EQ(back.sec_hdr_flag, 1);
    CHECK_EQ(back.apid, 0x123);
    CHECK_EQ(back.seq_flags, LR_SPP_SEQ_FIRST);
    CHECK_EQ(back.seq_count, 0x2345);
    CHECK_EQ(back.data_length, 9);
    CHECK_EQ(lr_spp_header_unpack(&back, out, 5), LR_E_FORMAT);
}

TEST(header_fields_out_of_range_are_rejected)
{
    uint8_t out[6];
    struct lr_spp_header h = {0, 0, 0, 3, 0x800, 0, 0};
    CHECK_EQ(lr_spp_header_pack(&h, out, 6), LR_E_ARG);
    h.apid = 1;
    h.seq_count = 0x4000;
    CHECK_EQ(lr_spp_header_pack(&h, out, 6), LR_E_ARG);
    h.seq_count = 1;
    CHECK_EQ(lr_spp_header_pack(&h, out, 5), LR_E_SPACE);
}

TEST(idle_packet_has_apid_2047_and_fill)
{
    uint8_t out[20];
    CHECK_EQ(lr_spp_idle(5, 0x55, 20, out, sizeof out), 20);
    struct lr_spp_header h;
    lr_spp_header_unpack(&h, out, 20);
    CHECK_EQ(h.apid, 2047);
    CHECK_EQ(h.seq_flags, LR_SPP_SEQ_UNSEGMENTED);
    CHECK_EQ(h.data_length, 13);
    CHECK_EQ(out[19], 0x55);
    CHECK_EQ(lr_spp_idle(0, 0, 6, out, sizeof out), LR_E_ARG);
    CHECK_EQ(lr_spp_idle(0, 0, 21, out, sizeof out), LR_E_SPACE);
}

TEST(indexer_walks_a_stream_and_reports_truncation)
{
    static uint8_t buf[4096];
    uint64_t seed = 7;
    size_t pos = 0, lens[64];
    int n = 0;
    while (n < 64) {
        uint8_t data[40];
        size_t dl = 1 + lr_test_rand(&seed) % 40;
        lr_test_fill(&seed, data, dl);
        struct lr_spp_header h = {0, 0, 0, 3, (uint16_t)(n * 31), (uint16_t)n, 0};
        int64_t r = lr_spp_build(&h, data, dl, buf + pos, sizeof buf - pos);
        CHECK_EQ(r, (int64_t)dl + 6);
        lens[n++] = (size_t)r;
        pos += (size_t)r;
    }
    struct lr_spp_entry e[64];
    struct lr_spp_index_state st = {0};
    CHECK_EQ(lr_spp_index(&st, buf, pos, e, 64), 64);
    CHECK_EQ(st.stop, LR_SPP_STOP_END);
    CHECK_EQ(st.consumed, pos);
    size_t off = 0;
    for (int i = 0; i < 64; i++) {
        CHECK_EQ(e[i].offset, off);
        CHECK_EQ(e[i].length, lens[i]);
        CHECK_EQ(e[i].apid, i * 31);
        CHECK_EQ(e[i].seq_count, i);
        off += lens[i];
    }
    /* Cut the last packet short by 3 octets. */
    CHECK_EQ(lr_spp_index(&st, buf, pos - 3, e, 64), 63);
    CHECK_EQ(st.stop, LR_SPP_STOP_TRUNCATED);
    CHECK_EQ(st.missing, 3);
    CHECK_EQ(st.consumed, pos - lens[63]);
    /* A full output array stops the walk where it can resume. */
    CHECK_EQ(lr_spp_index(&st, buf, pos, e, 10), 10);
    CHECK_EQ(st.stop, LR_SPP_STOP_FULL);
    CHECK_EQ(st.consumed, e[9].offset + e[9].length);
    /* A version number other than 0 stops it too. */
    buf[e[5].offset] |= 0x20;
    CHECK_EQ(lr_spp_index(&st, buf, pos, e, 64), 5);
    CHECK_EQ(st.stop, LR_SPP_STOP_VERSION);
    CHECK_EQ(st.rejected, 1);
    CHECK_EQ(st.truncated, 1);
}

TEST(indexer_survives_random_bytes)
{
    static uint8_t buf[3000];
    struct lr_spp_entry e[500];
    uint64_t seed = 3;
    for (int round = 0; round < 200; round++) {
        size_t n = lr_test_rand(&seed) % sizeof buf;
        lr_test_fill(&seed, buf, n);
        for (size_t i = 0; i < n; i += 7)
            buf[i] &= 0x1F;
        struct lr_spp_index_state st = {0};
        int64_t k = lr_spp_index(&st, buf, n, e, 500);
        CHECK(k >= 0);
        CHECK(st.consumed <= n);
    }
}

int main(void)
{
    RUN(header_fields_land_on_their_bits);
    RUN(header_fields_out_of_range_are_rejected);
    RUN(idle_packet_has_apid_2047_and_fill);
    RUN(indexer_walks_a_stream_and_reports_truncation);
    RUN(indexer_survives_random_bytes);
    TEST_EXIT();
}
