/*
 * lr_crc.h - CRC-16/CCITT-FALSE, the CCSDS frame error control field.
 *
 * Generator x^16 + x^12 + x^5 + 1 (0x1021), MSB first, no output XOR.  CCSDS
 * starts the register at 0xFFFF (TM SDLP 132.0-B-3 §4.1.6, TC SDLP 232.0-B-4
 * §4.1.4.2, AOS 732.0-B-4 §4.1.6).  Check value of "123456789": 0x29B1.
 *
 * CRC-32 of Proximity-1 (211.2-B-3 §3.3.3, the PLTU's CRC): generator
 * x^32 + x^23 + x^21 + x^11 + x^2 + 1 (0x00A00805), MSB first, register preset
 * to 0, no output XOR.  Check value of 12 34 56 78: 0x34D74CB3.
 *
 * Buffers: the caller owns every buffer; nothing is retained after return.
 */
#ifndef LR_CRC_H
#define LR_CRC_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_crc_kernel {
    LR_CRC_AUTO = 0,     /* fastest kernel for this CPU (see lr_cpu.h) */
    LR_CRC_BYTEWISE = 1, /* one 256-entry table, one byte per step: the reference */
    LR_CRC_SLICE16 = 2,  /* portable slice-by-16 */
    LR_CRC_CLMUL = 3     /* carry-less multiply folding, x86-64 with PCLMULQDQ */
};

/* Continue a CRC over n bytes: pass 0xFFFF to start a CCSDS CRC.  Returns the
 * register, which for a whole frame is the FECF value. */
uint16_t lr_crc16_ccitt(uint16_t crc, const uint8_t *data, size_t n);

/* The same with an explicit kernel.  A kernel this CPU lacks falls back to
 * LR_CRC_SLICE16; an unknown kernel number to LR_CRC_BYTEWISE. */
uint16_t lr_crc16_ccitt_kernel(int kernel, uint16_t crc, const uint8_t *data, size_t n);

/* CRC (init 0xFFFF) of each of n_frames consecutive frames of frame_len bytes
 * in data, written to out[0 .. n_frames-1].  Returns n_frames, or LR_E_SPACE
 * if n_out < n_frames. */
int64_t lr_crc16_ccitt_frames(int kernel, const uint8_t *data, size_t frame_len, size_t n_frames,
                              uint16_t *out, size_t n_out);

/* Continue a Proximity-1 CRC-32 over n bytes: pass 0 to start one.  Returns
 * the register, which for a whole transfer frame is the PLTU's CRC field. */
uint32_t lr_crc32_prox1(uint32_t crc, const uint8_t *data, size_t n);
/* LR_CDEF_END */

#endif /* LR_CRC_H */
