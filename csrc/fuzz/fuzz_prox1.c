/* libFuzzer target: the Proximity-1 PLTU parser (lr_prox1.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_prox1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lr_prox1_pltu_info fi;
    if (size >= LR_PROX1_HEADER_LEN) { /* a packable header packs back to the same octets */
        struct lr_prox1_header h;
        uint8_t again[LR_PROX1_HEADER_LEN];
        lr_prox1_header_unpack(&h, data, size);
        int r = lr_prox1_header_pack(&h, again, sizeof again);
        if ((r >= 0) != (h.frame_len >= LR_PROX1_HEADER_LEN) || (r >= 0 && memcmp(again, data, sizeof again)))
            abort();
    }
    for (size_t pos = 0; pos < size; pos++) {
        int r = lr_prox1_pltu_parse(&fi, data + pos, size - pos);
        if (r > 0 && ((size_t)r > size - pos || (size_t)fi.data_offset + fi.data_len > (size_t)r))
            abort();
    }
    return 0;
}
