/* lr_tm.c - TM Space Data Link Protocol frames, multiplexer and demultiplexer; see lr_tm.h. */
#include "lr_tm.h"

#include <string.h>

#include "lr_crc.h"

#define SPP_HDR 6
#define SPP_IDLE_APID 2047

/* CCSDS 132.0-B-3 §4.1.2, figure 4-3. */
int lr_tm_header_pack(const struct lr_tm_header *h, uint8_t *out, size_t n_out)
{
    if (h->tfvn > 3 || h->scid > 0x3FF || h->vcid > 7 || h->ocf_flag > 1 || h->sec_hdr_flag > 1 ||
        h->sync_flag > 1 || h->packet_order_flag > 1 || h->segment_length_id > 3 || h->fhp > 0x7FF)
        return LR_E_ARG;
    if (n_out < LR_TM_HEADER_LEN)
        return LR_E_SPACE;
    out[0] = (uint8_t)((h->tfvn << 6) | (h->scid >> 4));
    out[1] = (uint8_t)(((h->scid & 0xF) << 4) | (h->vcid << 1) | h->ocf_flag);
    out[2] = h->mc_count;
    out[3] = h->vc_count;
    out[4] = (uint8_t)((h->sec_hdr_flag << 7) | (h->sync_flag << 6) | (h->packet_order_flag << 5) |
                       (h->segment_length_id << 3) | (h->fhp >> 8));
    out[5] = (uint8_t)h->fhp;
    return LR_TM_HEADER_LEN;
}

int lr_tm_header_unpack(struct lr_tm_header *h, const uint8_t *in, size_t n_in)
{
    if (n_in < LR_TM_HEADER_LEN)
        return LR_E_FORMAT;
    h->tfvn = (uint8_t)(in[0] >> 6);
    h->scid = (uint16_t)(((in[0] & 0x3F) << 4) | (in[1] >> 4));
    h->vcid = (uint8_t)((in[1] >> 1) & 7);
    h->ocf_flag = (uint8_t)(in[1] & 1);
    h->mc_count = in[2];
    h->vc_count = in[3];
    h->sec_hdr_flag = (uint8_t)(in[4] >> 7);
    h->sync_flag = (uint8_t)((in[4] >> 6) & 1);
    h->packet_order_flag = (uint8_t)((in[4] >> 5) & 1);
    h->segment_length_id = (uint8_t)((in[4] >> 3) & 3);
    h->reserved = 0;
    h->fhp = (uint16_t)(((in[4] & 7) << 8) | in[5]);
    return LR_TM_HEADER_LEN;
}

int lr_tm_data_len(const struct lr_tm_config *cfg)
{
    /* §4.1.3.2.2.2: a secondary header is 2..64 octets with its identification octet. */
    if (cfg->sec_hdr_len == 1 || cfg->sec_hdr_len > 64 || cfg->scid > 0x3FF)
        return LR_E_ARG;
    if (cfg->frame_len > LR_TM_MAX_FRAME)
        return LR_E_ARG;
    int n = (int)cfg->frame_len - LR_TM_HEADER_LEN - cfg->sec_hdr_len - (cfg->ocf_flag ? 4 : 0) -
            (cfg->fecf_flag ? 2 : 0);
    /* At least one whole minimal packet header must fit (keeps flush finite). */
    return n < 8 ? LR_E_ARG : n;
}

int lr_tm_frame_parse(struct lr_tm_frame_info *info, const struct lr_tm_config *cfg, const uint8_t *in,
                      size_t n_in)
{
    memset(info, 0, sizeof *info);
    if (n_in < LR_TM_HEADER_LEN || n_in > LR_TM_MAX_FRAME)
        return LR_E_FORMAT;
    lr_tm_header_unpack(&info->header, in, n_in);
    size_t pos = LR_TM_HEADER_LEN;
    if (info->header.sec_hdr_flag) {
        if (pos >= n_in)
            return LR_E_FORMAT;
        /* §4.1.3.2.3: the low six bits give the whole secondary header length minus one. */
        info->sec_hdr_len = (uint8_t)((in[pos] & 0x3F) + 1);
        pos += info->sec_hdr_len;
    }
    size_t tail = (info->header.ocf_flag ? 4u : 0u) + (cfg->fecf_flag ? 2u : 0u);
    if (pos + tail > n_in)
        return LR_E_FORMAT;
    info->data_offset = (uint16_t)pos;
    info->data_len = (uint16_t)(n_in - pos - tail);
    if (info->header.ocf_flag) {
        const uint8_t *o = in + n_in - tail;
        info->ocf = ((uint32_t)o[0] << 24) | ((uint32_t)o[1] << 16) | ((uint32_t)o[2] << 8) | o[3];
    }
    info->crc_ok = 1;
    /* §4.1.6: the CRC over the whole frame, FECF included, leaves a zero register. */
    if (cfg->fecf_flag && lr_crc16_ccitt(0xFFFF, in, n_in) != 0) {
        info->crc_ok = 0;
        return LR_E_CHECK;
    }
    return info->data_len;
}

