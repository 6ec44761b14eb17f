/* Tests of lr_sync: ASM attachment, search at every bit offset with and without
 * errors, the inverted marker, check/lock/flywheel, streaming, kernels agreeing. */
#include "../lr_cpu.h"
#include "../lr_sync.h"
#include "lr_test.h"

#define ASM 0x1ACFFC1Du
#define FLEN 64
#define NF 12

static struct lr_sync_config config(void)
{
    struct lr_sync_config c = {.asm_word = ASM, .asm_bits = 32, .frame_len = FLEN, .search_errors = 2,
                               .lock_errors = 4, .check_frames = 1, .flywheel_frames = 2,
                               .byte_aligned = 0, .detect_inverted = 1, .kernel = LR_SYNC_AUTO};
    return c;
}

/* Shift a byte buffer right by `shift` bits (0..7) into out, which has n + 1 bytes. */
static void shift_bits(const uint8_t *in, size_t n, unsigned shift, uint8_t *out)
{
    unsigned carry = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)(carry | (in[i] >> shift));
        carry = shift ? (unsigned)(in[i] << (8 - shift)) & 0xFFu : 0;
    }
    out[n] = (uint8_t)carry;
}

static void flip_bit(uint8_t *buf, size_t bit)
{
    buf[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
}

static uint8_t frames[NF * FLEN], cadus[NF * (FLEN + 4) + 64], stream[sizeof cadus + 1];
static uint8_t out[NF * FLEN * 2];
static struct lr_sync_frame meta[NF * 2];

/* 7 bytes of noise, then NF CADUs, then the stream is shifted by `shift` bits. */
static size_t make_stream(unsigned shift, uint64_t seed)
{
    lr_test_fill(&seed, frames, sizeof frames);
    lr_test_fill(&seed, cadus, 7);
    for (int i = 0; i < 7; i++)
        cadus[i] &= 0x0F; /* no accidental marker in the prefix */
    CHECK_EQ(lr_asm_attach(ASM, FLEN, frames, sizeof frames, cadus + 7, sizeof cadus - 7),
             NF * (FLEN + 4));
    size_t n = 7 + NF * (FLEN + 4);
    shift_bits(cadus, n, shift, stream);
    return n + 1;
}

TEST(attach_puts_asm_before_each_frame)
{
    uint8_t f[6] = {1, 2, 3, 4, 5, 6}, c[20];
    CHECK_EQ(lr_asm_attach(ASM, 3, f, 6, c, 14), 14);
    CHECK_EQ(c[0], 0x1A);
    CHECK_EQ(c[3], 0x1D);
    CHECK_EQ(c[4], 1);
    CHECK_EQ(c[7], 0x1A);
    CHECK_EQ(c[13], 6);
    CHECK_EQ(lr_asm_attach(ASM, 3, f, 6, c, 13), LR_E_SPACE);
    CHECK_EQ(lr_asm_attach(ASM, 4, f, 6, c, 20), LR_E_FORMAT);
}

TEST(frames_found_at_every_bit_offset_on_every_kernel)
{
    for (int k = LR_SYNC_BITWISE; k <= LR_SYNC_VECTOR; k++)
        for (unsigned shift = 0; shift < 8; shift++) {
            size_t n = make_stream(shift, 100 + shift);
            struct lr_sync_config c = config();
            c.kernel = k;
            struct lr_sync s;
            size_t used;
            CHECK_EQ(lr_sync_init(&s, &c), LR_OK);
            int64_t r = lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used);
            CHECK_EQ(r, NF);
            CHECK(memcmp(out, frames, sizeof frames) == 0);
            for (int f = 0; f < NF; f++) {
                CHECK_EQ(meta[f].offset_bits, 56 + shift + (uint64_t)f * (FLEN + 4) * 8);
                CHECK_EQ(meta[f].asm_errors, 0);
                CHECK_EQ(meta[f].inverted, 0);
            }
            CHECK_EQ(meta[0].state, LR_SYNC_SEARCH);
            CHECK_EQ(meta[1].state, LR_SYNC_CHECK);
            CHECK_EQ(meta[2].state, LR_SYNC_LOCK);
            CHECK_EQ(s.locks, 1);
            CHECK_EQ(s.frames, NF);
        }
}

TEST(search_tolerates_configured_errors_only)
{
    size_t n = make_stream(3, 7);
    struct lr_sync_config c = config();
    struct lr_sync s;
    size_t used;
    /* Two errors in the first marker: found; three: the search takes the second. */
    flip_bit(stream, 56 + 3 + 1);
    flip_bit(stream, 56 + 3 + 30);
    lr_sync_init(&s, &c);
    CHECK_EQ(lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used), NF);
    CHECK_EQ(meta[0].asm_errors, 2);
    flip_bit(stream, 56 + 3 + 17);
    lr_sync_init(&s, &c);
    CHECK_EQ(lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used), NF - 1);
    CHECK_EQ(meta[0].offset_bits, 56 + 3 + (FLEN + 4) * 8);
    CHECK(memcmp(out, frames + FLEN, (NF - 1) * FLEN) == 0);
}

