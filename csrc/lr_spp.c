/* lr_spp.c - CCSDS Space Packet Protocol primary header and batch indexer; see lr_spp.h. */
#include "lr_spp.h"

#include <string.h>

/* CCSDS 133.0-B-2 §4.1.3, figure 4-2: the six octets of the primary header. */
int lr_spp_header_pack(const struct lr_spp_header *h, uint8_t *out, size_t n_out)
{
    if (h->version > 7 || h->type > 1 || h->sec_hdr_flag > 1 || h->seq_flags > 3 ||
        h->apid > 0x7FF || h->seq_count > 0x3FFF)
        return LR_E_ARG;
    if (n_out < LR_SPP_HEADER_LEN)
        return LR_E_SPACE;
    out[0] = (uint8_t)((h->version << 5) | (h->type << 4) | (h->sec_hdr_flag << 3) | (h->apid >> 8));
    out[1] = (uint8_t)h->apid;
    out[2] = (uint8_t)((h->seq_flags << 6) | (h->seq_count >> 8));
    out[3] = (uint8_t)h->seq_count;
    out[4] = (uint8_t)(h->data_length >> 8);
    out[5] = (uint8_t)h->data_length;
    return LR_SPP_HEADER_LEN;
}

int lr_spp_header_unpack(struct lr_spp_header *h, const uint8_t *in, size_t n_in)
{
    if (n_in < LR_SPP_HEADER_LEN)
        return LR_E_FORMAT;
    h->version = (uint8_t)(in[0] >> 5);
    h->type = (uint8_t)((in[0] >> 4) & 1);
    h->sec_hdr_flag = (uint8_t)((in[0] >> 3) & 1);
    h->apid = (uint16_t)(((in[0] & 7) << 8) | in[1]);
    h->seq_flags = (uint8_t)(in[2] >> 6);
    h->seq_count = (uint16_t)(((in[2] & 0x3F) << 8) | in[3]);
    h->data_length = (uint16_t)((in[4] << 8) | in[5]);
    return LR_SPP_HEADER_LEN;
}

int64_t lr_spp_build(struct lr_spp_header *h, const uint8_t *data, size_t n_data, uint8_t *out,
                     size_t n_out)
{
    /* §4.1.3.5.3: the data field holds 1 to 65536 octets. */
    if (n_data < 1 || n_data > 65536)
        return LR_E_ARG;
    h->data_length = (uint16_t)(n_data - 1);
    uint8_t hdr[LR_SPP_HEADER_LEN];
    int r = lr_spp_header_pack(h, hdr, sizeof hdr);
    if (r < 0)
        return r;
    if (n_out < n_data + LR_SPP_HEADER_LEN)
        return LR_E_SPACE;
    memcpy(out, hdr, sizeof hdr);
    memcpy(out + LR_SPP_HEADER_LEN, data, n_data);
    return (int64_t)(n_data + LR_SPP_HEADER_LEN);
}

int64_t lr_spp_idle(uint16_t seq_count, uint8_t fill, size_t length, uint8_t *out, size_t n_out)
{
    if (length < LR_SPP_HEADER_LEN + 1 || length > LR_SPP_MAX_PACKET || seq_count > 0x3FFF)
        return LR_E_ARG;
    if (n_out < length)
        return LR_E_SPACE;
    /* §4.1.3.3.4.4: idle packets carry APID 2047 (all ones). */
    struct lr_spp_header h = {0, 0, 0, LR_SPP_SEQ_UNSEGMENTED, LR_SPP_APID_IDLE, seq_count,
                              (uint16_t)(length - LR_SPP_HEADER_LEN - 1)};
    lr_spp_header_pack(&h, out, n_out);
    memset(out + LR_SPP_HEADER_LEN, fill, length - LR_SPP_HEADER_LEN);
    return (int64_t)length;
}

int64_t lr_spp_index(struct lr_spp_index_state *st, const uint8_t *in, size_t n_in,
                     struct lr_spp_entry *out, size_t n_out)
{
    size_t pos = 0, k = 0;
    uint64_t idle = 0;
    st->stop = LR_SPP_STOP_END;
    st->missing = 0;
    while (pos < n_in) {
        if (LR_UNLIKELY(k == n_out)) {
            st->stop = LR_SPP_STOP_FULL;
            break;
        }
        const uint8_t *p = in + pos;
        size_t left = n_in - pos;
        if (LR_UNLIKELY(left < LR_SPP_HEADER_LEN)) {
            st->stop = LR_SPP_STOP_TRUNCATED;
            st->missing = LR_SPP_HEADER_LEN + 1 - left; /* at least this much */
            break;
        }
        if (LR_UNLIKELY(p[0] & 0xE0)) {
            st->stop = LR_SPP_STOP_VERSION;
            break;
        }
        size_t len = (((size_t)p[4] << 8) | p[5]) + LR_SPP_HEADER_LEN + 1;
        if (LR_UNLIKELY(len > left)) {
            st->stop = LR_SPP_STOP_TRUNCATED;
            st->missing = len - left;
            break;
        }
        struct lr_spp_entry *e = &out[k++];
        unsigned apid = ((unsigned)(p[0] & 7) << 8) | p[1];
        e->offset = pos;
        e->length = (uint32_t)len;
        e->apid = (uint16_t)apid;
        e->seq_count = (uint16_t)(((p[2] & 0x3F) << 8) | p[3]);
        e->seq_flags = (uint8_t)(p[2] >> 6);
        e->type = (uint8_t)((p[0] >> 4) & 1);
        e->sec_hdr_flag = (uint8_t)((p[0] >> 3) & 1);
        e->version = 0;
        e->reserved = 0;
        idle += apid == LR_SPP_APID_IDLE;
        pos += len;
    }
    st->consumed = pos;
    st->packets += k;
    st->idle += idle;
    st->truncated += st->stop == LR_SPP_STOP_TRUNCATED;
    st->rejected += st->stop == LR_SPP_STOP_VERSION;
    return (int64_t)k;
}
