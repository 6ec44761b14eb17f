/*
 * lr_conv.h - CCSDS convolutional code K=7, r=1/2, its punctured rates, and a
 * soft-decision Viterbi decoder.
 *
 * Code (CCSDS 131.0-B-4 §3.3): constraint length 7, connection vectors
 * G1 = 171 octal (taps on u[t], u[t-1], u[t-2], u[t-3], u[t-6]) and
 * G2 = 133 octal (taps on u[t], u[t-2], u[t-3], u[t-5], u[t-6]), output order
 * C1(1) C2(1) C1(2) C2(2) ..., and the C2 symbol inverted on the basic rate-1/2
 * code.  In libfec's notation (newest bit in the LSB of the shift register) G1
 * is V27POLYB = 0x4f and G2 is V27POLYA = 0x6d.
 *
 * Punctured rates (CCSDS 131.0-B-4 §3.4, table 3-1): the encoder is the same
 * code, and the symbols marked 0 below are not transmitted (one column per
 * information bit, C1 above C2):
 *   2/3  C1: 1 0          C2: 1 1          sent: C1(1) C2(1) C2(2)
 *   3/4  C1: 1 0 1        C2: 1 1 0        sent: C1(1) C2(1) C2(2) C1(3)
 *   5/6  C1: 1 0 1 0 1    C2: 1 1 0 1 0    sent: C1(1) C2(1) C2(2) C1(3) C2(4) C1(5)
 *   7/8  C1: 1 0 0 0 1 0 1  C2: 1 1 1 1 0 1 0
 * The punctured encoder of §3.4 (figure 3-2) has no symbol inverter, so the
 * encoder and decoder take an invert_g2 flag: 1 for rate 1/2, 0 for the
 * punctured rates.
 *
 * Soft symbols: one uint8_t per code symbol, offset binary as libfec's
 * viterbi27 takes them: 0 = certain '0', 255 = certain '1',
 * LR_CONV_ERASURE (128) = no information.  The decoder folds 127 and 128
 * together, so an erasure weighs exactly nothing.  Hard bits given as 0/255
 * are the strongest soft symbols.  GNU Radio's decode_ccsds_27_fb and
 * gr-satellites carry soft symbols as floats with the same sense (negative
 * = '0', positive = '1', 0.0 = erasure); byte = clip(127.5 + scale * x).
 *
 * Viterbi decoder: 64 states, path metrics on 16 bits with renormalisation,
 * branch metrics from the full 8-bit soft symbols, traceback depth chosen at
 * init (LR_VITERBI27_DEPTH_DEFAULT is plenty for rate 1/2; use more, e.g.
 * 192, for 7/8).  It runs streaming: each update consumes soft symbols and
 * writes the decoded bits whose traceback is complete; finish writes the rest.
 * The AVX2 and portable kernels (chosen by lr_simd_level()) compute the same
 * arithmetic and give identical output.
 *
 * Buffers: the caller owns every buffer and every state struct (the struct
 * holds the decision history, about 16 KiB); nothing is retained after return
 * except what the struct holds.  Decoded bits are written one per byte (0 or 1).
 *
 * Return codes: a count of items written (>= 0), or
 *   LR_E_ARG    an argument is out of range (rate, state, depth, NULL struct);
 *   LR_E_SPACE  the output buffer is smaller than the documented bound; nothing
 *               was consumed and the state is unchanged.
 */
#ifndef LR_CONV_H
#define LR_CONV_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_conv_const {
    LR_CONV_ERASURE = 128,            /* soft value of a punctured (not sent) symbol */
    LR_CONV_TAIL_BITS = 6,            /* zero bits that return the encoder to state 0 */
    LR_VITERBI27_RING = 2048,         /* steps of decision history held in the struct */
    LR_VITERBI27_DEPTH_DEFAULT = 96,  /* traceback depth */
    LR_VITERBI27_DEPTH_MAX = 1024
};

enum lr_conv_rate {
    LR_CONV_R1_2 = 0,
    LR_CONV_R2_3 = 1,
    LR_CONV_R3_4 = 2,
    LR_CONV_R5_6 = 3,
    LR_CONV_R7_8 = 4
};

enum lr_conv_kernel {
    LR_CONV_ENC_AUTO = 0,      /* fastest encoder */
    LR_CONV_ENC_BITSERIAL = 1, /* one shift-register step per bit: the reference */
    LR_CONV_ENC_WORD = 2       /* 64 bits at a time by shifted XORs */
};

