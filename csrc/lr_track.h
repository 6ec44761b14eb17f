/*
 * lr_track.h - GNSS/AFS tracking: multi-channel correlators with their carrier and
 * code loops, run over blocks of complex baseband samples.
 *
 * A channel follows one transmitter with one carrier NCO and one code NCO.  It
 * correlates the input, wiped of the carrier, against up to two spreading codes that
 * share the code epoch: the "main" code, with early, prompt and late taps (the code
 * the loops track: a pilot such as AFS-Q, or the data code when there is no pilot),
 * and an optional "data" code with a prompt tap (AFS-I next to the AFS-Q pilot).  Both
 * codes start together at each epoch (LunaNet LSIS-AFS V1.0 §2.3: AFS-I's 2046 chips at
 * 1.023 Mcps and AFS-Q's 10230 chips at 5.115 Mcps both last 2 ms), so one NCO in main
 * code chips drives both: data chip = main chip * data_chips / main_chips.
 *
 * Each channel writes one lr_track_dump per code epoch: its four complex correlations
 * and where in the stream the epoch began, to sub-sample precision.  A component
 * flag per code says whether it lies in phase (I) or in quadrature (Q, multiplied by j,
 * as AFS-Q is); the loops undo the j, so a locked carrier puts both codes' symbols on
 * the real axis of their (de-rotated) prompt.
 *
 * Loops (updated at the end of each epoch in COSTAS mode, or of every n_coherent
 * epochs in PILOT mode), after Kaplan & Hegarty, "Understanding GPS" (2nd ed.), ch. 5
 * (its loop-filter table and FLL-assisted PLL):
 *   - carrier: a third-order PLL assisted by a second-order FLL (bandwidths pll_bw_hz,
 *     fll_bw_hz; either may be 0).  COSTAS mode uses the two-quadrant discriminators
 *     atan(Q/I) and atan(cross/dot), blind to the sign flips of data, secondary and
 *     tertiary chips; PILOT mode multiplies the main prompt by the caller's sign of
 *     each epoch (the known tiered pilot code), sums n_coherent epochs coherently and
 *     uses the four-quadrant atan2 discriminators;
 *   - code: a first-order DLL (dll_bw_hz) on the normalised early-minus-late envelope
 *     (1 - d/2)(|E| - |L|)/(|E| + |L|), d = early_late_chips, aided by the carrier: the
 *     code rate is chip_rate_cps * (1 + carrier_hz / carrier_freq_hz) plus the DLL term.
 *   With every bandwidth 0 the NCOs keep the rates the caller set (open loop).
 * Between calls the caller may change any parameter (bandwidths, mode, signs, NCO
 * values); the state carries over.
 *
 * Sample positions: the tracker counts input samples from 0 (next_sample).  A
 * channel's NCO values refer to sample next_sample: code_phase_chips is the main
 * code's phase there, carrier_cycles the carrier phase (unwrapped cycles).  The
 * carrier replica is exp(j*2*pi*carrier_cycles) advancing by (if_hz + carrier_hz) /
 * fs_hz per sample; the input is multiplied by its conjugate.
 *
 * Kernels: the SIMD kernel (AVX2 with runtime dispatch, lr_cpu.h, and a portable
 * path) assigns chips in 32-bit fixed point re-derived from the double NCO every
 * segment of at most LR_TRACK_SEGMENT samples, and wipes the carrier with a float
 * rotator seeded the same way; kernel LR_TRACK_KERNEL_SCALAR is the reference loop:
 * one sample and one tap at a time, double code phase, a 1024-entry sin/cos table on
 * a 32-bit carrier phase accumulator (the structure of classic software receivers'
 * correlators).  All kernels see the same NCO values and write the same dumps to
 * within float rounding.
 *
 * Input: n_in complex samples, interleaved I, Q as float (cf32), int16 (ci16) or
 * int8 (ci8), no scaling.  A NaN or infinite cf32 component counts as 0.
 *
 * Buffers: struct lr_tracker, the code tables and the pilot sign arrays are owned
 * by the caller and must stay valid during a call; nothing is retained beyond what
 * the struct holds, nothing is allocated.  A code table holds n_table int8 chips,
 * 0 for logic 0 (+1) and -1 for logic 1 (-1), laid out as
 *     table[LR_TRACK_CODE_PAD + k] = chip k          for k in [0, n_chips)
 *     table[k] = chip (k - LR_TRACK_CODE_PAD) mod n_chips   elsewhere,
 * with n_table = n_chips + 2 * LR_TRACK_CODE_PAD (early and late taps and vector
 * loads read up to LR_TRACK_CODE_PAD chips either side of the code).
 *
 * Return codes: lr_track_init returns LR_OK or LR_E_ARG (fs_hz outside [1e3, 1e9],
 * if_hz not finite).  lr_track_process returns the number of dumps written, LR_E_SPACE
 * when n_out < lr_track_max_dumps(t, n_in) (nothing processed), or LR_E_ARG (nothing
 * processed, state unchanged) for a bad format or a bad enabled channel: no main code,
 * a table of the wrong size, n_chips 0, code phase outside [0, n_chips), a code rate
 * that is not finite or outside (0, 8 * fs_hz) main chips per second or that makes
 * an epoch longer than 2^31 samples, early_late_chips outside [0, 2], a component
 * other than 0/1, a negative or non-finite bandwidth, carrier_freq_hz negative or not
 * finite, a mode other than COSTAS/PILOT, PILOT without signs or with pilot_index out
 * of range, n_coherent outside 1 .. 1000, or non-finite NCO values.
 */
