/* libFuzzer target: FARM-1 (lr_farm.h), CCSDS 232.1-B-2 §6, driven by an arbitrary
 * sequence of TC frames (type-AD, type-BD, type-BC with arbitrary or well-formed
 * control commands) and buffer signals; after every event the state-table
 * invariants and the CLCW are checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lr_farm.h"

static void check_invariants(const struct lr_farm *f)
{
    /* 232.1-B-2 §6.1: Lockout_Flag is set exactly in S3, Wait_Flag is set in S2 and clear in S1. */
    if (f->state < LR_FARM_OPEN || f->state > LR_FARM_LOCKOUT || f->lockout != (f->state == LR_FARM_LOCKOUT) ||
        (f->state == LR_FARM_WAIT && !f->wait) || (f->state == LR_FARM_OPEN && f->wait))
        abort();
    uint32_t w = lr_farm_clcw(f); /* 232.0-B-4 §4.2.1 */
    if ((w >> 24) != 1 || ((w >> 18) & 0x3F) != f->vcid || ((w >> 13) & 1) != f->lockout ||
        ((w >> 12) & 1) != f->wait || ((w >> 11) & 1) != f->retransmit || ((w >> 9) & 3) != (f->farm_b & 3) ||
        (w & 0xFF) != f->vr || ((w >> 16) & 3) != 0 || ((w >> 8) & 1) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t frame[1024];
    struct lr_farm f;
    if (size < 2)
        return 0;
    uint32_t window = data[0], vcid = data[1] & 0x7F, fecf = data[1] >> 7;
    int rc = lr_farm_init(&f, window, vcid, fecf);
    if ((rc == LR_OK) != (window >= 2 && window <= 254 && window % 2 == 0 && vcid <= 63))
        abort();
    if (rc != LR_OK)
        return 0;
    check_invariants(&f);
    size_t pos = 2;
    while (pos < size) {
        uint8_t op = data[pos++];
        struct lr_farm before = f;
        if (op < 16) { /* buffer signal */
            int state = lr_farm_buffer(&f, op & 1);
            if (state != f.state || f.vr != before.vr || f.lockout != before.lockout)
                abort();
            /* E10 (Table 6-1): the release clears Wait in every state, leaves S2 for S1 only */
            if ((op & 1) && (f.wait || f.state != (before.state == LR_FARM_WAIT ? LR_FARM_OPEN : before.state)))
                abort();
            if (!(op & 1) && (f.state != before.state || f.wait != before.wait))
                abort();
            check_invariants(&f);
            continue;
        }
        /* A frame: type from op, N(S) or command from the next octets. */
        size_t n_frame = 5 + (fecf ? 2 : 0), kind = op % 4;
        uint8_t ns = pos < size ? data[pos++] : 0;
        memset(frame, 0, sizeof frame);
        if (kind == 2) { /* Unlock */
            frame[n_frame++ - (fecf ? 2 : 0)] = 0x00;
        } else if (kind == 3) { /* Set V(R) to ns */
            memmove(frame + 8, frame + 5, 2);
            frame[5] = 0x82;
            frame[6] = 0x00;
            frame[7] = ns;
            n_frame += 3;
        } else if (op & 0x80 && pos < size) { /* arbitrary octets, any header */
            size_t n = 1 + data[pos++] % 32;
            if (n > size - pos)
                n = size - pos;
            memcpy(frame, data + pos, n);
            pos += n;
            n_frame = n;
            rc = lr_farm_frame(&f, frame, n_frame);
            if (rc < LR_E_FORMAT || (rc < 0 && rc != LR_E_FORMAT) || rc > LR_FARM_DISCARD_INVALID_BC)
                abort();
            if (rc == LR_E_FORMAT && (f.vr != before.vr || f.state != before.state))
                abort();
            check_invariants(&f);
            continue;
        }
        frame[0] = (uint8_t)((kind >= 1) << 5 | (kind >= 2) << 4); /* version 0, bypass, control */
        frame[2] = (uint8_t)(vcid << 2 | ((n_frame - 1) >> 8));
        frame[3] = (uint8_t)(n_frame - 1);
        frame[4] = ns;
        rc = lr_farm_frame(&f, frame, n_frame);
        uint8_t ahead = (uint8_t)(ns - before.vr);
        switch (kind) {
        case 0: /* type-AD (232.1-B-2 Table 6-1, E1-E5) */
            if (before.state == LR_FARM_LOCKOUT) {
                if (rc != LR_FARM_DISCARD_LOCKOUT || f.state != LR_FARM_LOCKOUT)
                    abort();
            } else if (ahead == 0) {
                int accept = before.state == LR_FARM_OPEN && !before.buffer_full;
                if (rc != (accept ? LR_FARM_ACCEPT_AD : LR_FARM_DISCARD_WAIT) ||
                    f.vr != (uint8_t)(before.vr + accept) || f.retransmit != !accept)
                    abort();
            } else if (ahead < before.window / 2) {
                if (rc != LR_FARM_DISCARD_AHEAD || f.state != before.state)
                    abort();
            } else if ((uint8_t)-ahead <= before.window / 2) {
                if (rc != LR_FARM_DISCARD_BEHIND || f.state != before.state)
                    abort();
            } else if (rc != LR_FARM_DISCARD_LOCKOUT || f.state != LR_FARM_LOCKOUT) {
                abort();
            }
            if (rc != LR_FARM_ACCEPT_AD && f.vr != before.vr)
                abort();
            break;
        case 1: /* type-BD (E6): accepted in every state */
            if (rc != LR_FARM_ACCEPT_BD || f.state != before.state || f.farm_b != before.farm_b + 1)
                abort();
            break;
        case 2: /* Unlock (E7) */
            if (rc != LR_FARM_UNLOCK || f.state != LR_FARM_OPEN || f.wait || f.retransmit || f.vr != before.vr)
                abort();
            break;
        default: /* Set V(R) (E8): ignored in Lockout */
            if (before.state == LR_FARM_LOCKOUT ? rc != LR_FARM_BC_IGNORED || f.vr != before.vr
                                                : rc != LR_FARM_SET_VR || f.vr != ns || f.state != LR_FARM_OPEN)
                abort();
            if (f.farm_b != before.farm_b + 1)
                abort();
        }
        check_invariants(&f);
    }
    return 0;
}