TEST(inverted_stream_is_detected_and_reinverted)
{
    size_t n = make_stream(5, 9);
    for (size_t i = 0; i < n; i++)
        stream[i] ^= 0xFF;
    struct lr_sync_config c = config();
    struct lr_sync s;
    size_t used;
    lr_sync_init(&s, &c);
    CHECK_EQ(lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used), NF);
    CHECK(memcmp(out, frames, sizeof frames) == 0);
    CHECK_EQ(meta[0].inverted, 1);
    CHECK_EQ(meta[NF - 1].inverted, 1);
    CHECK_EQ(s.inverted_frames, NF);
    c.detect_inverted = 0;
    lr_sync_init(&s, &c);
    CHECK_EQ(lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used), 0);
    CHECK_EQ(used, n * 8 - (32 + FLEN * 8) + 1);
}

TEST(flywheel_keeps_frames_then_drops_to_search)
{
    size_t n = make_stream(0, 11);
    struct lr_sync_config c = config();
    struct lr_sync s;
    size_t used;
    size_t asm0 = 56;
    /* Frame 4's marker destroyed: delivered by the flywheel. */
    for (int b = 0; b < 32; b += 2)
        flip_bit(stream, asm0 + 4 * (FLEN + 4) * 8 + (size_t)b);
    lr_sync_init(&s, &c);
    CHECK_EQ(lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used), NF);
    CHECK_EQ(meta[4].state, LR_SYNC_FLYWHEEL);
    CHECK_EQ(meta[5].state, LR_SYNC_LOCK);
    CHECK(memcmp(out, frames, sizeof frames) == 0);
    CHECK_EQ(s.flywheel_frames, 1);
    CHECK_EQ(s.sync_losses, 0);
    /* Frames 7, 8, 9 missing their markers too: 7 and 8 flywheel, 9 is a sync loss,
     * and the search finds frame 10. */
    for (int f = 7; f <= 9; f++)
        for (int b = 0; b < 32; b += 2)
            flip_bit(stream, asm0 + (size_t)f * (FLEN + 4) * 8 + (size_t)b);
    lr_sync_init(&s, &c);
    CHECK_EQ(lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used), NF - 1);
    CHECK_EQ(meta[7].state, LR_SYNC_FLYWHEEL);
    CHECK_EQ(meta[8].state, LR_SYNC_FLYWHEEL);
    CHECK_EQ(meta[9].state, LR_SYNC_SEARCH);
    CHECK_EQ(meta[9].offset_bits, asm0 + 10 * (FLEN + 4) * 8);
    CHECK_EQ(s.sync_losses, 1);
    CHECK(memcmp(out + 9 * FLEN, frames + 10 * FLEN, FLEN) == 0);
}

TEST(failed_check_returns_to_search)
{
    size_t n = make_stream(2, 13);
    struct lr_sync_config c = config();
    c.check_frames = 2;
    struct lr_sync s;
    size_t used;
    for (int b = 0; b < 32; b += 2)
        flip_bit(stream, 56 + 2 + 1 * (FLEN + 4) * 8 + (size_t)b);
    lr_sync_init(&s, &c);
    int64_t r = lr_sync_process(&s, stream, 0, n * 8, out, sizeof out, meta, NF * 2, &used);
    CHECK_EQ(r, NF - 1);
    CHECK_EQ(s.checks_failed, 1);
    CHECK_EQ(meta[1].state, LR_SYNC_SEARCH);
    CHECK_EQ(meta[1].offset_bits, 56 + 2 + 2 * (FLEN + 4) * 8);
    CHECK_EQ(meta[3].state, LR_SYNC_CHECK);
    CHECK_EQ(meta[4].state, LR_SYNC_LOCK);
}

TEST(streaming_in_small_pieces_matches_one_call)
{
    size_t n = make_stream(6, 17);
    struct lr_sync_config c = config();
    struct lr_sync s;
    static uint8_t work[sizeof stream + 64], got[sizeof out];
    size_t have = 0, first = 0, fed = 0, n_got = 0;
    uint64_t seed = 1;
    lr_sync_init(&s, &c);
    while (fed < n) {
        size_t piece = 1 + lr_test_rand(&seed) % 50;
        if (piece > n - fed)
            piece = n - fed;
        memcpy(work + have, stream + fed, piece);
        have += piece;
        fed += piece;
        size_t used;
        struct lr_sync_frame m[4];
        int64_t r = lr_sync_process(&s, work, first, have * 8 - first, got + n_got * FLEN,
                                    sizeof got - n_got * FLEN, m, 4, &used);
        CHECK(r >= 0);
        for (int64_t i = 0; i < r; i++)
            CHECK_EQ(m[i].offset_bits, 56 + 6 + (uint64_t)(n_got + (size_t)i) * (FLEN + 4) * 8);
        n_got += (size_t)r;
        size_t drop = (first + used) / 8;
        first = (first + used) % 8;
        memmove(work, work + drop, have - drop);
        have -= drop;
    }
    CHECK_EQ(n_got, NF);
    CHECK(memcmp(got, frames, sizeof frames) == 0);
}

