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
 * lr_jsonl_format_parts interleaves the rows of several such column sets in
 * the order the caller gives, a block of lines at a time through a scratch
 * that stays in cache.
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
    LR_JSONL_TEXT = 3,  /* text: octets; starts, ends: int64_t[n_rows] offsets into text */
    LR_JSONL_I32 = 4,   /* values: int32_t[n_rows]; the narrower kinds spare the caller a widening copy */
    LR_JSONL_U32 = 5,   /* values: uint32_t[n_rows] */
    LR_JSONL_I16 = 6,   /* values: int16_t[n_rows] */
    LR_JSONL_U16 = 7,   /* values: uint16_t[n_rows] */
    LR_JSONL_I8 = 8,    /* values: int8_t[n_rows] */
    LR_JSONL_U8 = 9     /* values: uint8_t[n_rows] */
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

/* The columns of one packet type (or any set of rows formatted alike): n_rows
 * rows, each line closed by tail[0 .. tail_len). */
struct lr_jsonl_part {
    const struct lr_jsonl_column *cols;
    size_t n_cols;
    size_t n_rows;
    const char *tail;
    size_t tail_len;
};

enum { LR_JSONL_BLOCK = 512 };  /* lines of a block of lr_jsonl_format_parts */

/* Octets of work space lr_jsonl_format_parts needs for its index of a block
 * of lines, before its scratch for their text. */
size_t lr_jsonl_parts_index_octets(size_t n_parts);

/* Write lines to out[0 .. n_out) in the order given, as many of the n_lines
 * as it holds: line i is row row_of[i] of part part_of[i] (so rows of several
 * parts come out in stream order).  *n_done receives the count of whole lines
 * written (n_lines unless out filled up first; the caller goes on from line
 * *n_done with another call).  Lines are taken LR_JSONL_BLOCK at a time:
 * formatted a part at a time into the scratch (each part's columns read in
 * order), then copied out in stream order.  work (8-octet aligned) holds
 * lr_jsonl_parts_index_octets octets of index, then the scratch: a megaoctet
 * keeps it in cache; fewer lines are taken at a time when a block does not
 * fit.  Returns the octets written; LR_E_ARG for a part index or row out of
 * range or a part lr_jsonl_format would refuse; LR_E_SPACE if the first line
 * fits neither out nor the scratch. */
int64_t lr_jsonl_format_parts(const struct lr_jsonl_part *parts, size_t n_parts, const uint32_t *part_of,
                              const int64_t *row_of, size_t n_lines, void *work, size_t n_work,
                              char *out, size_t n_out, size_t *n_done);
/* LR_CDEF_END */

#endif /* LR_JSONL_H */
