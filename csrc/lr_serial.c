/*
 * lr_serial.c - space packets on a byte stream (see lr_serial.h).
 */
#include "lr_serial.h"

#include <string.h>

#include "lr_crc.h"

#define ASM_LEN 4u
#define HDR_LEN 6u           /* space packet primary header, 133.0-B-2 §4.1.3 */
#define CRC_LEN 2u
#define MIN_PACKET 7u        /* a header and one octet of data field (§4.1.3.5.3) */
#define MAX_PACKET 65542u
#define FEND 0xC0u           /* KISS FEND, SLIP END */
#define FESC 0xDBu
#define TFEND 0xDCu
#define TFESC 0xDDu
#define KISS_DATA_PORT0 0x00u

/* KISS/SLIP phase bits */
#define PH_IN_FRAME 1u       /* an opening delimiter has been seen */
#define PH_ESCAPE 2u         /* the last octet was FESC */
#define PH_BAD 4u            /* the frame being read is already known bad */
#define PH_DISCARD 8u        /* too long: pass over everything up to the next delimiter */

static const uint8_t ASM[ASM_LEN] = {0x1A, 0xCF, 0xFC, 0x1D};

static int framing_ok(int32_t framing) {
    return framing == LR_SERIAL_ASM || framing == LR_SERIAL_KISS || framing == LR_SERIAL_SLIP;
}

/* Packet length from a primary header, or 0 if the header cannot start a packet of at
 * most max_packet octets (version not 0, 133.0-B-2 §4.1.3.2; or too long). */
static uint32_t packet_length(const uint8_t *hdr, uint32_t max_packet) {
    if (hdr[0] >> 5)
        return 0;
    uint32_t len = ((uint32_t)hdr[4] << 8 | hdr[5]) + 1u + HDR_LEN;
    return len <= max_packet ? len : 0;
}

size_t lr_serial_frame_bound(int32_t framing, size_t n) {
    if (framing == LR_SERIAL_ASM)
        return ASM_LEN + n + CRC_LEN;
    /* delimiters, the KISS command octet, and every octet escaped in the worst case */
    return 3 + 2 * (n + CRC_LEN);
}

static size_t escape_into(const uint8_t *in, size_t n, uint8_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == FEND) {
            out[k++] = FESC;
            out[k++] = TFEND;
        } else if (in[i] == FESC) {
            out[k++] = FESC;
            out[k++] = TFESC;
        } else {
            out[k++] = in[i];
        }
    }
    return k;
}

int64_t lr_serial_frame(int32_t framing, uint32_t flags, const uint8_t *packet, size_t n, uint8_t *out,
                        size_t n_out) {
    if (!framing_ok(framing))
        return LR_E_ARG;
    if (n < MIN_PACKET || n > MAX_PACKET || ((size_t)packet[4] << 8 | packet[5]) + 1 + HDR_LEN != n)
        return LR_E_FORMAT;
    uint16_t crc = lr_crc16_ccitt(0xFFFF, packet, n);
    uint8_t crc_be[CRC_LEN] = {(uint8_t)(crc >> 8), (uint8_t)crc};
    if (framing == LR_SERIAL_ASM) {
        if (n_out < ASM_LEN + n + CRC_LEN)
            return LR_E_SPACE;
        memcpy(out, ASM, ASM_LEN);
        memcpy(out + ASM_LEN, packet, n);
        memcpy(out + ASM_LEN + n, crc_be, CRC_LEN);
        return (int64_t)(ASM_LEN + n + CRC_LEN);
    }
    if (n_out < lr_serial_frame_bound(framing, n))
        return LR_E_SPACE;
    size_t k = 0;
    out[k++] = FEND;
    if (framing == LR_SERIAL_KISS)
        out[k++] = KISS_DATA_PORT0;
    k += escape_into(packet, n, out + k);
    if (flags & LR_SERIAL_CRC)
        k += escape_into(crc_be, CRC_LEN, out + k);
    out[k++] = FEND;
    return (int64_t)k;
}

