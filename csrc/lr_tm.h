/*
 * lr_tm.h - CCSDS TM Space Data Link Protocol (132.0-B-3): transfer frame
 * header, frame parsing, a virtual-channel multiplexer that packs packet
 * streams into fixed-length frames and a demultiplexer that rebuilds packets
 * across frames and reports gaps.
 *
 * A TM frame (§4.1) is: primary header (6 octets), optional secondary header
 * (1 identification octet + 1..63 octets), data field, optional operational
 * control field (4 octets, usually the CLCW) and optional frame error control
 * field (2 octets, CRC-16 of lr_crc.h over everything before it).  Frames of a
 * physical channel all have the same length (at most 2048 octets).  Packets
 * are carried synchronously (sync flag 0): the first header pointer (FHP)
 * gives the offset in the data field of the first packet header that starts
 * in the frame, 0x7FF when none does, 0x7FE in a frame of only idle data.
 *
 * Buffers: the caller owns every buffer and every state struct (zeroed, then
 * filled as each function says); nothing is retained after return.
 * Return codes: counts (>= 0) or LR_E_ARG (bad configuration or field),
 * LR_E_SPACE (output too small), LR_E_FORMAT (input is not whole packets or
 * whole frames, or a header is malformed), LR_E_CHECK (FECF mismatch),
 * LR_E_STATE (call not valid now).
 */
#ifndef LR_TM_H
#define LR_TM_H

#include "lr_common.h"

#define LR_TM_HEADER_LEN 6
#define LR_TM_MAX_FRAME 2048

/* LR_CDEF_BEGIN */
enum lr_tm_fhp {
    LR_TM_FHP_NO_PACKET = 0x7FF, /* 132.0-B-3 §4.1.2.7.5.3: no packet starts in this frame */
    LR_TM_FHP_IDLE = 0x7FE       /* §4.1.2.7.5.4: the data field holds only idle data */
};

struct lr_tm_header {
    uint8_t tfvn;              /* transfer frame version number: 0 */
    uint8_t vcid;              /* 0..7 */
    uint16_t scid;             /* 0..1023 */
    uint8_t ocf_flag;
    uint8_t mc_count;
    uint8_t vc_count;
    uint8_t sec_hdr_flag;
    uint8_t sync_flag;
    uint8_t packet_order_flag;
    uint8_t segment_length_id; /* 3 when sync_flag is 0 */
    uint8_t reserved;
    uint16_t fhp;              /* first header pointer, 0..0x7FF */
};

/* A physical channel's frame layout. */
struct lr_tm_config {
    uint16_t scid;
    uint16_t frame_len;   /* whole frame, 16..2048 octets */
    uint8_t ocf_flag;     /* frames carry a 4-octet OCF */
    uint8_t fecf_flag;    /* frames carry a 2-octet FECF */
    uint8_t sec_hdr_len;  /* 0, or 2..64: whole secondary header, identification octet included */
    uint8_t idle_fill;    /* octet that fills idle packets and idle frames */
};

/* A master channel being multiplexed: its layout and the fields every frame
 * shares.  The caller fills cfg (and ocf, sec_hdr when used) and zeroes the rest. */
struct lr_tm_mux_mc {
    struct lr_tm_config cfg;
    uint32_t ocf;           /* OCF value (e.g. the CLCW) written into each frame */
    uint8_t sec_hdr[64];    /* secondary header written into each frame; octet 0 (identification) is set here */
    uint8_t mc_count;       /* count of the next frame */
    uint8_t reserved[7];
    uint64_t frames;        /* frames emitted on the master channel */
};

/* One virtual channel's packing state.  The caller sets mc and vcid and
 * zeroes the rest. */
struct lr_tm_mux_vc {
    struct lr_tm_mux_mc *mc;
    uint8_t vcid;
    uint8_t vc_count;       /* count of the next frame */
    uint16_t fill;          /* octets of the data field filled so far */
    uint16_t fhp;           /* FHP of the frame being filled (0x7FF until a packet starts) */
    uint16_t idle_seq;      /* sequence count of the next idle packet */
    uint64_t frames;
    uint64_t packets;
    uint8_t data[2048];     /* the data field being filled */
};

/* Counters and per-VC reassembly of a demultiplexer.  The caller fills cfg,
 * vc_mask (bit v set: extract VC v) and drop_idle, and zeroes the rest. */
struct lr_tm_demux_vc {
    uint8_t synced;         /* a frame of this VC has been seen */
    uint8_t lost;           /* waiting for a packet start (after a gap or mismatch) */
    uint8_t next_vc_count;
    uint8_t reserved;
    uint32_t have;          /* octets of the packet being rebuilt */
    uint8_t buf[65542];
};

