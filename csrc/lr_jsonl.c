/* lr_jsonl.c - JSON lines from columns; see lr_jsonl.h. */
#include "lr_jsonl.h"

#include <string.h>

/* Two decimal digits at a time: "00" "01" ... "99". */
static const char lr_digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal digits of v at p (room for 20 checked by the caller); returns the count. */
static inline size_t lr_utoa(uint64_t v, char *p)
{
    /* housekeeping counters are mostly small: one or two digits without the loop */
    if (v < 100) {
        if (v < 10) {
            p[0] = (char)('0' + v);
            return 1;
        }
        memcpy(p, lr_digits2 + 2 * v, 2);
        return 2;
    }
    /* the digit count from the bit length (log10 2 ~ 1233 / 4096), then the digits straight
     * into place from the end, four at a time: the two pairs of a step do not wait on each other */
    static const uint64_t pow10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
                                       10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
                                       100000000000ULL, 1000000000000ULL, 10000000000000ULL,
                                       100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
                                       100000000000000000ULL, 1000000000000000000ULL,
                                       10000000000000000000ULL};
    unsigned bits = 64u - (unsigned)__builtin_clzll(v);
    unsigned t = (bits * 1233u) >> 12;            /* floor(log10 v) or one more */
    size_t n = t + 1 - (v < pow10[t]);
    char *q = p + n;
    while (v >= 10000) {
        uint64_t next = v / 10000;
        uint32_t four = (uint32_t)(v - next * 10000);
        uint32_t hi = four / 100, lo = four - hi * 100;
        q -= 4;
        memcpy(q, lr_digits2 + 2 * hi, 2);
        memcpy(q + 2, lr_digits2 + 2 * lo, 2);
        v = next;
    }
    if (v >= 100) {
        uint32_t hi = (uint32_t)v / 100, lo = (uint32_t)v - hi * 100;
        q -= 2;
        memcpy(q, lr_digits2 + 2 * lo, 2);
        v = hi;
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, lr_digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    return n;
}

/* A signed integer: a minus sign where negative, then the magnitude (in unsigned arithmetic:
 * -INT64_MIN does not fit int64_t). */
static inline size_t lr_itoa(int64_t v, char *p)
{
    if (v < 0) {
        p[0] = '-';
        return 1 + lr_utoa(0 - (uint64_t)v, p + 1);
    }
    return lr_utoa((uint64_t)v, p);
}

/* Copy a key of len octets: short keys (the common case) by two overlapping fixed-size moves
 * inline, neither of which reads or writes past the key. */
static inline void lr_copy_key(char *dst, const char *src, size_t len)
{
    if (len >= 8 && len <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + len - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + len - 8, &b, 8);
    } else if (len > 16 && len <= 32) {
        uint64_t a[2], b[2];
        memcpy(a, src, 16);
        memcpy(b, src + len - 16, 16);
        memcpy(dst, a, 16);
        memcpy(dst + len - 16, b, 16);
    } else {
        memcpy(dst, src, len);
    }
}

/* LR_E_ARG unless every column of the part can be read for its rows. */
static int lr_jsonl_check_part(const struct lr_jsonl_part *part)
{
    if ((part->n_cols && !part->cols) || (part->tail_len && !part->tail))
        return LR_E_ARG;
    for (size_t c = 0; c < part->n_cols; c++) {
        const struct lr_jsonl_column *col = &part->cols[c];
        if (col->key_len && !col->key)
            return LR_E_ARG;
        if (col->kind == LR_JSONL_TEXT) {
            if (part->n_rows && (!col->text || !col->starts || !col->ends))
                return LR_E_ARG;
        } else if (col->kind == LR_JSONL_I64 || col->kind == LR_JSONL_U64 || col->kind == LR_JSONL_BOOL
                   || (col->kind >= LR_JSONL_I32 && col->kind <= LR_JSONL_U8)) {
            if (part->n_rows && !col->values)
                return LR_E_ARG;
        } else {
            return LR_E_ARG;
        }
    }
    return LR_OK;
}

/* Row i of a checked part as one line at out + *at; LR_OK, LR_E_SPACE or LR_E_ARG (a text range
 * that ends before it starts). */
