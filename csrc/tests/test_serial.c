/* Tests of lr_serial: framing of each kind, and a deframer that finds every good packet in a
 * stream of good frames, garbage, console text, truncated and corrupted frames, however the
 * stream is split. */
#include "../lr_serial.h"
#include "../lr_crc.h"
#include "lr_test.h"

#define MAXP 2048
#define STREAM_CAP (1 << 20)

static const int FRAMINGS[] = {LR_SERIAL_ASM, LR_SERIAL_KISS, LR_SERIAL_SLIP};

/* A space packet of n octets (n >= 7) with APID apid and a pattern that includes C0 and DB,
 * so KISS and SLIP must escape it. */
static size_t make_packet(uint8_t *p, size_t n, uint16_t apid, uint64_t *seed)
{
    p[0] = (uint8_t)(0x08 | (apid >> 8));
    p[1] = (uint8_t)apid;
    p[2] = 0xC0;
    p[3] = 0x00;
    p[4] = (uint8_t)((n - 7) >> 8);
    p[5] = (uint8_t)(n - 7);
    for (size_t i = 6; i < n; i++) {
        uint64_t r = lr_test_rand(seed);
        p[i] = (r & 7) == 0 ? 0xC0 : (r & 7) == 1 ? 0xDB : (uint8_t)(r >> 8);
    }
    return n;
}

TEST(asm_frame_is_marker_packet_and_crc)
{
    const uint8_t pkt[] = {0x08, 0x01, 0xC0, 0x00, 0x00, 0x02, 0xAA, 0xBB, 0xCC};
    uint8_t out[64];
    int64_t n = lr_serial_frame(LR_SERIAL_ASM, 0, pkt, sizeof pkt, out, sizeof out);
    CHECK_EQ(n, 4 + 9 + 2);
    CHECK(out[0] == 0x1A && out[1] == 0xCF && out[2] == 0xFC && out[3] == 0x1D);
    CHECK(memcmp(out + 4, pkt, sizeof pkt) == 0);
    uint16_t crc = lr_crc16_ccitt(0xFFFF, pkt, sizeof pkt);
    CHECK_EQ(out[13], crc >> 8);
    CHECK_EQ(out[14], crc & 0xFF);
}

TEST(kiss_frame_escapes_fend_and_fesc)
{
    const uint8_t pkt[] = {0x08, 0x01, 0xC0, 0x00, 0x00, 0x01, 0xC0, 0xDB};
    uint8_t out[64];
    int64_t n = lr_serial_frame(LR_SERIAL_KISS, 0, pkt, sizeof pkt, out, sizeof out);
    const uint8_t want[] = {0xC0, 0x00, 0x08, 0x01, 0xDB, 0xDC, 0x00, 0x00, 0x01, 0xDB, 0xDC, 0xDB, 0xDD, 0xC0};
    CHECK_EQ(n, sizeof want);
    CHECK(memcmp(out, want, sizeof want) == 0);
    n = lr_serial_frame(LR_SERIAL_SLIP, 0, pkt, sizeof pkt, out, sizeof out);
    CHECK_EQ(n, sizeof want - 1);
    CHECK(out[0] == 0xC0 && memcmp(out + 1, want + 2, sizeof want - 2) == 0);
}

TEST(frame_refuses_a_packet_whose_length_field_lies)
{
    uint8_t pkt[9] = {0x08, 0x01, 0xC0, 0x00, 0x00, 0x05, 1, 2, 3};
    uint8_t out[64];
    for (size_t i = 0; i < 3; i++)
        CHECK_EQ(lr_serial_frame(FRAMINGS[i], 0, pkt, sizeof pkt, out, sizeof out), LR_E_FORMAT);
    pkt[5] = 2;
    CHECK_EQ(lr_serial_frame(LR_SERIAL_ASM, 0, pkt, sizeof pkt, out, 10), LR_E_SPACE);
    CHECK_EQ(lr_serial_frame(7, 0, pkt, sizeof pkt, out, sizeof out), LR_E_ARG);
}

TEST(init_refuses_small_holding_buffer_and_bad_limits)
{
    struct lr_serial_deframer d;
    static uint8_t hold[MAXP + 16];
    CHECK_EQ(lr_serial_deframer_init(&d, LR_SERIAL_ASM, 0, MAXP, hold, MAXP), LR_E_ARG);
    CHECK_EQ(lr_serial_deframer_init(&d, LR_SERIAL_ASM, 0, 6, hold, sizeof hold), LR_E_ARG);
    CHECK_EQ(lr_serial_deframer_init(&d, 9, 0, MAXP, hold, sizeof hold), LR_E_ARG);
    CHECK_EQ(lr_serial_deframer_init(&d, LR_SERIAL_KISS, LR_SERIAL_CRC, MAXP, hold, sizeof hold), LR_OK);
}

