/* lr_farm.c - FARM-1 and the CLCW; see lr_farm.h. */
#include "lr_farm.h"

#include <string.h>

#define TC_HEADER_LEN 5

int lr_farm_init(struct lr_farm *f, uint32_t window, uint32_t vcid, uint32_t has_fecf)
{
    /* 232.1-B-2 §6.1.8: W is even, 2 to 254. */
    if (window < 2 || window > 254 || window % 2 || vcid > 63)
        return LR_E_ARG;
    memset(f, 0, sizeof *f);
    f->window = window;
    f->vcid = vcid;
    f->has_fecf = has_fecf ? 1 : 0;
    f->state = LR_FARM_OPEN;
    return LR_OK;
}

static int farm_ad(struct lr_farm *f, uint8_t ns)
{
    unsigned half = f->window / 2;
    uint8_t ahead = (uint8_t)(ns - f->vr), behind = (uint8_t)(f->vr - ns);
    if (f->state == LR_FARM_LOCKOUT)
        return LR_FARM_DISCARD_LOCKOUT; /* E1-E5 in S3: discard */
    if (ahead == 0) {
        if (f->state == LR_FARM_OPEN && !f->buffer_full) { /* E1 */
            f->vr++;
            f->retransmit = 0;
            f->ad_accepted++;
            return LR_FARM_ACCEPT_AD;
        }
        /* E2: no buffer space. */
        f->retransmit = 1;
        f->wait = 1;
        f->state = LR_FARM_WAIT;
        return LR_FARM_DISCARD_WAIT;
    }
    if (ahead <= half - 1) { /* E3: positive window */
        if (f->state == LR_FARM_OPEN)
            f->retransmit = 1;
        return LR_FARM_DISCARD_AHEAD;
    }
    if (behind <= half) /* E4: negative window */
        return LR_FARM_DISCARD_BEHIND;
    /* E5: lockout area. */
    f->lockout = 1;
    f->state = LR_FARM_LOCKOUT;
    f->lockouts++;
    return LR_FARM_DISCARD_LOCKOUT;
}

static int farm_bc(struct lr_farm *f, const uint8_t *data, size_t n)
{
    if (n == 1 && data[0] == 0x00) { /* E7: Unlock (232.0-B-4 §4.1.3.3) */
        f->farm_b++;
        f->retransmit = 0;
        f->wait = 0;
        f->lockout = 0;
        f->state = LR_FARM_OPEN;
        f->bc_accepted++;
        return LR_FARM_UNLOCK;
    }
    if (n == 3 && data[0] == 0x82 && data[1] == 0x00) { /* E8: Set V(R) */
        f->farm_b++;
        f->bc_accepted++;
        if (f->state == LR_FARM_LOCKOUT)
            return LR_FARM_BC_IGNORED;
        f->retransmit = 0;
        f->wait = 0;
        f->vr = data[2];
        f->state = LR_FARM_OPEN;
        return LR_FARM_SET_VR;
    }
    f->discarded++;
    return LR_FARM_DISCARD_INVALID_BC;
}

int lr_farm_frame(struct lr_farm *f, const uint8_t *frame, size_t n_frame)
{
    if (n_frame < TC_HEADER_LEN + (f->has_fecf ? 2u : 0u)) {
        f->invalid++;
        return LR_E_FORMAT;
    }
    /* 232.0-B-4 §4.1.2: version (2) bypass (1) control (1) spare (2) SCID (10) |
     * VCID (6) length-1 (10) | N(S) (8). */
    unsigned version = frame[0] >> 6, bypass = (frame[0] >> 5) & 1u, control = (frame[0] >> 4) & 1u;
    size_t length = (((size_t)frame[2] & 0x03u) << 8 | frame[3]) + 1;
    if (version != 0 || length != n_frame || (control && !bypass)) {
        f->invalid++;
        return LR_E_FORMAT;
    }
    uint8_t ns = frame[4];
    if (!bypass) {
        int r = farm_ad(f, ns);
        if (r != LR_FARM_ACCEPT_AD)
            f->discarded++;
        return r;
    }
    if (!control) { /* E6 */
        f->farm_b++;
        f->bd_accepted++;
        return LR_FARM_ACCEPT_BD;
    }
    return farm_bc(f, frame + TC_HEADER_LEN, n_frame - TC_HEADER_LEN - (f->has_fecf ? 2u : 0u));
}

int lr_farm_buffer(struct lr_farm *f, int available)
{
    if (!available) {
        f->buffer_full = 1;
        return f->state;
    }
    f->buffer_full = 0;
    /* E10, buffer release (232.1-B-2 Table 6-1): the Wait_Flag is cleared in every state;
     * S2 returns to S1, S3 stays in Lockout (a FARM that entered Lockout from Wait still
     * reports Wait until then), S1 has nothing to clear. */
    f->wait = 0;
    if (f->state == LR_FARM_WAIT)
        f->state = LR_FARM_OPEN;
    return f->state;
}

uint32_t lr_farm_clcw(const struct lr_farm *f)
{
    /* 232.0-B-4 §4.2.1 (CLCW) */
    uint32_t w = 0;
    w |= 0u << 31;                              /* control word type */
    w |= 0u << 29;                              /* CLCW version number */
    w |= 0u << 26;                              /* status field */
    w |= 1u << 24;                              /* COP in effect: COP-1 */
    w |= (f->vcid & 0x3Fu) << 18;               /* virtual channel identification */
    w |= (uint32_t)(f->no_rf & 1u) << 15;       /* No RF Available */
    w |= (uint32_t)(f->no_bitlock & 1u) << 14;  /* No Bit Lock */
    w |= (uint32_t)(f->lockout & 1u) << 13;
    w |= (uint32_t)(f->wait & 1u) << 12;
    w |= (uint32_t)(f->retransmit & 1u) << 11;
    w |= (f->farm_b & 3u) << 9;                 /* FARM-B counter, two low bits */
    w |= f->vr;                                 /* report value */
    return w;
}
