/* libFuzzer target: the modulator (lr_mod.h) with fuzzed configurations (bad ones must be
 * refused), bits, block sizes, formats and output buffers.  Every call writes at most
 * lr_mod_max_samples samples and nothing past what it reports, refuses short buffers with
 * LR_E_SPACE without consuming bits, and RRC output agrees with the direct FIR. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_cpu.h"
#include "../lr_iq.h"
#include "../lr_mod.h"

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

static struct lr_mod m, ref;
static float out[2 * 40000 + 64], out_ref[2 * 40000 + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    static const double sps_set[] = {2.0, 2.37, 4.0, 7.9, 1.99, 1e7, NAN, INFINITY};
    struct lr_mod_config c = {0};
    uint8_t b = next_u8(&r);
    c.scheme = b % 5;
    c.coding = (b >> 3) % 3;
    c.sps = sps_set[next_u8(&r) % 8];
    c.rolloff = 0.1 + 0.05 * (next_u8(&r) % 10);
    c.amplitude = next_u8(&r) & 1 ? 1.0 : next_u8(&r) & 1 ? 40000.0 : -1.0;
    c.subcarrier_cycles_per_sample = 0.02 * (next_u8(&r) % 30);
    c.mod_index_rad = 0.5 * (next_u8(&r) % 8);
    int format = next_u8(&r) % 4;
    lr_simd_force(next_u8(&r) & 1 ? LR_SIMD_PORTABLE : -1);
    if (lr_mod_init(&m, &c) != LR_OK) {
        lr_simd_force(-1);
        return 0;
    }
    lr_mod_init(&ref, &c);
    const int rrc = c.scheme <= LR_MOD_OQPSK;
    while (r.n) {
        size_t n_bits = next_u8(&r) % 200;
        int short_flag = next_u8(&r) == 7;
        if (n_bits > r.n)
            n_bits = r.n;
        size_t cap = lr_mod_max_samples(&m, n_bits);
        if (cap > 40000)
            break;
        int short_buffer = short_flag && cap > 0;
        size_t n_out = short_buffer ? cap - 1 : cap;
        memset(out, 0x5A, sizeof out);
        uint64_t sym = m.n_symbols;
        int64_t k = lr_mod_process(&m, r.p, n_bits, format, out, n_out);
        if (format == 3) {
            if (k != LR_E_ARG)
                abort();
            break;
        }
        if (short_buffer) {
            if (k != LR_E_SPACE || m.n_symbols != sym)
                abort();
            continue;
        }
        if (k < 0 || (size_t)k > n_out)
            abort();
        size_t item = format == LR_IQ_CF32 ? 8 : format == LR_IQ_CI16 ? 4 : 2;
        const uint8_t *tail = (const uint8_t *)out + (size_t)k * item;
        for (size_t i = 0; i < item * 8 && (size_t)k + i / item < 40000; i++)
            if (tail[i] != 0x5A)
                abort(); /* nothing written past the samples reported */
        if (rrc && format == LR_IQ_CF32) {
            int64_t k2 = lr_mod_reference(&ref, r.p, n_bits, format, out_ref, n_out);
            if (k2 != k)
                abort();
            for (int64_t i = 0; i < 2 * k; i++)
                if (fabsf(out[i] - out_ref[i]) > 1e-4f * (float)fmax(1.0, c.amplitude))
                    abort();
        } else if (rrc) {
            lr_mod_reference(&ref, r.p, n_bits, LR_IQ_CF32, out_ref, 40000);
        }
        r.p += n_bits;
        r.n -= n_bits;
    }
    if (format != 3) {
        size_t cap = lr_mod_max_samples(&m, 0);
        if (lr_mod_flush(&m, format, out, cap) < 0 || lr_mod_process(&m, data, 0, format, out, cap) != LR_E_STATE)
            abort();
        if (c.scheme == LR_MOD_PCM_PSK_PM && lr_mod_carrier(&m, 100, format, out, 100) != 100)
            abort();
    }
    lr_simd_force(-1);
    return 0;
}
