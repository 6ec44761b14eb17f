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
    if (v < 10) {
        p[0] = (char)('0' + v);
        return 1;
    }
    if (v < 100) {
        memcpy(p, lr_digits2 + 2 * v, 2);
        return 2;
    }
    /* the digit count first, then the digits straight into place from the last pair back */
    static const uint64_t pow10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
                                       10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
                                       100000000000ULL, 1000000000000ULL, 10000000000000ULL,
                                       100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
                                       100000000000000000ULL, 1000000000000000000ULL,
                                       10000000000000000000ULL};
    size_t n = 3;
    while (n < 20 && v >= pow10[n])
        n++;
    char *q = p + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, lr_digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, lr_digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    return n;
}

int64_t lr_jsonl_format(const struct lr_jsonl_column *cols, size_t n_cols, size_t n_rows,
                        const char *tail, size_t tail_len, char *out, size_t n_out,
                        uint64_t *line_ends)
{
    if ((n_cols && !cols) || (tail_len && !tail) || (n_rows && (!line_ends || (!out && n_out))))
        return LR_E_ARG;
    for (size_t c = 0; c < n_cols; c++) {
        const struct lr_jsonl_column *col = &cols[c];
        if (col->key_len && !col->key)
            return LR_E_ARG;
        if (col->kind == LR_JSONL_TEXT) {
            if (n_rows && (!col->text || !col->starts || !col->ends))
                return LR_E_ARG;
        } else if (col->kind == LR_JSONL_I64 || col->kind == LR_JSONL_U64 || col->kind == LR_JSONL_BOOL) {
            if (n_rows && !col->values)
                return LR_E_ARG;
        } else {
            return LR_E_ARG;
        }
    }
    size_t at = 0;
    for (size_t i = 0; i < n_rows; i++) {
        for (size_t c = 0; c < n_cols; c++) {
            const struct lr_jsonl_column *col = &cols[c];
            if (LR_UNLIKELY(n_out - at < col->key_len + 21))
                return LR_E_SPACE;
            memcpy(out + at, col->key, col->key_len);
            at += col->key_len;
            switch (col->kind) {
            case LR_JSONL_I64: {
                int64_t v = ((const int64_t *)col->values)[i];
                if (v < 0) {
                    out[at++] = '-';
                    /* the magnitude in unsigned arithmetic: -INT64_MIN does not fit int64_t */
                    at += lr_utoa(0 - (uint64_t)v, out + at);
                } else {
                    at += lr_utoa((uint64_t)v, out + at);
                }
                break;
            }
            case LR_JSONL_U64:
                at += lr_utoa(((const uint64_t *)col->values)[i], out + at);
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
            default: { /* LR_JSONL_TEXT, the only kind left after the check above */
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
        if (LR_UNLIKELY(n_out - at < tail_len))
            return LR_E_SPACE;
        memcpy(out + at, tail, tail_len);
        at += tail_len;
        line_ends[i] = at;
    }
    return (int64_t)at;
}

int64_t lr_jsonl_gather(const char *text, const uint64_t *line_ends, size_t n_lines,
                        const int64_t *order, size_t n_order, char *out, size_t n_out)
{
    if (n_order && (!order || !line_ends || !text))
        return LR_E_ARG;
    size_t at = 0;
    for (size_t i = 0; i < n_order; i++) {
        int64_t k = order[i];
        if (k < 0 || (uint64_t)k >= n_lines)
            return LR_E_ARG;
        uint64_t a = k ? line_ends[k - 1] : 0, b = line_ends[k];
        if (b < a)
            return LR_E_ARG;
        size_t len = (size_t)(b - a);
        if (n_out - at < len)
            return LR_E_SPACE;
        memcpy(out + at, text + a, len);
        at += len;
    }
    return (int64_t)at;
}
