/* lr_cltu.c - BCH(63,56) codeblocks and CLTUs; see lr_cltu.h. */
#include "lr_cltu.h"

#include <string.h>

/* Generated from g(x) = x^7 + x^6 + x^2 + 1; test_cltu.c checks both against
 * the bit-serial definition. */
/* Remainder of (byte << 7) modulo g(x), kept in the top 7 bits of a byte. */
static const uint8_t bch_rem[256] = {
    0x00, 0x8A, 0x9E, 0x14, 0xB6, 0x3C, 0x28, 0xA2, 0xE6, 0x6C, 0x78, 0xF2,
    0x50, 0xDA, 0xCE, 0x44, 0x46, 0xCC, 0xD8, 0x52, 0xF0, 0x7A, 0x6E, 0xE4,
    0xA0, 0x2A, 0x3E, 0xB4, 0x16, 0x9C, 0x88, 0x02, 0x8C, 0x06, 0x12, 0x98,
    0x3A, 0xB0, 0xA4, 0x2E, 0x6A, 0xE0, 0xF4, 0x7E, 0xDC, 0x56, 0x42, 0xC8,
    0xCA, 0x40, 0x54, 0xDE, 0x7C, 0xF6, 0xE2, 0x68, 0x2C, 0xA6, 0xB2, 0x38,
    0x9A, 0x10, 0x04, 0x8E, 0x92, 0x18, 0x0C, 0x86, 0x24, 0xAE, 0xBA, 0x30,
    0x74, 0xFE, 0xEA, 0x60, 0xC2, 0x48, 0x5C, 0xD6, 0xD4, 0x5E, 0x4A, 0xC0,
    0x62, 0xE8, 0xFC, 0x76, 0x32, 0xB8, 0xAC, 0x26, 0x84, 0x0E, 0x1A, 0x90,
    0x1E, 0x94, 0x80, 0x0A, 0xA8, 0x22, 0x36, 0xBC, 0xF8, 0x72, 0x66, 0xEC,
    0x4E, 0xC4, 0xD0, 0x5A, 0x58, 0xD2, 0xC6, 0x4C, 0xEE, 0x64, 0x70, 0xFA,
    0xBE, 0x34, 0x20, 0xAA, 0x08, 0x82, 0x96, 0x1C, 0xAE, 0x24, 0x30, 0xBA,
    0x18, 0x92, 0x86, 0x0C, 0x48, 0xC2, 0xD6, 0x5C, 0xFE, 0x74, 0x60, 0xEA,
    0xE8, 0x62, 0x76, 0xFC, 0x5E, 0xD4, 0xC0, 0x4A, 0x0E, 0x84, 0x90, 0x1A,
    0xB8, 0x32, 0x26, 0xAC, 0x22, 0xA8, 0xBC, 0x36, 0x94, 0x1E, 0x0A, 0x80,
    0xC4, 0x4E, 0x5A, 0xD0, 0x72, 0xF8, 0xEC, 0x66, 0x64, 0xEE, 0xFA, 0x70,
    0xD2, 0x58, 0x4C, 0xC6, 0x82, 0x08, 0x1C, 0x96, 0x34, 0xBE, 0xAA, 0x20,
    0x3C, 0xB6, 0xA2, 0x28, 0x8A, 0x00, 0x14, 0x9E, 0xDA, 0x50, 0x44, 0xCE,
    0x6C, 0xE6, 0xF2, 0x78, 0x7A, 0xF0, 0xE4, 0x6E, 0xCC, 0x46, 0x52, 0xD8,
    0x9C, 0x16, 0x02, 0x88, 0x2A, 0xA0, 0xB4, 0x3E, 0xB0, 0x3A, 0x2E, 0xA4,
    0x06, 0x8C, 0x98, 0x12, 0x56, 0xDC, 0xC8, 0x42, 0xE0, 0x6A, 0x7E, 0xF4,
    0xF6, 0x7C, 0x68, 0xE2, 0x40, 0xCA, 0xDE, 0x54, 0x10, 0x9A, 0x8E, 0x04,
    0xA6, 0x2C, 0x38, 0xB2};

