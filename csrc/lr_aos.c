/* lr_aos.c - AOS Space Data Link Protocol frames and the RS(10,6) header code; see lr_aos.h. */
#include "lr_aos.h"

#include <string.h>

#include "lr_crc.h"

/* GF(16) with x^4 + x + 1 (732.0-B-4 §4.1.2.6 and annex): powers of a, and logs. */
static const uint8_t gf16_exp[30] = {1, 2, 4, 8, 3, 6, 12, 11, 5, 10, 7, 14, 15, 13, 9,
                                     1, 2, 4, 8, 3, 6, 12, 11, 5, 10, 7, 14, 15, 13, 9};
static const uint8_t gf16_log[16] = {0, 0, 1, 4, 2, 8, 5, 10, 3, 14, 9, 7, 6, 13, 11, 12};
/* Generator x^4 + a^3 x^3 + a x^2 + a^3 x + 1, highest power first (leading 1 left out). */
static const uint8_t fhec_gen[4] = {8, 2, 8, 1};

static uint8_t gf16_mul(uint8_t a, uint8_t b)
{
    return (a && b) ? gf16_exp[gf16_log[a] + gf16_log[b]] : 0;
}

/* CCSDS 732.0-B-4 §4.1.2, figure 4-2. */
int lr_aos_header_pack(const struct lr_aos_header *h, uint8_t *out, size_t n_out)
{
    if (h->tfvn > 3 || h->vcid > 63 || h->replay_flag > 1 || h->vc_count_usage_flag > 1 || h->spare > 3 ||
        h->vc_count_cycle > 15 || h->vc_count > 0xFFFFFF)
        return LR_E_ARG;
    if (n_out < LR_AOS_HEADER_LEN)
        return LR_E_SPACE;
    out[0] = (uint8_t)((h->tfvn << 6) | (h->scid >> 2));
    out[1] = (uint8_t)(((h->scid & 3) << 6) | h->vcid);
    out[2] = (uint8_t)(h->vc_count >> 16);
    out[3] = (uint8_t)(h->vc_count >> 8);
    out[4] = (uint8_t)h->vc_count;
    out[5] = (uint8_t)((h->replay_flag << 7) | (h->vc_count_usage_flag << 6) | (h->spare << 4) |
                       h->vc_count_cycle);
    return LR_AOS_HEADER_LEN;
}

int lr_aos_header_unpack(struct lr_aos_header *h, const uint8_t *in, size_t n_in)
{
    if (n_in < LR_AOS_HEADER_LEN)
        return LR_E_FORMAT;
    h->tfvn = (uint8_t)(in[0] >> 6);
    h->scid = (uint8_t)(((in[0] & 0x3F) << 2) | (in[1] >> 6));
    h->vcid = (uint8_t)(in[1] & 0x3F);
    h->vc_count = ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 8) | in[4];
    h->replay_flag = (uint8_t)(in[5] >> 7);
    h->vc_count_usage_flag = (uint8_t)((in[5] >> 6) & 1);
    h->spare = (uint8_t)((in[5] >> 4) & 3);
    h->vc_count_cycle = (uint8_t)(in[5] & 0xF);
    h->reserved = 0;
    return LR_AOS_HEADER_LEN;
}

/* The ten code symbols: six information nibbles then four parity nibbles. */
static void fhec_symbols(const uint8_t *hdr, uint16_t fhec, uint8_t *sym)
{
    sym[0] = hdr[0] >> 4;
    sym[1] = hdr[0] & 0xF;
    sym[2] = hdr[1] >> 4;
    sym[3] = hdr[1] & 0xF;
    sym[4] = hdr[5] >> 4;
    sym[5] = hdr[5] & 0xF;
    for (int i = 0; i < 4; i++)
        sym[6 + i] = (uint8_t)((fhec >> (12 - 4 * i)) & 0xF);
}

