/* lr_mod.c - the CCSDS modulator; see lr_mod.h. */
#include "lr_mod.h"

#include <math.h>
#include <string.h>

#include "lr_cpu.h"
#include "lr_iq.h"

#if LR_HAVE_X86_DISPATCH
#include <immintrin.h>
#endif

#define PI 3.14159265358979323846
#define PHASES LR_MOD_PHASES
#define SPAN LR_MOD_SPAN
#define HALF (SPAN / 2)
#define STAGE LR_MOD_STAGE
#define ONE (1ull << 32)
#define PHASE_SHIFT 25 /* 32 - log2(PHASES) */
#define OUT_CHUNK 256  /* samples computed as float before conversion */

_Static_assert(sizeof(((struct lr_mod *)0)->taps) == sizeof(float) * PHASES * SPAN, "taps size");
_Static_assert(sizeof(((struct lr_mod *)0)->stage_i) == STAGE / 8 + 16, "stage size");
_Static_assert((1u << (32 - PHASE_SHIFT)) == PHASES, "phase shift");

double lr_rrc(double t, double a)
{
    /* Unit-energy root-raised-cosine pulse for a symbol period of 1. */
    double at = fabs(t);
    if (at < 1e-9)
        return 1.0 - a + 4.0 * a / PI;
    if (fabs(at - 1.0 / (4.0 * a)) < 1e-9)
        return a / sqrt(2.0) * ((1.0 + 2.0 / PI) * sin(PI / (4.0 * a)) + (1.0 - 2.0 / PI) * cos(PI / (4.0 * a)));
    double num = sin(PI * t * (1.0 - a)) + 4.0 * a * t * cos(PI * t * (1.0 + a));
    double den = PI * t * (1.0 - 16.0 * a * a * t * t);
    return num / den;
}

static int is_rrc(int scheme)
{
    return scheme == LR_MOD_BPSK || scheme == LR_MOD_QPSK || scheme == LR_MOD_OQPSK;
}

int lr_mod_init(struct lr_mod *m, const struct lr_mod_config *cfg)
{
    if (m == NULL || cfg == NULL)
        return LR_E_ARG;
    if (cfg->scheme < LR_MOD_BPSK || cfg->scheme > LR_MOD_PCM_PSK_PM)
        return LR_E_ARG;
    if (cfg->coding != LR_MOD_NRZ_L && cfg->coding != LR_MOD_NRZ_M)
        return LR_E_ARG;
    if (!(cfg->sps >= 2.0 && cfg->sps <= 1e6))
        return LR_E_ARG;
    if (!(cfg->amplitude > 0.0 && isfinite(cfg->amplitude) && cfg->amplitude < 1e30))
        return LR_E_ARG;
    if (is_rrc(cfg->scheme) && !(cfg->rolloff >= 0.2 && cfg->rolloff <= 0.5))
        return LR_E_ARG;
    if (cfg->scheme == LR_MOD_PCM_PSK_PM &&
        (!(cfg->mod_index_rad >= 0.0 && cfg->mod_index_rad <= 3.0) ||
         !(cfg->subcarrier_cycles_per_sample > 0.0 && cfg->subcarrier_cycles_per_sample < 0.5)))
        return LR_E_ARG;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->step = (uint64_t)llround(ldexp(1.0, 32) / cfg->sps);
    m->pending_bit = -1;
    m->bits_per_symbol = cfg->scheme == LR_MOD_QPSK || cfg->scheme == LR_MOD_OQPSK ? 2 : 1;
    m->rail_scale = (float)(m->bits_per_symbol == 2 ? cfg->amplitude / sqrt(2.0) : cfg->amplitude);
    if (!is_rrc(cfg->scheme))
        return LR_OK;
    for (int p = 0; p < PHASES; p++)
        for (int b = 0; b < SPAN; b++)
            m->taps[p][b] = (float)(m->rail_scale * lr_rrc((double)p / PHASES + (HALF - 1) - b, cfg->rolloff));
    for (int p = 0; p < PHASES; p++)
        for (int g = 0; g < 2; g++)
            for (int v = 0; v < 256; v++) {
                float acc = 0.0f;
                for (int b = 0; b < 8; b++)
                    acc += (v >> b & 1) ? -m->taps[p][8 * g + b] : m->taps[p][8 * g + b];
                m->lut[p][g][v] = acc;
            }
    return LR_OK;
}

