/*
 * lr_sync.h - TM frame synchronisation on the Attached Sync Marker (CCSDS 131.0-B-4 §9).
 *
 * A CADU is the 32-bit ASM 1ACFFC1D followed by a fixed-length (coded) frame
 * (§9.3, §9.4).  lr_asm_attach builds CADUs.  The synchroniser finds them again in
 * a stream of packed bits (MSB first, at any bit alignment) or, with byte_aligned,
 * at octet boundaries only.  Soft symbols are first sliced to packed bits with
 * lr_sync_pack_soft.
 *
 * The synchroniser is the usual four-state machine (the frame synchroniser of
 * CCSDS 130.1-G and of ground-station practice; 131.0-B-4 leaves it to the
 * implementation):
 *   SEARCH    every bit (or octet) offset is tried; an ASM with at most
 *             search_errors differing bits is a hit.  With detect_inverted, the
 *             complement of the ASM is a hit too (BPSK 180-degree ambiguity): the
 *             frames that follow are re-inverted and reported as inverted.
 *   CHECK     the next check_frames ASMs must each be where expected, with at most
 *             lock_errors errors; one miss returns to SEARCH just after the ASM
 *             that started the check.
 *   LOCK      ASMs are where expected.
 *   FLYWHEEL  after a miss in LOCK the frame is still delivered at the expected
 *             place; a hit returns to LOCK, and more than flywheel_frames misses in
 *             a row is a sync loss: the synchroniser returns to SEARCH there.
 * Every frame is delivered with the state that accepted it (SEARCH for the frame
 * whose marker ended a search, CHECK while confirming, LOCK when locked, FLYWHEEL
 * for a frame delivered without its marker), its stream bit offset, its marker's
 * bit errors and whether it was inverted.
 *
 * Streaming: lr_sync_process consumes what it can and says how many bits it used
 * (*consumed); the caller keeps the rest and passes it again, followed by new
 * data, on the next call.  A frame is only delivered once its last bit is present.
 * In CHECK the bits after the marker before the expected one are not consumed
 * (skip_bits records how far to pass over them), because a failed check searches
 * again from there: the frames found never depend on how the stream was split.
 * The state struct holds the machine, the counters and the stream position; the
 * data is never retained.
 *
 * Buffers: the caller owns every buffer; nothing is retained after return.
 *
 * Return codes: lr_sync_init returns LR_OK or LR_E_ARG for a bad configuration.
 * lr_sync_process returns the frames delivered (>= 0), LR_E_ARG for a bad
 * configuration or a first_bit above 7, LR_E_SPACE if out or meta cannot hold a
 * single frame.  lr_sync_find returns an offset as described there, or LR_E_ARG.
 * lr_asm_attach returns the octets written, LR_E_ARG for a zero frame length,
 * LR_E_FORMAT if the input is not whole frames, LR_E_SPACE if out is too small.
 * lr_sync_pack_soft returns the octets written or LR_E_SPACE.
 */
#ifndef LR_SYNC_H
#define LR_SYNC_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_sync_state_id {
    LR_SYNC_SEARCH = 0,
    LR_SYNC_CHECK = 1,
    LR_SYNC_LOCK = 2,
    LR_SYNC_FLYWHEEL = 3
};

enum lr_sync_kernel {
    LR_SYNC_AUTO = 0,    /* fastest search for this CPU (see lr_cpu.h) */
    LR_SYNC_BITWISE = 1, /* extract and compare the marker at each offset: the reference */
    LR_SYNC_WINDOW = 2,  /* portable scalar: one 64-bit window per octet, eight offsets from it */
    LR_SYNC_AVX2 = 3,    /* 64 offsets per step with AVX2 (falls back to LR_SYNC_VECTOR) */
    LR_SYNC_VECTOR = 4   /* portable: 64 offsets per step in GNU C vectors (the target's own SIMD) */
};

