/* Tests of lr_farm: the FARM-1 state table (CCSDS 232.1-B-2 §6) and the CLCW layout
 * (CCSDS 232.0-B-4 §4.2.1). */
#include "../lr_farm.h"
#include "lr_test.h"

/* A TC frame (header, data, 2-octet FECF left zero: the FARM does not check it). */
static size_t tc_frame(uint8_t *buf, int bypass, int control, uint8_t ns, const uint8_t *data, size_t n)
{
    size_t len = 5 + n + 2;
    buf[0] = (uint8_t)((bypass << 5) | (control << 4) | 0x01); /* SCID high bits */
    buf[1] = 0x23;
    buf[2] = (uint8_t)((7u << 2) | ((len - 1) >> 8)); /* VCID 7 */
    buf[3] = (uint8_t)(len - 1);
    buf[4] = ns;
    memcpy(buf + 5, data, n);
    buf[5 + n] = buf[6 + n] = 0;
    return len;
}

static int ad(struct lr_farm *f, uint8_t ns)
{
    uint8_t buf[32], d[3] = {1, 2, 3};
    return lr_farm_frame(f, buf, tc_frame(buf, 0, 0, ns, d, 3));
}

static int bd(struct lr_farm *f)
{
    uint8_t buf[32], d[2] = {9, 9};
    return lr_farm_frame(f, buf, tc_frame(buf, 1, 0, 0, d, 2));
}

static int unlock(struct lr_farm *f)
{
    uint8_t buf[32], d[1] = {0x00};
    return lr_farm_frame(f, buf, tc_frame(buf, 1, 1, 0, d, 1));
}

static int set_vr(struct lr_farm *f, uint8_t vr)
{
    uint8_t buf[32], d[3] = {0x82, 0x00, vr};
    return lr_farm_frame(f, buf, tc_frame(buf, 1, 1, 0, d, 3));
}

TEST(in_sequence_frames_are_accepted_and_vr_wraps)
{
    struct lr_farm f;
    CHECK_EQ(lr_farm_init(&f, 10, 7, 1), LR_OK);
    for (int i = 0; i < 300; i++)
        CHECK_EQ(ad(&f, (uint8_t)i), LR_FARM_ACCEPT_AD);
    CHECK_EQ(f.vr, 300 % 256);
    CHECK_EQ(f.ad_accepted, 300);
    CHECK_EQ(f.state, LR_FARM_OPEN);
}

TEST(window_edges_follow_the_state_table)
{
    struct lr_farm f;
    lr_farm_init(&f, 10, 7, 1); /* PW = NW = 5 */
    set_vr(&f, 100);
    CHECK_EQ(ad(&f, 104), LR_FARM_DISCARD_AHEAD); /* V(R)+PW-1 */
    CHECK_EQ(f.retransmit, 1);
    CHECK_EQ(ad(&f, 95), LR_FARM_DISCARD_BEHIND); /* V(R)-NW */
    CHECK_EQ(ad(&f, 99), LR_FARM_DISCARD_BEHIND);
    CHECK_EQ(f.retransmit, 1);
    CHECK_EQ(ad(&f, 100), LR_FARM_ACCEPT_AD);
    CHECK_EQ(f.retransmit, 0);
    CHECK_EQ(ad(&f, 106), LR_FARM_DISCARD_LOCKOUT); /* V(R)+PW */
    CHECK_EQ(f.state, LR_FARM_LOCKOUT);
    lr_farm_init(&f, 10, 7, 1);
    set_vr(&f, 100);
    CHECK_EQ(ad(&f, 94), LR_FARM_DISCARD_LOCKOUT); /* V(R)-NW-1 */
    CHECK_EQ(f.lockout, 1);
    CHECK_EQ(f.lockouts, 1);
}

