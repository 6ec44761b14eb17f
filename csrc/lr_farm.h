/*
 * lr_farm.h - FARM-1, the receiving end of COP-1 (CCSDS 232.1-B-2 §6), and the CLCW.
 *
 * The FARM of one virtual channel takes TC transfer frames (CCSDS 232.0-B-4 §4.1)
 * that have already passed the frame checks (FECF, spacecraft and virtual channel
 * ids) and decides, by the state table of 232.1-B-2 §6 (Table 6-1), whether each is
 * accepted:
 *   Type-AD frames are accepted only in sequence, N(S) = V(R), in the Open state
 *   with buffer space; N(S) in the positive window (V(R) < N(S) <= V(R)+PW-1) sets
 *   the Retransmit flag; N(S) in the negative window (V(R)-NW <= N(S) < V(R)) is a
 *   duplicate; any other N(S) enters Lockout.  PW = NW = W/2.
 *   Type-BD frames are always accepted and count in the FARM-B counter.
 *   Type-BC frames carry the control commands Unlock (one octet 00) and Set V(R)
 *   (82 00 V*(R)); both count in the FARM-B counter when accepted.
 *   Buffer not available (lr_farm_buffer(f, 0)) makes the next in-sequence AD frame
 *   enter Wait; the buffer release (lr_farm_buffer(f, 1), event E10) clears the Wait
 *   flag in every state: Wait returns to Open, Lockout stays in Lockout.
 * lr_farm_clcw reports the state as a 32-bit CLCW (232.0-B-4 §4.2.1).
 *
 * The FARM owns no data: an accepted frame's data stays in the caller's buffer.
 *
 * Return codes: lr_farm_frame returns an enum lr_farm_result (>= 0) for a frame it
 * judged, or LR_E_FORMAT for a frame that is not a valid TC frame header (counted
 * as invalid, state unchanged).  lr_farm_init returns LR_E_ARG for a window that
 * is not even and within 2..254, or a VCID above 63.
 */
#ifndef LR_FARM_H
#define LR_FARM_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_farm_state_id {
    LR_FARM_OPEN = 1,   /* S1 */
    LR_FARM_WAIT = 2,   /* S2 */
    LR_FARM_LOCKOUT = 3 /* S3 */
};

enum lr_farm_result {
    LR_FARM_ACCEPT_AD = 0,        /* in sequence: deliver the frame data, V(R) advanced */
    LR_FARM_ACCEPT_BD = 1,        /* bypass: deliver the frame data */
    LR_FARM_UNLOCK = 2,           /* control command Unlock executed */
    LR_FARM_SET_VR = 3,           /* control command Set V(R) executed */
    LR_FARM_BC_IGNORED = 4,       /* Set V(R) accepted in Lockout: counted, no other effect */
    LR_FARM_DISCARD_AHEAD = 5,    /* AD frame in the positive window (a frame was lost) */
    LR_FARM_DISCARD_BEHIND = 6,   /* AD frame in the negative window (a duplicate) */
    LR_FARM_DISCARD_LOCKOUT = 7,  /* AD frame outside the windows, or any AD frame in Lockout */
    LR_FARM_DISCARD_WAIT = 8,     /* in-sequence AD frame without buffer space */
    LR_FARM_DISCARD_INVALID_BC = 9 /* a BC frame that is neither Unlock nor Set V(R) */
};

struct lr_farm {
    /* configuration */
    uint32_t window;      /* W: FARM sliding window width, even, 2..254 */
    uint32_t vcid;        /* reported in the CLCW */
    uint32_t has_fecf;    /* frames carry a 2-octet FECF (excluded from BC data) */
    /* state (232.1-B-2 §6.1) */
    int32_t state;        /* enum lr_farm_state_id */
    uint8_t vr;           /* V(R), the next expected N(S) */
    uint8_t lockout;      /* Lockout_Flag */
    uint8_t wait;         /* Wait_Flag */
    uint8_t retransmit;   /* Retransmit_Flag */
    uint8_t buffer_full;  /* set by lr_farm_buffer(f, 0) */
    uint8_t no_rf;        /* No RF Available flag, from the physical layer */
    uint8_t no_bitlock;   /* No Bit Lock flag, from the physical layer */
    uint8_t reserved;
    uint32_t farm_b;      /* FARM-B counter (the CLCW reports its two low bits) */
    /* counters */
    uint64_t ad_accepted, bd_accepted, bc_accepted, discarded, invalid, lockouts;
};

/* Start in Open with V(R) = 0 and every flag and counter cleared. */
int lr_farm_init(struct lr_farm *f, uint32_t window, uint32_t vcid, uint32_t has_fecf);

/* Judge one TC transfer frame of n_frame octets (its header says its length). */
int lr_farm_frame(struct lr_farm *f, const uint8_t *frame, size_t n_frame);

/* Buffer availability from the layer above: 0 = no space, 1 = space (the buffer
 * release signal, E10, which clears the Wait flag and ends the Wait state).  Returns
 * the new state. */
int lr_farm_buffer(struct lr_farm *f, int available);

/* The CLCW: control word type 0, version 00, status 000, COP in effect 01, VCID,
 * No RF Available, No Bit Lock, Lockout, Wait, Retransmit, FARM-B counter, and
 * report value V(R). */
uint32_t lr_farm_clcw(const struct lr_farm *f);
/* LR_CDEF_END */

#endif /* LR_FARM_H */