#ifndef LR_TRACK_H
#define LR_TRACK_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_track_limits {
    LR_TRACK_MAX_CHANNELS = 64,
    LR_TRACK_CODE_PAD = 32,
    LR_TRACK_SEGMENT = 1024 /* samples per internal segment */
};

enum lr_track_format {
    LR_TRACK_CF32 = 0, /* interleaved float I, Q */
    LR_TRACK_CI16 = 1, /* interleaved int16 I, Q */
    LR_TRACK_CI8 = 2   /* interleaved int8 I, Q */
};

enum lr_track_mode {
    LR_TRACK_COSTAS = 0, /* the main code's symbol signs are unknown */
    LR_TRACK_PILOT = 1   /* the main code's sign of each epoch is pilot_signs[pilot_index] */
};

enum lr_track_kernel {
    LR_TRACK_KERNEL_SIMD = 0,  /* AVX2 or portable, by lr_simd_level() */
    LR_TRACK_KERNEL_SCALAR = 1 /* the one-sample-at-a-time reference */
};

struct lr_track_code {
    const int8_t *table; /* n_table entries, see above; NULL for no code */
    uint32_t n_chips;    /* chips per epoch */
    uint32_t n_table;    /* n_chips + 2 * LR_TRACK_CODE_PAD */
    int32_t component;   /* 0: in phase, 1: in quadrature (times j) */
};

struct lr_track_channel {
    struct lr_track_code main; /* early, prompt and late taps; drives the loops */
    struct lr_track_code data; /* prompt tap only; table NULL for none */
    int32_t enabled;
    int32_t mode;                /* enum lr_track_mode */
    const int8_t *pilot_signs;   /* +1/-1 per epoch in PILOT mode (cycled) */
    uint32_t n_pilot_signs;
    uint32_t pilot_index;        /* entry of the current epoch */
    uint32_t n_coherent;         /* PILOT: epochs summed per loop update */
    /* NCOs, at sample next_sample of the tracker */
    double code_phase_chips;     /* main code, [0, n_chips) */
    double code_rate_cps;        /* main chips per second */
    double chip_rate_cps;        /* nominal main chip rate (no Doppler) */
    double carrier_cycles;       /* unwrapped carrier NCO phase */
    double carrier_hz;           /* carrier NCO Doppler (if_hz is added) */
    double carrier_freq_hz;      /* RF carrier for code aiding; 0 for none */
    /* loop parameters */
    double pll_bw_hz, fll_bw_hz, dll_bw_hz;
    double early_late_chips;     /* spacing d between early and late taps, main chips */
    /* loop state */
    double pll_rate_hz_s;        /* the filters' frequency-rate integrator */
    double pll_freq_hz;          /* the filters' frequency integrator */
    double fll_prev_re, fll_prev_im; /* previous prompt for the FLL */
    int32_t fll_have_prev;
    uint32_t coherent_count;     /* PILOT: epochs summed so far */
    double coh[6];               /* PILOT: sign-wiped E, P, L (re, im) summed so far */
    /* the epoch in progress */
    double acc[8];               /* E, P, L, D (re, im) so far */
    double epoch_start;          /* stream sample position where it began */
    uint32_t epoch_samples;      /* samples summed into it */
    uint64_t epochs;             /* epochs completed */
    /* last discriminator outputs */
    double pll_error_cycles, fll_error_hz, dll_error_chips;
};

struct lr_tracker {
    double fs_hz;
    double if_hz;
    uint64_t next_sample;  /* samples processed so far */
    int32_t kernel;        /* enum lr_track_kernel */
    uint32_t n_channels;   /* channels 0 .. n_channels-1 are used */
    struct lr_track_channel channel[64];
};

struct lr_track_dump {
    uint32_t channel;
    int32_t mode;             /* of the epoch */
    uint64_t epoch;           /* 0 for the channel's first epoch */
    double start_sample;      /* stream sample position where the epoch began (fractional) */
    double carrier_cycles;    /* carrier NCO phase at the epoch's end */
    double carrier_hz;        /* NCO Doppler during the epoch */
    double code_rate_cps;     /* main code rate during the epoch */
    float e_re, e_im, p_re, p_im, l_re, l_im; /* main code taps */
    float d_re, d_im;         /* data code prompt */
    float pll_error_cycles, fll_error_hz, dll_error_chips; /* the last loop update's */
    uint32_t n_samples;       /* samples summed */
    uint32_t pilot_index;     /* PILOT: the sign entry used for the epoch */
    uint32_t reserved;
};

/* Clear *t and set the sample rate and IF; no channel, the SIMD kernel. */
int lr_track_init(struct lr_tracker *t, double fs_hz, double if_hz);

/* Upper bound of the dumps lr_track_process may write for n_in samples. */
size_t lr_track_max_dumps(const struct lr_tracker *t, size_t n_in);

/* Track every enabled channel through n_in samples of `format` and write one dump per
 * completed epoch to out.  Returns the dump count or a negative LR_E_*. */
int64_t lr_track_process(struct lr_tracker *t, const void *in, int format, size_t n_in,
                         struct lr_track_dump *out, size_t n_out);
/* LR_CDEF_END */

#endif /* LR_TRACK_H */
