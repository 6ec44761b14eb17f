/* siggen_baseline.c - the gps-sdr-sim-style scalar loop of the siggen bench; see siggen_baseline.h. */
#include "siggen_baseline.h"

#include <math.h>

#define TWO_PI 6.283185307179586476925286766559

static int channel_valid(const struct siggen_baseline_channel *ch, double fs_hz, double scale)
{
    if (ch->chips == NULL || ch->n_chips == 0 || ch->n_table < ch->n_chips)
        return 0;
    if (!(ch->code_phase_chips >= 0.0 && ch->code_phase_chips < (double)ch->n_chips))
        return 0;
    double step = ch->code_rate_cps / fs_hz;
    if (!(step >= 0.0 && step < 32.0) || !isfinite(ch->carrier_phase_cycles) || !isfinite(ch->doppler_hz))
        return 0;
    /* The integer gain must keep 64 channels times 250 (the table peak) inside an int:
     * |gain| <= 2^17.  A larger amplitude * scale is refused (it would saturate anyway). */
    double g = ch->amplitude * scale * 128.0 / 250.0;
    if (!(fabs(g) <= 131072.0))
        return 0;
    /* The loop multiplies by the chip as gps-sdr-sim does, which keeps that bound only for
     * +1/-1 entries; any other table is refused (a sign test per chip instead would make
     * this baseline slower than the loop it stands for). */
    for (uint32_t k = 0; k < ch->n_table; k++)
        if (ch->chips[k] != 1 && ch->chips[k] != -1)
            return 0;
    return 1;
}

int64_t siggen_baseline(struct siggen_baseline_channel *channels, uint32_t n_channels, double fs_hz,
                        double if_hz, double scale, size_t n_samples, int16_t *out, size_t n_out)
{
    if ((out == NULL && n_samples > 0) || (channels == NULL && n_channels > 0) ||
        n_channels > SIGGEN_BASELINE_MAX_CHANNELS || !(fs_hz >= 1e3 && fs_hz <= 1e9) || !isfinite(if_hz) ||
        !isfinite(scale))
        return SIGGEN_BASELINE_E_ARG;
    for (uint32_t c = 0; c < n_channels; c++)
        if (!channel_valid(&channels[c], fs_hz, scale))
            return SIGGEN_BASELINE_E_ARG;
    if (n_out < n_samples)
        return SIGGEN_BASELINE_E_SPACE;
    int cos_table[512], sin_table[512];
    for (int k = 0; k < 512; k++) {
        cos_table[k] = (int)lrint(250.0 * cos(TWO_PI * k / 512.0));
        sin_table[k] = (int)lrint(250.0 * sin(TWO_PI * k / 512.0));
    }
    uint32_t carr_phase[SIGGEN_BASELINE_MAX_CHANNELS], carr_step[SIGGEN_BASELINE_MAX_CHANNELS];
    int gain[SIGGEN_BASELINE_MAX_CHANNELS];
    double code_step[SIGGEN_BASELINE_MAX_CHANNELS];
    const uint32_t n_ch = n_channels;
    for (uint32_t c = 0; c < n_ch; c++) {
        const struct siggen_baseline_channel *ch = &channels[c];
        carr_phase[c] = (uint32_t)(int64_t)llround(ch->carrier_phase_cycles * 4294967296.0);
        double f = (if_hz + ch->doppler_hz) / fs_hz;
        carr_step[c] = (uint32_t)(int64_t)llround((f - floor(f)) * 4294967296.0);
        gain[c] = (int)lrint(ch->amplitude * scale * 128.0 / 250.0);
        code_step[c] = ch->code_rate_cps / fs_hz;
    }
    for (size_t i = 0; i < n_samples; i++) {
        int i_acc = 0, q_acc = 0;
        for (uint32_t c = 0; c < n_ch; c++) {
            struct siggen_baseline_channel *ch = &channels[c];
            int idx = (int)(carr_phase[c] >> 23);
            int chip = ch->chips[(int)ch->code_phase_chips] * gain[c]; /* entries are +/-1 (checked) */
            i_acc += chip * cos_table[idx];
            q_acc += chip * sin_table[idx];
            ch->code_phase_chips += code_step[c];
            while (ch->code_phase_chips >= ch->n_chips) /* a step (< 32) may exceed a short code */
                ch->code_phase_chips -= ch->n_chips;
            carr_phase[c] += carr_step[c];
        }
        i_acc = (i_acc + 64) >> 7;
        q_acc = (q_acc + 64) >> 7;
        out[2 * i] = (int16_t)(i_acc > 32767 ? 32767 : i_acc < -32767 ? -32767 : i_acc);
        out[2 * i + 1] = (int16_t)(q_acc > 32767 ? 32767 : q_acc < -32767 ? -32767 : q_acc);
    }
    for (uint32_t c = 0; c < n_ch; c++)
        channels[c].carrier_phase_cycles = carr_phase[c] / 4294967296.0;
    return (int64_t)n_samples;
}
