"""GNSS signal synthesis: channel-samples per second, against a gps-sdr-sim-style scalar loop.

Twelve GPS L1 C/A channels at 4 Msps with ci16 output.  The baseline has the structure of
gps-sdr-sim's generator (per sample and per channel: code phase, chip lookup, carrier
sin/cos table lookup, accumulate), in C compiled for the bench only (``siggen_baseline``),
run in the same process on the same channels.
The vectorised kernel is measured with noise (its normal use) and without (signal only,
as the baseline), on the path this CPU uses and on the portable path, all interleaved with
the baseline in the same run.  The target figures are the ones with noise, marked
"[target >= X]": 2.0 G channel-samples/s on AVX2 and 0.8 G on the portable path.  A last
figure is the share of one core that 12 AFS nodes (24 channels) at 12 Msps take in real time.
"""

from __future__ import annotations

from lunarelay_tools.bench import Measurement, interleaved_medians
from lunarelay_tools.bench.siggen_baseline import ScalarBaseline
from onboard.core import codes, simd
from onboard.core.siggen import SampleFormat, Synthesizer

SUITE = "siggen"
DESCRIPTION = "GNSS signal synthesis, 12 channels, ci16, one core"
TARGET_G = {"avx2": 2.0, "portable": 0.8}  # G channel-samples/s with noise
L1_HZ = 1575.42e6
AFS_HZ = 2492.028e6


def _gps(noise: bool, fs: float = 4e6) -> Synthesizer:
    synth = Synthesizer(fs, seed=1, noise_sigma=1.0 if noise else 0.0, scale=2048.0)
    for k, prn in enumerate((1, 3, 6, 8, 11, 14, 17, 19, 22, 25, 28, 31)):
        doppler = -5000.0 + 900.0 * k
        synth.add_channel(codes.gps_l1ca(prn), 1.023e6 * (1 + doppler / L1_HZ), code_phase_chips=80.5 * k,
                          doppler_hz=doppler, amplitude=0.06)
    return synth


def _afs_nodes(fs: float = 12e6) -> Synthesizer:
    synth = Synthesizer(fs, seed=2, noise_sigma=1.0, scale=2048.0)
    for k in range(12):
        doppler = -6000.0 + 1000.0 * k
        synth.add_channel(codes.afs_i(k + 1), 1.023e6 * (1 + doppler / AFS_HZ), doppler_hz=doppler,
                          amplitude=0.02)
        synth.add_channel(codes.afs_q_primary(k + 1), 5.115e6 * (1 + doppler / AFS_HZ), doppler_hz=doppler,
                          amplitude=0.02, component=1)
    return synth


def _on(level: simd.SimdLevel, fn):
    def call():
        with simd.forced(level):
            fn()
    return call


def run(quick: bool = False) -> list[Measurement]:
    # Short calls, many of them: a median of sub-millisecond runs shrugs off a busy machine.
    n = 1 << 16
    repeat = 9 if quick else 61
    best = simd.supported()
    noisy, quiet, base = _gps(True), _gps(False), ScalarBaseline.like(_gps(False))
    out = noisy.generate(n, SampleFormat.CI16)
    fns = {
        "noise": _on(best, lambda: noisy.generate(n, SampleFormat.CI16, out)),
        "signal": _on(best, lambda: quiet.generate(n, SampleFormat.CI16, out)),
        "portable noise": _on(simd.SimdLevel.PORTABLE, lambda: noisy.generate(n, SampleFormat.CI16, out)),
        "portable signal": _on(simd.SimdLevel.PORTABLE, lambda: quiet.generate(n, SampleFormat.CI16, out)),
        "baseline": lambda: base.generate(n, out),
    }
    times = interleaved_medians(fns, repeat)
    rate = {k: 12 * n / t / 1e9 for k, t in times.items()}
    unit = "G samples/s"  # channel-samples: 12 per output sample
    baseline = "gps-sdr-sim-style scalar loop (C), signal only, G channel-samples/s"
    path = best.name.lower()

    def target(p: str) -> str:
        return f" [target >= {TARGET_G[p]}]" if p in TARGET_G else ""

    results = [
        Measurement(SUITE, f"12 ch ci16 + noise, {path}{target(path)}", rate["noise"], unit, baseline,
                    rate["baseline"]),
        Measurement(SUITE, f"12 ch ci16 signal only, {path}", rate["signal"], unit, baseline,
                    rate["baseline"]),
        Measurement(SUITE, f"12 ch ci16 + noise, portable{target('portable')}", rate["portable noise"], unit,
                    baseline, rate["baseline"]),
        Measurement(SUITE, "12 ch ci16 signal only, portable", rate["portable signal"], unit, baseline,
                    rate["baseline"]),
    ]
    afs, afs_base = _afs_nodes(), ScalarBaseline.like(_afs_nodes())
    m = 1 << 16
    afs_out = afs.generate(m, SampleFormat.CI16)
    t = interleaved_medians({"kernel": lambda: afs.generate(m, SampleFormat.CI16, afs_out),
                             "baseline": lambda: afs_base.generate(m, afs_out)}, repeat)
    share = {k: 100.0 * v / (m / 12e6) for k, v in t.items()}
    results.append(Measurement(SUITE, f"12 AFS nodes 12 Msps ci16, core share, {path}", share["kernel"], "%",
                               "gps-sdr-sim-style scalar loop (C), core share", share["baseline"]))
    return results