size_t lr_mod_max_samples(const struct lr_mod *m, size_t n_bits)
{
    size_t symbols = (n_bits + 1) / (size_t)m->bits_per_symbol + 1;
    if (is_rrc(m->cfg.scheme) && n_bits == 0)
        symbols = SPAN + 2; /* a flush */
    return (size_t)ceil((double)symbols * m->cfg.sps) + 2;
}

/* ------------------------------------------------------------------ symbols -- */

static inline void put_bit(uint8_t *stage, size_t i, unsigned bit)
{
    stage[i >> 3] = (uint8_t)(stage[i >> 3] | bit << (i & 7));
}

static inline unsigned get_bit(const uint8_t *stage, size_t i)
{
    return stage[i >> 3] >> (i & 7) & 1u;
}

/* Turn up to STAGE symbols' worth of bits into level bits after the 16 of history; returns
 * the bits consumed and sets *n_sym to the symbols staged (history not counted). */
static size_t stage_symbols(struct lr_mod *m, const uint8_t *bits, size_t n_bits, size_t *n_sym)
{
    memset(m->stage_i, 0, sizeof m->stage_i);
    memset(m->stage_q, 0, sizeof m->stage_q);
    for (int b = 0; b < SPAN; b++) {
        put_bit(m->stage_i, (size_t)b, m->hist_i >> b & 1u);
        put_bit(m->stage_q, (size_t)b, m->hist_q >> b & 1u);
    }
    size_t used = 0, k = 0;
    int level = m->nrzm_level;
    const int nrzm = m->cfg.coding == LR_MOD_NRZ_M;
    while (used < n_bits && k < STAGE) {
        unsigned bit = bits[used++] != 0;
        if (nrzm) {
            level ^= (int)bit; /* 401.0-B §2.4.11: a 1 changes the level */
            bit = (unsigned)level;
        }
        if (m->bits_per_symbol == 1) {
            put_bit(m->stage_i, SPAN + k, bit);
            k++;
        } else if (m->pending_bit < 0) {
            m->pending_bit = (int)bit;
        } else {
            put_bit(m->stage_i, SPAN + k, (unsigned)m->pending_bit);
            put_bit(m->stage_q, SPAN + k, bit);
            m->pending_bit = -1;
            k++;
        }
    }
    m->nrzm_level = level;
    *n_sym = k;
    return used;
}

/* Keep the last 16 staged symbols as history for the next pass. */
static void keep_history(struct lr_mod *m, size_t n_sym)
{
    uint32_t hi = 0, hq = 0;
    for (int b = 0; b < SPAN; b++) {
        hi |= get_bit(m->stage_i, n_sym + (size_t)b) << b;
        hq |= get_bit(m->stage_q, n_sym + (size_t)b) << b;
    }
    m->hist_i = hi;
    m->hist_q = hq;
}

/* ------------------------------------------------------------------- output -- */

/* Store n float pairs (re[], im[]) in `format`, counting clipped components. */
static void store_samples(struct lr_mod *m, const float *re, const float *im, size_t n, int format,
                          void *out, size_t at)
{
    m->clipped += lr_iq_store(re, im, n, format, out, at);
}

/* --------------------------------------------------------------------- RRC -- */

/* One rail's value at window index w (latest symbol needed) and phase p, from the staged
 * symbols: stage bit s holds symbol base + s; symbols outside [first, last) are zero. */
static float rail_scalar(const struct lr_mod *m, const uint8_t *stage, int64_t base, int64_t w, int p,
                         int64_t last)
{
    float acc = 0.0f;
    for (int b = 0; b < SPAN; b++) {
        int64_t i = w - (SPAN - 1) + b;
        if (i < 0 || i >= last || i < base)
            continue;
        acc += get_bit(stage, (size_t)(i - base)) ? -m->taps[p][b] : m->taps[p][b];
    }
    return acc;
}

