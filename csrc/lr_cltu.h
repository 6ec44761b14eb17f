/*
 * lr_cltu.h - TC BCH(63,56) codeblocks and CLTUs (CCSDS 231.0-B-4).
 *
 * A codeblock (§3) is 7 information octets followed by one octet holding the 7
 * parity bits of the generator g(x) = x^7 + x^6 + x^2 + 1, complemented, and a
 * filler bit 0.  g(x) = (x + 1)(x^6 + x + 1), so the code corrects one bit error
 * and detects any two.  A CLTU (§5) is the start sequence EB 90, the codeblocks
 * (the last one filled with 0x55 octets) and the tail sequence
 * C5 C5 C5 C5 C5 C5 C5 79, which is built to be uncorrectable.
 *
 * The CLTU decoder follows the receiving procedure of §3.3 and §5: it searches the
 * input octet by octet for the start sequence, then decodes codeblocks until one is
 * the tail or fails to decode (uncorrectable, or in detection mode any error), and
 * then searches again.  Input is taken as octet-aligned.  Garbage and truncation
 * are counted, never fatal.  The decoder does not derandomize (lr_rand.h does).
 *
 * Buffers: the caller owns every buffer; nothing is retained after return.
 *
 * Return codes: counts (>= 0); LR_E_ARG for a bad configuration; LR_E_FORMAT if
 * the BCH input is not a whole number of 7-octet blocks; LR_E_SPACE if an output
 * buffer cannot hold the result; LR_E_UNCORRECTABLE from lr_bch_decode_block for a
 * codeblock it cannot correct (in detection mode: any error).
 */
#ifndef LR_CLTU_H
#define LR_CLTU_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_cltu_end {
    LR_CLTU_END_TAIL = 0,          /* the tail sequence closed the CLTU */
    LR_CLTU_END_UNCORRECTABLE = 1, /* a codeblock that is not the tail failed to decode */
    LR_CLTU_END_TRUNCATED = 2      /* the input ended inside the CLTU */
};

struct lr_cltu_decoder {
    /* configuration, set before the first call */
    int32_t correct;         /* 1: correct single-bit errors (§3.3 correction mode), 0: detect only */
    int32_t start_tolerance; /* bit errors accepted in the 16-bit start sequence (0 or 1) */
    /* counters, zeroed by lr_cltu_decoder_init and updated by every call */
    uint64_t cltus;          /* start sequences found */
    uint64_t codeblocks;     /* codeblocks delivered (clean or corrected) */
    uint64_t corrected;      /* codeblocks with one bit corrected */
    uint64_t rejected;       /* codeblocks that closed a CLTU without being the tail */
    uint64_t tails;          /* CLTUs closed by the tail sequence */
    uint64_t truncated;      /* CLTUs cut short by the end of the input */
    uint64_t octets_skipped; /* octets searched over outside any CLTU */
};

struct lr_cltu_info {
    uint64_t start;       /* offset of the start sequence in the input */
    uint64_t out_offset;  /* where its decoded data begins in out */
    uint32_t n_data;      /* decoded octets: 7 per codeblock, fill included */
    uint32_t corrected;   /* codeblocks corrected in this CLTU */
    int32_t end;          /* enum lr_cltu_end */
    int32_t reserved;
};

/* The parity octet (complemented parity, filler bit 0) of 7 information octets. */
uint8_t lr_bch_parity(const uint8_t *info);

/* Encode n_in octets (a multiple of 7) into n_in / 7 codeblocks of 8 octets.
 * Returns the octets written. */
int64_t lr_bch_encode(const uint8_t *in, size_t n_in, uint8_t *out, size_t n_out);

/* Decode one 8-octet codeblock into 7 octets.  Returns 0 if clean, 1 if one bit
 * was corrected (correct != 0 only), LR_E_UNCORRECTABLE otherwise.  The filler
 * bit is ignored. */
int lr_bch_decode_block(const uint8_t *codeblock, int correct, uint8_t *info);

/* Octets that lr_cltu_encode writes for n data octets. */
size_t lr_cltu_encoded_len(size_t n);

/* Build one CLTU from n_in data octets (a TC frame, randomized or not).
 * Returns the octets written, lr_cltu_encoded_len(n_in). */
int64_t lr_cltu_encode(const uint8_t *in, size_t n_in, uint8_t *out, size_t n_out);

/* Zero the counters and check the configuration (LR_E_ARG if invalid). */
int lr_cltu_decoder_init(struct lr_cltu_decoder *d, int correct, int start_tolerance);

/* Decode every CLTU in in[0 .. n_in-1]: the data of each goes to out, one after
 * the other, and its description to info.  Returns the number of CLTUs described.
 * Stops early, without error, when out or info is full; *consumed says how many
 * input octets were used, so the caller can continue from there. */
int64_t lr_cltu_decode(struct lr_cltu_decoder *d, const uint8_t *in, size_t n_in, uint8_t *out,
                       size_t n_out, struct lr_cltu_info *info, size_t n_info, size_t *consumed);
/* LR_CDEF_END */

#endif /* LR_CLTU_H */