/* Encoder state: the last six input bits (newest in bit 0). */
struct lr_conv_enc {
    uint32_t reg;
    uint32_t invert_g2;
};

int lr_conv_enc_init(struct lr_conv_enc *enc, int invert_g2);

/* Encode n_in packed bytes (MSB first) into 2*n_in packed bytes of code
 * symbols (first symbol in the MSB).  Returns 2*n_in. */
int64_t lr_conv_encode(struct lr_conv_enc *enc, const uint8_t *in, size_t n_in, uint8_t *out,
                       size_t n_out);
int64_t lr_conv_encode_kernel(int kernel, struct lr_conv_enc *enc, const uint8_t *in, size_t n_in,
                              uint8_t *out, size_t n_out);

/* Encode n_in packed bytes into 16*n_in soft symbols (0 or 255).  Returns 16*n_in. */
int64_t lr_conv_encode_soft(struct lr_conv_enc *enc, const uint8_t *in, size_t n_in, uint8_t *out,
                            size_t n_out);

/* Encode the six zero tail bits: 12 symbols, each 0/255 if soft else 0/1.
 * The encoder is then in state 0.  Returns 12. */
int64_t lr_conv_encode_tail(struct lr_conv_enc *enc, int soft, uint8_t *out, size_t n_out);

/* Puncturer / depuncturer state: the rate and the position in its pattern
 * (counted in rate-1/2 symbols). */
struct lr_conv_punct {
    int32_t rate;
    uint32_t phase;
};

int lr_conv_punct_init(struct lr_conv_punct *p, int rate);

/* Symbols of the rate-1/2 stream (one per byte, any meaning) in, the sent
 * ones out.  n_out >= n_in always suffices.  Returns the count written. */
int64_t lr_conv_puncture(struct lr_conv_punct *p, const uint8_t *in, size_t n_in, uint8_t *out,
                         size_t n_out);

/* Received soft symbols in, the rate-1/2 stream out with LR_CONV_ERASURE
 * where a symbol was not sent.  Erasures are written only before a received
 * symbol, so a stream split anywhere depunctures the same; pad the end of a
 * block with erasures up to 2 symbols per information bit.  n_out >=
 * lr_conv_depuncture_max(p, n_in) suffices.  Returns the count written. */
int64_t lr_conv_depuncture(struct lr_conv_punct *p, const uint8_t *in, size_t n_in, uint8_t *out,
                           size_t n_out);
int64_t lr_conv_depuncture_max(const struct lr_conv_punct *p, size_t n_in);

/* Viterbi decoder state.  Initialise with lr_viterbi27_init; all fields are
 * private to lr_conv.c. */
struct lr_viterbi27 {
    uint16_t metrics[64];
    uint64_t decisions[2048];
    uint64_t steps;
    uint64_t emitted;
    uint32_t depth;
    uint32_t invert_g2;
    uint32_t have_half;
    uint32_t half;
};

/* start_state: 0..63 when known (0 for a frame that starts the encoder from
 * reset), -1 when unknown (decoding from the middle of a stream).  depth:
 * traceback depth 8..LR_VITERBI27_DEPTH_MAX, or 0 for the default. */
int lr_viterbi27_init(struct lr_viterbi27 *v, int start_state, int depth, int invert_g2);

/* Upper bound on the bits one update with n_in soft symbols can write. */
int64_t lr_viterbi27_max_output(const struct lr_viterbi27 *v, size_t n_in);

/* Consume n_in soft symbols (an odd one is kept for the next call) and write
 * the decoded bits whose traceback is complete.  LR_E_SPACE unless n_out >=
 * lr_viterbi27_max_output(v, n_in).  Returns the count written. */
int64_t lr_viterbi27_update(struct lr_viterbi27 *v, const uint8_t *in, size_t n_in, uint8_t *out,
                            size_t n_out);

/* Write every bit not yet written, tracing back from end_state (0..63, 0 after
 * a tail) or from the best state (-1).  The decoder then starts afresh from
 * the state it ended in.  Returns the count written (steps - emitted). */
int64_t lr_viterbi27_finish(struct lr_viterbi27 *v, int end_state, uint8_t *out, size_t n_out);

/* Whole block: n_in soft symbols of a frame encoded from state 0 and ended by
 * the six-bit tail; writes the n_in/2 - 6 information bits.  v is workspace. */
int64_t lr_viterbi27_decode_block(struct lr_viterbi27 *v, int invert_g2, int depth, const uint8_t *in,
                                  size_t n_in, uint8_t *out, size_t n_out);
/* LR_CDEF_END */

#endif /* LR_CONV_H */
