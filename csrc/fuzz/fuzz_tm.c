/* libFuzzer target: TM frame parsing, the demultiplexer and the multiplexer (lr_tm.h).
 * The first two octets choose the layout; the rest is frames (and, for the
 * multiplexer, a would-be packet stream). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_spp.h"
#include "../lr_tm.h"

static struct lr_tm_demux demux;
static uint8_t out[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct lr_tm_config cfg = {0};
    cfg.frame_len = (uint16_t)(16 + (data[0] | (data[1] & 7) << 8) % 2033);
    cfg.ocf_flag = data[1] >> 3 & 1;
    cfg.fecf_flag = data[1] >> 4 & 1;
    cfg.sec_hdr_len = (data[1] >> 5 & 1) ? 4 : 0;
    cfg.scid = 0;
    data += 2;
    size -= 2;
    if (size >= LR_TM_HEADER_LEN) { /* every header bit is a field: unpack then pack is the identity */
        struct lr_tm_header h;
        uint8_t again[LR_TM_HEADER_LEN];
        lr_tm_header_unpack(&h, data, size);
        if (lr_tm_header_pack(&h, again, sizeof again) != LR_TM_HEADER_LEN || memcmp(again, data, sizeof again))
            abort();
    }
    if (lr_tm_data_len(&cfg) < 0) { /* an impossible layout must be refused up front */
        demux.cfg = cfg;
        if (lr_tm_demux_frames(&demux, data, size, out, sizeof out) != LR_E_ARG)
            abort();
        return 0;
    }
    struct lr_tm_frame_info fi;
    lr_tm_frame_parse(&fi, &cfg, data, size < cfg.frame_len ? size : cfg.frame_len);

    memset(&demux, 0, sizeof demux);
    demux.cfg = cfg;
    demux.vc_mask = 0xFF;
    size_t whole = size - size % cfg.frame_len, done = 0;
    while (done < whole) {
        int64_t got = lr_tm_demux_frames(&demux, data + done, whole - done, out, sizeof out);
        if (got < 0 || (size_t)got > sizeof out)
            abort();
        /* Whatever comes out must be whole version-1 packets. */
        struct lr_spp_index_state st = {0};
        static struct lr_spp_entry e[1 << 14];
        lr_spp_index(&st, out, (size_t)got, e, 1 << 14);
        if (st.stop == LR_SPP_STOP_TRUNCATED || st.stop == LR_SPP_STOP_VERSION)
            abort();
        if (demux.consumed == 0)
            break;
        done += demux.consumed;
    }

    struct lr_tm_mux_mc mc = {0};
    mc.cfg = cfg;
    struct lr_tm_mux_vc vc = {0};
    vc.mc = &mc;
    if (lr_tm_mux_pack(&vc, data, size, out, sizeof out) >= 0)
        lr_tm_mux_flush(&vc, out, sizeof out);
    return 0;
}
