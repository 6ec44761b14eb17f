/* libFuzzer target: the ASM frame synchroniser (lr_sync.h), CCSDS 131.0-B-4 §9.
 * Arbitrary configurations (valid or not) and streams, hard bits or soft symbols,
 * fed in arbitrary pieces with the state carried across calls: every search kernel
 * must deliver the same frames as the bitwise reference fed the same pieces, and
 * the same frames as one call over the whole stream (in CHECK the synchroniser
 * holds back the bits a failed check rewinds to, so splits never matter). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_sync.h"

#define MAX_FRAMES 64
#define MAX_OUT 4096

struct run {
    struct lr_sync s;
    uint8_t out[MAX_OUT];
    struct lr_sync_frame meta[MAX_FRAMES];
    size_t frames;
};

static int same_frames(const struct run *a, const struct run *b, size_t frame_len)
{
    if (a->frames != b->frames || memcmp(a->out, b->out, a->frames * frame_len))
        return 0;
    for (size_t i = 0; i < a->frames; i++) {
        const struct lr_sync_frame *x = &a->meta[i], *y = &b->meta[i];
        if (x->offset_bits != y->offset_bits || x->asm_errors != y->asm_errors ||
            x->inverted != y->inverted || x->state != y->state)
            return 0;
    }
    return a->s.state == b->s.state && a->s.frames == b->s.frames && a->s.locks == b->s.locks &&
           a->s.sync_losses == b->s.sync_losses && a->s.asm_bit_errors == b->s.asm_bit_errors;
}

/* Feed bits [first, first + n_bits) of in, cutting the stream where cuts says and
 * re-offering what a call did not consume. */
static void feed(struct run *r, const uint8_t *in, size_t first, size_t n_bits, const uint8_t *cuts,
                 size_t n_cuts)
{
    size_t pos = first, end = first + n_bits, c = 0, frame_len = r->s.cfg.frame_len;
    r->frames = 0;
    while (pos < end) {
        size_t limit = end;
        if (c < n_cuts) {
            limit = pos + 1 + (size_t)cuts[c++] * 3;
            if (limit > end)
                limit = end;
        }
        size_t room = (MAX_OUT / frame_len < MAX_FRAMES ? MAX_OUT / frame_len : MAX_FRAMES) - r->frames;
        size_t consumed = (size_t)-1;
        int64_t k = lr_sync_process(&r->s, in + pos / 8, pos % 8, limit - pos, r->out + r->frames * frame_len,
                                    room * frame_len, r->meta + r->frames, room, &consumed);
        if (k < 0 || (size_t)k > room || consumed > limit - pos)
            abort();
        for (int64_t i = 0; i < k; i++) { /* every frame lies inside the bits consumed or held back */
            uint64_t at = r->meta[r->frames + (size_t)i].offset_bits;
            if (at + r->s.cfg.asm_bits + 8 * (uint64_t)frame_len > r->s.stream_bits + r->s.skip_bits)
                abort();
        }
        r->frames += (size_t)k;
        pos += consumed;
        if ((size_t)k == room || (!consumed && limit == end))
            break; /* output full, or too little input left */
    }
}

static struct run ref, other, whole; /* bitwise and fuzzed kernel in the same pieces; bitwise in one call */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t packed[MAX_OUT];
    if (size < 12)
        return 0;
    struct lr_sync_config cfg = {
        .asm_word = 0x1ACFFC1Du ^ (data[0] & 0x80 ? (uint32_t)data[1] << 24 | (uint32_t)data[2] << 8 : 0u),
        .asm_bits = 6 + data[3] % 30u,        /* 6 .. 35: some invalid */
        .frame_len = data[4] % 40u,           /* 0 is invalid */
        .search_errors = data[5] & 7u,
        .lock_errors = (data[5] >> 3) & 7u,
        .check_frames = data[6] & 3u,
        .flywheel_frames = (data[6] >> 2) & 3u,
        .byte_aligned = (data[6] >> 4) & 1u,
        .detect_inverted = (data[6] >> 5) & 1u,
        .kernel = data[7] % 6,                 /* 5 is invalid */
    };
    int soft = data[0] & 1;
    size_t first = data[8] & 7u, n_cuts = data[9] & 15u;
    const uint8_t *cuts = data + 10;
    data += 10;
    size -= 10;
    if (n_cuts > size)
        n_cuts = size;
    data += n_cuts;
    size -= n_cuts;

    const uint8_t *stream = data;
    size_t n_bits = size * 8;
    if (soft) { /* one soft symbol per input octet, sliced */
        size_t n = size < 8 * MAX_OUT ? size : 8 * MAX_OUT;
        if (lr_sync_pack_soft((const int8_t *)data, n, packed, sizeof packed) != (int64_t)((n + 7) / 8))
            abort();
        for (size_t i = 0; i < n; i++) /* positive is bit 1, MSB first */
            if (((packed[i / 8] >> (7 - i % 8)) & 1) != ((int8_t)data[i] > 0))
                abort();
        stream = packed;
        n_bits = n;
    }
    if (first > n_bits)
        first = n_bits;
    n_bits -= first;

    int rc = lr_sync_init(&other.s, &cfg);
    struct lr_sync_config bitwise = cfg;
    bitwise.kernel = LR_SYNC_BITWISE;
    int rc_ref = lr_sync_init(&ref.s, &bitwise);
    lr_sync_init(&whole.s, &bitwise);
    if (cfg.kernel == 5 ? rc != LR_E_ARG : rc != rc_ref)
        abort(); /* only an unknown kernel makes validity depend on the kernel */
    if (rc < 0 || rc_ref < 0)
        return 0;
    feed(&ref, stream, first, n_bits, cuts, n_cuts);
    feed(&other, stream, first, n_bits, cuts, n_cuts);
    if (!same_frames(&ref, &other, cfg.frame_len))
        abort();
    feed(&whole, stream, first, n_bits, NULL, 0);
    if (!same_frames(&ref, &whole, cfg.frame_len))
        abort();

    /* lr_sync_find over a window inside the stream. */
    if (n_bits >= cfg.asm_bits) {
        size_t to = n_bits - cfg.asm_bits, from = (size_t)cuts[0] % (to + 1);
        uint32_t errors = 99;
        int inverted = -1;
        int64_t q = lr_sync_find(&cfg, stream, from, to, cfg.search_errors, &errors, &inverted);
        if (q < (int64_t)from || q > (int64_t)to + 1)
            abort();
        if (q <= (int64_t)to && (errors > cfg.search_errors || (inverted && !cfg.detect_inverted)))
            abort();
    }
    return 0;
}