struct lr_sync_config {
    uint32_t asm_word;        /* the marker in the low asm_bits bits: 0x1ACFFC1D */
    uint32_t asm_bits;        /* 8 .. 32 */
    uint32_t frame_len;       /* octets after each marker, >= 1 */
    uint32_t search_errors;   /* marker bit errors accepted in SEARCH (2 * errors < asm_bits) */
    uint32_t lock_errors;     /* ... in CHECK, LOCK and FLYWHEEL (2 * errors < asm_bits) */
    uint32_t check_frames;    /* markers confirmed in CHECK before LOCK; 0 locks at once */
    uint32_t flywheel_frames; /* misses in a row tolerated in LOCK before a sync loss */
    uint32_t byte_aligned;    /* 1: search octet boundaries only */
    uint32_t detect_inverted; /* 1: accept the complemented marker and re-invert the frames */
    int32_t kernel;           /* enum lr_sync_kernel; AUTO is AVX2 or else VECTOR */
};

struct lr_sync {
    struct lr_sync_config cfg;
    int32_t state;            /* enum lr_sync_state_id */
    int32_t inverted;         /* the current frames are complemented */
    uint32_t run;             /* CHECK: markers confirmed; FLYWHEEL: misses in a row */
    uint32_t skip_bits;       /* CHECK: input bits held back for a rewind, to pass over next call */
    uint64_t stream_bits;     /* bits consumed since init: the stream offset of the next input */
    /* counters */
    uint64_t frames;          /* frames delivered */
    uint64_t flywheel_frames; /* frames delivered without their marker */
    uint64_t inverted_frames; /* frames delivered re-inverted */
    uint64_t asm_bit_errors;  /* marker bit errors in delivered frames */
    uint64_t searches_won;    /* markers found by SEARCH */
    uint64_t checks_failed;   /* CHECK misses (returned to SEARCH) */
    uint64_t locks;           /* entries to LOCK from CHECK (or SEARCH when check_frames is 0) */
    uint64_t sync_losses;     /* LOCK/FLYWHEEL given up for SEARCH */
};

struct lr_sync_frame {
    uint64_t offset_bits;     /* stream bit offset of the frame's marker */
    uint32_t asm_errors;      /* bits of the marker that differ (from its complement if inverted) */
    uint8_t inverted;         /* the frame was complemented back */
    uint8_t state;            /* enum lr_sync_state_id that accepted the frame */
    uint16_t reserved;
};

/* Check cfg and start in SEARCH with zeroed counters. */
int lr_sync_init(struct lr_sync *s, const struct lr_sync_config *cfg);

/* Run the synchroniser over n_bits bits of in starting at bit first_bit (0..7) of
 * in[0].  Frames (frame_len octets each, without marker, re-inverted if needed) go
 * to out one after the other, their descriptions to meta.  Stops when out or meta
 * is full or too little input is left; *consumed is the number of bits used.
 * Returns the number of frames delivered. */
int64_t lr_sync_process(struct lr_sync *s, const uint8_t *in, size_t first_bit, size_t n_bits,
                        uint8_t *out, size_t n_out, struct lr_sync_frame *meta, size_t n_meta,
                        size_t *consumed);

/* First offset q in [from, to] (bits from in[0] bit 0) where the marker matches
 * with at most max_errors errors (or its complement, if detect_inverted).
 * in holds at least (to + asm_bits + 7) / 8 octets.  Returns q, or to + 1 if there
 * is none, or LR_E_ARG for a bad configuration; *errors and *inverted describe the
 * hit.  Used by lr_sync_process and benches. */
int64_t lr_sync_find(const struct lr_sync_config *cfg, const uint8_t *in, size_t from, size_t to,
                     uint32_t max_errors, uint32_t *errors, int *inverted);

/* Write CADUs: each frame_len-octet frame of in, preceded by the 4-octet ASM.
 * n_in must be a multiple of frame_len.  Returns the octets written. */
int64_t lr_asm_attach(uint32_t asm_word, size_t frame_len, const uint8_t *in, size_t n_in,
                      uint8_t *out, size_t n_out);

/* Slice soft symbols (positive is bit 1, as gr-satellites slices) into packed bits,
 * MSB first; the last octet is padded with zeros.  Returns the octets written. */
int64_t lr_sync_pack_soft(const int8_t *in, size_t n_in, uint8_t *out, size_t n_out);
/* LR_CDEF_END */

#endif /* LR_SYNC_H */
