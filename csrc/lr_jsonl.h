/*
 * lr_jsonl.h - JSON lines from columns: one JSON object per row, rows back to back.
 *
 * A line is made of its columns in order, each written as the column's key text
 * followed by the row's value, then the line's closing text.  The key text is
 * written as given: the caller escapes every name once and folds into it what
 * is the same on every line (the opening brace, the commas, a constant value).
 * Values are integers (decimal, a minus sign where negative), JSON booleans, or
 * text the caller has already made valid JSON (numbers in its chosen
 * representation, quoted and escaped strings, null), spliced in as it is.
 *
 * lr_jsonl_gather then puts whole lines in another order, one copy each.
 *
 * Buffers: the caller owns every buffer (columns, key texts, the output and the
 * line ends); nothing is retained after return.  Nothing here parses input.
 */
#ifndef LR_JSONL_H
#define LR_JSONL_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_jsonl_kind {
    LR_JSONL_I64 = 0,   /* values: int64_t[n_rows] */
    LR_JSONL_U64 = 1,   /* values: uint64_t[n_rows] */
    LR_JSONL_BOOL = 2,  /* values: uint8_t[n_rows], 0 false, anything else true */
    LR_JSONL_TEXT = 3   /* text: octets; starts, ends: int64_t[n_rows] offsets into text */
};

struct lr_jsonl_column {
    const char *key;        /* written before every value of the column, as it is */
    size_t key_len;
    int kind;               /* enum lr_jsonl_kind */
    const void *values;     /* I64, U64, BOOL */
    const char *text;       /* TEXT */
    const int64_t *starts;  /* TEXT: row i is text[starts[i] .. ends[i]) */
    const int64_t *ends;
};

/* Write n_rows lines of the n_cols columns, each closed by tail[0 .. tail_len),
 * to out[0 .. n_out).  line_ends[i] (n_rows entries) receives the offset in out
 * just past line i.  Returns the octets written, LR_E_SPACE if out is too
 * small (its content is then unspecified), LR_E_ARG for an unknown kind, a
 * missing buffer or a text range that ends before it starts. */
int64_t lr_jsonl_format(const struct lr_jsonl_column *cols, size_t n_cols, size_t n_rows,
                        const char *tail, size_t tail_len, char *out, size_t n_out,
                        uint64_t *line_ends);

/* Copy lines of text into out in the order given: line order[i] goes i-th.
 * Line k of text is text[line_ends[k-1] .. line_ends[k]) (line 0 starts at 0);
 * line_ends has n_lines entries, order has n_order indices in 0 .. n_lines-1.
 * Returns the octets written, LR_E_ARG for an index or line end out of range,
 * LR_E_SPACE if out is too small. */
int64_t lr_jsonl_gather(const char *text, const uint64_t *line_ends, size_t n_lines,
                        const int64_t *order, size_t n_order, char *out, size_t n_out);
/* LR_CDEF_END */

#endif /* LR_JSONL_H */
