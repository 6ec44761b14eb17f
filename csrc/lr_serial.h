/*
 * lr_serial.h - space packets on a byte stream: the serial link to the flight computer.
 *
 * A serial line carries whole CCSDS space packets (133.0-B-2 §4.1), each in one of
 * three framings, chosen per link:
 *
 *   LR_SERIAL_ASM   the attached sync marker 1A CF FC 1D (the marker of 131.0-B-4 §9),
 *                   the packet, whose end the packet data length field gives
 *                   (133.0-B-2 §4.1.3.5.3), then CRC-16/CCITT of the packet, big-endian
 *                   (generator 0x1021, preset 0xFFFF: the TM/TC frame error control
 *                   field of 132.0-B-3 §4.1.6).  The CRC is always present.
 *   LR_SERIAL_KISS  FEND C0, the KISS command octet 00 (data frame, port 0), the escaped
 *                   payload (C0 -> DB DC, DB -> DB DD), FEND.
 *   LR_SERIAL_SLIP  END C0, the escaped payload (RFC 1055: C0 -> DB DC, DB -> DB DD), END.
 *
 * With KISS and SLIP the payload is the packet, followed by the same CRC-16 when the
 * link's flags carry LR_SERIAL_CRC.
 *
 * The deframer resynchronises by itself.  It takes the stream in pieces of any size and
 * delivers each packet whose framing, length and CRC check, in order.  Garbage, console
 * text, truncated frames, bad CRCs and lengths beyond max_packet are counted and passed
 * over; a frame that fails is searched again from its second octet, so a good frame that
 * starts inside a bad one (a truncated frame followed by a whole one) is never lost, and
 * the packets found never depend on how the stream was split.  Octets of a frame that is
 * not complete yet are held in the caller's holding buffer (at least
 * lr_serial_holding_size(max_packet) octets) between calls.
 *
 * Counting: every input octet ends up, once decided, in exactly one of frame_octets
 * (framing and packets delivered) and garbage_octets (anything else), so the two sum to
 * octets_in minus the octets still held.
 *
 * Buffers: the caller owns every buffer.  The holding buffer is referenced by the state
 * struct between calls; nothing else is retained after return.
 *
 * Return codes: lr_serial_frame returns the octets written, LR_E_ARG for an unknown
 * framing, LR_E_FORMAT if the input is not one whole space packet (its length field
 * disagrees with n) and LR_E_SPACE if out is too small (lr_serial_frame_bound gives the
 * size that always suffices).  lr_serial_deframer_init returns LR_OK or LR_E_ARG (unknown
 * framing, max_packet outside 7..65542, holding buffer too small).  lr_serial_deframe
 * returns the packets delivered (>= 0); it stops early, having consumed only part of the
 * input (*consumed), when out cannot take the next packet, so a call with out of at
 * least max_packet octets always makes progress.
 */
#ifndef LR_SERIAL_H
#define LR_SERIAL_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_serial_framing {
    LR_SERIAL_ASM = 0,
    LR_SERIAL_KISS = 1,
    LR_SERIAL_SLIP = 2
};

enum lr_serial_flags {
    LR_SERIAL_CRC = 1      /* KISS and SLIP: a CRC-16 follows the packet (ASM: always) */
};

struct lr_serial_counters {
    uint64_t octets_in;      /* every octet given to the deframer */
    uint64_t frame_octets;   /* octets of the frames delivered, framing included */
    uint64_t garbage_octets; /* octets passed over: noise, text, bad or cut frames */
    uint64_t packets;        /* packets delivered */
    uint64_t crc_errors;     /* frames whose CRC did not check */
    uint64_t length_errors;  /* a length field beyond max_packet or disagreeing with the frame */
    uint64_t truncated;      /* frames cut short by the start of the next one */
    uint64_t escape_errors;  /* KISS/SLIP: an escape octet not followed by DC or DD */
};

struct lr_serial_deframer {
    int32_t framing;
    uint32_t flags;
    uint32_t max_packet;     /* longest packet accepted, 7 .. 65542 octets */
    uint32_t phase;          /* internal: KISS/SLIP frame state */
    uint8_t *hold;           /* caller-owned holding buffer */
    size_t hold_cap;
    size_t hold_len;         /* octets held: ASM, the frame so far; KISS/SLIP, the payload so far */
    size_t raw_len;          /* KISS/SLIP: octets of the stream the held frame took so far */
    struct lr_serial_counters counters;
};

/* Octets lr_serial_frame may write for a packet of n octets. */
size_t lr_serial_frame_bound(int32_t framing, size_t n);

/* Frame one space packet of n octets. */
int64_t lr_serial_frame(int32_t framing, uint32_t flags, const uint8_t *packet, size_t n,
                        uint8_t *out, size_t n_out);

/* Size of the holding buffer a deframer with this max_packet needs. */
size_t lr_serial_holding_size(uint32_t max_packet);

int lr_serial_deframer_init(struct lr_serial_deframer *d, int32_t framing, uint32_t flags,
                            uint32_t max_packet, uint8_t *hold, size_t hold_cap);

/* Consume up to n_in octets of the stream; write the packets found, back to back, to out
 * and their total length to *out_len. */
int64_t lr_serial_deframe(struct lr_serial_deframer *d, const uint8_t *in, size_t n_in, size_t *consumed,
                          uint8_t *out, size_t n_out, size_t *out_len);
/* LR_CDEF_END */

#endif /* LR_SERIAL_H */
