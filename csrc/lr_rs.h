/*
 * lr_rs.h - the CCSDS Reed-Solomon codes RS(255,223) and RS(255,239).
 *
 * CCSDS 131.0-B-4 §4: symbols of GF(2^8) built on F(x) = x^8+x^7+x^2+x+1
 * (§4.3.4), generator g(x) = prod_{j=128-E}^{127+E} (x - alpha^(11j)) with E = 16
 * (RS(255,223)) or E = 8 (RS(255,239)) (§4.3.3), interleave depth I in
 * {1,2,3,4,5,8} (§4.3.7), either the conventional representation or the dual
 * (Berlekamp) basis of Annex F, and virtual fill (§4.3.8): each codeword is
 * shortened by Q leading zero symbols that are not transmitted.
 *
 * A codeblock is I codewords interleaved symbol by symbol: transmitted byte
 * t*I + j is symbol t of codeword j (§4.3.7).  Its first I*k bytes are the data
 * (the frame) and the last I*2E bytes are the check symbols, where k = 255 - 2E
 * - Q and n = 255 - Q are the data and transmitted symbols per codeword.
 *
 * Buffers: the caller owns every buffer, including the lr_rs state (filled by
 * lr_rs_init, read-only afterwards, so one state serves any number of threads);
 * nothing is retained after a call returns.  Input and output must not overlap.
 *
 * Return codes: LR_E_ARG for a parameter outside the ranges above, a state that
 * lr_rs_init did not fill, or an input that is not a whole number of codeblocks, LR_E_SPACE if an output buffer is too
 * small.  An uncorrectable codeword is not an error of the call: it is reported
 * in the per-codeword counts.
 */
#ifndef LR_RS_H
#define LR_RS_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
struct lr_rs {
    int32_t e;              /* correctable symbols per codeword: 8 or 16 */
    int32_t interleave;     /* I: 1, 2, 3, 4, 5 or 8 */
    int32_t dual_basis;     /* 1: symbols on the wire are in the dual basis (Annex F) */
    int32_t virtual_fill;   /* Q: leading zero symbols per codeword, not transmitted */
    int32_t n;              /* transmitted symbols per codeword, 255 - Q */
    int32_t k;              /* data symbols per codeword, 255 - 2E - Q */
    uint8_t genpoly[33];    /* g(x) coefficients, genpoly[m] of x^m, conventional */
    uint8_t exp[1024];      /* alpha^i for i in 0..509, zero from 510 on */
    uint16_t log[256];      /* log_alpha(x), and 511 for 0 so that exp[log a + log b] = a*b */
    uint8_t to_conv[256];   /* wire symbol -> conventional (identity unless dual basis) */
    uint8_t to_wire[256];   /* conventional -> wire symbol */
    uint8_t lfsr[256][32];  /* lfsr[f][j] = f * g_(2E-1-j): one division step, see lr_rs.c */
    uint8_t chien[17][32];  /* nibble product tables of beta^(-32j), for the vector Chien search */
    uint8_t syndrome[32][32][32]; /* [j][v][i]: v (v < 16) or (v-16) << 4 times root_i^(2E-1-j) */
    uint8_t chien_start[17][32][32]; /* [j][v][l]: v or (v-16) << 4 times beta^(-jl) */
};

/* Fill *rs for E = e, interleave depth I, the basis and Q = virtual_fill
 * (0 <= Q < 255 - 2E).  Returns LR_OK or LR_E_ARG. */
int lr_rs_init(struct lr_rs *rs, int e, int interleave, int dual_basis, int virtual_fill);

/* Data bytes per codeblock (I*k) and codeblock bytes (I*n) of an initialised state. */
int64_t lr_rs_data_len(const struct lr_rs *rs);
int64_t lr_rs_block_len(const struct lr_rs *rs);

/* Encode n_in / (I*k) codeblocks: in holds their data back to back; out receives
 * the codeblocks (I*n bytes each) back to back.  Returns the bytes written. */
int64_t lr_rs_encode(const struct lr_rs *rs, const uint8_t *in, size_t n_in, uint8_t *out,
                     size_t n_out);

/* Decode n_in / (I*n) codeblocks: out receives the corrected data (I*k bytes per
 * codeblock) and corrected[b*I + j] the number of symbols corrected in codeword j
 * of codeblock b (check symbols included), or -1 if that codeword is
 * uncorrectable, in which case its data are passed through as received.  A
 * codeword is declared uncorrectable whenever the decoder cannot produce a
 * codeword within E symbols of the one received.  Returns the bytes written to
 * out, or LR_E_SPACE if out or corrected (n_corrected entries) is too small. */
int64_t lr_rs_decode(const struct lr_rs *rs, const uint8_t *in, size_t n_in, uint8_t *out,
                     size_t n_out, int16_t *corrected, size_t n_corrected);
/* LR_CDEF_END */

#endif /* LR_RS_H */
