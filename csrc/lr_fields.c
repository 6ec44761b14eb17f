/* lr_fields.c - fixed fields of many packets into columns; see lr_fields.h. */
#include "lr_fields.h"

#include <string.h>

#define LR_FIELDS_BLOCK 256

/* One field of the packets i0 .. i1 into its column, as a T, swapped by BSWAP when swap is set
 * (an empty BSWAP for single octets). */
#define LR_FIELDS_COLUMN(T, BSWAP)                          \
    do {                                                    \
        T *col = fd->column;                                \
        for (size_t i = i0; i < i1; i++) {                  \
            T v;                                            \
            memcpy(&v, base + offsets[i], sizeof v);        \
            col[i] = swap ? (T)BSWAP(v) : v;                \
        }                                                   \
    } while (0)

static inline int lr_host_is_big_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 0;
}

int64_t lr_fields_extract(const uint8_t *buf, size_t n_buf, const uint64_t *offsets, size_t n_packets,
                          const struct lr_field *fields, size_t n_fields)
{
    if ((n_fields && !fields) || (n_packets && !offsets) || (n_packets && n_fields && !buf))
        return LR_E_ARG;
    size_t end = 0;  /* octets of packet the fields need */
    for (size_t f = 0; f < n_fields; f++) {
        uint32_t w = fields[f].width;
        if ((w != 1 && w != 2 && w != 4 && w != 8) || (n_packets && !fields[f].column))
            return LR_E_ARG;
        size_t e = (size_t)fields[f].offset + w;
        if (e > end)
            end = e;
    }
    if (!n_fields)
        return (int64_t)n_packets;
    for (size_t i = 0; i < n_packets; i++)   /* every packet checked before anything is written */
        if (offsets[i] > n_buf || n_buf - offsets[i] < end)
            return LR_E_ARG;
    const int little_host = !lr_host_is_big_endian();
    /* a block of packets at a time (their octets stay in the first-level cache), a field at a
     * time down the block (each column written in order) */
    for (size_t i0 = 0; i0 < n_packets; i0 += LR_FIELDS_BLOCK) {
        size_t i1 = n_packets - i0 < LR_FIELDS_BLOCK ? n_packets : i0 + LR_FIELDS_BLOCK;
        for (size_t f = 0; f < n_fields; f++) {
            const struct lr_field *fd = &fields[f];
            const uint8_t *base = buf + fd->offset;
            int swap = fd->big_endian ? little_host : !little_host;
            switch (fd->width) {
            case 1:
                LR_FIELDS_COLUMN(uint8_t, );
                break;
            case 2:
                LR_FIELDS_COLUMN(uint16_t, __builtin_bswap16);
                break;
            case 4:
                LR_FIELDS_COLUMN(uint32_t, __builtin_bswap32);
                break;
            default:
                LR_FIELDS_COLUMN(uint64_t, __builtin_bswap64);
                break;
            }
        }
    }
    return (int64_t)n_packets;
}