/* Frames found in buf[0..n) fed as two pieces split at octet `split` (n: one call). */
static size_t sync_in_two_pieces(const struct lr_sync_config *c, const uint8_t *buf, size_t n,
                                 size_t split, uint64_t *offsets, size_t max)
{
    static uint8_t work[2048], got[NF * 2 * FLEN];
    struct lr_sync s;
    struct lr_sync_frame m[NF * 2];
    size_t have = 0, first = 0, n_got = 0, fed = 0;
    lr_sync_init(&s, c);
    for (int piece = 0; piece < 2; piece++) {
        size_t upto = piece == 0 ? split : n, used;
        memcpy(work + have, buf + fed, upto - fed);
        have += upto - fed;
        fed = upto;
        int64_t r = lr_sync_process(&s, work, first, have * 8 - first, got, sizeof got, m, NF * 2, &used);
        CHECK(r >= 0);
        for (int64_t i = 0; i < r && n_got < max; i++)
            offsets[n_got++] = m[i].offset_bits;
        size_t drop = (first + used) / 8;
        first = (first + used) % 8;
        memmove(work, work + drop, have - drop);
        have -= drop;
    }
    return n_got;
}

/* A false marker shortly before the real CADUs: the failed check must search again
 * from just after it even when an earlier call already delivered its frame. */
TEST(failed_check_rewinds_the_same_however_the_stream_is_split)
{
    static uint8_t buf[16 + NF * (FLEN + 4)];
    static uint8_t cad[NF * (FLEN + 4)];
    uint64_t seed = 5, whole[NF * 2], part[NF * 2];
    memset(buf, 0, sizeof buf);
    buf[3] = 0x1A, buf[4] = 0xCF, buf[5] = 0xFC, buf[6] = 0x1D; /* the false marker */
    lr_test_fill(&seed, frames, sizeof frames);
    CHECK_EQ(lr_asm_attach(ASM, FLEN, frames, sizeof frames, cad, sizeof cad), (int64_t)sizeof cad);
    memcpy(buf + 16, cad, sizeof cad);
    for (uint32_t check = 1; check <= 3; check++) {
        struct lr_sync_config c = config();
        c.check_frames = check;
        c.detect_inverted = 0;
        size_t n_whole = sync_in_two_pieces(&c, buf, sizeof buf, sizeof buf, whole, NF * 2);
        CHECK_EQ(n_whole, NF + 1); /* the false marker's frame, then every real one */
        CHECK_EQ(whole[1], 16 * 8);
        for (size_t split = 1; split < sizeof buf; split += 3) {
            size_t n_part = sync_in_two_pieces(&c, buf, sizeof buf, split, part, NF * 2);
            CHECK_EQ(n_part, n_whole);
            CHECK(memcmp(part, whole, n_whole * sizeof whole[0]) == 0);
        }
    }
}

TEST(kernels_agree_on_noisy_random_streams)
{
    static uint8_t buf[4096];
    uint64_t seed = 23;
    for (int round = 0; round < 60; round++) {
        lr_test_fill(&seed, buf, sizeof buf);
        for (int m = 0; m < 6; m++) { /* plant markers with up to 3 errors, some inverted */
            size_t q = lr_test_rand(&seed) % (sizeof buf * 8 - 40);
            uint32_t word = ASM ^ (lr_test_rand(&seed) & 1 ? 0xFFFFFFFFu : 0);
            for (int e = (int)(lr_test_rand(&seed) % 4); e > 0; e--)
                word ^= 1u << (lr_test_rand(&seed) % 32);
            for (int b = 0; b < 32; b++)
                if (((word >> (31 - b)) & 1u) != ((buf[(q + (size_t)b) / 8] >> (7 - (q + (size_t)b) % 8)) & 1u))
                    flip_bit(buf, q + (size_t)b);
        }
        struct lr_sync_config c = config();
        c.byte_aligned = (unsigned)(round % 3 == 0);
        c.detect_inverted = (unsigned)(round % 2);
        size_t from = 0, to = sizeof buf * 8 - 32;
        while (from <= to) {
            int64_t want = -2;
            uint32_t we = 0;
            int wi = 0;
            for (int k = LR_SYNC_BITWISE; k <= LR_SYNC_VECTOR; k++) {
                c.kernel = k;
                uint32_t e = 99;
                int inv = -1;
                int64_t q = lr_sync_find(&c, buf, from, to, 3, &e, &inv);
                if (k == LR_SYNC_BITWISE) {
                    want = q;
                    we = e;
                    wi = inv;
                } else {
                    CHECK_EQ(q, want);
                    if (q >= 0) {
                        CHECK_EQ(e, we);
                        CHECK_EQ(inv, wi);
                    }
                }
            }
            if (want > (int64_t)to)
                break;
            from = (size_t)want + 1;
        }
    }
}