static inline uint32_t window16(const uint8_t *stage, size_t s)
{
    uint32_t v;
    memcpy(&v, stage + (s >> 3), 4);
    return v >> (s & 7) & 0xFFFFu;
}

/* Window index and phase of symbol time t (32.32): the phase rounded, carrying into w. */
static inline void split_time(uint64_t t, int64_t *w, int *p)
{
    uint64_t r = t + (1ull << (PHASE_SHIFT - 1));
    *w = (int64_t)(r >> 32);
    *p = (int)((uint32_t)r >> PHASE_SHIFT);
}

/* Samples whose windows end at or before symbol `avail` - 1, from the stage (symbols base ..),
 * with symbols at or past `last` taken as zero.  fir: compute with the direct FIR. */
static size_t rrc_samples(struct lr_mod *m, int64_t base, int64_t avail, int64_t last, int format,
                          void *out, int fir)
{
    float re[OUT_CHUNK], im[OUT_CHUNK];
    const int qpsk = m->bits_per_symbol == 2;
    const uint64_t q_delay = m->cfg.scheme == LR_MOD_OQPSK ? (1ull << 31) : 0;
    size_t written = 0, k = 0;
    for (;;) {
        uint64_t t = m->t_next;
        int64_t w;
        int p;
        split_time(t, &w, &p);
        if (w >= avail) /* the window needs a symbol not yet taken */
            break;
        /* t counts from window time 0, which is symbol time -HALF: window w covers symbols
         * w-15 .. w, and the Q rail of OQPSK is half a symbol later. */
        int64_t wq = w;
        int pq = p;
        if (q_delay) {
            if (t >= q_delay)
                split_time(t - q_delay, &wq, &pq);
            else
                wq = -1, pq = 0; /* entirely before the first symbol */
        }
        int64_t lo = w - (SPAN - 1), loq = wq - (SPAN - 1);
        float vi, vq = 0.0f;
        if (!fir && lo >= base && lo >= 0 && w < last) {
            uint32_t win = window16(m->stage_i, (size_t)(lo - base));
            vi = m->lut[p][0][win & 0xFF] + m->lut[p][1][win >> 8];
        } else {
            vi = rail_scalar(m, m->stage_i, base, w, p, last);
        }
        if (qpsk) {
            if (!fir && loq >= base && loq >= 0 && wq < last) {
                uint32_t win = window16(m->stage_q, (size_t)(loq - base));
                vq = m->lut[pq][0][win & 0xFF] + m->lut[pq][1][win >> 8];
            } else {
                vq = rail_scalar(m, m->stage_q, base, wq, pq, last);
            }
        }
        re[k] = vi;
        im[k] = vq;
        k++;
        m->t_next = t + m->step;
        if (k == OUT_CHUNK) {
            store_samples(m, re, im, k, format, out, written);
            written += k;
            k = 0;
        }
    }
    if (k) {
        store_samples(m, re, im, k, format, out, written);
        written += k;
    }
    return written;
}

/* ---------------------------------------------------------------------- PM -- */

static size_t pm_samples(struct lr_mod *m, int64_t base, int64_t avail, int format, void *out)
{
    float re[OUT_CHUNK], im[OUT_CHUNK];
    const double mi = m->cfg.mod_index_rad, dsc = m->cfg.subcarrier_cycles_per_sample;
    const double amp = m->cfg.amplitude;
    size_t written = 0, k = 0;
    for (;;) {
        uint64_t t = m->t_next;
        int64_t sym = (int64_t)(t >> 32); /* NRZ: the symbol whose interval holds t */
        if (sym >= avail)
            break;
        double d = get_bit(m->stage_i, (size_t)(sym - base)) ? -1.0 : 1.0;
        double phase = mi * d * sin(2.0 * PI * m->sc_phase_cycles);
        re[k] = (float)(amp * cos(phase));
        im[k] = (float)(amp * sin(phase));
        k++;
        m->sc_phase_cycles += dsc;
        m->sc_phase_cycles -= floor(m->sc_phase_cycles);
        m->t_next = t + m->step;
        if (k == OUT_CHUNK) {
            store_samples(m, re, im, k, format, out, written);
            written += k;
            k = 0;
        }
    }
    if (k) {
        store_samples(m, re, im, k, format, out, written);
        written += k;
    }
    return written;
}

