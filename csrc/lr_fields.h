/*
 * lr_fields.h - fixed fields of many packets into columns, one pass.
 *
 * A packet dictionary places a field at a fixed octet offset in its packet
 * type (CCSDSPy, XTCE, the project's registry).  Given where each packet of a
 * type starts in a buffer, lr_fields_extract copies every whole-octet field
 * of 1, 2, 4 or 8 octets into its own column in the host's byte order
 * (swapping big-endian fields, as telemetry mostly is), reading each packet
 * once.  Floats are copied as their bits: the column is then read as float32
 * or float64.  Fields at other bit positions or widths are the caller's.
 *
 * Buffers: the caller owns every buffer (the packets, their offsets, the
 * field table and the columns); nothing is retained after return.  Nothing
 * here trusts the offsets: a packet whose fields would run past the buffer
 * is refused before anything is written.
 */
#ifndef LR_FIELDS_H
#define LR_FIELDS_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
struct lr_field {
    uint32_t offset;     /* octets from the packet's first octet */
    uint32_t width;      /* 1, 2, 4 or 8 octets */
    uint32_t big_endian; /* nonzero: the field is big-endian (most telemetry), else little-endian */
    void *column;        /* width octets per packet, n_packets of them */
};

/* Copy the n_fields fields of each of the n_packets packets starting at
 * buf + offsets[i] into row i of their columns.  Returns n_packets, or LR_E_ARG
 * for a width other than 1, 2, 4, 8, a missing buffer, or a packet whose last
 * field ends past n_buf. */
int64_t lr_fields_extract(const uint8_t *buf, size_t n_buf, const uint64_t *offsets, size_t n_packets,
                          const struct lr_field *fields, size_t n_fields);
/* LR_CDEF_END */

#endif /* LR_FIELDS_H */
