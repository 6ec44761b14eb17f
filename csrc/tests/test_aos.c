/* Tests of lr_aos: header bits, the RS(10,6) FHEC over GF(16), and frames with insert zone, OCF, FECF. */
#include "../lr_aos.h"
#include "../lr_crc.h"
#include "lr_test.h"

/* Independent check of the FHEC: evaluate the 10-symbol codeword at a^6..a^9 bit-serially. */
static unsigned gf_mul_slow(unsigned a, unsigned b)
{
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        if (b & 1)
            r ^= a;
        b >>= 1;
        a <<= 1;
        if (a & 16)
            a ^= 0x13;
    }
    return r;
}

static unsigned codeword_at(const uint8_t *h, unsigned x)
{
    unsigned sym[10] = {h[0] >> 4u, h[0] & 15u, h[1] >> 4u, h[1] & 15u, h[5] >> 4u, h[5] & 15u,
                        h[6] >> 4u, h[6] & 15u, h[7] >> 4u, h[7] & 15u};
    unsigned acc = 0;
    for (int i = 0; i < 10; i++)
        acc = gf_mul_slow(acc, x) ^ sym[i]; /* Horner: symbol 0 has the highest degree */
    return acc;
}

TEST(header_fields_land_on_their_bits)
{
    struct lr_aos_header h = {1, 0xAB, 0x2C, 1, 1, 0, 0x9, 0, 0x123456};
    uint8_t out[6];
    CHECK_EQ(lr_aos_header_pack(&h, out, 6), 6);
    const uint8_t want[6] = {0x6A, 0xEC, 0x12, 0x34, 0x56, 0xC9};
    CHECK(memcmp(out, want, 6) == 0);
    struct lr_aos_header b;
    lr_aos_header_unpack(&b, out, 6);
    CHECK_EQ(b.scid, 0xAB);
    CHECK_EQ(b.vcid, 0x2C);
    CHECK_EQ(b.vc_count, 0x123456);
    CHECK_EQ(b.vc_count_cycle, 9);
    CHECK_EQ(b.replay_flag, 1);
    h.vc_count = 0x1000000;
    CHECK_EQ(lr_aos_header_pack(&h, out, 6), LR_E_ARG);
}

TEST(fhec_codewords_have_roots_a6_to_a9)
{
    uint64_t seed = 4;
    /* a^6 = 12, a^7 = 11, a^8 = 5, a^9 = 10 in GF(16) with x^4 + x + 1. */
    const unsigned roots[4] = {12, 11, 5, 10};
    for (int n = 0; n < 500; n++) {
        uint8_t h[8];
        lr_test_fill(&seed, h, 6);
        uint16_t f = lr_aos_fhec(h);
        h[6] = (uint8_t)(f >> 8);
        h[7] = (uint8_t)f;
        for (int r = 0; r < 4; r++)
            CHECK_EQ(codeword_at(h, roots[r]), 0);
    }
}

TEST(fhec_corrects_up_to_two_nibbles)
{
    uint64_t seed = 5;
    const int pos[10] = {0, 0, 1, 1, 5, 5, 6, 6, 7, 7}; /* octet of each symbol */
    for (int n = 0; n < 3000; n++) {
        uint8_t h[8], bad[8];
        lr_test_fill(&seed, h, 6);
        uint16_t f = lr_aos_fhec(h);
        h[6] = (uint8_t)(f >> 8);
        h[7] = (uint8_t)f;
        memcpy(bad, h, 8);
        int nerr = 1 + (int)(lr_test_rand(&seed) % 2);
        int a = (int)(lr_test_rand(&seed) % 10), b = (a + 1 + (int)(lr_test_rand(&seed) % 9)) % 10;
        uint8_t ea = (uint8_t)(1 + lr_test_rand(&seed) % 15), eb = (uint8_t)(1 + lr_test_rand(&seed) % 15);
        bad[pos[a]] ^= (uint8_t)(a % 2 ? ea : ea << 4);
        if (nerr == 2)
            bad[pos[b]] ^= (uint8_t)(b % 2 ? eb : eb << 4);
        CHECK_EQ(lr_aos_fhec_correct(bad), nerr);
        CHECK(memcmp(bad, h, 8) == 0);
        CHECK_EQ(lr_aos_fhec_correct(h), 0);
    }
}

TEST(frame_round_trip_with_insert_zone_ocf_fecf)
{
    struct lr_aos_config cfg = {256, 1, 1, 1, 0, 8};
    int dl = lr_aos_data_len(&cfg);
    CHECK_EQ(dl, 256 - 6 - 2 - 8 - 4 - 2);
    uint8_t data[256], frame[256], iz[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint64_t seed = 6;
    lr_test_fill(&seed, data, (size_t)dl);
    struct lr_aos_header h = {1, 0x42, 7, 0, 1, 0, 3, 0, 0xABCDEF};
    CHECK_EQ(lr_aos_frame_build(&cfg, &h, iz, 0xCAFEF00D, data, (size_t)dl, frame, sizeof frame), 256);
    CHECK_EQ(lr_crc16_ccitt(0xFFFF, frame, 256), 0);
    struct lr_aos_frame_info fi;
    CHECK_EQ(lr_aos_frame_parse(&fi, &cfg, frame, 256), dl);
    CHECK_EQ(fi.header.vc_count, 0xABCDEF);
    CHECK_EQ(fi.ocf, 0xCAFEF00D);
    CHECK(memcmp(frame + fi.insert_offset, iz, 8) == 0);
    CHECK(memcmp(frame + fi.data_offset, data, (size_t)dl) == 0);
    frame[1] ^= 0x03; /* VCID nibble: FHEC repairs the header but the FECF sees the damage */
    CHECK_EQ(lr_aos_frame_parse(&fi, &cfg, frame, 256), LR_E_CHECK);
    CHECK_EQ(fi.header.vcid, 7);
    CHECK_EQ(fi.fhec_corrected, 1);
    CHECK_EQ(lr_aos_frame_build(&cfg, &h, iz, 0, data, (size_t)dl - 1, frame, sizeof frame), LR_E_ARG);
}

TEST(parser_survives_random_frames)
{
    struct lr_aos_config cfg = {64, 1, 0, 0, 0, 4};
    uint8_t f[64];
    uint64_t seed = 8;
    int unc = 0;
    for (int n = 0; n < 3000; n++) {
        lr_test_fill(&seed, f, sizeof f);
        struct lr_aos_frame_info fi;
        int r = lr_aos_frame_parse(&fi, &cfg, f, sizeof f);
        CHECK(r == LR_E_UNCORRECTABLE || r == LR_E_FORMAT || r == 64 - 12);
        unc += r == LR_E_UNCORRECTABLE;
    }
    CHECK(unc > 0);
}

int main(void)
{
    RUN(header_fields_land_on_their_bits);
    RUN(fhec_codewords_have_roots_a6_to_a9);
    RUN(fhec_corrects_up_to_two_nibbles);
    RUN(frame_round_trip_with_insert_zone_ocf_fecf);
    RUN(parser_survives_random_frames);
    TEST_EXIT();
}