/* Syndrome (7 bits) -> position of the single bit error it implies (0 = first
 * transmitted bit of the codeblock), or 0xFF when no single error explains it. */
static const uint8_t bch_syndrome_pos[128] = {
    0xFF, 0x3E, 0x3D, 0xFF, 0x3C, 0xFF, 0xFF, 0x24, 0x3B, 0xFF, 0xFF, 0x1B,
    0xFF, 0x0E, 0x23, 0xFF, 0x3A, 0xFF, 0xFF, 0x2E, 0xFF, 0x0A, 0x1A, 0xFF,
    0xFF, 0x11, 0x0D, 0xFF, 0x22, 0xFF, 0xFF, 0x06, 0x39, 0xFF, 0xFF, 0x33,
    0xFF, 0x1F, 0x2D, 0xFF, 0xFF, 0x27, 0x09, 0xFF, 0x19, 0xFF, 0xFF, 0x16,
    0xFF, 0x01, 0x10, 0xFF, 0x0C, 0xFF, 0xFF, 0x13, 0x21, 0xFF, 0xFF, 0x29,
    0xFF, 0x03, 0x05, 0xFF, 0x38, 0xFF, 0xFF, 0xFF, 0xFF, 0x37, 0x32, 0xFF,
    0xFF, 0x31, 0x1E, 0xFF, 0x2C, 0xFF, 0xFF, 0x36, 0xFF, 0x1D, 0x26, 0xFF,
    0x08, 0xFF, 0xFF, 0x30, 0x18, 0xFF, 0xFF, 0x35, 0xFF, 0x2B, 0x15, 0xFF,
    0xFF, 0x25, 0x00, 0xFF, 0x0F, 0xFF, 0xFF, 0x1C, 0x0B, 0xFF, 0xFF, 0x2F,
    0xFF, 0x07, 0x12, 0xFF, 0x20, 0xFF, 0xFF, 0x34, 0xFF, 0x17, 0x28, 0xFF,
    0xFF, 0x14, 0x02, 0xFF, 0x04, 0xFF, 0xFF, 0x2A};

static const uint8_t cltu_start[2] = {0xEB, 0x90};                                /* §5.2 */
static const uint8_t cltu_tail[8] = {0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0x79}; /* §5.4 */
#define CLTU_FILL 0x55 /* §5.3: fill octets of the last codeblock */

static uint8_t bch_remainder(const uint8_t *info)
{
    uint8_t r = 0;
    for (int i = 0; i < 7; i++)
        r = bch_rem[r ^ info[i]];
    return r;
}

uint8_t lr_bch_parity(const uint8_t *info)
{
    /* §3.2: parity bits complemented, then the filler bit 0. */
    return (uint8_t)(~bch_remainder(info) & 0xFE);
}

int64_t lr_bch_encode(const uint8_t *in, size_t n_in, uint8_t *out, size_t n_out)
{
    if (n_in % 7)
        return LR_E_FORMAT;
    size_t n = n_in / 7;
    if (n_out / 8 < n)
        return LR_E_SPACE;
    for (size_t i = 0; i < n; i++) {
        memmove(out + 8 * i, in + 7 * i, 7);
        out[8 * i + 7] = lr_bch_parity(out + 8 * i);
    }
    return (int64_t)(8 * n);
}

int lr_bch_decode_block(const uint8_t *cb, int correct, uint8_t *info)
{
    unsigned syndrome = (unsigned)((bch_remainder(cb) ^ (uint8_t)~cb[7]) & 0xFE) >> 1;
    memmove(info, cb, 7);
    if (syndrome == 0)
        return 0;
    unsigned pos = bch_syndrome_pos[syndrome];
    if (!correct || pos == 0xFF)
        return LR_E_UNCORRECTABLE;
    if (pos < 56)
        info[pos / 8] ^= (uint8_t)(0x80u >> (pos % 8));
    return 1; /* the error was in the parity: the information is already right */
}

