/* libFuzzer target: the spreading-code generators (lr_codes.h) with arbitrary kinds,
 * PRNs, Weil/insertion indices, G2 delays and output sizes.  Each call writes exactly
 * one period of 0/1 chips into an output of exactly n_out bytes (so AddressSanitizer
 * sees any write past it) or refuses with LR_E_ARG/LR_E_SPACE, writing nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_codes.h"

static int32_t next_i32(const uint8_t **p, size_t *n)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = v << 8 | (*n ? **p : 0);
        if (*n) {
            (*p)++;
            (*n)--;
        }
    }
    /* Mostly small values near the valid ranges, sometimes anything. */
    return v & 0x80000000u ? (int32_t)v : (int32_t)(v % 12000u) - 10;
}

/* Run one generator call on an n_out-byte buffer and check its outcome. */
static void check_call(int which, int kind, int a, int b, size_t n_out)
{
    uint8_t *out = malloc(n_out ? n_out : 1);
    memset(out, 0xEE, n_out);
    int64_t r;
    switch (which) {
    case 0:
        r = lr_code_generate(kind, a, out, n_out);
        break;
    case 1:
        r = lr_afs_i_gold(a, out, n_out);
        break;
    case 2:
        r = lr_afs_q_primary_weil(a, b, out, n_out);
        break;
    default:
        r = lr_afs_q_tertiary_weil(a, out, n_out);
    }
    if (r >= 0) {
        if ((size_t)r > n_out || r == 0)
            abort();
        if (which == 0 && r != lr_code_length(kind))
            abort();
        for (int64_t i = 0; i < r; i++)
            if (out[i] > 1)
                abort();
        for (size_t i = (size_t)r; i < n_out; i++)
            if (out[i] != 0xEE)
                abort();
        /* Parameters the header documents as valid. */
        if (which == 0 && (a < 0 || a > lr_code_prn_max(kind) || (kind != LR_CODE_AFS_Q_SECONDARY && a < 1)))
            abort();
        if ((which == 1 && (a < 0 || a > 2046)) || (which == 2 && (a < 1 || a > 5111 || b < 1 || b > 10223)) ||
            (which == 3 && (a < 1 || a > 749)))
            abort();
    } else {
        if (r != LR_E_ARG && r != LR_E_SPACE)
            abort();
        for (size_t i = 0; i < n_out; i++)
            if (out[i] != 0xEE)
                abort(); /* nothing written */
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size >= 2) {
        int which = data[0] & 3, kind = (int)(data[0] >> 2) % 7 - 1; /* -1 and 5 are unknown */
        size_t n_out = data[1] & 1 ? (size_t)(data[1] >> 1) * 97 : 10230 + (data[1] >> 1) % 3 - 1;
        data += 2;
        size -= 2;
        int a = next_i32(&data, &size), b = next_i32(&data, &size);
        if (which == 0 && (lr_code_length(kind) < 0) != (kind < 0 || kind > LR_CODE_AFS_Q_TERTIARY))
            abort();
        check_call(which, kind, a, b, n_out);
    }
    return 0;
}
