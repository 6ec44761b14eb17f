/*
 * siggen_baseline.h - the baseline of `lunarelay bench siggen`, compiled for the bench
 * only (tools/bench/siggen_baseline.py builds it with cffi when the bench runs): GPS
 * channels synthesised one sample and one channel at a time with the structure of
 * gps-sdr-sim's generator loop: double code phase, chip lookup, 512-entry integer
 * sin/cos tables indexed by a 32-bit carrier phase, integer accumulate, ci16 output.
 * No noise, no Doppler rate, no epoch signs.
 *
 * Buffers: the channels, their chip tables and out belong to the caller; the call
 * advances each channel's code and carrier phase as the core's lr_siggen_generate
 * does, and keeps nothing.
 *
 * Return codes: n_samples, or SIGGEN_BASELINE_E_SPACE if n_out < n_samples, or
 * SIGGEN_BASELINE_E_ARG (nothing written, no channel changed) for a sample rate
 * outside [1e3, 1e9] Hz, a non-finite number, a channel without a chip table or with
 * n_table < n_chips, a code phase outside [0, n_chips), a code step outside [0, 32)
 * chips per sample, a chip table entry other than +1/-1, or amplitude * scale *
 * 128 / 250 beyond 2^17 in magnitude (the integer gain that keeps 64 channels inside
 * an int).
 */
#ifndef SIGGEN_BASELINE_H
#define SIGGEN_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/* BASELINE_CDEF_BEGIN */
enum siggen_baseline_status {
    SIGGEN_BASELINE_E_ARG = -1,
    SIGGEN_BASELINE_E_SPACE = -2,
    SIGGEN_BASELINE_MAX_CHANNELS = 64
};

struct siggen_baseline_channel {
    const int8_t *chips;         /* +1/-1, n_table entries */
    uint32_t n_chips;            /* code length */
    uint32_t n_table;            /* entries readable at chips, >= n_chips */
    double code_phase_chips;     /* [0, n_chips) at the next sample */
    double code_rate_cps;        /* chips per second, code Doppler included */
    double carrier_phase_cycles; /* [0, 1) at the next sample */
    double doppler_hz;
    double amplitude;            /* linear, output units before scale */
};

int64_t siggen_baseline(struct siggen_baseline_channel *channels, uint32_t n_channels, double fs_hz,
                        double if_hz, double scale, size_t n_samples, int16_t *out, size_t n_out);
/* BASELINE_CDEF_END */

#endif /* SIGGEN_BASELINE_H */
