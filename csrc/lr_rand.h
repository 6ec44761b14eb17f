/*
 * lr_rand.h - the CCSDS pseudo-randomizers (TM and TC).
 *
 * TM (CCSDS 131.0-B-4 §10.4): h(x) = x^8 + x^7 + x^5 + x^3 + 1, register preset to
 * all ones at the start of each CADU's frame (the ASM is not randomized).  The
 * sequence begins FF 48 0E C0 9A 0D 70 BC 8E 2C 93 AD A7 B7 46 CE.
 * TC (CCSDS 231.0-B-4 §6): h(x) = x^8 + x^6 + x^4 + x^3 + x^2 + x + 1, preset to
 * all ones at the start of each transfer frame; it begins FF 39 9E 5A 68 E9 06 F5.
 * Both sequences repeat every 255 bits, hence every 255 bytes.  Randomizing and
 * derandomizing are the same XOR.
 *
 * Buffers: the caller owns every buffer; out may equal in (in place); nothing is
 * retained after return.
 *
 * Return codes: a count of bytes written (>= 0), LR_E_ARG for an unknown sequence
 * or a zero frame length, LR_E_FORMAT if the input is not a whole number of
 * frames, LR_E_SPACE if out is shorter than in.
 */
#ifndef LR_RAND_H
#define LR_RAND_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_rand_sequence {
    LR_RAND_TM = 0, /* CCSDS 131.0-B-4 §10 */
    LR_RAND_TC = 1  /* CCSDS 231.0-B-4 §6 */
};

enum lr_rand_kernel {
    LR_RAND_AUTO = 0,    /* fastest kernel for this CPU (see lr_cpu.h) */
    LR_RAND_LFSR = 1,    /* the shift register run bit by bit: the reference */
    LR_RAND_WORDS = 2,   /* portable: XOR with a stored period, in runs the compiler vectorizes */
    LR_RAND_AVX2 = 3     /* 32-byte XOR, x86-64 with AVX2 (falls back to LR_RAND_WORDS) */
};

/* XOR the sequence, starting at its byte `phase` (0 = the first byte), into n_in
 * bytes of in, writing out.  Returns n_in. */
int64_t lr_rand_apply(int sequence, int kernel, size_t phase, const uint8_t *in, size_t n_in,
                      uint8_t *out, size_t n_out);

/* (De)randomize consecutive frames of frame_len bytes: the first `skip` bytes of
 * each frame (the ASM of a CADU, 4) are copied unchanged and the sequence restarts
 * at the byte after them.  n_in must be a multiple of frame_len.  Returns n_in. */
int64_t lr_rand_frames(int sequence, int kernel, size_t frame_len, size_t skip, const uint8_t *in,
                       size_t n_in, uint8_t *out, size_t n_out);
/* LR_CDEF_END */

#endif /* LR_RAND_H */
