/*
 * lr_spp.h - CCSDS Space Packet Protocol (133.0-B-2): primary header, idle
 * packets and a batch indexer over packet streams.
 *
 * The primary header is six octets (133.0-B-2 §4.1.3): version (3 bits, always
 * 0), type (1 bit: 0 telemetry, 1 telecommand), secondary header flag (1 bit),
 * APID (11 bits), sequence flags (2 bits), sequence count or name (14 bits) and
 * packet data length (16 bits: octets in the data field minus one).  A packet
 * is therefore 7 to 65542 octets long.  APID 2047 marks an idle packet
 * (§4.1.3.3.4.4).
 *
 * The indexer is one serial dependency chain (each packet's length gives the
 * next packet's offset), so it has a single portable variant and no SIMD path.
 *
 * Buffers: the caller owns every buffer; nothing is retained after return.
 * Return codes: a count (>= 0), or LR_E_ARG (a field out of its range),
 * LR_E_SPACE (output too small), LR_E_FORMAT (input is not a version-1 packet
 * header, or too short to hold one).
 */
#ifndef LR_SPP_H
#define LR_SPP_H

#include "lr_common.h"

#define LR_SPP_HEADER_LEN 6
#define LR_SPP_MAX_PACKET 65542
#define LR_SPP_APID_IDLE 2047

/* LR_CDEF_BEGIN */
enum lr_spp_seq_flags {
    LR_SPP_SEQ_CONTINUATION = 0, /* 133.0-B-2 §4.1.3.4.2.2 */
    LR_SPP_SEQ_FIRST = 1,
    LR_SPP_SEQ_LAST = 2,
    LR_SPP_SEQ_UNSEGMENTED = 3
};

struct lr_spp_header {
    uint8_t version;      /* packet version number: 0 for version-1 packets */
    uint8_t type;         /* 0 telemetry (reporting), 1 telecommand (requesting) */
    uint8_t sec_hdr_flag; /* 1 when a secondary header follows */
    uint8_t seq_flags;    /* enum lr_spp_seq_flags */
    uint16_t apid;        /* 0..2047, 2047 = idle */
    uint16_t seq_count;   /* 0..16383, sequence count or packet name */
    uint16_t data_length; /* octets in the packet data field minus one */
};

/* One packet found by lr_spp_index.  24 octets, no padding, so numpy can view
 * an array of them as a structured array. */
struct lr_spp_entry {
    uint64_t offset;      /* of the packet's first octet in the input */
    uint32_t length;      /* whole packet, header included: data_length + 7 */
    uint16_t apid;
    uint16_t seq_count;
    uint8_t seq_flags;
    uint8_t type;
    uint8_t sec_hdr_flag;
    uint8_t version;
    uint32_t reserved;    /* zero */
};

enum lr_spp_stop {
    LR_SPP_STOP_END = 0,       /* the input ended exactly at a packet boundary */
    LR_SPP_STOP_TRUNCATED = 1, /* the last packet (or its header) is cut short */
    LR_SPP_STOP_FULL = 2,      /* the output array is full; call again from `consumed` */
    LR_SPP_STOP_VERSION = 3    /* a header with a version number other than 0 */
};

/* What lr_spp_index did.  The caller zeroes it once; the counters add up over
 * calls, the other fields describe the last call. */
struct lr_spp_index_state {
    uint64_t consumed;   /* octets of the input covered by the entries written */
    uint64_t missing;    /* LR_SPP_STOP_TRUNCATED: octets missing from the last packet */
    int32_t stop;        /* enum lr_spp_stop */
    uint32_t reserved;
    uint64_t packets;    /* total entries written */
    uint64_t idle;       /* of which idle packets (APID 2047) */
    uint64_t truncated;  /* calls that stopped on a truncated packet */
    uint64_t rejected;   /* calls that stopped on a bad version number */
};

/* Write the six header octets of h to out.  Returns 6, LR_E_ARG if a field does
 * not fit its width, or LR_E_SPACE. */
int lr_spp_header_pack(const struct lr_spp_header *h, uint8_t *out, size_t n_out);

/* Read a primary header from in.  Returns 6, or LR_E_FORMAT if n_in < 6.  The
 * version number is reported, not checked. */
int lr_spp_header_unpack(struct lr_spp_header *h, const uint8_t *in, size_t n_in);

/* Build a whole packet: header h (data_length is recomputed from n_data, which
 * must be 1..65536) followed by data.  Returns the packet length, LR_E_ARG, or
 * LR_E_SPACE. */
int64_t lr_spp_build(struct lr_spp_header *h, const uint8_t *data, size_t n_data, uint8_t *out,
                     size_t n_out);

/* Fill out[0 .. length-1] with one idle packet (APID 2047, unsegmented, the
 * given sequence count) whose data octets are `fill`.  length is 7..65542.
 * Returns length, LR_E_ARG or LR_E_SPACE. */
int64_t lr_spp_idle(uint16_t seq_count, uint8_t fill, size_t length, uint8_t *out, size_t n_out);

/* Walk the packets of a stream that starts at a packet boundary and write one
 * entry per whole packet to out[0 .. n_out-1].  Stops at the end of the input,
 * at a truncated packet, at a full output or at a header whose version is not
 * 0, and says which in st->stop; st->consumed is then the offset to resume
 * from.  Returns the number of entries written (never negative). */
int64_t lr_spp_index(struct lr_spp_index_state *st, const uint8_t *in, size_t n_in,
                     struct lr_spp_entry *out, size_t n_out);
/* LR_CDEF_END */

#endif /* LR_SPP_H */
