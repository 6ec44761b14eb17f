/*
 * lr_demod.h - the CCSDS demodulator: complex baseband samples in (interleaved cf32),
 * soft symbols out (float, positive for bit 1, about +/-1 for a clean symbol), block by
 * block with its state carried over.
 *
 * Suppressed-carrier BPSK, QPSK and OQPSK with RRC pulses (the modulator of lr_mod.h,
 * CCSDS 401.0-B §2.4.17):
 *   1. AGC: the samples of each frame of LR_DEMOD_FRAME input samples are scaled by the
 *      gain the frames before it set (fast attack, slow decay), so silence, a signal that
 *      comes back, clipping or a change of level never stall the loops; NaN and
 *      infinities become 0 (counted), magnitudes are bounded.
 *   2. Coarse frequency: a numerically controlled oscillator before the matched filter,
 *      set by an FFT search of the squared (BPSK) or fourth-power (QPSK, OQPSK) matched-
 *      filter output over +/- acq_range_hz, and after that fed with the Costas loop's
 *      frequency at every frame end (so Doppler and its rate move to the NCO).
 *   3. RRC matched filter at the input rate.
 *   4. Gardner timing recovery at two points per symbol with cubic (Farrow) interpolation.
 *   5. A second-order Costas loop on the symbols (OQPSK: I at the on-time point, Q half a
 *      symbol later).
 *   6. Soft symbols normalised by the signal amplitude that the M2M4 estimator finds; NRZ-M
 *      decoded differentially when asked (which also removes the 180 degree ambiguity; with
 *      NRZ-L the frame synchroniser's inverted-ASM detection does).
 * Lock is the average of cos(2*phase error) (BPSK) or -cos(4*phase error) (QPSK, OQPSK)
 * over lock_symbols symbols, with hysteresis.  When the loop has been unlocked for
 * unlock_symbols symbols the FFT search runs again: after an outage the receiver
 * re-acquires by itself.  A cycle slip is counted when the locked loop's phase leaves a
 * copy of itself smoothed over 256 symbols by half the ambiguity angle (pi/2 BPSK, pi/4 QPSK).
 *
 * PCM/PSK/PM (residual carrier, sine subcarrier): a second-order PLL on the residual
 * carrier, the phase detected, then a Costas loop on the subcarrier and integrate-and-dump
 * symbols timed by the subcarrier (symbol boundaries at subcarrier zero crossings, as
 * 401.0-B requires a whole number of subcarrier cycles per symbol).
 *
 * Every decision is taken at a sample index (frame ends, symbol points), so splitting a
 * stream into blocks of any size gives the same soft symbols.  With scalar_reference set,
 * the same algorithm runs as plain scalar loops (the benchmark's baseline).
 *
 * Buffers: struct lr_demod (a few hundred KiB, buffers inline), the input samples and
 * the soft output belong to the caller.  Return codes: lr_demod_init LR_OK or LR_E_ARG
 * (unknown scheme or coding; sps outside [2, 64] (RRC) or [2, 1e5] (PM); roll-off outside
 * [0.2, 0.5]; fs_hz outside [1, 1e10]; a loop bandwidth outside (0, 0.1] of the symbol
 * rate; acq_range_hz negative or beyond what the FFT covers; acq_frames outside 1..8;
 * PM: subcarrier not a whole number >= 1 of cycles per symbol, or below 2 samples per
 * subcarrier cycle).  lr_demod_process returns the soft symbols written, LR_E_SPACE if
 * n_soft < lr_demod_max_soft(n) (nothing consumed), LR_E_ARG for NULL buffers.
 */
#ifndef LR_DEMOD_H
#define LR_DEMOD_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_demod_limits {
    LR_DEMOD_FRAME = 1024,    /* input samples between AGC, NCO and acquisition updates */
    LR_DEMOD_MAX_TAPS = 769,  /* matched filter: 12 symbols at 64 samples per symbol */
    LR_DEMOD_FFT = 8192       /* acquisition FFT size (8 frames) */
};

