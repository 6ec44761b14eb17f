/*
 * lr_ldpc.h - soft-decision LDPC decoding by layered normalized min-sum.
 *
 * The code is any binary parity-check matrix H given by the caller in compressed
 * row form: check r joins the variables edge_var[row_start[r] .. row_start[r+1]-1].
 * The LunaNet AFS subframe codes (LSIS-AFS V1.0 §2.4.3.1.2, H = [A B 0; C D I])
 * are built into this form by hil/receiver/frame_decoder.py.
 *
 * Soft input: one log-likelihood ratio per variable, llr = log P(bit = 0) / P(bit = 1),
 * so a positive value favours logic 0 (the +1 symbol).  Punctured variables get 0,
 * known ones (filler) a large value.  Any scale works: min-sum is scale-invariant
 * except through the normalisation factor.  A NaN is taken as 0 and an infinity is
 * clamped to +/-1e30, so no input makes the decoder produce NaN.
 *
 * Decoding: layered (row by row) min-sum, every check-to-variable message
 * multiplied by `scale` (0.75 is a good normalisation; 1 gives plain min-sum), for
 * up to max_iterations passes over the rows; it stops after the first pass whose
 * hard decisions satisfy every check.
 *
 * Buffers: the graph arrays, llr, bits and work are owned by the caller; nothing is
 * retained after return and nothing is allocated.  work holds n_work floats, at
 * least lr_ldpc_work_size(graph) = n_edges + n_vars.
 *
 * Return codes: lr_ldpc_decode returns the number of passes made (1 ..
 * max_iterations) when the output satisfies every check, LR_E_UNCORRECTABLE when it
 * does not after max_iterations (bits then hold the last hard decisions), LR_E_SPACE
 * when n_llr, n_bits or n_work is too small (nothing written), and LR_E_ARG for a
 * malformed graph (row_start not increasing from 0 to n_edges, a variable out of
 * range), max_iterations outside 1 .. 10000 or a scale outside (0, 1].
 */
#ifndef LR_LDPC_H
#define LR_LDPC_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
struct lr_ldpc_graph {
    uint32_t n_vars;            /* columns of H */
    uint32_t n_checks;          /* rows of H */
    uint32_t n_edges;           /* ones of H */
    const uint32_t *row_start;  /* n_checks + 1 entries, row_start[0] = 0, row_start[n_checks] = n_edges */
    const uint32_t *edge_var;   /* n_edges entries: the variable (column) of each edge */
};

/* Floats of work space lr_ldpc_decode needs for this graph. */
size_t lr_ldpc_work_size(const struct lr_ldpc_graph *g);

/* Decode one codeword: llr[0 .. n_vars-1] in, hard bits (0/1) out in bits[0 .. n_vars-1]. */
int64_t lr_ldpc_decode(const struct lr_ldpc_graph *g, const float *llr, size_t n_llr, uint8_t *bits,
                       size_t n_bits, float *work, size_t n_work, int max_iterations, float scale);

/* Number of unsatisfied checks of hard bits (0/1; any non-zero byte is 1), or LR_E_ARG/LR_E_SPACE. */
int64_t lr_ldpc_syndrome_weight(const struct lr_ldpc_graph *g, const uint8_t *bits, size_t n_bits);
/* LR_CDEF_END */

#endif /* LR_LDPC_H */
