/*
 * lr_siggen.h - multi-channel GNSS signal synthesis: the sum of up to
 * LR_SIGGEN_MAX_CHANNELS spread-spectrum channels plus complex white Gaussian
 * noise, as complex baseband (or low IF) samples in cf32, ci16 or ci8.
 *
 * Each channel is  a * d[e] * c[floor(code_phase)] * exp(j*2*pi*carrier_phase)
 * multiplied by j when it is a Q component (AFS-Q lies in quadrature to AFS-I,
 * LunaNet LSIS V1.0 §2.3; GPS L1 C/A alone is an I component, IS-GPS-200 §3.3.1.1):
 *   c   the channel's chip table, +1/-1 (logic 0 -> +1, logic 1 -> -1); the kernel
 *       reads only the sign bit, so any negative entry is -1 and any other +1;
 *   d[e] the sign of code epoch e, from a caller-supplied stream aligned to code
 *        epochs (navigation symbols times secondary/tertiary overlay), +1/-1;
 *   code_phase advances by code_rate_cps / fs_hz per sample and wraps at n_chips,
 *        which starts the next code epoch;
 *   carrier_phase (cycles) advances by (if_hz + doppler_hz) / fs_hz per sample,
 *        and doppler_hz itself by doppler_rate_hz_s per second.
 *
 * C/N0 convention (used by onboard/core/siggen.py to set amplitudes): complex
 * noise n = noise_sigma * (x + j*y), x and y unit normal, so the noise power per
 * complex sample is N0*fs = 2*noise_sigma^2.  A channel of amplitude a has carrier
 * power C = a^2, hence  a = noise_sigma * sqrt(2 * 10^(cn0_dbhz/10) / fs_hz),  and
 * a coherent correlation over T seconds has SNR |mean|^2/var = T * C/N0.
 *
 * Carriers: a channel whose carrier phase, Doppler and Doppler rate equal those of the enabled
 * channel before it shares that channel's carrier rotator (an AFS node's AFS-I and AFS-Q, whose
 * carrier is one): the sum is the same as with a rotator each, for half the rotator work.
 *
 * Continuity: the state keeps code phase, carrier phase and Doppler in double
 * precision and re-derives the per-sample (fixed point and float) phases from them
 * at every sub-block of at most 1024 samples, so long runs do not drift and a block
 * may end anywhere (where it ends changes the double roundings, not the signal).  Between calls the caller may change any channel
 * field (Doppler, code rate, amplitude, signs ...): phases carry over, so updates at
 * 10-100 Hz make no phase jump.
 *
 * Noise is a pure function of (seed, absolute sample index), so splitting a run into
 * blocks of any size gives the same noise, and the portable and AVX2 paths draw the same
 * numbers.  Per sample a counter-based hash keyed by the seed (lowbias32 without its first
 * xorshift, then one more multiply-xorshift round) gives two 32-bit words, one for I and one
 * for Q.  Each word is cut into three fields of 11, 11 and 10 bits (the last doubled) whose
 * centred sum x is an Irwin-Hall sum of three uniforms, in [-3070, 3070] with standard
 * deviation 1024 (to 3e-7).  The odd polynomial z*(C1 + C3 z^2 + C5 z^4 + C7 z^6) of z = x/1024
 * (csrc/gen/siggen_poly.py: a least-squares fit to the exact map Phi^-1(F_IH3(z)), scaled to
 * unit output variance) makes it near-Gaussian.  The approximation, from the exact Irwin-Hall
 * distribution: variance 1, mean 0 (symmetric), kurtosis 2.996 (Gaussian 3), P(|z| > 2) =
 * 0.0452 (0.0455), P(|z| > 3) = 0.00284 (0.00270), P(|z| > 3.5) = 4.5e-4 (4.7e-4), P(|z| > 4)
 * = 2.0e-5 (6.3e-5), nothing beyond 4.33 sigma; the values lie on a grid of about 0.001 sigma
 * (6141 levels).  I and Q, successive samples and different seeds are uncorrelated.
 *
 * SIMD: the AVX2/FMA path and the portable path compute the same chip indices
 * and noise draws; they differ only by float rounding (FMA contraction), below
 * 1e-5 of full scale in cf32.
 *
 * Buffers: struct lr_siggen and every chip table and sign stream are owned by
 * the caller and must stay valid during a call; nothing is retained by the
 * library beyond what the struct holds.  A chip table holds n_table >= n_chips +
 * LR_SIGGEN_CHIP_PAD int8 entries: chips[0 .. n_chips-1] are the code and the pad
 * repeats chips[0 .. LR_SIGGEN_CHIP_PAD-1] (vector loads read up to 8 past an index).
 *
 * Return codes: lr_siggen_init returns LR_OK or LR_E_ARG (fs_hz outside
 * [1e3, 1e9] Hz or not finite).  lr_siggen_generate returns the number of complex
 * samples written, LR_E_SPACE if n_out < n_samples, or LR_E_ARG for a bad format
 * or a channel out of range (enabled channel without a chip table, n_table <
 * n_chips + LR_SIGGEN_CHIP_PAD, code phase outside [0, n_chips), code rate
 * negative or at least 32 chips per sample, component not I or Q, sign_index >=
 * n_signs, non-finite numbers); on LR_E_ARG nothing is written and the state is
 * unchanged.
 */
