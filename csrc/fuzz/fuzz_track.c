/* libFuzzer target: the tracker (lr_track.h) with arbitrary sample rates, channel parameters,
 * codes, modes and samples (NaN, infinities and huge cf32 values included), on every kernel.  Each
 * call either refuses with LR_E_ARG/LR_E_SPACE, leaving the state and the output untouched, or
 * writes at most lr_track_max_dumps() finite dumps and leaves every NCO and loop value finite. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_cpu.h"
#include "../lr_track.h"

#define MAX_CH 3
#define MAX_SAMPLES 9000
#define MAX_DUMPS 64

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

static uint32_t next_u32(struct reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | next_u8(r);
    return v;
}

/* Mostly plausible values around `typical`, sometimes anything. */
static double next_value(struct reader *r, double typical)
{
    uint8_t b = next_u8(r);
    switch (b % 8) {
    case 0: {
        const double special[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e300, -1e300, 1e-300};
        return special[(b / 8) % 8];
    }
    case 1: {
        uint64_t bits = (uint64_t)next_u32(r) << 32 | next_u32(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    default:
        return typical * (1.0 + ((int32_t)next_u32(r)) / 2147483648.0);
    }
}

static struct lr_tracker t, before;
static struct lr_track_dump out[MAX_DUMPS + 1], pristine[MAX_DUMPS + 1];

static int state_finite(const struct lr_tracker *s)
{
    for (uint32_t k = 0; k < s->n_channels && k < LR_TRACK_MAX_CHANNELS; k++) {
        const struct lr_track_channel *c = &s->channel[k];
        if (!c->enabled)
            continue;
        double v[] = {c->code_phase_chips, c->code_rate_cps, c->carrier_cycles, c->carrier_hz, c->pll_rate_hz_s,
                      c->pll_freq_hz, c->epoch_start, c->acc[0], c->acc[3], c->coh[2], c->pll_error_cycles,
                      c->fll_error_hz, c->dll_error_chips};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            if (!isfinite(v[i]))
                return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    static float samples[2 * MAX_SAMPLES];
    int8_t *tables[2 * MAX_CH] = {NULL};
    static int8_t signs[16];
    double fs = next_u8(&r) & 1 ? next_value(&r, 4e6) : 4e6;
    if (lr_track_init(&t, fs, next_u8(&r) & 1 ? next_value(&r, 1e3) : 0.0) != LR_OK)
        return 0;
    t.kernel = next_u8(&r) % 3; /* 2 is not a kernel */
    t.n_channels = next_u8(&r) % (MAX_CH + 1);
    for (int k = 0; k < 16; k++)
        signs[k] = (int8_t)(k % 3 ? 1 : -1);
    for (uint32_t i = 0; i < MAX_CH; i++) {
        struct lr_track_channel *c = &t.channel[i];
        uint8_t flags = next_u8(&r);
        for (int which = 0; which < 2; which++) {
            struct lr_track_code *code = which ? &c->data : &c->main;
            uint32_t n = 1 + next_u8(&r) % 200;
            uint32_t n_table = flags & 1 ? n + (next_u8(&r) % 70) : n + 2 * LR_TRACK_CODE_PAD;
            /* Exactly n_table entries, so AddressSanitizer sees any read past them. */
            int8_t *tab = malloc(n_table);
            for (uint32_t k = 0; k < n_table; k++)
                tab[k] = (int8_t)next_u8(&r);
            tables[2 * i + which] = tab;
            code->table = which && (flags & 2) ? NULL : tab;
            code->n_chips = n;
            code->n_table = n_table;
            code->component = next_u8(&r) % 3;
        }
        c->enabled = 1;
        c->mode = next_u8(&r) % 3;
        c->pilot_signs = flags & 4 ? signs : NULL;
        c->n_pilot_signs = 16;
        c->pilot_index = next_u8(&r) % 18;
        c->n_coherent = next_u8(&r) % 6;
        c->chip_rate_cps = next_value(&r, 1e6);
        c->code_rate_cps = flags & 8 ? next_value(&r, 1e6) : c->chip_rate_cps;
        c->code_phase_chips = next_value(&r, 50.0);
        c->carrier_cycles = next_value(&r, 0.5);
        c->carrier_hz = next_value(&r, 1e3);
        c->pll_freq_hz = c->carrier_hz;
        c->carrier_freq_hz = next_value(&r, 2e9);
        c->pll_bw_hz = next_value(&r, 15.0);
        c->fll_bw_hz = next_value(&r, 5.0);
        c->dll_bw_hz = next_value(&r, 2.0);
        c->early_late_chips = next_value(&r, 0.5);
        c->epoch_start = 0.0;
    }
    for (int call = 0; call < 3 && r.n; call++) {
        size_t n = next_u32(&r) % (MAX_SAMPLES + 1);
        int format = next_u8(&r) % 4; /* 3 is not a format */
        for (size_t i = 0; i < 2 * n; i++) {
            uint8_t b = next_u8(&r);
            samples[i] = b == 0xFF ? NAN : b == 0xFE ? INFINITY : b == 0xFD ? 3e38f : (float)((int)b - 128);
        }
        lr_simd_force(next_u8(&r) & 1 ? LR_SIMD_PORTABLE : -1);
        size_t n_out = next_u8(&r) & 1 ? (size_t)(next_u8(&r) % 4) : MAX_DUMPS;
        memset(out, 0xA5, sizeof out);
        memcpy(pristine, out, sizeof out);
        before = t;
        int64_t k = lr_track_process(&t, samples, format, n, out, n_out);
        if (k < 0) {
            if ((k != LR_E_ARG && k != LR_E_SPACE) || memcmp(&t, &before, sizeof t) ||
                memcmp(out, pristine, sizeof out))
                abort();
            continue;
        }
        if ((size_t)k > n_out || (size_t)k > lr_track_max_dumps(&before, n) || t.next_sample != before.next_sample + n)
            abort();
        if (memcmp(out + k, pristine + k, sizeof out - (size_t)k * sizeof out[0]))
            abort(); /* nothing written past the dumps reported */
        for (int64_t j = 0; j < k; j++)
            if (!isfinite(out[j].p_re) || !isfinite(out[j].start_sample) || !isfinite(out[j].pll_error_cycles))
                abort();
        if (!state_finite(&t))
            abort();
    }
    lr_simd_force(-1);
    for (int i = 0; i < 2 * MAX_CH; i++)
        free(tables[i]);
    return 0;
}
