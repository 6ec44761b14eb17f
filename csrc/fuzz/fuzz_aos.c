/* libFuzzer target: the AOS frame parser and FHEC decoder (lr_aos.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_aos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct lr_aos_config cfg = {0};
    cfg.fhec_flag = data[0] & 1;
    cfg.ocf_flag = data[0] >> 1 & 1;
    cfg.fecf_flag = data[0] >> 2 & 1;
    cfg.insert_zone_len = data[1] & 0x1F;
    data += 2;
    size -= 2;
    cfg.frame_len = (uint16_t)(size > 2048 ? 2048 : size);
    if (size >= LR_AOS_HEADER_LEN) { /* every header bit is a field: unpack then pack is the identity */
        struct lr_aos_header h;
        uint8_t again[LR_AOS_HEADER_LEN];
        lr_aos_header_unpack(&h, data, size);
        if (lr_aos_header_pack(&h, again, sizeof again) != LR_AOS_HEADER_LEN || memcmp(again, data, sizeof again))
            abort();
    }
    struct lr_aos_frame_info fi;
    int r = lr_aos_frame_parse(&fi, &cfg, data, cfg.frame_len);
    if (r >= 0 && (size_t)fi.data_offset + fi.data_len > cfg.frame_len)
        abort();
    if (size >= 8) {
        uint8_t h[8];
        memcpy(h, data, 8);
        int c = lr_aos_fhec_correct(h);
        /* A corrected header must then be a codeword. */
        if (c >= 0 && lr_aos_fhec_correct(h) != 0)
            abort();
    }
    return 0;
}