/* ---- multiplexer ---- */

static void emit_frame(struct lr_tm_mux_vc *vc, uint16_t fhp, const uint8_t *data, uint8_t *out)
{
    struct lr_tm_mux_mc *mc = vc->mc;
    const struct lr_tm_config *cfg = &mc->cfg;
    struct lr_tm_header h = {0};
    h.scid = cfg->scid;
    h.vcid = vc->vcid;
    h.ocf_flag = cfg->ocf_flag ? 1 : 0;
    h.mc_count = mc->mc_count++;
    h.vc_count = vc->vc_count++;
    h.sec_hdr_flag = cfg->sec_hdr_len ? 1 : 0;
    h.segment_length_id = 3; /* §4.1.2.7.4: '11' when the sync flag is 0 */
    h.fhp = fhp;
    lr_tm_header_pack(&h, out, LR_TM_HEADER_LEN);
    size_t pos = LR_TM_HEADER_LEN;
    if (cfg->sec_hdr_len) {
        memcpy(out + pos, mc->sec_hdr, cfg->sec_hdr_len);
        /* §4.1.3.2: version '00', whole secondary header length minus one. */
        out[pos] = (uint8_t)(cfg->sec_hdr_len - 1);
        pos += cfg->sec_hdr_len;
    }
    size_t dlen = (size_t)lr_tm_data_len(cfg);
    memcpy(out + pos, data, dlen);
    pos += dlen;
    if (cfg->ocf_flag) {
        out[pos++] = (uint8_t)(mc->ocf >> 24);
        out[pos++] = (uint8_t)(mc->ocf >> 16);
        out[pos++] = (uint8_t)(mc->ocf >> 8);
        out[pos++] = (uint8_t)mc->ocf;
    }
    if (cfg->fecf_flag) {
        uint16_t crc = lr_crc16_ccitt(0xFFFF, out, pos);
        out[pos++] = (uint8_t)(crc >> 8);
        out[pos++] = (uint8_t)crc;
    }
    mc->frames++;
    vc->frames++;
}

/* Place n octets of packet data on vc, starting a packet when `start` is set;
 * emits each frame that fills up.  Returns the frames emitted. */
static size_t place(struct lr_tm_mux_vc *vc, size_t dlen, const uint8_t *p, size_t n, int start,
                    uint8_t *out)
{
    size_t frames = 0;
    size_t flen = vc->mc->cfg.frame_len;
    if (start && vc->fhp == LR_TM_FHP_NO_PACKET)
        vc->fhp = vc->fill;
    while (n) {
        size_t take = dlen - vc->fill;
        if (take > n)
            take = n;
        memcpy(vc->data + vc->fill, p, take);
        vc->fill = (uint16_t)(vc->fill + take);
        p += take;
        n -= take;
        if (vc->fill == dlen) {
            emit_frame(vc, vc->fhp, vc->data, out + frames * flen);
            frames++;
            vc->fill = 0;
            vc->fhp = LR_TM_FHP_NO_PACKET;
        }
    }
    return frames;
}

static int mux_check(struct lr_tm_mux_vc *vc)
{
    if (!vc->mc || vc->vcid > 7)
        return LR_E_ARG;
    int dlen = lr_tm_data_len(&vc->mc->cfg);
    if (dlen < 0)
        return dlen;
    if (vc->fill == 0)
        vc->fhp = LR_TM_FHP_NO_PACKET;
    if (vc->fill >= dlen)
        return LR_E_STATE;
    return dlen;
}

int64_t lr_tm_mux_pack(struct lr_tm_mux_vc *vc, const uint8_t *in, size_t n_in, uint8_t *out,
                       size_t n_out)
{
    int dl = mux_check(vc);
    if (dl < 0)
        return dl;
    size_t dlen = (size_t)dl;
    /* Walk the packets first: the input must be whole version-0 packets. */
    size_t pos = 0, packets = 0;
    while (pos < n_in) {
        if (n_in - pos < SPP_HDR || (in[pos] >> 5) != 0)
            return LR_E_FORMAT;
        size_t len = (((size_t)in[pos + 4] << 8) | in[pos + 5]) + SPP_HDR + 1;
        if (len > n_in - pos)
            return LR_E_FORMAT;
        pos += len;
        packets++;
    }
    size_t frames = (vc->fill + n_in) / dlen;
    if (frames > n_out / vc->mc->cfg.frame_len)
        return LR_E_SPACE;
    size_t written = 0;
    pos = 0;
    while (pos < n_in) {
        size_t len = (((size_t)in[pos + 4] << 8) | in[pos + 5]) + SPP_HDR + 1;
        written += place(vc, dlen, in + pos, len, 1, out + written * vc->mc->cfg.frame_len);
        pos += len;
    }
    vc->packets += packets;
    return (int64_t)written;
}