size_t lr_serial_holding_size(uint32_t max_packet) {
    /* ASM: marker, packet and CRC.  KISS: command octet, packet and CRC (unescaped). */
    return ASM_LEN + (size_t)max_packet + CRC_LEN;
}

int lr_serial_deframer_init(struct lr_serial_deframer *d, int32_t framing, uint32_t flags, uint32_t max_packet,
                            uint8_t *hold, size_t hold_cap) {
    if (!framing_ok(framing) || max_packet < MIN_PACKET || max_packet > MAX_PACKET || hold == NULL ||
        hold_cap < lr_serial_holding_size(max_packet))
        return LR_E_ARG;
    memset(d, 0, sizeof *d);
    d->framing = framing;
    d->flags = flags;
    d->max_packet = max_packet;
    d->hold = hold;
    d->hold_cap = hold_cap;
    return LR_OK;
}

/* ---- ASM framing ---------------------------------------------------------------------- */

/* Offset of the first place in p[0..n) where the marker starts, or where a marker cut by
 * the end of the buffer may start (a prefix of it fills the tail); n if none. */
static size_t find_asm(const uint8_t *p, size_t n) {
    size_t at = 0;
    while (at < n) {
        const uint8_t *hit = memchr(p + at, ASM[0], n - at);
        if (hit == NULL)
            return n;
        size_t i = (size_t)(hit - p);
        size_t have = n - i < ASM_LEN ? n - i : ASM_LEN;
        if (memcmp(p + i, ASM, have) == 0)
            return i;
        at = i + 1;
    }
    return n;
}

/* Whether a full marker starts anywhere in p[0..n). */
static int contains_asm(const uint8_t *p, size_t n) {
    size_t i = find_asm(p, n);
    return i + ASM_LEN <= n;
}

enum verdict { V_MORE, V_GOOD, V_BAD };

/* Judge a candidate frame f[0..have) that starts with (a prefix of) the marker: need more
 * octets (*need says how many in all), good (*len is the packet length), or bad. */
static enum verdict judge_asm(struct lr_serial_deframer *d, const uint8_t *f, size_t have, size_t *need,
                              uint32_t *len) {
    if (have < ASM_LEN + HDR_LEN) {
        if (memcmp(f, ASM, have < ASM_LEN ? have : ASM_LEN) != 0)
            return V_BAD;
        *need = ASM_LEN + HDR_LEN;
        return V_MORE;
    }
    if (memcmp(f, ASM, ASM_LEN) != 0)
        return V_BAD;
    uint32_t plen = packet_length(f + ASM_LEN, d->max_packet);
    if (plen == 0) {
        d->counters.length_errors++;
        return V_BAD;
    }
    size_t total = ASM_LEN + plen + CRC_LEN;
    if (have < total) {
        *need = total;
        return V_MORE;
    }
    uint16_t crc = lr_crc16_ccitt(0xFFFF, f + ASM_LEN, plen);
    if (f[ASM_LEN + plen] != (uint8_t)(crc >> 8) || f[ASM_LEN + plen + 1] != (uint8_t)crc) {
        /* a frame cut short by the next one shows that one's marker inside it */
        if (contains_asm(f + 1, total - 1))
            d->counters.truncated++;
        else
            d->counters.crc_errors++;
        return V_BAD;
    }
    *len = plen;
    return V_GOOD;
}

/* The held candidate failed: keep what follows its first octet from the next marker on. */
static void hold_resync(struct lr_serial_deframer *d) {
    size_t q = 1 + find_asm(d->hold + 1, d->hold_len - 1);
    d->counters.garbage_octets += q;
    memmove(d->hold, d->hold + q, d->hold_len - q);
    d->hold_len -= q;
}

