/*
 * lr_mod.h - the CCSDS radio-frequency modulator: channel bits in, complex baseband
 * samples out (cf32, ci16 or ci8), block by block with its state carried over.
 *
 * Schemes (CCSDS 401.0-B §2.4.17 and CCSDS 413.0-G):
 *   BPSK, QPSK and OQPSK with suppressed carrier and root-raised-cosine pulses
 *   (roll-off 0.2 to 0.5), at any rate of samples per symbol from 2 upward, fractional
 *   rates included;
 *   PCM/PSK/PM: NRZ symbols phase-shift-key a sine subcarrier that phase-modulates a
 *   residual carrier, s = A * exp(j * m * d(t) * sin(2*pi*f_sc*t)) with modulation index
 *   m radians peak (401.0-B §2.2 uplink, §2.4 low-rate telemetry).
 * Coding before modulation: NRZ-L, or NRZ-M (a 1 changes the level, a 0 keeps it;
 * 401.0-B §2.4.11), applied to the serial bit stream.  A level is +1 for bit 0 and -1
 * for bit 1.  QPSK and OQPSK take the bits in pairs, the first on I and the second on Q,
 * each rail scaled by 1/sqrt(2); OQPSK delays Q by half a symbol.
 *
 * Pulse shaping: the RRC pulse h spans LR_MOD_SPAN symbols and is normalised to unit
 * energy, so a unit-power symbol stream gives average sample power amplitude^2.  Sample n
 * lies at symbol time n / sps - LR_MOD_SPAN / 2: the stream starts half a pulse before the
 * first symbol's peak, and lr_mod_flush writes the other half after the last symbol.
 * Time is kept in 32.32 fixed point and a sample's fractional symbol time is rounded to
 * one of LR_MOD_PHASES phases (1/256 symbol at worst), exact for sps of 2, 4, 8, ... 128.
 * The fast path looks up the contribution of eight symbols at once in a table of every
 * 8-symbol pattern per phase (lut, built by lr_mod_init); lr_mod_reference computes the
 * same samples as a direct polyphase FIR, one multiply-add per symbol and tap.
 *
 * Buffers: struct lr_mod (about 300 KiB, its tables inline) and every input and output
 * buffer belong to the caller.  Bits are one per byte, 0 or 1 (any non-zero byte is 1).
 *
 * Return codes: lr_mod_init returns LR_OK or LR_E_ARG (unknown scheme or coding, sps
 * below 2 or above 1e6, roll-off outside [0.2, 0.5] for an RRC scheme, amplitude not
 * finite and positive, PM modulation index outside [0, 3] rad or subcarrier outside
 * (0, 0.5) cycles per sample).  lr_mod_process, lr_mod_flush, lr_mod_carrier and
 * lr_mod_reference return the number of complex samples written, LR_E_SPACE if n_out is
 * below lr_mod_max_samples (nothing is consumed then), LR_E_ARG for an unknown format,
 * or LR_E_STATE after a flush (lr_mod_process) / for a scheme without a carrier
 * (lr_mod_carrier).
 */
#ifndef LR_MOD_H
#define LR_MOD_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_mod_scheme {
    LR_MOD_BPSK = 0,
    LR_MOD_QPSK = 1,
    LR_MOD_OQPSK = 2,
    LR_MOD_PCM_PSK_PM = 3
};

enum lr_mod_coding {
    LR_MOD_NRZ_L = 0,
    LR_MOD_NRZ_M = 1
};

enum lr_mod_limits {
    LR_MOD_PHASES = 128, /* fractional symbol times of the pulse tables */
    LR_MOD_SPAN = 16,    /* RRC pulse length in symbols */
    LR_MOD_STAGE = 4096  /* symbols staged per internal pass */
};

struct lr_mod_config {
    int32_t scheme;         /* enum lr_mod_scheme */
    int32_t coding;         /* enum lr_mod_coding */
    double sps;             /* output samples per channel symbol, >= 2 */
    double rolloff;         /* RRC roll-off factor (ignored for PM) */
    double amplitude;       /* output units of a unit-power signal (ci16: e.g. 8192) */
    double subcarrier_cycles_per_sample; /* PM: f_sc / fs */
    double mod_index_rad;   /* PM: peak phase deviation */
};

struct lr_mod {
    struct lr_mod_config cfg;
    uint64_t step;          /* symbol time per output sample, 32.32 fixed point */
    uint64_t t_next;        /* symbol-window time of the next output sample, 32.32 */
    uint64_t n_symbols;     /* symbols taken so far */
    uint64_t samples;       /* samples written so far */
    uint64_t clipped;       /* ci16/ci8 components clipped so far */
    uint32_t hist_i, hist_q; /* level bits (1 = level -1) of the last 16 symbols, oldest in bit 0 */
    int32_t nrzm_level;     /* NRZ-M: current level bit */
    int32_t pending_bit;    /* QPSK/OQPSK: first bit of an incomplete pair, or -1 */
    int32_t flushed;        /* 1 after lr_mod_flush */
    int32_t bits_per_symbol;
    double sc_phase_cycles; /* PM: subcarrier phase of the next sample */
    float rail_scale;       /* amplitude per rail: amplitude, or amplitude / sqrt(2) */
    float taps[128][16];    /* rail_scale * h(p / LR_MOD_PHASES + 7 - b) */
    float lut[128][2][256]; /* sums of taps over 8-symbol level patterns, halves b < 8 and b >= 8 */
    uint8_t stage_i[4096 / 8 + 16];
    uint8_t stage_q[4096 / 8 + 16];
};

/* Check cfg and build the tables; the stream starts empty. */
int lr_mod_init(struct lr_mod *m, const struct lr_mod_config *cfg);

/* Output samples that n_bits more bits (or a flush, n_bits = 0) can produce at most. */
size_t lr_mod_max_samples(const struct lr_mod *m, size_t n_bits);

/* Take n_bits channel bits and write every sample they complete. */
int64_t lr_mod_process(struct lr_mod *m, const uint8_t *bits, size_t n_bits, int format, void *out,
                       size_t n_out);

/* End of the stream: the samples of the pulses' tails (an incomplete QPSK pair is
 * completed with a 0 bit).  Further lr_mod_process calls return LR_E_STATE. */
int64_t lr_mod_flush(struct lr_mod *m, int format, void *out, size_t n_out);

/* PM: n_samples of unmodulated carrier (the uplink's carrier-only period); the symbol
 * clock and subcarrier pause meanwhile. */
int64_t lr_mod_carrier(struct lr_mod *m, size_t n_samples, int format, void *out, size_t n_out);

/* The benchmark's baseline and the tests' oracle: lr_mod_process for an RRC scheme
 * computed as a direct polyphase FIR (float multiply-adds, one per symbol and tap). */
int64_t lr_mod_reference(struct lr_mod *m, const uint8_t *bits, size_t n_bits, int format, void *out,
                         size_t n_out);

/* h(t) of the unit-energy RRC pulse of roll-off `rolloff` at t symbols from its peak. */
double lr_rrc(double t, double rolloff);
/* LR_CDEF_END */

#endif /* LR_MOD_H */