TEST(soft_symbols_pack_msb_first)
{
    int8_t soft[77];
    uint8_t packed[10], want[10] = {0};
    uint64_t seed = 31;
    for (int i = 0; i < 77; i++) {
        soft[i] = (int8_t)(lr_test_rand(&seed) >> 56);
        if (soft[i] > 0)
            want[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    }
    for (int level = LR_SIMD_PORTABLE; level <= lr_simd_supported(); level++) {
        lr_simd_force(level);
        memset(packed, 0xAA, sizeof packed);
        CHECK_EQ(lr_sync_pack_soft(soft, 77, packed, 10), 10);
        CHECK(memcmp(packed, want, 10) == 0);
    }
    lr_simd_force(-1);
    CHECK_EQ(lr_sync_pack_soft(soft, 77, packed, 9), LR_E_SPACE);
}

TEST(bad_configuration_and_garbage_are_handled)
{
    struct lr_sync s;
    struct lr_sync_config c = config();
    size_t used;
    c.asm_bits = 33;
    CHECK_EQ(lr_sync_init(&s, &c), LR_E_ARG);
    c = config();
    c.search_errors = 16;
    CHECK_EQ(lr_sync_init(&s, &c), LR_E_ARG);
    c = config();
    c.frame_len = 0;
    CHECK_EQ(lr_sync_init(&s, &c), LR_E_ARG);
    c = config();
    c.asm_bits = 24;
    CHECK_EQ(lr_sync_init(&s, &c), LR_E_ARG); /* 0x1ACFFC1D does not fit 24 bits */
    c.asm_word = 0xFAF320;                    /* the Proximity-1 marker */
    CHECK_EQ(lr_sync_init(&s, &c), LR_OK);
    CHECK_EQ(lr_sync_process(&s, stream, 8, 100, out, sizeof out, meta, 4, &used), LR_E_ARG);
    CHECK_EQ(lr_sync_process(&s, stream, 0, 100, out, FLEN - 1, meta, 4, &used), LR_E_SPACE);
    uint32_t e;
    int inv;
    CHECK_EQ(lr_sync_find(&c, stream, 50, 10, 0, &e, &inv), 11);
    CHECK_EQ(lr_sync_find(&c, stream, 0, 10, 12, &e, &inv), LR_E_ARG);
    static uint8_t junk[3000];
    uint64_t seed = 77;
    for (int round = 0; round < 100; round++) {
        size_t n = lr_test_rand(&seed) % sizeof junk;
        lr_test_fill(&seed, junk, n);
        c = config();
        c.frame_len = 1 + (uint32_t)(lr_test_rand(&seed) % 200);
        c.search_errors = (uint32_t)(lr_test_rand(&seed) % 10);
        c.check_frames = (uint32_t)(lr_test_rand(&seed) % 3);
        c.flywheel_frames = (uint32_t)(lr_test_rand(&seed) % 3);
        CHECK_EQ(lr_sync_init(&s, &c), LR_OK);
        size_t first = lr_test_rand(&seed) % 8;
        size_t bits = n * 8 > first ? n * 8 - first : 0;
        int64_t r = lr_sync_process(&s, junk, first, bits, out, sizeof out, meta, NF * 2, &used);
        CHECK(r >= 0);
        CHECK(used <= bits);
    }
}

int main(void)
{
    RUN(attach_puts_asm_before_each_frame);
    RUN(frames_found_at_every_bit_offset_on_every_kernel);
    RUN(search_tolerates_configured_errors_only);
    RUN(inverted_stream_is_detected_and_reinverted);
    RUN(flywheel_keeps_frames_then_drops_to_search);
    RUN(failed_check_returns_to_search);
    RUN(streaming_in_small_pieces_matches_one_call);
    RUN(failed_check_rewinds_the_same_however_the_stream_is_split);
    RUN(kernels_agree_on_noisy_random_streams);
    RUN(soft_symbols_pack_msb_first);
    RUN(bad_configuration_and_garbage_are_handled);
    TEST_EXIT();
}
