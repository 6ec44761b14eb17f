/* libFuzzer target: the signal generator's block API (lr_siggen.h).  Arbitrary
 * sample rates, IFs, noise, scales and channel parameters, NaN, infinities and
 * huge values included, and update schedules of arbitrary code counts and Doppler:
 * every call either returns LR_E_ARG/LR_E_SPACE, writing nothing and leaving the
 * state as it was, or writes exactly the samples asked for (a scheduled call: at
 * most those, and says how many), with no undefined behaviour (float-to-integer
 * casts included). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_cpu.h"
#include "../lr_siggen.h"

#define MAX_SAMPLES 2600 /* crosses two sub-block boundaries */
#define MAX_CH 4

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

static double next_double(struct reader *r)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e3, 1e9, 2.046e6, 1.023e6, 1e-300,
                                     1e300, -1e300, 1.7976931348623157e308};
    uint8_t b = next_u8(r);
    switch (b % 4) {
    case 0: {
        double nonfinite[] = {NAN, INFINITY, -INFINITY};
        unsigned i = b / 4u % 16u;
        return i < 3 ? nonfinite[i] : special[(i - 3) % (sizeof special / sizeof special[0])];
    }
    case 1: {
        uint64_t bits = (uint64_t)next_u32(r) << 32 | next_u32(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    case 2:
        return (int32_t)next_u32(r) * 1e-3;
    default:
        return (int32_t)next_u32(r);
    }
}

static struct lr_siggen s, before; /* 6 KiB each */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int8_t *chips[MAX_CH] = {NULL};
    static int8_t signs[MAX_CH][16];
    static uint32_t track_channel[MAX_CH + 1];
    static double code_chips[(MAX_CH + 1) * 4], doppler[(MAX_CH + 1) * 4];
    static uint8_t out[MAX_SAMPLES * 2 * sizeof(float)], pristine[sizeof out];
    struct reader r = {data, size};
    double fs = next_double(&r), ifreq = next_double(&r);
    uint64_t seed = (uint64_t)next_u32(&r) << 32 | next_u32(&r);
    int rc = lr_siggen_init(&s, fs, ifreq, seed);
    if ((rc == LR_OK) != (fs >= 1e3 && fs <= 1e9 && isfinite(ifreq)) && !(rc == LR_E_ARG && !isfinite(ifreq)))
        abort();
    if (rc != LR_OK)
        return 0;
    s.noise_sigma = next_u8(&r) & 1 ? next_double(&r) : 0.0;
    s.scale = next_u8(&r) & 1 ? next_double(&r) : 1.0;
    s.n_channels = next_u8(&r) % (MAX_CH + 2); /* MAX_CH + 1 channels would read an unset channel */
    if (s.n_channels > MAX_CH)
        s.n_channels = 100; /* more than LR_SIGGEN_MAX_CHANNELS */
    for (unsigned i = 0; i < MAX_CH; i++) {
        struct lr_siggen_channel *c = &s.channel[i];
        uint8_t flags = next_u8(&r);
        c->n_chips = 1 + (next_u8(&r) | (uint32_t)(flags & 3) << 8); /* 1 .. 1024 */
        c->n_table = flags & 4 ? c->n_chips + LR_SIGGEN_CHIP_PAD : c->n_chips + (flags >> 5); /* some too short */
        /* Exactly n_table entries, so that AddressSanitizer sees any read past them.  Any
         * int8 value is a chip: the sign bit decides. */
        chips[i] = malloc(c->n_table ? c->n_table : 1);
        for (uint32_t k = 0; k < c->n_table; k++)
            chips[i][k] = (int8_t)(k < c->n_chips ? next_u8(&r) : chips[i][(k - c->n_chips) % c->n_chips]);
        c->chips = flags & 8 ? chips[i] : NULL;
        c->n_signs = flags & 16 ? 1 + next_u8(&r) % 16 : 0;
        for (uint32_t k = 0; k < 16; k++)
            signs[i][k] = (int8_t)(k & 1 ? -1 : 1);
        c->epoch_signs = c->n_signs ? signs[i] : NULL;
        c->sign_index = next_u8(&r) % 20;
        c->component = next_u8(&r) % 3;
        c->enabled = 1;
        c->code_phase_chips = next_double(&r);
        c->code_rate_cps = next_double(&r);
        c->carrier_phase_cycles = next_double(&r);
        c->doppler_hz = next_double(&r);
        c->doppler_rate_hz_s = next_double(&r);
        c->amplitude = next_double(&r);
    }
    for (int call = 0; call < 3 && r.n; call++) {
        size_t n = next_u32(&r) % (MAX_SAMPLES + 1);
        int format = next_u8(&r) % 4; /* 3 is not a format */
        size_t n_out = next_u8(&r) == 0 ? (n ? n - 1 : 0) : MAX_SAMPLES;
        uint8_t how = next_u8(&r);
        lr_simd_force(how & 2 ? LR_SIMD_PORTABLE : -1); /* both paths */
        memset(out, 0xA5, sizeof out);
        memcpy(pristine, out, sizeof out);
        before = s;
        int scheduled = how & 4;
        struct lr_siggen_schedule plan = {0};
        if (scheduled) {
            /* Tracks of any channel index (one past the last too), code counts near the
             * channel's own or anywhere, updates every few samples to every thousand. */
            plan.interval = next_u8(&r) % 2 ? next_u8(&r) : 1 + next_u32(&r) % 2000;
            plan.first_update = plan.interval ? s.sample_index / plan.interval - next_u8(&r) % 2 : 0;
            plan.n_updates = next_u8(&r) % 5;
            plan.n_tracks = next_u8(&r) % (MAX_CH + 2);
            for (uint32_t t = 0; t < plan.n_tracks; t++) {
                track_channel[t] = next_u8(&r) % (MAX_CH + 1);
                for (uint32_t j = 0; j < 4; j++) {
                    code_chips[t * 4 + j] = next_double(&r);
                    doppler[t * 4 + j] = next_double(&r);
                }
            }
            plan.channel = next_u8(&r) ? track_channel : NULL;
            plan.code_chips = code_chips;
            plan.doppler_hz = doppler;
        }
        int64_t k = scheduled ? lr_siggen_generate_scheduled(&s, &plan, n, format, out, n_out)
                              : lr_siggen_generate(&s, n, format, out, n_out);
        if (k < 0) {
            if ((k != LR_E_ARG && k != LR_E_SPACE) || memcmp(&s, &before, sizeof s) || memcmp(out, pristine, sizeof out))
                abort(); /* refused: nothing written, state unchanged */
            continue;
        }
        if ((scheduled ? k > (int64_t)n : k != (int64_t)n) || n > n_out || format == 3)
            abort();
        n = (size_t)k;
        if (s.sample_index != before.sample_index + n)
            abort();
        size_t bytes = n * 2 * (format == LR_SIGGEN_CI16 ? 2 : format == LR_SIGGEN_CI8 ? 1 : 4);
        if (memcmp(out + bytes, pristine + bytes, sizeof out - bytes))
            abort(); /* nothing written past the samples asked for */
    }
    lr_simd_force(-1);
    for (unsigned i = 0; i < MAX_CH; i++)
        free(chips[i]);
    return 0;
}