static int64_t deframe_asm(struct lr_serial_deframer *d, const uint8_t *in, size_t n_in, size_t *consumed,
                           uint8_t *out, size_t n_out, size_t *out_len) {
    size_t pos = 0, written = 0;
    int64_t packets = 0;
    for (;;) {
        size_t need = 0;
        uint32_t plen = 0;
        if (d->hold_len) {
            enum verdict v = judge_asm(d, d->hold, d->hold_len, &need, &plen);
            if (v == V_BAD) {
                hold_resync(d);
                continue;
            }
            if (v == V_MORE) {
                if (pos == n_in)
                    break;
                size_t take = need - d->hold_len;
                if (take > n_in - pos)
                    take = n_in - pos;
                memcpy(d->hold + d->hold_len, in + pos, take);
                d->hold_len += take;
                pos += take;
                continue;
            }
            if (n_out - written < plen)
                break;
            memcpy(out + written, d->hold + ASM_LEN, plen);
            written += plen;
            packets++;
            d->counters.packets++;
            /* after a resynchronisation the holding buffer may hold more than this frame:
             * search the rest for the next marker */
            size_t total = ASM_LEN + plen + CRC_LEN, rest = d->hold_len - total;
            size_t q = find_asm(d->hold + total, rest);
            d->counters.frame_octets += total;
            d->counters.garbage_octets += q;
            memmove(d->hold, d->hold + total + q, rest - q);
            d->hold_len = rest - q;
            continue;
        }
        size_t skip = find_asm(in + pos, n_in - pos);
        d->counters.garbage_octets += skip;
        pos += skip;
        if (pos == n_in)
            break;
        const uint8_t *f = in + pos;
        size_t have = n_in - pos;
        enum verdict v = judge_asm(d, f, have, &need, &plen);
        if (v == V_BAD) {
            d->counters.garbage_octets++;
            pos++;
        } else if (v == V_MORE) {
            /* the rest of the input is the start of a frame: hold it (need fits the holding
             * buffer because judge_asm checked the length against max_packet) */
            memcpy(d->hold, f, have);
            d->hold_len = have;
            pos = n_in;
        } else {
            if (n_out - written < plen)
                break;
            memcpy(out + written, f + ASM_LEN, plen);
            written += plen;
            packets++;
            d->counters.packets++;
            d->counters.frame_octets += ASM_LEN + plen + CRC_LEN;
            pos += ASM_LEN + plen + CRC_LEN;
        }
    }
    *consumed = pos;
    *out_len = written;
    return packets;
}

/* ---- KISS and SLIP -------------------------------------------------------------------- */

/* The held payload of a closed frame: the packet it carries (offset *at, length *len), or 0. */
static int escaped_frame_packet(struct lr_serial_deframer *d, size_t *at, uint32_t *len) {
    const uint8_t *p = d->hold;
    size_t n = d->hold_len;
    if (d->framing == LR_SERIAL_KISS) {
        if (n == 0 || p[0] != KISS_DATA_PORT0)
            return 0;                 /* not a data frame for port 0: TNC control, or noise */
        p++;
        n--;
    }
    size_t crc_len = (d->flags & LR_SERIAL_CRC) ? CRC_LEN : 0;
    if (n < MIN_PACKET + crc_len) {
        d->counters.length_errors++;
        return 0;
    }
    uint32_t plen = packet_length(p, d->max_packet);
    if (plen == 0 || plen + crc_len != n) {
        d->counters.length_errors++;
        return 0;
    }
    if (crc_len) {
        uint16_t crc = lr_crc16_ccitt(0xFFFF, p, plen);
        if (p[plen] != (uint8_t)(crc >> 8) || p[plen + 1] != (uint8_t)crc) {
            d->counters.crc_errors++;
            return 0;
        }
    }
    *at = (size_t)(p - d->hold);
    *len = plen;
    return 1;
}

static void escaped_reset(struct lr_serial_deframer *d) {
    d->hold_len = 0;
    d->raw_len = 0;
    d->phase = PH_IN_FRAME;
}