size_t lr_cltu_encoded_len(size_t n)
{
    return 2 + (n + 6) / 7 * 8 + 8;
}

int64_t lr_cltu_encode(const uint8_t *in, size_t n_in, uint8_t *out, size_t n_out)
{
    size_t need = lr_cltu_encoded_len(n_in);
    if (n_out < need)
        return LR_E_SPACE;
    memcpy(out, cltu_start, 2);
    uint8_t *p = out + 2;
    for (size_t i = 0; i < n_in; i += 7, p += 8) {
        size_t take = n_in - i < 7 ? n_in - i : 7;
        uint8_t block[7];
        memset(block, CLTU_FILL, 7);
        memcpy(block, in + i, take);
        memcpy(p, block, 7);
        p[7] = lr_bch_parity(block);
    }
    memcpy(p, cltu_tail, 8);
    return (int64_t)need;
}

int lr_cltu_decoder_init(struct lr_cltu_decoder *d, int correct, int start_tolerance)
{
    if (start_tolerance < 0 || start_tolerance > 1)
        return LR_E_ARG;
    memset(d, 0, sizeof *d);
    d->correct = correct ? 1 : 0;
    d->start_tolerance = start_tolerance;
    return LR_OK;
}

static int start_matches(const uint8_t *p, int tolerance)
{
    int errors = __builtin_popcount((unsigned)(p[0] ^ cltu_start[0])) +
                 __builtin_popcount((unsigned)(p[1] ^ cltu_start[1]));
    return errors <= tolerance;
}

int64_t lr_cltu_decode(struct lr_cltu_decoder *d, const uint8_t *in, size_t n_in, uint8_t *out,
                       size_t n_out, struct lr_cltu_info *info, size_t n_info, size_t *consumed)
{
    if (d->start_tolerance < 0 || d->start_tolerance > 1)
        return LR_E_ARG;
    size_t pos = 0, out_pos = 0;
    int64_t found = 0;
    while ((size_t)found < n_info) {
        size_t s = pos;
        while (s + 2 <= n_in && !start_matches(in + s, d->start_tolerance))
            s++;
        if (s + 2 > n_in) {
            /* Keep a last octet that may begin a start sequence. */
            size_t keep = n_in > pos && in[n_in - 1] == cltu_start[0] ? 1 : 0;
            d->octets_skipped += n_in - pos - keep;
            pos = n_in - keep;
            break;
        }
        struct lr_cltu_decoder before = *d;
        int full = 0;
        d->octets_skipped += s - pos;
        d->cltus++;
        struct lr_cltu_info *ci = &info[found++];
        memset(ci, 0, sizeof *ci);
        ci->start = s;
        ci->out_offset = out_pos;
        size_t p = s + 2;
        for (;;) {
            if (p + 8 > n_in) {
                ci->end = LR_CLTU_END_TRUNCATED;
                d->truncated++;
                p = n_in;
                break;
            }
            if (memcmp(in + p, cltu_tail, 8) == 0) {
                ci->end = LR_CLTU_END_TAIL;
                d->tails++;
                p += 8;
                break;
            }
            if (n_out - out_pos < 7) {
                full = 1;
                break;
            }
            int r = lr_bch_decode_block(in + p, d->correct, out + out_pos);
            if (r < 0) {
                /* §3.3: an uncorrectable codeblock ends the CLTU; the search
                 * resumes at the octet after it. */
                ci->end = LR_CLTU_END_UNCORRECTABLE;
                d->rejected++;
                p += 8;
                break;
            }
            if (r == 1) {
                ci->corrected++;
                d->corrected++;
            }
            d->codeblocks++;
            ci->n_data += 7;
            out_pos += 7;
            p += 8;
        }
        if (full) {
            /* Out cannot hold this CLTU: forget it and stop before its start. */
            *d = before;
            found--;
            out_pos = ci->out_offset;
            if (found == 0) {
                *consumed = pos;
                return LR_E_SPACE;
            }
            break;
        }
        pos = p;
    }
    *consumed = pos;
    return found;
}
