/*
 * lr_channel.h - the radio channel between a modulator and a demodulator, on complex
 * baseband samples: a gain (0 during an outage), a carrier frequency offset that moves
 * with a rate (Doppler and its rate; the caller updates both between blocks from the
 * geometry), Wiener phase noise, and complex white Gaussian noise.
 *
 *   out[n] = gain * in[n] * exp(j * (2*pi*phase[n] + pn[n])) + noise_sigma * (x + j*y)
 *
 * phase advances by freq_hz / fs_hz per sample and freq_hz by freq_rate_hz_s / fs_hz;
 * pn is a random walk whose steps have standard deviation phase_noise_rad (a Lorentzian
 * line of width phase_noise_rad^2 * fs / (2*pi) Hz); x and y are unit normal.
 *
 * Noise is a pure function of (seed, sample index): splitting a run into blocks of any
 * size gives the same output.  Each sample's draws come from a counter-based hash
 * (SplitMix64's finaliser of seed and index), turned into normal numbers by Box-Muller
 * (uniforms on a 2^-32 grid, never 0, so the tails reach 6.6 sigma: exact enough for bit
 * error rates down to 1e-9).
 *
 * Buffers: the struct and both sample buffers belong to the caller; in and out may be the
 * same buffer.  lr_channel_init returns LR_OK or LR_E_ARG (fs_hz not in [1, 1e10]);
 * lr_channel_process returns n, LR_E_SPACE (n_out < n) or LR_E_ARG (a field not finite,
 * noise_sigma or phase_noise_rad negative); on an error nothing is written.
 */
#ifndef LR_CHANNEL_H
#define LR_CHANNEL_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
struct lr_channel {
    double fs_hz;
    double freq_hz;         /* carrier offset (CFO plus Doppler) at the next sample */
    double freq_rate_hz_s;  /* d(freq_hz)/dt */
    double phase_cycles;    /* carrier phase of the next sample, [0, 1) */
    double gain;            /* signal amplitude factor; 0 during an outage */
    double noise_sigma;     /* per real dimension */
    double phase_noise_rad; /* standard deviation of one sample's phase-noise step */
    double pn_phase_rad;    /* accumulated phase noise */
    uint64_t seed;
    uint64_t sample_index;  /* samples processed so far: the noise counter */
};

int lr_channel_init(struct lr_channel *c, double fs_hz, uint64_t seed);

/* n interleaved cf32 samples from in through the channel into out. */
int64_t lr_channel_process(struct lr_channel *c, const float *in, size_t n, float *out, size_t n_out);

/* The standard normal pair (x, y) the channel adds at sample `index` under `seed`
 * (scaled by noise_sigma), for tests of its statistics. */
void lr_channel_normal_pair(uint64_t seed, uint64_t index, double *x, double *y);
/* LR_CDEF_END */

#endif /* LR_CHANNEL_H */