int64_t lr_tm_mux_flush(struct lr_tm_mux_vc *vc, uint8_t *out, size_t n_out)
{
    int dl = mux_check(vc);
    if (dl < 0)
        return dl;
    size_t dlen = (size_t)dl;
    if (vc->fill == 0)
        return 0;
    size_t rem = dlen - vc->fill;
    /* §4.1.4.2.3 / 133.0-B-2 §4.1.3.3.4.4: fill with an idle packet; an idle
     * packet is at least 7 octets, so a shorter gap spills into one more frame. */
    size_t idle_len = rem >= SPP_HDR + 1 ? rem : rem + dlen;
    size_t frames = idle_len == rem ? 1 : 2;
    if (frames > n_out / vc->mc->cfg.frame_len)
        return LR_E_SPACE;
    uint8_t hdr[SPP_HDR];
    uint16_t dl16 = (uint16_t)(idle_len - SPP_HDR - 1);
    hdr[0] = (uint8_t)(SPP_IDLE_APID >> 8);
    hdr[1] = (uint8_t)(SPP_IDLE_APID & 0xFF);
    hdr[2] = (uint8_t)(0xC0 | (vc->idle_seq >> 8));
    hdr[3] = (uint8_t)vc->idle_seq;
    hdr[4] = (uint8_t)(dl16 >> 8);
    hdr[5] = (uint8_t)dl16;
    vc->idle_seq = (uint16_t)((vc->idle_seq + 1) & 0x3FFF);
    size_t written = 0, flen = vc->mc->cfg.frame_len;
    uint8_t fill[LR_TM_MAX_FRAME];
    memset(fill, vc->mc->cfg.idle_fill, sizeof fill);
    /* The header may itself straddle the frame boundary. */
    written += place(vc, dlen, hdr, SPP_HDR, 1, out);
    size_t body = idle_len - SPP_HDR;
    while (body) {
        size_t take = body > sizeof fill ? sizeof fill : body;
        written += place(vc, dlen, fill, take, 0, out + written * flen);
        body -= take;
    }
    return (int64_t)written;
}

int64_t lr_tm_mux_idle_frame(struct lr_tm_mux_vc *vc, uint8_t *out, size_t n_out)
{
    int dl = mux_check(vc);
    if (dl < 0)
        return dl;
    if (vc->fill != 0)
        return LR_E_STATE;
    if (n_out < vc->mc->cfg.frame_len)
        return LR_E_SPACE;
    memset(vc->data, vc->mc->cfg.idle_fill, (size_t)dl);
    emit_frame(vc, LR_TM_FHP_IDLE, vc->data, out);
    return 1;
}

/* ---- demultiplexer ---- */

static size_t spp_len(const uint8_t *h)
{
    return (((size_t)h[4] << 8) | h[5]) + SPP_HDR + 1;
}

static void discard(struct lr_tm_demux *st, struct lr_tm_demux_vc *v)
{
    st->octets_discarded += v->have;
    v->have = 0;
    v->lost = 1;
}

/* Hand a finished packet to the output. */
static size_t deliver(struct lr_tm_demux *st, const uint8_t *pkt, size_t len, uint8_t *out)
{
    int idle = ((((unsigned)pkt[0] & 7) << 8) | pkt[1]) == SPP_IDLE_APID;
    st->idle_packets += (uint64_t)idle;
    if (idle && st->drop_idle)
        return 0;
    memcpy(out, pkt, len);
    st->packets++;
    return len;
}