static int64_t deframe_escaped(struct lr_serial_deframer *d, const uint8_t *in, size_t n_in, size_t *consumed,
                               uint8_t *out, size_t n_out, size_t *out_len) {
    /* the holding buffer takes the unescaped payload of one frame, and no more */
    const size_t limit = 1 + (size_t)d->max_packet + CRC_LEN;
    size_t pos = 0, written = 0;
    int64_t packets = 0;
    while (pos < n_in) {
        uint8_t c = in[pos];
        if (!(d->phase & PH_IN_FRAME)) {
            /* before the first delimiter: nothing to frame yet */
            const uint8_t *hit = memchr(in + pos, FEND, n_in - pos);
            size_t skip = hit ? (size_t)(hit - (in + pos)) : n_in - pos;
            d->counters.garbage_octets += skip;
            pos += skip;
            if (hit) {
                d->phase = PH_IN_FRAME;
                d->raw_len = 1;
                pos++;
            }
            continue;
        }
        if (c == FEND) {
            if (d->hold_len == 0 && !(d->phase & (PH_BAD | PH_DISCARD | PH_ESCAPE))) {
                /* back-to-back delimiters: an empty frame; this one opens the next */
                d->counters.garbage_octets += d->raw_len;
                d->raw_len = 1;
                pos++;
                continue;
            }
            size_t at = 0;
            uint32_t plen = 0;
            int good = !(d->phase & (PH_BAD | PH_DISCARD | PH_ESCAPE)) && escaped_frame_packet(d, &at, &plen);
            if (good && n_out - written < plen)
                break;                /* out is full: the delimiter waits for the next call */
            if (good) {
                memcpy(out + written, d->hold + at, plen);
                written += plen;
                packets++;
                d->counters.packets++;
                d->counters.frame_octets += d->raw_len + 1;
                escaped_reset(d);     /* the closing delimiter counted with this frame */
                d->raw_len = 0;
            } else {
                if (d->phase & PH_ESCAPE)
                    d->counters.escape_errors++;
                d->counters.garbage_octets += d->raw_len;
                escaped_reset(d);
                d->raw_len = 1;       /* it may open the next frame */
            }
            pos++;
            continue;
        }
        if (d->phase & PH_DISCARD) {
            const uint8_t *hit = memchr(in + pos, FEND, n_in - pos);
            size_t skip = hit ? (size_t)(hit - (in + pos)) : n_in - pos;
            d->raw_len += skip;
            pos += skip;
            continue;
        }
        if (d->phase & PH_ESCAPE) {
            d->phase &= ~PH_ESCAPE;
            if (c == TFEND || c == TFESC) {
                c = c == TFEND ? FEND : FESC;
            } else {
                d->counters.escape_errors++;
                d->phase |= PH_BAD;
            }
        } else if (c == FESC) {
            d->phase |= PH_ESCAPE;
            d->raw_len++;
            pos++;
            continue;
        } else {
            /* a run of plain octets up to the next special one, in one copy */
            size_t run = 1;
            while (pos + run < n_in && in[pos + run] != FEND && in[pos + run] != FESC)
                run++;
            if (d->hold_len + run > limit) {
                d->counters.length_errors++;
                d->phase |= PH_DISCARD;
                d->raw_len += run;
                pos += run;
                continue;
            }
            memcpy(d->hold + d->hold_len, in + pos, run);
            d->hold_len += run;
            d->raw_len += run;
            pos += run;
            continue;
        }
        if (d->hold_len + 1 > limit) {
            d->counters.length_errors++;
            d->phase |= PH_DISCARD;
        } else {
            d->hold[d->hold_len++] = c;
        }
        d->raw_len++;
        pos++;
    }
    *consumed = pos;
    *out_len = written;
    return packets;
}

int64_t lr_serial_deframe(struct lr_serial_deframer *d, const uint8_t *in, size_t n_in, size_t *consumed,
                          uint8_t *out, size_t n_out, size_t *out_len) {
    int64_t n;
    *consumed = 0;
    *out_len = 0;
    if (d->framing == LR_SERIAL_ASM)
        n = deframe_asm(d, in, n_in, consumed, out, n_out, out_len);
    else
        n = deframe_escaped(d, in, n_in, consumed, out, n_out, out_len);
    d->counters.octets_in += *consumed;
    return n;
}
