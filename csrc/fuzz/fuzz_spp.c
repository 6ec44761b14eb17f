/* libFuzzer target: the space packet header parser and the batch indexer (lr_spp.h). */
#include <stdint.h>
#include <stdlib.h>

#include "../lr_spp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lr_spp_entry entries[4096];
    struct lr_spp_index_state st = {0};
    struct lr_spp_header h;
    lr_spp_header_unpack(&h, data, size);
    size_t pos = 0;
    for (;;) {
        int64_t k = lr_spp_index(&st, data + pos, size - pos, entries, 4096);
        if (k < 0 || st.consumed > size - pos)
            abort();
        for (int64_t i = 0; i < k; i++)
            if (entries[i].offset + entries[i].length > size - pos)
                abort();
        pos += st.consumed;
        if (st.stop != LR_SPP_STOP_FULL)
            break;
    }
    return 0;
}