/* Extract the packets of one good frame's data field d[0 .. dlen-1] for VC v. */
static size_t demux_data(struct lr_tm_demux *st, struct lr_tm_demux_vc *v, uint16_t fhp,
                         const uint8_t *d, size_t dlen, uint8_t *out)
{
    size_t written = 0, pos;
    if (fhp == LR_TM_FHP_IDLE) {
        st->idle_frames++;
        if (v->have) { /* idle data in the middle of a packet: the packet is lost */
            st->fhp_mismatches++;
            discard(st, v);
        }
        return 0;
    }
    if (fhp != LR_TM_FHP_NO_PACKET && fhp >= dlen) {
        st->fhp_mismatches++;
        discard(st, v);
        st->octets_discarded += dlen;
        return 0;
    }
    if (v->lost) {
        if (fhp == LR_TM_FHP_NO_PACKET) {
            st->octets_discarded += dlen;
            return 0;
        }
        v->lost = 0;
        v->have = 0;
        st->octets_discarded += fhp;
        pos = fhp;
    } else if (v->have) {
        /* Where does the packet in progress end in this frame? */
        size_t end;
        if (v->have >= SPP_HDR) {
            end = spp_len(v->buf) - v->have;
        } else if (v->have + dlen >= SPP_HDR) {
            uint8_t h[SPP_HDR];
            memcpy(h, v->buf, v->have);
            memcpy(h + v->have, d, SPP_HDR - v->have);
            end = spp_len(h) - v->have;
        } else {
            end = dlen + 1; /* only possible for tiny data fields; never true with dlen >= 8 */
        }
        int ok = fhp == LR_TM_FHP_NO_PACKET ? end >= dlen : end == fhp;
        if (!ok) {
            st->fhp_mismatches++;
            discard(st, v);
            if (fhp == LR_TM_FHP_NO_PACKET) {
                st->octets_discarded += dlen;
                return 0;
            }
            v->lost = 0;
            st->octets_discarded += fhp;
            pos = fhp;
        } else if (end >= dlen) {
            memcpy(v->buf + v->have, d, dlen);
            v->have += (uint32_t)dlen;
            if (end == dlen) {
                written += deliver(st, v->buf, v->have, out);
                v->have = 0;
            }
            return written;
        } else {
            memcpy(v->buf + v->have, d, end);
            written += deliver(st, v->buf, v->have + end, out);
            v->have = 0;
            pos = end;
        }
    } else {
        /* The last frame ended on a packet boundary, so a packet starts at 0. */
        if (fhp != 0) {
            st->fhp_mismatches++;
            if (fhp == LR_TM_FHP_NO_PACKET) {
                v->lost = 1;
                st->octets_discarded += dlen;
                return 0;
            }
            st->octets_discarded += fhp;
        }
        pos = fhp;
    }
    while (pos < dlen) {
        size_t left = dlen - pos;
        if (d[pos] >> 5) { /* not a version-0 packet: resynchronise at the next FHP */
            st->bad_packets++;
            st->octets_discarded += left;
            v->lost = 1;
            return written;
        }
        if (left < SPP_HDR) {
            memcpy(v->buf, d + pos, left);
            v->have = (uint32_t)left;
            return written;
        }
        size_t len = spp_len(d + pos);
        if (len > left) {
            memcpy(v->buf, d + pos, left);
            v->have = (uint32_t)left;
            return written;
        }
        written += deliver(st, d + pos, len, out + written);
        pos += len;
    }
    return written;
}

int64_t lr_tm_demux_frames(struct lr_tm_demux *st, const uint8_t *in, size_t n_in, uint8_t *out,
                           size_t n_out)
{
    int dl = lr_tm_data_len(&st->cfg);
    if (dl < 0)
        return dl;
    size_t flen = st->cfg.frame_len;
    if (n_in % flen)
        return LR_E_ARG;
    size_t written = 0, pos = 0;
    for (; pos < n_in; pos += flen) {
        const uint8_t *f = in + pos;
        struct lr_tm_frame_info fi;
        struct lr_tm_demux_vc *v = &st->vc[(f[1] >> 1) & 7];
        if (n_out - written < v->have + flen)
            break;
        st->frames++;
        int r = lr_tm_frame_parse(&fi, &st->cfg, f, flen);
        if (r == LR_E_CHECK) {
            st->crc_errors++;
            continue;
        }
        const struct lr_tm_header *h = &fi.header;
        if (r < 0 || h->tfvn != 0 || h->scid != st->cfg.scid || h->ocf_flag != (st->cfg.ocf_flag ? 1 : 0) ||
            fi.sec_hdr_len != st->cfg.sec_hdr_len) {
            st->bad_headers++;
            continue;
        }
        /* §4.1.2.4: the MC count of consecutive frames increases by one, modulo 256. */
        if (st->mc_synced && h->mc_count != st->next_mc_count) {
            st->mc_gaps++;
            st->mc_frames_lost += (uint8_t)(h->mc_count - st->next_mc_count);
        }
        st->mc_synced = 1;
        st->next_mc_count = (uint8_t)(h->mc_count + 1);
        if (h->ocf_flag)
            st->last_ocf = fi.ocf;
        if (!(st->vc_mask >> h->vcid & 1))
            continue;
        if (h->sync_flag) {
            st->unsupported++;
            continue;
        }
        /* §4.1.2.5: likewise the VC count within a virtual channel. */
        if (!v->synced) {
            v->synced = 1;
            v->lost = 1;
        } else if (h->vc_count != v->next_vc_count) {
            st->vc_gaps++;
            st->vc_frames_lost += (uint8_t)(h->vc_count - v->next_vc_count);
            discard(st, v);
        }
        v->next_vc_count = (uint8_t)(h->vc_count + 1);
        written += demux_data(st, v, h->fhp, f + fi.data_offset, fi.data_len, out + written);
    }
    st->consumed = pos;
    return (int64_t)written;
}
