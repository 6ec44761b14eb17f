/* lr_prox1.c - Proximity-1 version-3 frame header and PLTU; see lr_prox1.h. */
#include "lr_prox1.h"

#include <string.h>

#include "lr_crc.h"

/* 211.2-B-3 §3.3.2: the PLTU attached sync marker. */
static const uint8_t prox1_asm[LR_PROX1_ASM_LEN] = {0xFA, 0xF3, 0x20};

/* 211.0-B-6 §3.2.2, figure 3-2. */
int lr_prox1_header_pack(const struct lr_prox1_header *h, uint8_t *out, size_t n_out)
{
    if (h->tfvn > 3 || h->qos > 1 || h->pdu_type > 1 || h->dfc_id > 3 || h->scid > 0x3FF || h->pcid > 1 ||
        h->port_id > 7 || h->src_dst_id > 1 || h->frame_len < LR_PROX1_HEADER_LEN ||
        h->frame_len > LR_PROX1_MAX_FRAME)
        return LR_E_ARG;
    if (n_out < LR_PROX1_HEADER_LEN)
        return LR_E_SPACE;
    unsigned fl = h->frame_len - 1u;
    out[0] = (uint8_t)((h->tfvn << 6) | (h->qos << 5) | (h->pdu_type << 4) | (h->dfc_id << 2) | (h->scid >> 8));
    out[1] = (uint8_t)h->scid;
    out[2] = (uint8_t)((h->pcid << 7) | (h->port_id << 4) | (h->src_dst_id << 3) | (fl >> 8));
    out[3] = (uint8_t)fl;
    out[4] = h->frame_seq_num;
    return LR_PROX1_HEADER_LEN;
}

int lr_prox1_header_unpack(struct lr_prox1_header *h, const uint8_t *in, size_t n_in)
{
    if (n_in < LR_PROX1_HEADER_LEN)
        return LR_E_FORMAT;
    h->tfvn = (uint8_t)(in[0] >> 6);
    h->qos = (uint8_t)((in[0] >> 5) & 1);
    h->pdu_type = (uint8_t)((in[0] >> 4) & 1);
    h->dfc_id = (uint8_t)((in[0] >> 2) & 3);
    h->scid = (uint16_t)(((in[0] & 3) << 8) | in[1]);
    h->pcid = (uint8_t)(in[2] >> 7);
    h->port_id = (uint8_t)((in[2] >> 4) & 7);
    h->src_dst_id = (uint8_t)((in[2] >> 3) & 1);
    h->frame_len = (uint16_t)((((in[2] & 7) << 8) | in[3]) + 1);
    h->frame_seq_num = in[4];
    return LR_PROX1_HEADER_LEN;
}

int64_t lr_prox1_pltu_build(const struct lr_prox1_header *h, const uint8_t *in, size_t n_in, uint8_t *out,
                            size_t n_out)
{
    if (n_in > LR_PROX1_MAX_FRAME - LR_PROX1_HEADER_LEN)
        return LR_E_ARG;
    struct lr_prox1_header hh = *h;
    hh.frame_len = (uint16_t)(n_in + LR_PROX1_HEADER_LEN);
    uint8_t hdr[LR_PROX1_HEADER_LEN];
    int r = lr_prox1_header_pack(&hh, hdr, sizeof hdr);
    if (r < 0)
        return r;
    size_t total = LR_PROX1_ASM_LEN + hh.frame_len + 4u;
    if (n_out < total)
        return LR_E_SPACE;
    memcpy(out, prox1_asm, LR_PROX1_ASM_LEN);
    memcpy(out + LR_PROX1_ASM_LEN, hdr, sizeof hdr);
    if (n_in)
        memcpy(out + LR_PROX1_ASM_LEN + LR_PROX1_HEADER_LEN, in, n_in);
    /* §3.3.3: the CRC covers the transfer frame only, not the ASM. */
    uint32_t crc = lr_crc32_prox1(0, out + LR_PROX1_ASM_LEN, hh.frame_len);
    uint8_t *c = out + LR_PROX1_ASM_LEN + hh.frame_len;
    c[0] = (uint8_t)(crc >> 24);
    c[1] = (uint8_t)(crc >> 16);
    c[2] = (uint8_t)(crc >> 8);
    c[3] = (uint8_t)crc;
    return (int64_t)total;
}

int lr_prox1_pltu_parse(struct lr_prox1_pltu_info *info, const uint8_t *in, size_t n_in)
{
    memset(info, 0, sizeof *info);
    if (n_in < LR_PROX1_ASM_LEN + LR_PROX1_HEADER_LEN + 4 || memcmp(in, prox1_asm, LR_PROX1_ASM_LEN) != 0)
        return LR_E_FORMAT;
    lr_prox1_header_unpack(&info->header, in + LR_PROX1_ASM_LEN, n_in - LR_PROX1_ASM_LEN);
    size_t flen = info->header.frame_len;
    size_t total = LR_PROX1_ASM_LEN + flen + 4;
    if (info->header.tfvn != 2 || flen < LR_PROX1_HEADER_LEN || total > n_in)
        return LR_E_FORMAT;
    info->data_offset = LR_PROX1_ASM_LEN + LR_PROX1_HEADER_LEN;
    info->data_len = (uint16_t)(flen - LR_PROX1_HEADER_LEN);
    const uint8_t *c = in + LR_PROX1_ASM_LEN + flen;
    info->crc = ((uint32_t)c[0] << 24) | ((uint32_t)c[1] << 16) | ((uint32_t)c[2] << 8) | c[3];
    info->crc_ok = lr_crc32_prox1(0, in + LR_PROX1_ASM_LEN, flen) == info->crc;
    return info->crc_ok ? (int)total : LR_E_CHECK;
}
