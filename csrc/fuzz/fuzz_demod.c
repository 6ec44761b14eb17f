/* libFuzzer target: the demodulator (lr_demod.h) on hostile input.  The configuration comes
 * from the first bytes (valid or not: lr_demod_init must refuse exactly the bad ones), the
 * samples from the rest taken as raw float bits (NaN, infinities, denormals, 3e38 ...),
 * repeated to cross frame ends and FFT searches, fed in pieces of fuzzed sizes with output
 * buffers that are sometimes too short.  Every call returns a count within
 * lr_demod_max_soft or LR_E_SPACE (then consuming nothing), and every soft symbol is finite. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_cpu.h"
#include "../lr_demod.h"
#include "../lr_mod.h"

#define MAX_SAMPLES 6000

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

static struct lr_demod d;
static float iq[2 * MAX_SAMPLES];
static float soft[2 * MAX_SAMPLES + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    static const double sps_set[] = {2.0, 2.5, 3.3, 4.0, 8.0, 64.0, 1.5, 65.0, NAN};
    static const double bw_set[] = {0.002, 0.01, 0.1, 0.0, 0.2, NAN};
    struct lr_demod_config c = {0};
    uint8_t b = next_u8(&r);
    c.scheme = b % 5; /* 4 is not a scheme */
    c.coding = (b >> 3) % 3;
    c.scalar_reference = (b >> 5) & 1;
    c.sps = sps_set[next_u8(&r) % 9];
    c.rolloff = 0.15 + 0.05 * (next_u8(&r) % 8);
    c.fs_hz = next_u8(&r) & 1 ? 4e6 : 128e3;
    c.carrier_bw = bw_set[next_u8(&r) % 6];
    c.timing_bw = bw_set[next_u8(&r) % 6];
    c.acq_range_hz = (next_u8(&r) % 4) * 8e3;
    c.acq_frames = next_u8(&r) % 10;
    c.lock_symbols = next_u8(&r) % 64;
    c.unlock_symbols = next_u8(&r) % 64;
    c.subcarrier_hz = next_u8(&r) & 1 ? 16e3 : 15e3;
    c.mod_index_rad = 0.5 * (next_u8(&r) % 8);
    if (c.scheme == LR_MOD_PCM_PSK_PM)
        c.sps = c.sps * 16.0; /* whole subcarrier cycles per symbol at 128 kHz for 4.0 */
    lr_simd_force(next_u8(&r) & 1 ? LR_SIMD_PORTABLE : -1);
    if (lr_demod_init(&d, &c) != LR_OK) {
        lr_simd_force(-1);
        return 0;
    }
    /* samples: the rest of the input as floats, repeated */
    size_t n_float = r.n / 4;
    size_t n_samples = 0;
    if (n_float >= 2) {
        n_samples = MAX_SAMPLES;
        for (size_t i = 0; i < 2 * n_samples; i++)
            memcpy(&iq[i], r.p + 4 * (i % n_float), 4);
    }
    size_t done = 0;
    unsigned piece = 1 + (n_float ? r.p[0] : 7);
    while (done < n_samples) {
        size_t k = n_samples - done < piece ? n_samples - done : piece;
        size_t cap = lr_demod_max_soft(&d, k);
        int short_buffer = (piece & 3) == 0 && cap > 0;
        uint64_t before = d.samples;
        int64_t got = lr_demod_process(&d, iq + 2 * done, k, soft, short_buffer ? cap - 1 : cap);
        if (short_buffer) {
            if (got != LR_E_SPACE || d.samples != before)
                abort();
        } else {
            if (got < 0 || (size_t)got > cap || d.samples != before + k)
                abort();
            for (int64_t i = 0; i < got; i++)
                if (!isfinite(soft[i]))
                    abort();
            done += k;
        }
        piece = piece * 7 % 2039 + 1;
    }
    if (!isfinite(d.freq_offset_hz) || !isfinite(d.esn0_db) || !isfinite(d.lock_metric))
        abort();
    lr_simd_force(-1);
    return 0;
}