TEST(lockout_discards_until_unlock)
{
    struct lr_farm f;
    lr_farm_init(&f, 10, 7, 1);
    CHECK_EQ(ad(&f, 128), LR_FARM_DISCARD_LOCKOUT);
    CHECK_EQ(ad(&f, 0), LR_FARM_DISCARD_LOCKOUT); /* even in sequence */
    CHECK_EQ(set_vr(&f, 128), LR_FARM_BC_IGNORED); /* Set V(R) does not clear lockout */
    CHECK_EQ(f.vr, 0);
    CHECK_EQ(f.farm_b, 1);
    CHECK_EQ(bd(&f), LR_FARM_ACCEPT_BD); /* BD always accepted */
    CHECK_EQ(unlock(&f), LR_FARM_UNLOCK);
    CHECK_EQ(f.state, LR_FARM_OPEN);
    CHECK_EQ(f.lockout, 0);
    CHECK_EQ(f.farm_b, 3);
    CHECK_EQ(ad(&f, 0), LR_FARM_ACCEPT_AD);
}

TEST(no_buffer_enters_wait_and_release_leaves_it)
{
    struct lr_farm f;
    lr_farm_init(&f, 10, 7, 1);
    CHECK_EQ(ad(&f, 0), LR_FARM_ACCEPT_AD);
    CHECK_EQ(lr_farm_buffer(&f, 0), LR_FARM_OPEN);
    CHECK_EQ(ad(&f, 1), LR_FARM_DISCARD_WAIT);
    CHECK_EQ(f.state, LR_FARM_WAIT);
    CHECK_EQ(f.wait, 1);
    CHECK_EQ(f.retransmit, 1);
    CHECK_EQ(ad(&f, 2), LR_FARM_DISCARD_AHEAD);
    CHECK_EQ(lr_farm_buffer(&f, 1), LR_FARM_OPEN);
    CHECK_EQ(f.wait, 0);
    CHECK_EQ(f.retransmit, 1);
    CHECK_EQ(ad(&f, 1), LR_FARM_ACCEPT_AD);
    CHECK_EQ(f.retransmit, 0);
    /* Unlock and Set V(R) also end Wait. */
    lr_farm_buffer(&f, 0);
    ad(&f, 2);
    CHECK_EQ(f.state, LR_FARM_WAIT);
    CHECK_EQ(set_vr(&f, 50), LR_FARM_SET_VR);
    CHECK_EQ(f.state, LR_FARM_OPEN);
    CHECK_EQ(f.vr, 50);
}

TEST(buffer_release_clears_wait_in_lockout_too)
{
    /* 232.1-B-2 Table 6-1, E10 (buffer release): S1 ignores it, S2 clears the Wait_Flag and
     * goes to S1, S3 clears the Wait_Flag and stays in S3. */
    struct lr_farm f;
    lr_farm_init(&f, 10, 7, 1);
    lr_farm_buffer(&f, 0);
    CHECK_EQ(ad(&f, 0), LR_FARM_DISCARD_WAIT);
    CHECK_EQ(f.state, LR_FARM_WAIT);
    CHECK_EQ(ad(&f, 100), LR_FARM_DISCARD_LOCKOUT); /* E5 in S2: Lockout, Wait still set */
    CHECK_EQ(f.state, LR_FARM_LOCKOUT);
    CHECK_EQ(f.wait, 1);
    CHECK_EQ(lr_farm_buffer(&f, 1), LR_FARM_LOCKOUT);
    CHECK_EQ(f.wait, 0);
    CHECK_EQ(f.lockout, 1);
    CHECK_EQ((lr_farm_clcw(&f) >> 12) & 1, 0);
    CHECK_EQ((lr_farm_clcw(&f) >> 13) & 1, 1);
    CHECK_EQ(ad(&f, 0), LR_FARM_DISCARD_LOCKOUT); /* still locked out until Unlock */
    CHECK_EQ(unlock(&f), LR_FARM_UNLOCK);
    CHECK_EQ(ad(&f, 0), LR_FARM_ACCEPT_AD);
    /* E10 in S1 changes nothing. */
    struct lr_farm before = f;
    CHECK_EQ(lr_farm_buffer(&f, 1), LR_FARM_OPEN);
    CHECK(memcmp(&before, &f, sizeof f) == 0);
}

