/*
 * lr_tc.h - CCSDS TC Space Data Link Protocol (232.0-B-4): transfer frame
 * header, segment header, frame building and checking.
 *
 * A TC frame (§4.1) is: primary header (5 octets), optional segment header
 * (1 octet, on virtual channels that use MAP multiplexing or segmentation,
 * never in control command frames), data field, and an optional frame error
 * control field (2 octets, CRC-16 of lr_crc.h).  The header's frame length
 * field is the whole frame length minus one; a frame is at most 1024 octets.
 * Frames are variable-length, so a parser returns how long the frame was.
 *
 * Buffers: the caller owns every buffer; nothing is retained after return.
 * Return codes: counts (>= 0) or LR_E_ARG (a field out of range), LR_E_SPACE
 * (output too small), LR_E_FORMAT (malformed or truncated frame), LR_E_CHECK
 * (FECF mismatch).
 */
#ifndef LR_TC_H
#define LR_TC_H

#include "lr_common.h"

#define LR_TC_HEADER_LEN 5
#define LR_TC_MAX_FRAME 1024

/* LR_CDEF_BEGIN */
struct lr_tc_header {
    uint8_t tfvn;          /* transfer frame version number: 0 */
    uint8_t bypass_flag;   /* 1: type-B (expedited), 0: type-A (sequence-controlled) */
    uint8_t ctrl_cmd_flag; /* 1: control command (COP directive), 0: data */
    uint8_t spare;         /* reserved spare, 0 */
    uint16_t scid;         /* 0..1023 */
    uint8_t vcid;          /* 0..63 */
    uint8_t frame_seq_num; /* N(S) */
    uint16_t frame_len;    /* whole frame in octets, 1..1024 (the field holds this minus one) */
};

/* How a virtual channel's frames are laid out (managed parameters). */
struct lr_tc_config {
    uint8_t fecf_flag;     /* frames end with a 2-octet FECF */
    uint8_t seg_hdr_flag;  /* data frames carry a segment header */
};

/* A frame to build.  frame_len in header is computed. */
struct lr_tc_frame_spec {
    struct lr_tc_header header;
    struct lr_tc_config cfg;
    uint8_t seq_flags;     /* segment header: 0 continuation, 1 first, 2 last, 3 unsegmented */
    uint8_t map_id;        /* segment header: 0..63 */
};

/* What lr_tc_frame_parse found. */
struct lr_tc_frame_info {
    struct lr_tc_header header;
    uint8_t has_seg_hdr;
    uint8_t seq_flags;
    uint8_t map_id;
    uint8_t crc_ok;        /* 1 if the FECF matches or is absent */
    uint16_t data_offset;
    uint16_t data_len;
};

/* Write a primary header (frame_len is the whole frame length).  Returns 5,
 * LR_E_ARG or LR_E_SPACE. */
int lr_tc_header_pack(const struct lr_tc_header *h, uint8_t *out, size_t n_out);

/* Read a primary header.  Returns 5, or LR_E_FORMAT if n_in < 5. */
int lr_tc_header_unpack(struct lr_tc_header *h, const uint8_t *in, size_t n_in);

/* Build a frame around data in[0 .. n_in-1]: header, segment header if the
 * configuration asks for one and this is not a control command, data, FECF.
 * Returns the frame length, LR_E_ARG if a field is out of range or the frame
 * would exceed 1024 octets, or LR_E_SPACE. */
int64_t lr_tc_frame_build(const struct lr_tc_frame_spec *spec, const uint8_t *in, size_t n_in, uint8_t *out,
                          size_t n_out);

/* Check and split the frame at the start of in[0 .. n_in-1] (what follows it
 * is ignored).  Returns the frame length from its header, LR_E_FORMAT if the
 * version is not 0, the spare bits are set, the frame is cut short, or too
 * short for its segment header and FECF, or LR_E_CHECK if the FECF does not
 * match (info is filled then). */
int lr_tc_frame_parse(struct lr_tc_frame_info *info, const struct lr_tc_config *cfg, const uint8_t *in,
                      size_t n_in);
/* LR_CDEF_END */

#endif /* LR_TC_H */
