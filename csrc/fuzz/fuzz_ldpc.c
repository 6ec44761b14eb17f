/* libFuzzer target: the LDPC decoder (lr_ldpc.h) on arbitrary graphs (malformed ones included:
 * rows out of order, variables out of range, empty and single-edge rows) and arbitrary soft input
 * (NaN, infinities, huge values).  Every call either refuses with LR_E_ARG/LR_E_SPACE writing
 * nothing, or writes exactly n_vars bits of 0/1 and returns a pass count or LR_E_UNCORRECTABLE;
 * the work space never holds a NaN. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_ldpc.h"

#define MAX_VARS 64
#define MAX_CHECKS 32
#define MAX_EDGES 256

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t next_u8(struct reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static float next_llr(struct reader *r)
{
    uint8_t b = next_u8(r);
    switch (b & 7) {
    case 0:
        return NAN;
    case 1:
        return b & 8 ? INFINITY : -INFINITY;
    case 2:
        return b & 8 ? 3e38f : -3e38f;
    default:
        return (float)((int)next_u8(r) - 128) / 16.0f;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    static uint32_t row_start[MAX_CHECKS + 1], edge_var[MAX_EDGES];
    static float llr[MAX_VARS], work[MAX_EDGES + MAX_VARS];
    static uint8_t bits[MAX_VARS + 8];
    uint32_t n_vars = 1 + next_u8(&r) % MAX_VARS, n_checks = next_u8(&r) % (MAX_CHECKS + 1);
    uint8_t flags = next_u8(&r);
    row_start[0] = flags & 1 ? next_u8(&r) % 3 : 0; /* sometimes not 0 */
    for (uint32_t k = 0; k < n_checks; k++) {
        int step = next_u8(&r) % 9;
        if (flags & 2 && step == 8)
            step = -1; /* decreasing */
        int64_t v = (int64_t)row_start[k] + step;
        row_start[k + 1] = v < 0 ? 0 : v > MAX_EDGES ? MAX_EDGES : (uint32_t)v;
    }
    uint32_t n_edges = row_start[n_checks];
    if (flags & 4 && n_edges > 0)
        n_edges--; /* the last row_start does not match */
    for (uint32_t e = 0; e < MAX_EDGES; e++) {
        uint8_t b = next_u8(&r);
        edge_var[e] = flags & 8 && b == 0xFF ? n_vars : b % n_vars; /* sometimes out of range */
    }
    for (uint32_t v = 0; v < n_vars; v++)
        llr[v] = next_llr(&r);
    struct lr_ldpc_graph g = {n_vars, n_checks, n_edges, row_start, edge_var};
    size_t need = lr_ldpc_work_size(&g);
    size_t n_work = flags & 16 ? need - (need > 0) : need;
    size_t n_bits = flags & 32 ? n_vars - 1 : n_vars;
    int iters = flags & 64 ? (int)next_u8(&r) - 2 : 1 + next_u8(&r) % 20;
    float scale = flags & 128 ? NAN : 0.5f + (next_u8(&r) % 64) / 128.0f;
    memset(bits, 0xEE, sizeof bits);
    int64_t rc = lr_ldpc_decode(&g, llr, n_vars, bits, n_bits, work, n_work, iters, scale);
    if (rc == LR_E_ARG || rc == LR_E_SPACE) {
        for (size_t i = 0; i < sizeof bits; i++)
            if (bits[i] != 0xEE)
                abort();
        return 0;
    }
    if (rc != LR_E_UNCORRECTABLE && !(rc >= 1 && rc <= iters))
        abort();
    for (uint32_t v = 0; v < n_vars; v++)
        if (bits[v] > 1)
            abort();
    for (uint32_t v = n_vars; v < sizeof bits; v++)
        if (bits[v] != 0xEE)
            abort();
    for (size_t i = 0; i < need; i++)
        if (work[i] != work[i])
            abort();
    int64_t w = lr_ldpc_syndrome_weight(&g, bits, n_vars);
    if (w < 0 || (rc == LR_E_UNCORRECTABLE) != (w > 0))
        abort(); /* the verdict is the syndrome of the bits written */
    return 0;
}
