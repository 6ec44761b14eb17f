/* lr_channel.c - carrier offset, Doppler, phase noise, outages and AWGN; see lr_channel.h. */
#include "lr_channel.h"

#include <math.h>

#define TWO_PI 6.283185307179586476925286766559

static inline uint64_t splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Box-Muller on the two 32-bit halves of a hash word. */
static inline void normal_pair(uint64_t h, double *x, double *y)
{
    double u1 = ((double)(h >> 32) + 0.5) * 0x1p-32; /* (0, 1) */
    double u2 = (double)(uint32_t)h * 0x1p-32;
    double r = sqrt(-2.0 * log(u1));
    *x = r * cos(TWO_PI * u2);
    *y = r * sin(TWO_PI * u2);
}

static inline uint64_t key(uint64_t seed, uint64_t index, uint64_t stream)
{
    return splitmix64(splitmix64(seed ^ stream) + index);
}

void lr_channel_normal_pair(uint64_t seed, uint64_t index, double *x, double *y)
{
    normal_pair(key(seed, index, 0), x, y);
}

int lr_channel_init(struct lr_channel *c, double fs_hz, uint64_t seed)
{
    if (c == NULL || !(fs_hz >= 1.0 && fs_hz <= 1e10))
        return LR_E_ARG;
    *c = (struct lr_channel){0};
    c->fs_hz = fs_hz;
    c->gain = 1.0;
    c->seed = seed;
    return LR_OK;
}

int64_t lr_channel_process(struct lr_channel *c, const float *in, size_t n, float *out, size_t n_out)
{
    if (c == NULL || (n && (in == NULL || out == NULL)))
        return LR_E_ARG;
    if (!isfinite(c->freq_hz) || !isfinite(c->freq_rate_hz_s) || !isfinite(c->phase_cycles) ||
        !isfinite(c->gain) || !isfinite(c->noise_sigma) || !isfinite(c->phase_noise_rad) ||
        !isfinite(c->pn_phase_rad) || c->noise_sigma < 0.0 || c->phase_noise_rad < 0.0 ||
        !(c->fs_hz >= 1.0 && c->fs_hz <= 1e10))
        return LR_E_ARG;
    if (n_out < n)
        return LR_E_SPACE;
    const double dt = 1.0 / c->fs_hz;
    double phase = c->phase_cycles, freq = c->freq_hz, pn = c->pn_phase_rad;
    const double dfreq = c->freq_rate_hz_s * dt;
    for (size_t i = 0; i < n; i++) {
        uint64_t index = c->sample_index + i;
        double re = in[2 * i], im = in[2 * i + 1];
        if (!(isfinite(re) && isfinite(im)))
            re = im = 0.0;
        double angle = TWO_PI * phase + pn;
        double cs = cos(angle), sn = sin(angle);
        double yr = c->gain * (re * cs - im * sn);
        double yi = c->gain * (re * sn + im * cs);
        if (c->noise_sigma > 0.0) {
            double x, y;
            normal_pair(key(c->seed, index, 0), &x, &y);
            yr += c->noise_sigma * x;
            yi += c->noise_sigma * y;
        }
        if (c->phase_noise_rad > 0.0) {
            double x, y;
            normal_pair(key(c->seed, index, 1), &x, &y);
            pn += c->phase_noise_rad * x;
            pn = remainder(pn, TWO_PI);
        }
        out[2 * i] = (float)yr;
        out[2 * i + 1] = (float)yi;
        /* Exact quadratic phase over the sample: the frequency at its middle. */
        phase += (freq + 0.5 * dfreq) * dt;
        phase -= floor(phase);
        freq += dfreq;
    }
    c->phase_cycles = phase;
    c->freq_hz = freq;
    c->pn_phase_rad = pn;
    c->sample_index += n;
    return (int64_t)n;
}
