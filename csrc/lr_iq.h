/*
 * lr_iq.h - complex sample formats shared by the modem and the channel: conversion
 * between float I/Q and the interleaved cf32, ci16 and ci8 items that SigMF files and
 * gr-zeromq streams carry (the same numbering as enum lr_siggen_format).
 *
 * Buffers belong to the caller.  Integer outputs round to nearest and clip to +/-32767
 * (ci16) or +/-127 (ci8); a NaN becomes 0.  The functions return the number of clipped
 * components (>= 0), the number of samples converted, or LR_E_ARG for an unknown format.
 */
#ifndef LR_IQ_H
#define LR_IQ_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_iq_format {
    LR_IQ_CF32 = 0, /* interleaved float32 I, Q */
    LR_IQ_CI16 = 1, /* interleaved int16 I, Q */
    LR_IQ_CI8 = 2   /* interleaved int8 I, Q */
};

/* Interleaved cf32 (n samples) scaled by `scale` into `format`; returns the clipped count. */
int64_t lr_iq_from_cf32(const float *in, size_t n, double scale, int format, void *out, size_t n_out);

/* `format` samples (n) into interleaved cf32, multiplied by `scale`; returns n. */
int64_t lr_iq_to_cf32(const void *in, size_t n, int format, double scale, float *out, size_t n_out);
/* LR_CDEF_END */

int lr_iq_format_ok(int format);
size_t lr_iq_sample_size(int format);
/* Split float rails re[], im[] (n samples) into `format` at sample index `at` of out;
 * returns the clipped components. */
uint64_t lr_iq_store(const float *re, const float *im, size_t n, int format, void *out, size_t at);

#endif /* LR_IQ_H */
