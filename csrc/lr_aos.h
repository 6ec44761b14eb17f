/*
 * lr_aos.h - CCSDS AOS Space Data Link Protocol (732.0-B-4): transfer frame
 * primary header with its optional frame header error control (FHEC), insert
 * zone, M_PDU and B_PDU headers, frame building and parsing.
 *
 * An AOS frame (§4.1) is: primary header (6 octets: version '01', SCID 8 bits,
 * VCID 6 bits, 24-bit VC frame count, signaling field), optional FHEC (2
 * octets), optional insert zone (fixed length), data field (an M_PDU, a B_PDU
 * or VCA data), optional OCF (4 octets) and optional FECF (2 octets, CRC-16 of
 * lr_crc.h).  The signaling field holds the replay flag, the VC frame count
 * usage flag and the 4-bit VC frame count cycle that extends the count to 28
 * bits.
 *
 * The FHEC (§4.1.2.6) is a Reed-Solomon (10,6) code over GF(16), field
 * polynomial x^4 + x + 1, generator (x + a^6)(x + a^7)(x + a^8)(x + a^9) =
 * x^4 + a^3 x^3 + a x^2 + a^3 x + 1.  Its six information symbols are the
 * nibbles of the master channel ID + VCID (octets 0-1) and of the signaling
 * field (octet 5), most significant first; it corrects up to two nibbles.
 *
 * Buffers: the caller owns every buffer; nothing is retained after return.
 * Return codes: counts (>= 0) or LR_E_ARG, LR_E_SPACE, LR_E_FORMAT (frame too
 * short or wrong version), LR_E_UNCORRECTABLE (more than two nibble errors in
 * the FHEC-protected fields), LR_E_CHECK (FECF mismatch).
 */
#ifndef LR_AOS_H
#define LR_AOS_H

#include "lr_common.h"

#define LR_AOS_HEADER_LEN 6
#define LR_AOS_MAX_FRAME 2048

/* LR_CDEF_BEGIN */
enum lr_aos_pointer {
    LR_AOS_FHP_NO_PACKET = 0x7FF, /* 732.0-B-4 §4.1.4.2.3.4: no packet starts in this M_PDU */
    LR_AOS_FHP_IDLE = 0x7FE,      /* §4.1.4.2.3.5: the M_PDU holds only idle data */
    LR_AOS_BDP_ALL_DATA = 0x3FFF, /* §4.1.4.3.3.3: the whole B_PDU zone is valid data */
    LR_AOS_BDP_IDLE = 0x3FFE      /* §4.1.4.3.3.4: the B_PDU holds only idle data */
};

struct lr_aos_header {
    uint8_t tfvn;                /* transfer frame version number: 1 ('01') */
    uint8_t scid;                /* 0..255 */
    uint8_t vcid;                /* 0..63, 63 = idle frames */
    uint8_t replay_flag;
    uint8_t vc_count_usage_flag; /* 1 when vc_count_cycle is in use */
    uint8_t spare;               /* reserved spare, 0 */
    uint8_t vc_count_cycle;      /* 0..15 */
    uint8_t reserved;
    uint32_t vc_count;           /* 0..0xFFFFFF */
};

struct lr_aos_config {
    uint16_t frame_len;          /* whole frame, up to 2048 octets */
    uint8_t fhec_flag;
    uint8_t ocf_flag;
    uint8_t fecf_flag;
    uint8_t reserved;
    uint16_t insert_zone_len;    /* 0 when there is no insert zone */
};

/* What lr_aos_frame_parse found. */
struct lr_aos_frame_info {
    struct lr_aos_header header; /* FHEC-corrected when the FHEC is used */
    uint16_t insert_offset;
    uint16_t data_offset;
    uint16_t data_len;
    uint8_t fhec_corrected;      /* nibbles the FHEC corrected (0..2) */
    uint8_t crc_ok;
    uint32_t ocf;                /* valid if cfg ocf_flag */
};

/* Write/read the 6-octet primary header.  pack: 6, LR_E_ARG or LR_E_SPACE;
 * unpack: 6 or LR_E_FORMAT. */
int lr_aos_header_pack(const struct lr_aos_header *h, uint8_t *out, size_t n_out);
int lr_aos_header_unpack(struct lr_aos_header *h, const uint8_t *in, size_t n_in);

/* The FHEC of a primary header hdr[0..5] (octets 2-4, the VC count, are not
 * covered). */
uint16_t lr_aos_fhec(const uint8_t *hdr);

/* Check and correct hdr[0..7] (primary header + FHEC) in place.  Returns the
 * number of nibbles corrected (0, 1 or 2), or LR_E_UNCORRECTABLE (hdr is then
 * unchanged). */
int lr_aos_fhec_correct(uint8_t *hdr);

/* Octets of the data field for this layout, or LR_E_ARG if impossible. */
int lr_aos_data_len(const struct lr_aos_config *cfg);

/* Build a frame: header h (+FHEC), insert zone (insert_zone_len octets from
 * insert, may be NULL if the length is 0), data field in[0 .. n_in-1] which
 * must be exactly lr_aos_data_len octets, OCF, FECF.  Returns the frame
 * length, LR_E_ARG or LR_E_SPACE. */
int64_t lr_aos_frame_build(const struct lr_aos_config *cfg, const struct lr_aos_header *h,
                           const uint8_t *insert, uint32_t ocf, const uint8_t *in, size_t n_in, uint8_t *out,
                           size_t n_out);

/* Parse one frame in[0 .. n_in-1] (n_in must be cfg->frame_len).  Returns the
 * data field length, LR_E_FORMAT, LR_E_UNCORRECTABLE or LR_E_CHECK (info is
 * filled for LR_E_CHECK). */
int lr_aos_frame_parse(struct lr_aos_frame_info *info, const struct lr_aos_config *cfg, const uint8_t *in,
                       size_t n_in);
/* LR_CDEF_END */

#endif /* LR_AOS_H */
