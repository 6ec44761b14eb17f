/* lr_tc.c - TC Space Data Link Protocol frames; see lr_tc.h. */
#include "lr_tc.h"

#include <string.h>

#include "lr_crc.h"

/* CCSDS 232.0-B-4 §4.1.2, figure 4-2. */
int lr_tc_header_pack(const struct lr_tc_header *h, uint8_t *out, size_t n_out)
{
    if (h->tfvn > 3 || h->bypass_flag > 1 || h->ctrl_cmd_flag > 1 || h->spare > 3 || h->scid > 0x3FF ||
        h->vcid > 63 || h->frame_len < 1 || h->frame_len > LR_TC_MAX_FRAME)
        return LR_E_ARG;
    if (n_out < LR_TC_HEADER_LEN)
        return LR_E_SPACE;
    unsigned fl = h->frame_len - 1u; /* §4.1.2.7: frame length minus one */
    out[0] = (uint8_t)((h->tfvn << 6) | (h->bypass_flag << 5) | (h->ctrl_cmd_flag << 4) | (h->spare << 2) |
                       (h->scid >> 8));
    out[1] = (uint8_t)h->scid;
    out[2] = (uint8_t)((h->vcid << 2) | (fl >> 8));
    out[3] = (uint8_t)fl;
    out[4] = h->frame_seq_num;
    return LR_TC_HEADER_LEN;
}

int lr_tc_header_unpack(struct lr_tc_header *h, const uint8_t *in, size_t n_in)
{
    if (n_in < LR_TC_HEADER_LEN)
        return LR_E_FORMAT;
    h->tfvn = (uint8_t)(in[0] >> 6);
    h->bypass_flag = (uint8_t)((in[0] >> 5) & 1);
    h->ctrl_cmd_flag = (uint8_t)((in[0] >> 4) & 1);
    h->spare = (uint8_t)((in[0] >> 2) & 3);
    h->scid = (uint16_t)(((in[0] & 3) << 8) | in[1]);
    h->vcid = (uint8_t)(in[2] >> 2);
    h->frame_len = (uint16_t)((((in[2] & 3) << 8) | in[3]) + 1);
    h->frame_seq_num = in[4];
    return LR_TC_HEADER_LEN;
}

static int uses_seg_hdr(const struct lr_tc_config *cfg, const struct lr_tc_header *h)
{
    /* §4.1.3.1 / 232.0-B-4 §2.3.3: control commands never carry a segment header. */
    return cfg->seg_hdr_flag && !h->ctrl_cmd_flag;
}

int64_t lr_tc_frame_build(const struct lr_tc_frame_spec *spec, const uint8_t *in, size_t n_in, uint8_t *out,
                          size_t n_out)
{
    struct lr_tc_header h = spec->header;
    int seg = uses_seg_hdr(&spec->cfg, &h);
    if (seg && (spec->seq_flags > 3 || spec->map_id > 63))
        return LR_E_ARG;
    size_t total = LR_TC_HEADER_LEN + (size_t)seg + n_in + (spec->cfg.fecf_flag ? 2u : 0u);
    if (total > LR_TC_MAX_FRAME || n_in == 0)
        return LR_E_ARG;
    h.frame_len = (uint16_t)total;
    uint8_t hdr[LR_TC_HEADER_LEN];
    int r = lr_tc_header_pack(&h, hdr, sizeof hdr);
    if (r < 0)
        return r;
    if (n_out < total)
        return LR_E_SPACE;
    memcpy(out, hdr, sizeof hdr);
    size_t pos = LR_TC_HEADER_LEN;
    if (seg)
        out[pos++] = (uint8_t)((spec->seq_flags << 6) | spec->map_id); /* §4.1.3.2 */
    memcpy(out + pos, in, n_in);
    pos += n_in;
    if (spec->cfg.fecf_flag) {
        uint16_t crc = lr_crc16_ccitt(0xFFFF, out, pos); /* §4.1.4.2 */
        out[pos++] = (uint8_t)(crc >> 8);
        out[pos++] = (uint8_t)crc;
    }
    return (int64_t)pos;
}

int lr_tc_frame_parse(struct lr_tc_frame_info *info, const struct lr_tc_config *cfg, const uint8_t *in,
                      size_t n_in)
{
    memset(info, 0, sizeof *info);
    if (lr_tc_header_unpack(&info->header, in, n_in) < 0)
        return LR_E_FORMAT;
    const struct lr_tc_header *h = &info->header;
    size_t len = h->frame_len;
    int seg = uses_seg_hdr(cfg, h);
    size_t overhead = LR_TC_HEADER_LEN + (size_t)seg + (cfg->fecf_flag ? 2u : 0u);
    if (h->tfvn != 0 || h->spare != 0 || len > n_in || len < overhead + 1)
        return LR_E_FORMAT;
    if (seg) {
        info->has_seg_hdr = 1;
        info->seq_flags = (uint8_t)(in[LR_TC_HEADER_LEN] >> 6);
        info->map_id = (uint8_t)(in[LR_TC_HEADER_LEN] & 0x3F);
    }
    info->data_offset = (uint16_t)(LR_TC_HEADER_LEN + seg);
    info->data_len = (uint16_t)(len - overhead);
    info->crc_ok = 1;
    if (cfg->fecf_flag && lr_crc16_ccitt(0xFFFF, in, len) != 0) {
        info->crc_ok = 0;
        return LR_E_CHECK;
    }
    return (int)len;
}
