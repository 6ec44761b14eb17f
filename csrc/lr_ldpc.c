/* lr_ldpc.c - layered normalized min-sum LDPC decoding; see lr_ldpc.h. */
#include "lr_ldpc.h"

#include <math.h>
#include <string.h>

/* Largest magnitude a message or a posterior takes: far beyond any useful LLR, far
 * below the float range even when a variable sums many of them. */
#define LLR_LIMIT 1e20f

static int graph_valid(const struct lr_ldpc_graph *g)
{
    if (g == NULL || g->row_start == NULL || (g->n_edges > 0 && g->edge_var == NULL))
        return 0;
    if (g->row_start[0] != 0 || g->row_start[g->n_checks] != g->n_edges)
        return 0;
    for (uint32_t r = 0; r < g->n_checks; r++)
        if (g->row_start[r + 1] < g->row_start[r])
            return 0;
    for (uint32_t e = 0; e < g->n_edges; e++)
        if (g->edge_var[e] >= g->n_vars)
            return 0;
    return 1;
}

size_t lr_ldpc_work_size(const struct lr_ldpc_graph *g)
{
    if (g == NULL)
        return 0;
    return (size_t)g->n_edges + g->n_vars;
}

static float clamp_llr(float x)
{
    if (x != x)
        return 0.0f;
    if (x > LLR_LIMIT)
        return LLR_LIMIT;
    if (x < -LLR_LIMIT)
        return -LLR_LIMIT;
    return x;
}

/* Unsatisfied checks of the hard decisions of the posteriors (negative -> 1). */
static uint32_t syndrome_of_posteriors(const struct lr_ldpc_graph *g, const float *post)
{
    uint32_t bad = 0;
    for (uint32_t r = 0; r < g->n_checks; r++) {
        unsigned parity = 0;
        for (uint32_t e = g->row_start[r]; e < g->row_start[r + 1]; e++)
            parity ^= post[g->edge_var[e]] < 0.0f;
        bad += parity;
    }
    return bad;
}

int64_t lr_ldpc_syndrome_weight(const struct lr_ldpc_graph *g, const uint8_t *bits, size_t n_bits)
{
    if (!graph_valid(g) || (bits == NULL && g->n_vars > 0))
        return LR_E_ARG;
    if (n_bits < g->n_vars)
        return LR_E_SPACE;
    int64_t bad = 0;
    for (uint32_t r = 0; r < g->n_checks; r++) {
        unsigned parity = 0;
        for (uint32_t e = g->row_start[r]; e < g->row_start[r + 1]; e++)
            parity ^= bits[g->edge_var[e]] != 0;
        bad += parity;
    }
    return bad;
}

/* One layered pass over the check rows.  msg[e] is the check-to-variable message of
 * edge e from the previous pass, post[v] the posterior of variable v; both are updated. */
static void layered_pass(const struct lr_ldpc_graph *g, float *msg, float *post, float scale)
{
    for (uint32_t r = 0; r < g->n_checks; r++) {
        const uint32_t e0 = g->row_start[r], e1 = g->row_start[r + 1];
        if (e0 == e1)
            continue;
        if (e1 - e0 == 1) {
            /* A check on one variable forces it to 0. */
            uint32_t v = g->edge_var[e0];
            float q = post[v] - msg[e0];
            msg[e0] = LLR_LIMIT;
            post[v] = clamp_llr(q + LLR_LIMIT);
            continue;
        }
        /* Variable-to-check messages q = post - msg, their smallest two magnitudes and the
         * product of their signs. */
        float min1 = INFINITY, min2 = INFINITY;
        uint32_t arg1 = e0;
        unsigned negative = 0;
        for (uint32_t e = e0; e < e1; e++) {
            float q = post[g->edge_var[e]] - msg[e];
            float a = fabsf(q);
            negative ^= q < 0.0f;
            if (a < min1) {
                min2 = min1;
                min1 = a;
                arg1 = e;
            } else if (a < min2) {
                min2 = a;
            }
        }
        const float m1 = scale * min1, m2 = scale * min2;
        for (uint32_t e = e0; e < e1; e++) {
            uint32_t v = g->edge_var[e];
            float q = post[v] - msg[e];
            /* The sign of the others' product: the whole product times this sign. */
            unsigned neg = negative ^ (q < 0.0f);
            float mag = e == arg1 ? m2 : m1;
            float out = neg ? -mag : mag;
            msg[e] = out;
            post[v] = clamp_llr(q + out);
        }
    }
}

int64_t lr_ldpc_decode(const struct lr_ldpc_graph *g, const float *llr, size_t n_llr, uint8_t *bits,
                       size_t n_bits, float *work, size_t n_work, int max_iterations, float scale)
{
    if (!graph_valid(g) || max_iterations < 1 || max_iterations > 10000 || !(scale > 0.0f && scale <= 1.0f))
        return LR_E_ARG;
    if ((llr == NULL || bits == NULL) && g->n_vars > 0)
        return LR_E_ARG;
    if (work == NULL && lr_ldpc_work_size(g) > 0)
        return LR_E_ARG;
    if (n_llr < g->n_vars || n_bits < g->n_vars || n_work < lr_ldpc_work_size(g))
        return LR_E_SPACE;
    float *msg = work, *post = work + g->n_edges;
    memset(msg, 0, (size_t)g->n_edges * sizeof *msg);
    for (uint32_t v = 0; v < g->n_vars; v++)
        post[v] = clamp_llr(llr[v]);
    int64_t result = LR_E_UNCORRECTABLE;
    for (int it = 1; it <= max_iterations; it++) {
        layered_pass(g, msg, post, scale);
        if (syndrome_of_posteriors(g, post) == 0) {
            result = it;
            break;
        }
    }
    for (uint32_t v = 0; v < g->n_vars; v++)
        bits[v] = post[v] < 0.0f;
    return result;
}
