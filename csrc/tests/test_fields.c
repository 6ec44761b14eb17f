/* Tests of lr_fields: every width in both byte orders against the octets, packets anywhere in
 * the buffer, and refusals before anything is written. */
#include "../lr_fields.h"
#include "lr_test.h"

TEST(every_width_in_both_byte_orders_matches_the_octets)
{
    uint8_t buf[64];
    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)(0x10 + i);
    uint64_t offsets[3] = {0, 17, 40};   /* packets anywhere, unaligned */
    uint8_t c8[3];
    uint16_t c16be[3], c16le[3];
    uint32_t c32be[3];
    uint64_t c64be[3], c64le[3];
    struct lr_field fields[6] = {
        {0, 1, 1, c8}, {1, 2, 1, c16be}, {1, 2, 0, c16le}, {3, 4, 1, c32be}, {7, 8, 1, c64be}, {7, 8, 0, c64le},
    };
    CHECK_EQ(lr_fields_extract(buf, sizeof buf, offsets, 3, fields, 6), 3);
    for (int p = 0; p < 3; p++) {
        const uint8_t *b = buf + offsets[p];
        CHECK_EQ(c8[p], b[0]);
        CHECK_EQ(c16be[p], (uint16_t)(b[1] << 8 | b[2]));
        CHECK_EQ(c16le[p], (uint16_t)(b[2] << 8 | b[1]));
        CHECK_EQ(c32be[p], (uint32_t)b[3] << 24 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 8 | b[6]);
        uint64_t be = 0, le = 0;
        for (int k = 0; k < 8; k++) {
            be = be << 8 | b[7 + k];
            le = le << 8 | b[14 - k];
        }
        CHECK_EQ(c64be[p], be);
        CHECK_EQ(c64le[p], le);
    }
}

TEST(many_packets_cross_blocks_and_each_row_is_its_packet)
{
    enum { N = 1000, LEN = 13 };
    static uint8_t buf[N * LEN];
    static uint64_t offsets[N];
    static uint32_t col[N];
    for (int i = 0; i < N; i++) {
        offsets[i] = (uint64_t)(N - 1 - i) * LEN;   /* in reverse order */
        uint8_t *b = buf + offsets[i];
        b[5] = (uint8_t)(i >> 24), b[6] = (uint8_t)(i >> 16), b[7] = (uint8_t)(i >> 8), b[8] = (uint8_t)i;
    }
    struct lr_field f = {5, 4, 1, col};
    CHECK_EQ(lr_fields_extract(buf, sizeof buf, offsets, N, &f, 1), N);
    int wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += col[i] != (uint32_t)i;
    CHECK_EQ(wrong, 0);
}

TEST(a_packet_past_the_buffer_or_a_bad_width_is_refused_before_any_write)
{
    uint8_t buf[16] = {0};
    uint16_t col[2] = {0xAAAA, 0xAAAA};
    uint64_t offsets[2] = {0, 15};          /* the second packet's field ends at 17 > 16 */
    struct lr_field f = {0, 2, 1, col};
    CHECK_EQ(lr_fields_extract(buf, sizeof buf, offsets, 2, &f, 1), LR_E_ARG);
    CHECK_EQ(col[0], 0xAAAA);
    uint64_t far[1] = {UINT64_MAX};
    CHECK_EQ(lr_fields_extract(buf, sizeof buf, far, 1, &f, 1), LR_E_ARG);
    struct lr_field three = {0, 3, 1, col};
    CHECK_EQ(lr_fields_extract(buf, sizeof buf, offsets, 1, &three, 1), LR_E_ARG);
    struct lr_field nowhere = {0, 2, 1, NULL};
    CHECK_EQ(lr_fields_extract(buf, sizeof buf, offsets, 1, &nowhere, 1), LR_E_ARG);
    CHECK_EQ(lr_fields_extract(NULL, 0, NULL, 0, NULL, 0), 0);
    CHECK_EQ(lr_fields_extract(buf, sizeof buf, offsets, 1, &f, 1), 1);
}

int main(void)
{
    RUN(every_width_in_both_byte_orders_matches_the_octets);
    RUN(many_packets_cross_blocks_and_each_row_is_its_packet);
    RUN(a_packet_past_the_buffer_or_a_bad_width_is_refused_before_any_write);
    TEST_EXIT();
}