#ifndef LR_SIGGEN_H
#define LR_SIGGEN_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_siggen_limits {
    LR_SIGGEN_MAX_CHANNELS = 64,
    LR_SIGGEN_CHIP_PAD = 8,
    LR_SIGGEN_SUBBLOCK = 1024 /* samples per internal sub-block */
};

enum lr_siggen_format {
    LR_SIGGEN_CF32 = 0, /* interleaved float I, Q */
    LR_SIGGEN_CI16 = 1, /* interleaved int16 I, Q, clipped to +/-32767 */
    LR_SIGGEN_CI8 = 2   /* interleaved int8 I, Q, clipped to +/-127 */
};

enum lr_siggen_component {
    LR_SIGGEN_I = 0, /* in phase with the carrier */
    LR_SIGGEN_Q = 1  /* in quadrature: multiplied by j */
};

struct lr_siggen_channel {
    const int8_t *chips;         /* +1/-1, n_table entries (see above) */
    uint32_t n_chips;            /* code length, chips per code epoch */
    uint32_t n_table;            /* entries readable at chips */
    const int8_t *epoch_signs;   /* +1/-1 per code epoch, or NULL for all +1 */
    uint32_t n_signs;            /* entries in epoch_signs (cycled when exhausted) */
    uint32_t sign_index;         /* entry of the current code epoch */
    int32_t component;           /* enum lr_siggen_component */
    int32_t enabled;             /* 0: the channel is skipped */
    double code_phase_chips;     /* [0, n_chips) at the next sample */
    double code_rate_cps;        /* chips per second, code Doppler included */
    double carrier_phase_cycles; /* [0, 1) at the next sample */
    double doppler_hz;           /* carrier Doppler at the next sample */
    double doppler_rate_hz_s;    /* d(doppler_hz)/dt */
    double amplitude;            /* linear, output units before scale */
    uint64_t epochs;             /* code epochs completed so far */
};

struct lr_siggen {
    double fs_hz;       /* sample rate */
    double if_hz;       /* carrier offset added to every channel's Doppler */
    double noise_sigma; /* per real dimension; 0 for no noise */
    double scale;       /* output = scale * (signal + noise), before rounding */
    uint64_t seed;      /* noise seed */
    uint64_t sample_index; /* samples generated so far: the noise counter */
    uint64_t clipped;   /* ci16/ci8 components clipped so far */
    uint32_t n_channels; /* channels 0 .. n_channels-1 are used */
    struct lr_siggen_channel channel[64];
};

/* Clear *s and set the sample rate, IF and seed; no channel, no noise, scale 1. */
int lr_siggen_init(struct lr_siggen *s, double fs_hz, double if_hz, uint64_t seed);

/* Write n_samples complex samples in `format` to out (room for n_out complex
 * samples) and advance the state.  Returns n_samples or a negative LR_E_*. */
int64_t lr_siggen_generate(struct lr_siggen *s, size_t n_samples, int format, void *out,
                           size_t n_out);

/* Channels that follow a geometry, updated every `interval` samples without returning to the
 * caller (the 100 Hz updates of hil/world/signal_geometry.py).  Update u starts at sample index
 * u * interval; entry j of each track is update first_update + j.  At the start of an update the
 * tracked channel gets the code rate that takes its code count (epochs * n_chips +
 * code_phase_chips, read back from the state) to code_chips[j] at the update's end, and the
 * carrier Doppler doppler_hz[j]. */
struct lr_siggen_schedule {
    uint64_t interval;        /* samples per update, >= 1 */
    uint64_t first_update;    /* update of entry 0 */
    uint32_t n_updates;       /* entries per track */
    uint32_t n_tracks;        /* tracked channels, <= LR_SIGGEN_MAX_CHANNELS */
    const uint32_t *channel;  /* n_tracks channel indices, each < n_channels */
    const double *code_chips; /* n_tracks x n_updates, row-major: code count at each update's end */
    const double *doppler_hz; /* n_tracks x n_updates, row-major: carrier Doppler over each update */
};

/* lr_siggen_generate with the tracked channels updated by `plan` (read only, owned by the caller)
 * at every update boundary on the way.  Stops early at a boundary whose update the plan does not
 * hold (the caller passes the next updates and calls again) and returns the samples written so
 * far: n_samples, or fewer, or 0.  A run that starts inside an update keeps the rates of that
 * update up to its end.  Returns LR_E_ARG, changing nothing, for a bad plan (interval 0, a
 * channel index out of range, missing arrays) or, at the first update it meets, for a code rate
 * outside [0, 32) chips per sample or a non-finite Doppler; met later, such an update ends the
 * call early instead. */
int64_t lr_siggen_generate_scheduled(struct lr_siggen *s, const struct lr_siggen_schedule *plan, size_t n_samples,
                                     int format, void *out, size_t n_out);

/* LR_CDEF_END */

#endif /* LR_SIGGEN_H */