static inline int lr_jsonl_row(const struct lr_jsonl_part *part, size_t i, char *out, size_t n_out, size_t *at_io)
{
    size_t at = *at_io;
    for (size_t c = 0; c < part->n_cols; c++) {
        const struct lr_jsonl_column *col = &part->cols[c];
        if (LR_UNLIKELY(n_out - at < col->key_len + 21))
            return LR_E_SPACE;
        lr_copy_key(out + at, col->key, col->key_len);
        at += col->key_len;
        switch (col->kind) {
        case LR_JSONL_I64:
            at += lr_itoa(((const int64_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_U64:
            at += lr_utoa(((const uint64_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_I32:
            at += lr_itoa(((const int32_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_U32:
            at += lr_utoa(((const uint32_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_I16:
            at += lr_itoa(((const int16_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_U16:
            at += lr_utoa(((const uint16_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_I8:
            at += lr_itoa(((const int8_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_U8:
            at += lr_utoa(((const uint8_t *)col->values)[i], out + at);
            break;
        case LR_JSONL_BOOL:
            if (((const uint8_t *)col->values)[i]) {
                memcpy(out + at, "true", 4);
                at += 4;
            } else {
                memcpy(out + at, "false", 5);
                at += 5;
            }
            break;
        default: { /* LR_JSONL_TEXT, the only kind left after lr_jsonl_check_part */
            int64_t a = col->starts[i], b = col->ends[i];
            if (LR_UNLIKELY(a < 0 || b < a))
                return LR_E_ARG;
            size_t len = (size_t)(b - a);
            if (LR_UNLIKELY(n_out - at < len))
                return LR_E_SPACE;
            memcpy(out + at, col->text + a, len);
            at += len;
            break;
        }
        }
    }
    if (LR_UNLIKELY(n_out - at < part->tail_len))
        return LR_E_SPACE;
    memcpy(out + at, part->tail, part->tail_len);
    *at_io = at + part->tail_len;
    return LR_OK;
}

int64_t lr_jsonl_format(const struct lr_jsonl_column *cols, size_t n_cols, size_t n_rows,
                        const char *tail, size_t tail_len, char *out, size_t n_out,
                        uint64_t *line_ends)
{
    const struct lr_jsonl_part part = {cols, n_cols, n_rows, tail, tail_len};
    if (n_rows && (!line_ends || (!out && n_out)))
        return LR_E_ARG;
    int rc = lr_jsonl_check_part(&part);
    if (rc != LR_OK)
        return rc;
    size_t at = 0;
    for (size_t i = 0; i < n_rows; i++) {
        rc = lr_jsonl_row(&part, i, out, n_out, &at);
        if (rc != LR_OK)
            return rc;
        line_ends[i] = at;
    }
    return (int64_t)at;
}

size_t lr_jsonl_parts_index_octets(size_t n_parts)
{
    /* counts[n_parts + 1], then order, start and length of each line of a block */
    return ((n_parts + 1 + 3 * (size_t)LR_JSONL_BLOCK) * sizeof(uint32_t) + 7) & ~(size_t)7;
}

int64_t lr_jsonl_format_parts(const struct lr_jsonl_part *parts, size_t n_parts, const uint32_t *part_of,
                              const int64_t *row_of, size_t n_lines, void *work, size_t n_work,
                              char *out, size_t n_out, size_t *n_done)
{
    if (!n_done || (n_parts && !parts) || (n_lines && (!part_of || !row_of || (!out && n_out))))
        return LR_E_ARG;
    *n_done = 0;
    for (size_t k = 0; k < n_parts; k++) {
        int rc = lr_jsonl_check_part(&parts[k]);
        if (rc != LR_OK)
            return rc;
    }
    if (!n_lines)
        return 0;
    size_t index_octets = lr_jsonl_parts_index_octets(n_parts);
    if (!work || n_work <= index_octets || n_parts >= UINT32_MAX)
        return n_work <= index_octets && work ? LR_E_SPACE : LR_E_ARG;
    uint32_t *counts = (uint32_t *)work;
    uint32_t *order = counts + n_parts + 1, *start = order + LR_JSONL_BLOCK, *length = start + LR_JSONL_BLOCK;
    char *scratch = (char *)work + index_octets;
    size_t n_scratch = n_work - index_octets;
    if (n_scratch > UINT32_MAX)
        n_scratch = UINT32_MAX;   /* offsets in a block are 32-bit */

    size_t block = LR_JSONL_BLOCK, at_out = 0;
    for (size_t i = 0; i < n_lines;) {
        size_t m = n_lines - i < block ? n_lines - i : block;
        /* the block's lines grouped by part (a counting sort), each part's rows in stream order */
        memset(counts, 0, (n_parts + 1) * sizeof *counts);
        for (size_t j = 0; j < m; j++) {
            uint32_t k = part_of[i + j];
            int64_t row = row_of[i + j];
            if (LR_UNLIKELY(k >= n_parts || row < 0 || (uint64_t)row >= parts[k].n_rows))
                return LR_E_ARG;
            counts[k + 1]++;
        }
        for (size_t k = 0; k < n_parts; k++)
            counts[k + 1] += counts[k];
        for (size_t j = 0; j < m; j++)
            order[counts[part_of[i + j]]++] = (uint32_t)j;
        /* formatted a part at a time into the scratch, which stays in cache ... */
        size_t at = 0;
        int full = 0;
        for (size_t t = 0; t < m && !full;) {
            /* a run of one part's lines: the part held in locals the stores cannot alias */
            const struct lr_jsonl_part part = parts[part_of[i + order[t]]];
            size_t run_end = t + 1;
            while (run_end < m && part_of[i + order[run_end]] == part_of[i + order[t]])
                run_end++;
            for (; t < run_end; t++) {
                uint32_t j = order[t];
                size_t from = at;
                int rc = lr_jsonl_row(&part, (size_t)row_of[i + j], scratch, n_scratch, &at);
                if (rc == LR_E_SPACE) {
                    full = 1;
                    break;
                }
                if (rc != LR_OK)
                    return rc;
                start[j] = (uint32_t)from;
                length[j] = (uint32_t)(at - from);
            }
        }
        if (full) {
            if (m == 1)
                return LR_E_SPACE;     /* one line is larger than the scratch */
            block = m / 2;             /* the same lines again, fewer at a time */
            continue;
        }
        /* ... then copied out in stream order, as many as out holds */
        for (size_t j = 0; j < m; j++) {
            if (LR_UNLIKELY(n_out - at_out < length[j])) {
                *n_done = i + j;
                return i + j ? (int64_t)at_out : LR_E_SPACE;
            }
            memcpy(out + at_out, scratch + start[j], length[j]);
            at_out += length[j];
        }
        i += m;
    }
    *n_done = n_lines;
    return (int64_t)at_out;
}
