/* libFuzzer target: the TM and TC pseudo-randomizers (lr_rand.h), CCSDS 131.0-B-4 §10
 * and 231.0-B-4 §6, at arbitrary phases (including ones near SIZE_MAX), lengths,
 * frame lengths and skips: every kernel agrees with the bit-serial reference, the
 * sequence has period 255 octets, and applying it twice is the identity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_rand.h"

#define MAX_IN 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ref[MAX_IN], out[MAX_IN], twice[MAX_IN];
    if (size < 11)
        return 0;
    int sequence = data[0] % 3; /* 2 is invalid */
    int kernel = (data[0] >> 2) % 5; /* 4 is invalid */
    size_t phase = 0, frame_len = data[9] % 64, skip = data[10] % 8;
    for (int i = 1; i <= 8; i++)
        phase = phase << 8 | data[i];
    data += 11;
    size -= 11;
    if (size > MAX_IN)
        size = MAX_IN;
    int64_t r = lr_rand_apply(sequence, LR_RAND_LFSR, phase, data, size, ref, sizeof ref);
    int64_t k = lr_rand_apply(sequence, kernel, phase, data, size, out, sizeof out);
    if (sequence == 2) {
        if (r >= 0 || k >= 0)
            abort();
        return 0;
    }
    if (r != (int64_t)size)
        abort();
    if (kernel == 4 && k < 0)
        return 0; /* an unknown kernel may be refused; if not, it must still be right */
    if (k != (int64_t)size || memcmp(ref, out, size))
        abort();
    /* Period 255: phase and phase mod 255 give the same bytes. */
    if (lr_rand_apply(sequence, kernel, phase % 255, data, size, out, sizeof out) != (int64_t)size ||
        memcmp(ref, out, size))
        abort();
    if (lr_rand_apply(sequence, kernel, phase, ref, size, twice, sizeof twice) != (int64_t)size ||
        memcmp(twice, data, size))
        abort();
    /* Too small an output is refused. */
    if (size && lr_rand_apply(sequence, kernel, phase, data, size, out, size - 1) >= 0)
        abort();

    /* Frames: the skip octets copied, the sequence restarted after them. */
    int64_t fr = lr_rand_frames(sequence, kernel, frame_len, skip, data, size, out, sizeof out);
    if (frame_len == 0 || size % frame_len || skip > frame_len) {
        if (fr >= 0)
            abort();
        return 0;
    }
    if (fr != (int64_t)size)
        abort();
    for (size_t f = 0; f < size; f += frame_len) {
        if (memcmp(out + f, data + f, skip))
            abort();
        if (lr_rand_apply(sequence, LR_RAND_LFSR, 0, data + f + skip, frame_len - skip, ref, sizeof ref) < 0 ||
            memcmp(out + f + skip, ref, frame_len - skip))
            abort();
    }
    return 0;
}