TEST(clcw_fields_are_where_the_standard_puts_them)
{
    struct lr_farm f;
    lr_farm_init(&f, 10, 5, 1);
    set_vr(&f, 0x2A);
    ad(&f, 0x2A + 100); /* lockout */
    CHECK_EQ(lr_farm_clcw(&f), 0x01140000u | 0x2000u | (1u << 9) | 0x2A);
    bd(&f);
    bd(&f);
    bd(&f); /* FARM-B counter 4: reported as 0 */
    CHECK_EQ((lr_farm_clcw(&f) >> 9) & 3u, 0);
    f.no_rf = 1;
    f.no_bitlock = 1;
    CHECK_EQ((lr_farm_clcw(&f) >> 14) & 3u, 3);
    lr_farm_init(&f, 10, 63, 1);
    ad(&f, 1);
    CHECK_EQ(lr_farm_clcw(&f), 0x01FC0800u); /* VCID 63, retransmit */
}

TEST(invalid_frames_and_commands_are_counted)
{
    struct lr_farm f;
    uint8_t buf[32], d[4] = {0x82, 0x01, 0, 0};
    lr_farm_init(&f, 10, 7, 1);
    size_t n = tc_frame(buf, 0, 0, 0, d, 2);
    CHECK_EQ(lr_farm_frame(&f, buf, n - 1), LR_E_FORMAT); /* length field disagrees */
    buf[0] |= 0x40;
    CHECK_EQ(lr_farm_frame(&f, buf, n), LR_E_FORMAT); /* version 1 */
    n = tc_frame(buf, 0, 1, 0, d, 2);
    CHECK_EQ(lr_farm_frame(&f, buf, n), LR_E_FORMAT); /* control without bypass */
    CHECK_EQ(lr_farm_frame(&f, buf, 3), LR_E_FORMAT);
    CHECK_EQ(f.invalid, 4);
    n = tc_frame(buf, 1, 1, 0, d, 3);
    CHECK_EQ(lr_farm_frame(&f, buf, n), LR_FARM_DISCARD_INVALID_BC);
    CHECK_EQ(f.farm_b, 0);
    CHECK_EQ(lr_farm_init(&f, 9, 7, 1), LR_E_ARG);
    CHECK_EQ(lr_farm_init(&f, 256, 7, 1), LR_E_ARG);
    CHECK_EQ(lr_farm_init(&f, 10, 64, 1), LR_E_ARG);
}

TEST(random_frames_never_break_the_farm)
{
    struct lr_farm f;
    uint8_t buf[64];
    uint64_t seed = 41;
    lr_farm_init(&f, 254, 0, 0);
    for (int i = 0; i < 20000; i++) {
        size_t n = lr_test_rand(&seed) % sizeof buf;
        lr_test_fill(&seed, buf, n);
        if (n >= 5 && (lr_test_rand(&seed) & 1)) { /* make the header plausible */
            buf[0] &= 0x3F;
            buf[2] = (uint8_t)((buf[2] & 0xFC) | ((n - 1) >> 8));
            buf[3] = (uint8_t)(n - 1);
        }
        int r = lr_farm_frame(&f, buf, n);
        CHECK(r == LR_E_FORMAT || (r >= LR_FARM_ACCEPT_AD && r <= LR_FARM_DISCARD_INVALID_BC));
        CHECK(f.state >= LR_FARM_OPEN && f.state <= LR_FARM_LOCKOUT);
        CHECK_EQ(f.lockout, f.state == LR_FARM_LOCKOUT);
    }
}

int main(void)
{
    RUN(in_sequence_frames_are_accepted_and_vr_wraps);
    RUN(window_edges_follow_the_state_table);
    RUN(lockout_discards_until_unlock);
    RUN(no_buffer_enters_wait_and_release_leaves_it);
    RUN(buffer_release_clears_wait_in_lockout_too);
    RUN(clcw_fields_are_where_the_standard_puts_them);
    RUN(invalid_frames_and_commands_are_counted);
    RUN(random_frames_never_break_the_farm);
    TEST_EXIT();
}