struct lr_tm_demux {
    struct lr_tm_config cfg;
    uint8_t vc_mask;
    uint8_t drop_idle;      /* leave idle packets (APID 2047) out of the output */
    uint8_t mc_synced;
    uint8_t next_mc_count;
    uint32_t last_ocf;      /* OCF of the last good frame that had one */
    uint64_t consumed;      /* octets of the input handled by the last call */
    uint64_t frames;        /* frames handled (good or not) */
    uint64_t crc_errors;    /* frames whose FECF did not match: dropped */
    uint64_t bad_headers;   /* wrong version, SCID, OCF flag or secondary header: dropped */
    uint64_t mc_gaps;       /* master channel count discontinuities */
    uint64_t mc_frames_lost;/* frames missing according to the MC count */
    uint64_t vc_gaps;       /* virtual channel count discontinuities (extracted VCs) */
    uint64_t vc_frames_lost;
    uint64_t fhp_mismatches;/* FHP disagreeing with the packet lengths */
    uint64_t bad_packets;   /* packet headers with a version other than 0 */
    uint64_t idle_frames;   /* frames with FHP 0x7FE */
    uint64_t unsupported;   /* frames with the sync flag set (not packet data) */
    uint64_t packets;       /* packets written to the output (idle ones included unless dropped) */
    uint64_t idle_packets;  /* idle packets found */
    uint64_t octets_discarded; /* octets of packets lost to gaps and mismatches */
    struct lr_tm_demux_vc vc[8];
};

/* What lr_tm_frame_parse found in one frame. */
struct lr_tm_frame_info {
    struct lr_tm_header header;
    uint16_t data_offset;   /* data field position in the frame */
    uint16_t data_len;
    uint8_t sec_hdr_len;    /* whole secondary header, 0 if absent */
    uint8_t crc_ok;         /* 1 if FECF matches or is absent */
    uint8_t reserved[2];
    uint32_t ocf;           /* valid if header.ocf_flag */
};

/* Write a primary header.  Returns 6, LR_E_ARG if a field is out of range, or
 * LR_E_SPACE. */
int lr_tm_header_pack(const struct lr_tm_header *h, uint8_t *out, size_t n_out);

/* Read a primary header.  Returns 6, or LR_E_FORMAT if n_in < 6. */
int lr_tm_header_unpack(struct lr_tm_header *h, const uint8_t *in, size_t n_in);

/* Octets of packet data per frame for this layout, or LR_E_ARG if the layout
 * is impossible (frame too short or too long, bad secondary header length). */
int lr_tm_data_len(const struct lr_tm_config *cfg);

/* Parse the frame in[0 .. n_in-1] (n_in is the frame length) under cfg's OCF
 * and FECF flags.  Returns the data field length, LR_E_FORMAT if the frame is
 * too short for what its header announces, or LR_E_CHECK if the FECF does not
 * match (info is still filled). */
int lr_tm_frame_parse(struct lr_tm_frame_info *info, const struct lr_tm_config *cfg, const uint8_t *in,
                      size_t n_in);

/* Pack whole packets in[0 .. n_in-1] onto virtual channel vc, writing each
 * completed frame to out.  A packet that does not fit the current frame
 * continues in the next; the last frame stays open for the next call.
 * Returns the number of frames written, LR_E_FORMAT if the input is not a
 * sequence of whole version-0 packets, LR_E_SPACE if out cannot hold the
 * frames (nothing is changed then), LR_E_ARG for a bad layout or VCID. */
int64_t lr_tm_mux_pack(struct lr_tm_mux_vc *vc, const uint8_t *in, size_t n_in, uint8_t *out,
                       size_t n_out);

/* Close the open frame of vc with an idle packet (APID 2047).  Returns the
 * frames written: 0 if no frame is open, 1, or 2 when fewer than 7 octets
 * were left (the idle packet then continues through a second frame). */
int64_t lr_tm_mux_flush(struct lr_tm_mux_vc *vc, uint8_t *out, size_t n_out);

/* Write one frame of only idle data (FHP 0x7FE) on vc.  Returns 1,
 * LR_E_STATE if vc has an open frame, or LR_E_SPACE. */
int64_t lr_tm_mux_idle_frame(struct lr_tm_mux_vc *vc, uint8_t *out, size_t n_out);

/* Demultiplex whole frames in[0 .. n_in-1] (n_in a multiple of the frame
 * length): check each frame, follow the MC and VC counts, and write every
 * packet completed on an extracted VC to out, back to back.  Stops early,
 * before a frame, when out might not hold what that frame completes;
 * st->consumed then says where to resume.  Returns the octets written, or
 * LR_E_ARG for a bad layout or ragged input. */
int64_t lr_tm_demux_frames(struct lr_tm_demux *st, const uint8_t *in, size_t n_in, uint8_t *out,
                           size_t n_out);
/* LR_CDEF_END */

#endif /* LR_TM_H */
