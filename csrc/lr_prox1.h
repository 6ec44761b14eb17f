/*
 * lr_prox1.h - CCSDS Proximity-1 (211.0-B-6 data link, 211.2-B-3 coding and
 * synchronisation): the version-3 transfer frame header and the PLTU.
 *
 * The version-3 frame header is 5 octets (211.0-B-6 §3.2.2): version '10',
 * QoS indicator, PDU type ID, data field construction ID (2 bits), SCID (10
 * bits), physical channel ID, port ID (3 bits), source-or-destination ID,
 * frame length (11 bits, whole frame minus one) and frame sequence number.
 * A frame is at most 2048 octets.
 *
 * The PLTU (211.2-B-3 §3.3) is: the 24-bit attached sync marker 0xFAF320, the
 * transfer frame, and the CRC-32 of lr_crc.h over the frame.
 *
 * Buffers: the caller owns every buffer; nothing is retained after return.
 * Return codes: counts (>= 0) or LR_E_ARG (field out of range), LR_E_SPACE,
 * LR_E_FORMAT (no ASM, wrong version, frame cut short), LR_E_CHECK (CRC-32
 * mismatch).
 */
#ifndef LR_PROX1_H
#define LR_PROX1_H

#include "lr_common.h"

#define LR_PROX1_HEADER_LEN 5
#define LR_PROX1_MAX_FRAME 2048
#define LR_PROX1_ASM_LEN 3

/* LR_CDEF_BEGIN */
struct lr_prox1_header {
    uint8_t tfvn;          /* transfer frame version number field: 2 ('10', version 3) */
    uint8_t qos;           /* 0 sequence-controlled, 1 expedited */
    uint8_t pdu_type;      /* 0 user data, 1 protocol data (SPDU) */
    uint8_t dfc_id;        /* data field construction ID, 0..3 */
    uint16_t scid;         /* 0..1023 */
    uint8_t pcid;          /* physical channel ID, 0..1 */
    uint8_t port_id;       /* 0..7 */
    uint8_t src_dst_id;    /* 0: SCID is the source, 1: the destination */
    uint8_t frame_seq_num;
    uint16_t frame_len;    /* whole frame in octets, 5..2048 (the field holds this minus one) */
};

/* What lr_prox1_pltu_parse found. */
struct lr_prox1_pltu_info {
    struct lr_prox1_header header;
    uint16_t data_offset;  /* in the PLTU */
    uint16_t data_len;
    uint32_t crc;          /* CRC-32 field as received */
    uint8_t crc_ok;
    uint8_t reserved[3];
};

/* Write/read the 5-octet header.  pack: 5, LR_E_ARG or LR_E_SPACE; unpack: 5
 * or LR_E_FORMAT. */
int lr_prox1_header_pack(const struct lr_prox1_header *h, uint8_t *out, size_t n_out);
int lr_prox1_header_unpack(struct lr_prox1_header *h, const uint8_t *in, size_t n_in);

/* Build a PLTU: ASM, header h (frame_len computed) and data in[0 .. n_in-1],
 * CRC-32.  Returns the PLTU length (n_in + 12), LR_E_ARG or LR_E_SPACE. */
int64_t lr_prox1_pltu_build(const struct lr_prox1_header *h, const uint8_t *in, size_t n_in, uint8_t *out,
                            size_t n_out);

/* Parse the PLTU at the start of in[0 .. n_in-1].  Returns the PLTU length,
 * LR_E_FORMAT (no ASM, version not 3, cut short) or LR_E_CHECK (info filled). */
int lr_prox1_pltu_parse(struct lr_prox1_pltu_info *info, const uint8_t *in, size_t n_in);
/* LR_CDEF_END */

#endif /* LR_PROX1_H */
