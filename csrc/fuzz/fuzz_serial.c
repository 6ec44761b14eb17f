/* libFuzzer target: the serial deframer (lr_serial.h).  The first octet picks the framing,
 * the CRC flag, a split size and max_packet; the rest is the stream.  Properties: the packets
 * found never depend on how the stream is split, every packet delivered is whole (its length
 * field agrees) and re-frames to what a clean deframer accepts, and every input octet is
 * accounted for exactly once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_serial.h"

#define MAXP 1024
#define CAP 16384

static int64_t run(int32_t framing, uint32_t flags, const uint8_t *data, size_t size, size_t piece,
                   uint8_t *out, size_t *out_len, struct lr_serial_counters *counters, size_t *held)
{
    static uint8_t hold[MAXP + 16];
    struct lr_serial_deframer d;
    if (lr_serial_deframer_init(&d, framing, flags, MAXP, hold, sizeof hold) != LR_OK)
        abort();
    int64_t packets = 0;
    size_t at = 0, written = 0;
    while (at < size) {
        size_t n = size - at < piece ? size - at : piece, done = 0;
        while (done < n) {
            size_t used = 0, got = 0;
            /* out of just max_packet octets: the deframer must stop early and resume */
            int64_t k = lr_serial_deframe(&d, data + at + done, n - done, &used, out + written, MAXP, &got);
            if (k < 0 || used > n - done || got > MAXP)
                abort();
            if (k == 0 && used == 0)
                abort();                 /* no progress although out holds a whole packet */
            packets += k;
            written += got;
            done += used;
        }
        at += n;
    }
    *out_len = written;
    *counters = d.counters;
    *held = framing == LR_SERIAL_ASM ? d.hold_len : d.raw_len;
    return packets;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t whole[CAP + MAXP], split[CAP + MAXP], frame[2 * MAXP + 16];
    if (size < 1 || size > CAP)
        return 0;
    int32_t framing = data[0] % 3;
    uint32_t flags = (data[0] >> 2) & 1 ? LR_SERIAL_CRC : 0;
    size_t piece = 1 + (data[0] >> 3);
    data++;
    size--;
    size_t whole_len, split_len, held_w, held_s;
    struct lr_serial_counters cw, cs;
    int64_t nw = run(framing, flags, data, size, size ? size : 1, whole, &whole_len, &cw, &held_w);
    int64_t ns = run(framing, flags, data, size, piece, split, &split_len, &cs, &held_s);
    if (nw != ns || whole_len != split_len || memcmp(whole, split, whole_len) != 0)
        abort();
    if (cw.octets_in != size || cw.frame_octets + cw.garbage_octets + held_w != size)
        abort();
    if (cs.frame_octets + cs.garbage_octets + held_s != size)
        abort();
    /* each packet delivered frames again and deframes to itself */
    for (size_t at = 0; at < whole_len;) {
        size_t len = ((size_t)whole[at + 4] << 8 | whole[at + 5]) + 7;
        if (at + len > whole_len)
            abort();
        int64_t f = lr_serial_frame(framing, flags, whole + at, len, frame, sizeof frame);
        if (f < 0)
            abort();
        uint8_t again[MAXP];
        size_t again_len, held;
        struct lr_serial_counters c;
        if (run(framing, flags, frame, (size_t)f, (size_t)f, again, &again_len, &c, &held) != 1 ||
            again_len != len || memcmp(again, whole + at, len) != 0)
            abort();
        at += len;
    }
    return 0;
}
