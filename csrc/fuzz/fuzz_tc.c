/* libFuzzer target: the TC frame parser (lr_tc.h), under each layout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_tc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= LR_TC_HEADER_LEN) { /* every header bit is a field: unpack then pack is the identity */
        struct lr_tc_header h;
        uint8_t again[LR_TC_HEADER_LEN];
        lr_tc_header_unpack(&h, data, size);
        if (lr_tc_header_pack(&h, again, sizeof again) != LR_TC_HEADER_LEN || memcmp(again, data, sizeof again))
            abort();
    }
    for (int layout = 0; layout < 4; layout++) {
        struct lr_tc_config cfg = {(uint8_t)(layout & 1), (uint8_t)(layout >> 1)};
        struct lr_tc_frame_info fi;
        size_t pos = 0;
        /* Walk frames back to back, as a CLTU's decoded data would hold them. */
        while (pos < size) {
            int r = lr_tc_frame_parse(&fi, &cfg, data + pos, size - pos);
            if (r == 0 || (r > 0 && (size_t)r > size - pos))
                abort();
            if (r < 0)
                break;
            if ((size_t)fi.data_offset + fi.data_len > (size_t)r)
                abort();
            pos += (size_t)r;
        }
    }
    return 0;
}