uint16_t lr_aos_fhec(const uint8_t *hdr)
{
    uint8_t sym[10], reg[4] = {0};
    fhec_symbols(hdr, 0, sym);
    /* Systematic encoding: the remainder of info(x) * x^4 divided by g(x). */
    for (int i = 0; i < 6; i++) {
        uint8_t fb = sym[i] ^ reg[0];
        for (int j = 0; j < 3; j++)
            reg[j] = reg[j + 1] ^ gf16_mul(fb, fhec_gen[j]);
        reg[3] = gf16_mul(fb, fhec_gen[3]);
    }
    return (uint16_t)((reg[0] << 12) | (reg[1] << 8) | (reg[2] << 4) | reg[3]);
}

/* Syndromes S_j = r(a^j), j = 6..9; symbol i has degree 9 - i. */
static void fhec_syndromes(const uint8_t *sym, uint8_t *s)
{
    for (int j = 0; j < 4; j++) {
        uint8_t acc = 0;
        for (int i = 0; i < 10; i++)
            if (sym[i])
                acc ^= gf16_exp[(gf16_log[sym[i]] + (6 + j) * (9 - i)) % 15];
        s[j] = acc;
    }
}

/* Contribution of error value e at degree d to S_j. */
static uint8_t err_syn(uint8_t e, int d, int j)
{
    return gf16_exp[(gf16_log[e] + (6 + j) * d) % 15];
}

int lr_aos_fhec_correct(uint8_t *hdr)
{
    uint8_t sym[10], s[4];
    fhec_symbols(hdr, (uint16_t)((hdr[6] << 8) | hdr[7]), sym);
    fhec_syndromes(sym, s);
    if (!(s[0] | s[1] | s[2] | s[3]))
        return 0;
    /* Ten symbols and distance 5: try every one- and two-symbol error, which
     * finds the unique pattern of weight <= 2 if there is one. */
    int p1 = -1, p2 = -1;
    uint8_t e1 = 0, e2 = 0;
    for (int a = 0; a < 10 && p1 < 0; a++)
        for (uint8_t ea = 1; ea < 16; ea++) {
            int ok = 1;
            for (int j = 0; j < 4 && ok; j++)
                ok = err_syn(ea, 9 - a, j) == s[j];
            if (ok) {
                p1 = a;
                e1 = ea;
                break;
            }
        }
    for (int a = 0; a < 10 && p1 < 0; a++)
        for (int b = a + 1; b < 10 && p1 < 0; b++)
            for (uint8_t ea = 1; ea < 16 && p1 < 0; ea++) {
                uint8_t r0 = s[0] ^ err_syn(ea, 9 - a, 0);
                if (!r0)
                    continue;
                /* The second error's value follows from S_6; check the rest. */
                uint8_t eb = gf16_exp[(gf16_log[r0] + 15 - (6 * (9 - b)) % 15) % 15];
                int ok = 1;
                for (int j = 1; j < 4 && ok; j++)
                    ok = (err_syn(ea, 9 - a, j) ^ err_syn(eb, 9 - b, j)) == s[j];
                if (ok) {
                    p1 = a;
                    e1 = ea;
                    p2 = b;
                    e2 = eb;
                }
            }
    if (p1 < 0)
        return LR_E_UNCORRECTABLE;
    sym[p1] ^= e1;
    if (p2 >= 0)
        sym[p2] ^= e2;
    hdr[0] = (uint8_t)((sym[0] << 4) | sym[1]);
    hdr[1] = (uint8_t)((sym[2] << 4) | sym[3]);
    hdr[5] = (uint8_t)((sym[4] << 4) | sym[5]);
    hdr[6] = (uint8_t)((sym[6] << 4) | sym[7]);
    hdr[7] = (uint8_t)((sym[8] << 4) | sym[9]);
    return p2 >= 0 ? 2 : 1;
}