struct lr_demod_config {
    int32_t scheme;         /* enum lr_mod_scheme */
    int32_t coding;         /* enum lr_mod_coding */
    double sps;             /* input samples per channel symbol */
    double rolloff;         /* RRC roll-off (suppressed carrier) */
    double fs_hz;           /* sample rate, to express frequencies in Hz */
    double carrier_bw;      /* Costas / PLL noise bandwidth, fraction of the symbol rate */
    double timing_bw;       /* timing loop noise bandwidth, fraction of the symbol rate */
    double acq_range_hz;    /* coarse search range +/-; 0: no search */
    int32_t acq_frames;     /* frames per FFT search, 1..8 (FFT of 1024 * that, rounded up to 2^k) */
    int32_t lock_symbols;   /* lock detector averaging, symbols */
    int32_t unlock_symbols; /* symbols out of lock before searching again */
    int32_t scalar_reference; /* 1: plain scalar loops (benchmark baseline) */
    double subcarrier_hz;   /* PM: subcarrier frequency */
    double mod_index_rad;   /* PM: nominal modulation index (scales the detector) */
};

struct lr_demod {
    struct lr_demod_config cfg;
    /* counters and estimates, read by the caller */
    uint64_t samples;         /* input samples taken */
    uint64_t symbols;         /* symbols demodulated */
    uint64_t nonfinite;       /* NaN or infinite input components replaced by 0 */
    uint64_t cycle_slips;
    uint64_t acquisitions;    /* FFT searches completed */
    uint64_t lock_changes;    /* transitions into or out of lock */
    int32_t locked;
    int32_t searching;        /* an FFT search is collecting samples */
    double lock_metric;       /* 0 (noise) .. 1 (clean, in phase) */
    double freq_offset_hz;    /* carrier frequency the receiver follows */
    double esn0_db;           /* M2M4 estimate of Es/N0 */
    double timing_sps;        /* samples per symbol the timing loop measures */
    double agc_gain;
    /* internal state */
    int32_t n_taps, bits_per_symbol, is_on, unlocked_run;
    double nco_phase, nco_freq;        /* cycles, cycles per sample */
    int64_t pos_i;                     /* next interpolation point: whole samples into y */
    double pos_f, period;              /* and its fraction; the symbol period in samples */
    double t_kp, t_ki, c_kp, c_ki;     /* loop gains */
    double theta, freq, theta_u, slip_ref; /* carrier loop (rad, rad per symbol) */
    double agc_power, frame_power[4];  /* the frame's power in four lanes (sample k: lane k % 4) */
    double m2, m4, lock_num, lock_den, amp, inv_amp, lock_coef;
    double prev_level;                 /* NRZ-M: previous serial level */
    float on_prev_r, on_prev_i, mid_r, mid_i, mid_prev_r, mid_prev_i;
    float d_on_prev_r, d_on_prev_i, d_mid_r, d_mid_i, d_mid_prev_i, d_on_r, d_on_i;
    int32_t have_prev, acq_fill, x_wait, nco_ready;
    /* PM */
    double pll_phase, pll_freq, sc_phase, sc_freq, sc_kp, sc_ki, sc_acc_i, sc_acc_q, sc_half_i;
    double sc_per_symbol;
    uint64_t sc_halves;                /* subcarrier half cycles so far */
    float sc_ring[128], sc_energy[128]; /* per half cycle: two per cycle, up to 64 per symbol */
    float taps[769];
    float xr[769 + 1024 + 8], xi[769 + 1024 + 8];
    float yr[4 + 1024 + 8], yi[4 + 1024 + 8];
    float acq_r[8192], acq_i[8192];
    float nco_r[1024], nco_i[1024];
};

/* Check cfg, clear the state and start searching (or tracking at 0 Hz without a search). */
int lr_demod_init(struct lr_demod *d, const struct lr_demod_config *cfg);

/* Soft symbols that n_samples more input samples can produce at most. */
size_t lr_demod_max_soft(const struct lr_demod *d, size_t n_samples);

/* Take n interleaved cf32 samples; write soft symbols (QPSK/OQPSK: I then Q per symbol). */
int64_t lr_demod_process(struct lr_demod *d, const float *iq, size_t n, float *soft, size_t n_soft);
/* LR_CDEF_END */

#endif /* LR_DEMOD_H */