/* A stream of good frames with hostile material between them; the good packets are
 * remembered in order in want/want_len. */
struct stream {
    uint8_t data[STREAM_CAP];
    size_t len;
    uint8_t want[STREAM_CAP];
    size_t want_len;
    size_t n_good;
};

static void append(struct stream *s, const uint8_t *p, size_t n)
{
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

/* Without a CRC a frame is judged by its length alone, so the hostile material is what such
 * a link can reject: console text, and a truncated frame closed by the next good one. */
static void build_stream(struct stream *s, int framing, uint32_t flags, uint64_t seed)
{
    static uint8_t pkt[MAXP], frame[2 * MAXP + 16];
    static const char console[] = "\r\nboot: flight computer ready\r\n";
    const int checked = framing == LR_SERIAL_ASM || (flags & LR_SERIAL_CRC);
    int next_good = 0;
    s->len = s->want_len = s->n_good = 0;
    while (s->len < STREAM_CAP - 3 * (2 * MAXP + 16) - 64) {
        uint64_t r = lr_test_rand(&seed);
        size_t n = make_packet(pkt, 7 + (size_t)(r % 300), (uint16_t)(r >> 20) & 0x7FF, &seed);
        int64_t f = lr_serial_frame(framing, flags, pkt, n, frame, sizeof frame);
        unsigned kind = next_good ? 7 : (unsigned)((r >> 40) % 8);
        if (!checked && (kind == 1 || kind == 3))
            kind = 2;
        next_good = 0;
        switch (kind) {
        case 0:                        /* a frame cut short: the next one starts inside it */
            append(s, frame, (size_t)f / 2);
            next_good = !checked;
            break;
        case 1:                        /* one bit flipped in the packet or the CRC */
            frame[5 + (r >> 48) % (size_t)(f - 6)] ^= (uint8_t)(1u << ((r >> 56) & 7));
            append(s, frame, (size_t)f);
            break;
        case 2:                        /* console text */
            append(s, (const uint8_t *)console, sizeof console - 1);
            break;
        case 3: {                      /* random garbage */
            size_t g = 1 + (r >> 48) % 40;
            for (size_t i = 0; i < g; i++)
                s->data[s->len++] = (uint8_t)lr_test_rand(&seed);
            break;
        }
        default:                       /* a good frame */
            append(s, frame, (size_t)f);
            memcpy(s->want + s->want_len, pkt, n);
            s->want_len += n;
            s->n_good++;
        }
    }
    /* a last good frame, so the hostile material before it is decided */
    size_t n = make_packet(pkt, 50, 0x123, &seed);
    int64_t f = lr_serial_frame(framing, flags, pkt, n, frame, sizeof frame);
    append(s, frame, (size_t)f);
    memcpy(s->want + s->want_len, pkt, n);
    s->want_len += n;
    s->n_good++;
}

static uint8_t got[STREAM_CAP];

/* Feed the stream in pieces of the given sizes (cycled); return the packets' octets. */
static size_t deframe_in_pieces(struct lr_serial_deframer *d, const struct stream *s, const size_t *pieces,
                                size_t n_pieces, size_t out_cap, int64_t *packets)
{
    size_t at = 0, got_len = 0, k = 0;
    *packets = 0;
    while (at < s->len) {
        size_t piece = pieces[k++ % n_pieces];
        if (piece > s->len - at)
            piece = s->len - at;
        size_t done = 0;
        while (done < piece) {
            size_t used = 0, out_len = 0;
            int64_t n = lr_serial_deframe(d, s->data + at + done, piece - done, &used, got + got_len,
                                          out_cap < STREAM_CAP - got_len ? out_cap : STREAM_CAP - got_len,
                                          &out_len);
            CHECK(n >= 0);
            *packets += n;
            got_len += out_len;
            done += used;
            if (used == 0 && n == 0)
                break;                 /* out too small: cannot happen with out_cap >= MAXP */
        }
        at += piece;
    }
    return got_len;
}

TEST(deframer_finds_every_good_packet_among_hostile_frames_however_split)
{
    static struct stream s;
    static uint8_t hold[MAXP + 16];
    const size_t splits[][4] = {{STREAM_CAP, 0, 0, 0}, {1, 1, 1, 1}, {3, 7, 1, 64}, {4096, 13, 700, 2}};
    const size_t n_splits[] = {1, 1, 4, 4};
    const uint32_t flags[] = {0, LR_SERIAL_CRC};
    for (size_t fi = 0; fi < 3; fi++)
        for (size_t ci = 0; ci < 2; ci++) {
            if (FRAMINGS[fi] == LR_SERIAL_ASM && ci)
                continue;
            build_stream(&s, FRAMINGS[fi], flags[ci], 77 + fi);
            for (size_t k = 0; k < 4; k++) {
                struct lr_serial_deframer d;
                CHECK_EQ(lr_serial_deframer_init(&d, FRAMINGS[fi], flags[ci], MAXP, hold, sizeof hold), LR_OK);
                int64_t packets;
                /* a small output buffer on one pass, so stopping early when out is full is tested */
                size_t got_len = deframe_in_pieces(&d, &s, splits[k], n_splits[k], k == 2 ? MAXP : STREAM_CAP,
                                                   &packets);
                CHECK_EQ(packets, s.n_good);
                CHECK_EQ(got_len, s.want_len);
                CHECK(memcmp(got, s.want, s.want_len) == 0);
                const struct lr_serial_counters *c = &d.counters;
                CHECK_EQ(c->packets, s.n_good);
                CHECK_EQ(c->octets_in, s.len);
                size_t held = FRAMINGS[fi] == LR_SERIAL_ASM ? d.hold_len : d.raw_len;
                CHECK_EQ(c->frame_octets + c->garbage_octets + held, c->octets_in);
                CHECK(c->garbage_octets > 0);
                if (FRAMINGS[fi] == LR_SERIAL_ASM) {
                    CHECK(c->truncated > 0);
                    CHECK(c->crc_errors > 0);
                }
            }
        }
}

TEST(deframer_counts_lengths_beyond_max_and_keeps_the_next_frame)
{
    static uint8_t hold[256], stream[4096], pkt[1024], out[1024];
    uint64_t seed = 5;
    for (size_t fi = 0; fi < 3; fi++) {
        size_t len = 0;
        size_t n = make_packet(pkt, 600, 0x10, &seed);     /* beyond max_packet 200 */
        len += (size_t)lr_serial_frame(FRAMINGS[fi], LR_SERIAL_CRC, pkt, n, stream + len, sizeof stream - len);
        n = make_packet(pkt, 100, 0x11, &seed);
        len += (size_t)lr_serial_frame(FRAMINGS[fi], LR_SERIAL_CRC, pkt, n, stream + len, sizeof stream - len);
        struct lr_serial_deframer d;
        CHECK_EQ(lr_serial_deframer_init(&d, FRAMINGS[fi], LR_SERIAL_CRC, 200, hold, sizeof hold), LR_OK);
        size_t used = 0, out_len = 0;
        CHECK_EQ(lr_serial_deframe(&d, stream, len, &used, out, sizeof out, &out_len), 1);
        CHECK_EQ(used, len);
        CHECK_EQ(out_len, 100);
        CHECK(memcmp(out, pkt, 100) == 0);
        CHECK(d.counters.length_errors >= 1);
    }
}

TEST(kiss_ignores_frames_for_other_commands_and_bad_escapes)
{
    static uint8_t hold[256];
    const uint8_t stream[] = {0xC0, 0x01, 0x20, 0xC0,                  /* TXDELAY command */
                              0xC0, 0x00, 0x08, 0x01, 0xDB, 0x41, 0xC0, /* a bad escape */
                              0xC0, 0x00, 0x08, 0x01, 0xDB, 0xDC, 0x00, 0x00, 0x00, 0x55, 0xC0};
    uint8_t out[64];
    struct lr_serial_deframer d;
    CHECK_EQ(lr_serial_deframer_init(&d, LR_SERIAL_KISS, 0, 200, hold, sizeof hold), LR_OK);
    size_t used = 0, out_len = 0;
    CHECK_EQ(lr_serial_deframe(&d, stream, sizeof stream, &used, out, sizeof out, &out_len), 1);
    CHECK_EQ(out_len, 7);
    CHECK_EQ(d.counters.escape_errors, 1);
    CHECK_EQ(d.counters.frame_octets + d.counters.garbage_octets + d.raw_len, sizeof stream);
}

int main(void)
{
    RUN(asm_frame_is_marker_packet_and_crc);
    RUN(kiss_frame_escapes_fend_and_fesc);
    RUN(frame_refuses_a_packet_whose_length_field_lies);
    RUN(init_refuses_small_holding_buffer_and_bad_limits);
    RUN(deframer_finds_every_good_packet_among_hostile_frames_however_split);
    RUN(deframer_counts_lengths_beyond_max_and_keeps_the_next_frame);
    RUN(kiss_ignores_frames_for_other_commands_and_bad_escapes);
    TEST_EXIT();
}