/* ------------------------------------------------------------------ public -- */

static int64_t process(struct lr_mod *m, const uint8_t *bits, size_t n_bits, int format, void *out,
                       size_t n_out, int fir)
{
    if (m == NULL || (bits == NULL && n_bits) || (out == NULL && n_out))
        return LR_E_ARG;
    if (!lr_iq_format_ok(format))
        return LR_E_ARG;
    if (m->flushed)
        return LR_E_STATE;
    if (n_out < lr_mod_max_samples(m, n_bits))
        return LR_E_SPACE;
    size_t written = 0, used = 0;
    while (used < n_bits) {
        size_t n_sym;
        used += stage_symbols(m, bits + used, n_bits - used, &n_sym);
        int64_t base = (int64_t)m->n_symbols - SPAN;
        m->n_symbols += n_sym;
        int64_t avail = (int64_t)m->n_symbols;
        void *dst = (uint8_t *)out + written * lr_iq_sample_size(format);
        if (is_rrc(m->cfg.scheme))
            written += rrc_samples(m, base, avail, INT64_MAX, format, dst, fir);
        else
            written += pm_samples(m, base, avail, format, dst);
        keep_history(m, n_sym);
    }
    m->samples += written;
    return (int64_t)written;
}

int64_t lr_mod_process(struct lr_mod *m, const uint8_t *bits, size_t n_bits, int format, void *out,
                       size_t n_out)
{
    return process(m, bits, n_bits, format, out, n_out, 0);
}

int64_t lr_mod_reference(struct lr_mod *m, const uint8_t *bits, size_t n_bits, int format, void *out,
                         size_t n_out)
{
    if (m != NULL && !is_rrc(m->cfg.scheme))
        return LR_E_ARG;
    return process(m, bits, n_bits, format, out, n_out, 1);
}

int64_t lr_mod_flush(struct lr_mod *m, int format, void *out, size_t n_out)
{
    if (m == NULL || (out == NULL && n_out) || !lr_iq_format_ok(format))
        return LR_E_ARG;
    if (m->flushed)
        return 0;
    if (n_out < lr_mod_max_samples(m, 0))
        return LR_E_SPACE;
    size_t written = 0;
    if (m->pending_bit >= 0) {
        uint8_t zero = 0;
        int64_t r = process(m, &zero, 1, format, out, n_out, 0);
        if (r < 0)
            return r;
        written = (size_t)r;
    }
    m->flushed = 1;
    if (!is_rrc(m->cfg.scheme))
        return (int64_t)written;
    /* The stage holds the last 16 symbols; every window reaching back to one of them. */
    size_t n_sym;
    stage_symbols(m, NULL, 0, &n_sym);
    int64_t base = (int64_t)m->n_symbols - SPAN;
    int64_t last = (int64_t)m->n_symbols;
    size_t n = rrc_samples(m, base, last + SPAN, last, format,
                           (uint8_t *)out + written * lr_iq_sample_size(format), 1);
    m->samples += n;
    return (int64_t)(written + n);
}

int64_t lr_mod_carrier(struct lr_mod *m, size_t n_samples, int format, void *out, size_t n_out)
{
    if (m == NULL || (out == NULL && n_out) || !lr_iq_format_ok(format))
        return LR_E_ARG;
    if (m->cfg.scheme != LR_MOD_PCM_PSK_PM)
        return LR_E_STATE;
    if (n_out < n_samples)
        return LR_E_SPACE;
    float re[OUT_CHUNK], im[OUT_CHUNK];
    for (size_t i = 0; i < OUT_CHUNK; i++) {
        re[i] = (float)m->cfg.amplitude;
        im[i] = 0.0f;
    }
    size_t done = 0;
    while (done < n_samples) {
        size_t k = n_samples - done < OUT_CHUNK ? n_samples - done : OUT_CHUNK;
        store_samples(m, re, im, k, format, out, done);
        done += k;
    }
    m->samples += n_samples;
    return (int64_t)n_samples;
}