int lr_aos_data_len(const struct lr_aos_config *cfg)
{
    if (cfg->frame_len > LR_AOS_MAX_FRAME)
        return LR_E_ARG;
    int n = (int)cfg->frame_len - LR_AOS_HEADER_LEN - (cfg->fhec_flag ? 2 : 0) - cfg->insert_zone_len -
            (cfg->ocf_flag ? 4 : 0) - (cfg->fecf_flag ? 2 : 0);
    return n < 2 ? LR_E_ARG : n;
}

int64_t lr_aos_frame_build(const struct lr_aos_config *cfg, const struct lr_aos_header *h,
                           const uint8_t *insert, uint32_t ocf, const uint8_t *in, size_t n_in, uint8_t *out,
                           size_t n_out)
{
    int dl = lr_aos_data_len(cfg);
    if (dl < 0 || n_in != (size_t)dl || (cfg->insert_zone_len && !insert))
        return LR_E_ARG;
    uint8_t hdr[LR_AOS_HEADER_LEN];
    int r = lr_aos_header_pack(h, hdr, sizeof hdr);
    if (r < 0)
        return r;
    if (n_out < cfg->frame_len)
        return LR_E_SPACE;
    memcpy(out, hdr, sizeof hdr);
    size_t pos = LR_AOS_HEADER_LEN;
    if (cfg->fhec_flag) {
        uint16_t fhec = lr_aos_fhec(hdr);
        out[pos++] = (uint8_t)(fhec >> 8);
        out[pos++] = (uint8_t)fhec;
    }
    if (cfg->insert_zone_len) { /* §4.1.3 */
        memcpy(out + pos, insert, cfg->insert_zone_len);
        pos += cfg->insert_zone_len;
    }
    memcpy(out + pos, in, n_in);
    pos += n_in;
    if (cfg->ocf_flag) {
        out[pos++] = (uint8_t)(ocf >> 24);
        out[pos++] = (uint8_t)(ocf >> 16);
        out[pos++] = (uint8_t)(ocf >> 8);
        out[pos++] = (uint8_t)ocf;
    }
    if (cfg->fecf_flag) { /* §4.1.6 */
        uint16_t crc = lr_crc16_ccitt(0xFFFF, out, pos);
        out[pos++] = (uint8_t)(crc >> 8);
        out[pos++] = (uint8_t)crc;
    }
    return (int64_t)pos;
}

int lr_aos_frame_parse(struct lr_aos_frame_info *info, const struct lr_aos_config *cfg, const uint8_t *in,
                       size_t n_in)
{
    memset(info, 0, sizeof *info);
    int dl = lr_aos_data_len(cfg);
    if (dl < 0)
        return LR_E_ARG;
    if (n_in != cfg->frame_len)
        return LR_E_FORMAT;
    size_t pos = LR_AOS_HEADER_LEN;
    if (cfg->fhec_flag) {
        uint8_t hdr[8];
        memcpy(hdr, in, 8);
        int c = lr_aos_fhec_correct(hdr);
        if (c < 0)
            return LR_E_UNCORRECTABLE;
        info->fhec_corrected = (uint8_t)c;
        lr_aos_header_unpack(&info->header, hdr, 8);
        pos += 2;
    } else {
        lr_aos_header_unpack(&info->header, in, n_in);
    }
    if (info->header.tfvn != 1)
        return LR_E_FORMAT;
    info->insert_offset = (uint16_t)pos;
    pos += cfg->insert_zone_len;
    info->data_offset = (uint16_t)pos;
    info->data_len = (uint16_t)dl;
    pos += (size_t)dl;
    if (cfg->ocf_flag) {
        const uint8_t *o = in + pos;
        info->ocf = ((uint32_t)o[0] << 24) | ((uint32_t)o[1] << 16) | ((uint32_t)o[2] << 8) | o[3];
    }
    info->crc_ok = 1;
    if (cfg->fecf_flag && lr_crc16_ccitt(0xFFFF, in, n_in) != 0) {
        info->crc_ok = 0;
        return LR_E_CHECK;
    }
    return dl;
}
