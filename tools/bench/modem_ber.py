"""Bit and frame error rate curves of the modem, end to end (modulator, channel with a carrier
offset and phase, demodulator with its loops), against theory: written as a PNG plot and the
numbers as JSON.

* Uncoded BPSK and QPSK from BER 1e-2 to 1e-5 against Q(sqrt(2 Eb/N0)); each curve's figure
  is the Eb/N0 at which it crosses 1e-5 (interpolated in log BER), against theory's 9.59 dB.
* Rate-1/2 K=7 code with soft Viterbi decoding after the demodulator (CCSDS 131.0-B-4 §3): the
  Eb/N0 where the decoded BER crosses 1e-5 (target <= 4.8 dB).
* RS(255,223) x5 + the rate-1/2 code (CADUs through the whole receive chain): the frame error
  rate, counted, with its 95 % upper bound where no frame was lost (target < 1e-4 at <= 3 dB).

The files go to the directory in LUNARELAY_BENCH_DIR (default: the current one):
``modem_ber.png`` and ``modem_ber.json``.  ``--quick`` uses fewer bits (the 1e-5 points then
rest on a handful of errors).
"""

from __future__ import annotations

import json
import math
import os
import pathlib

from hil.ber import coded_ber, ebn0_for_ber, frame_error_rate, theory_ber, uncoded_ber
from lunarelay_tools.bench import Measurement
from onboard.core.modem import Scheme

SUITE = "ber"
DESCRIPTION = "modem BER/FER curves against theory (PNG + JSON)"


def _crossing(points, target: float) -> float:
    """Eb/N0 where the measured rate crosses ``target``, interpolated in log rate."""
    pts = [(p.ebn0_db, p.rate) for p in points if p.errors > 0]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if y0 >= target >= y1:
            return x0 + (math.log10(y0) - math.log10(target)) / (math.log10(y0) - math.log10(y1)) * (x1 - x0)
    return float("nan")


def run(quick: bool = False) -> list[Measurement]:
    scale = 0.1 if quick else 1.0
    out_dir = pathlib.Path(os.environ.get("LUNARELAY_BENCH_DIR", "."))
    curves: dict[str, list] = {}
    for scheme in (Scheme.BPSK, Scheme.QPSK):
        pts = []
        for ebn0 in (2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 9.6, 10.0):
            expected = theory_ber(ebn0)
            n = int(min(2e7, max(2e5, 300 / expected)) * scale)
            pts.append(uncoded_ber(scheme, ebn0, n, seed=int(ebn0 * 10)))
        curves[f"{scheme.name} uncoded"] = pts
    coded = []
    for ebn0 in (2.0, 3.0, 3.5, 4.0, 4.5, 5.0):
        coded.append(coded_ber(ebn0, int((4e6 if ebn0 >= 4.0 else 1e6) * scale), seed=int(ebn0 * 10)))
    curves["K=7 r=1/2 soft Viterbi"] = coded
    fer = []
    # 30 000 frames at 3 dB: a frame error rate below 1e-4 shown by counting, not by a bound
    for ebn0, frames in ((2.0, 400), (2.25, 600), (2.5, 1000), (3.0, 30000)):
        fer.append(frame_error_rate(ebn0, max(50, int(frames * scale)), seed=int(ebn0 * 100)))
    results = []
    theory_1e5 = ebn0_for_ber(1e-5)
    for name in ("BPSK uncoded", "QPSK uncoded"):
        cross = _crossing(curves[name], 1e-5)
        results.append(Measurement(SUITE, f"{name}: Eb/N0 at BER 1e-5 (theory {theory_1e5:.2f})", cross, "dB",
                                   "theory", theory_1e5))
        worst = max(abs(p.ebn0_db - ebn0_for_ber(p.rate)) for p in curves[name] if 1e-5 <= p.rate <= 1e-2)
        results.append(Measurement(SUITE, f"{name}: largest distance from theory, 1e-2..1e-5 [target <= 0.5]",
                                   worst, "dB", "target", 0.5))
    cross = _crossing(coded, 1e-5)
    results.append(Measurement(SUITE, "r1/2 Viterbi: Eb/N0 at BER 1e-5 [target <= 4.8]", cross, "dB",
                               "uncoded theory", theory_1e5))
    last = fer[-1]
    bound = last.rate if last.errors else 3.0 / last.trials  # rule of three: 95 % upper bound
    results.append(Measurement(SUITE, f"RS+r1/2 FER at {last.ebn0_db} dB ({last.errors}/{last.trials} lost; "
                               "95% bound if none) [target < 1e-4]", bound, "FER", "target", 1e-4))
    data = {name: [{"ebn0_db": p.ebn0_db, "errors": p.errors, "trials": p.trials, "rate": p.rate,
                    "theory": theory_ber(p.ebn0_db)} for p in pts] for name, pts in curves.items()}
    data["RS(255,223)x5 + r1/2 FER"] = [{"ebn0_db": p.ebn0_db, "errors": p.errors, "trials": p.trials,
                                         "rate": p.rate} for p in fer]
    (out_dir / "modem_ber.json").write_text(json.dumps(data, indent=1) + "\n")
    _plot(out_dir / "modem_ber.png", curves, fer)
    return results


def _plot(path: pathlib.Path, curves: dict, fer: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6))
    xs = [x / 10 for x in range(0, 111)]
    ax.semilogy(xs, [theory_ber(x) for x in xs], "k-", lw=1, label="BPSK/QPSK theory")
    for (name, pts), marker in zip(curves.items(), "os^", strict=False):
        good = [p for p in pts if p.errors > 0]
        ax.semilogy([p.ebn0_db for p in good], [p.rate for p in good], marker + "--", label=f"{name} (modem)")
    good = [p for p in fer if p.errors > 0]
    if good:
        ax.semilogy([p.ebn0_db for p in good], [p.rate for p in good], "d-.",
                    label="RS+r1/2 frame error rate")
    zero = [p for p in fer if p.errors == 0]
    for p in zero:
        ax.semilogy([p.ebn0_db], [3.0 / p.trials], "rv", label="FER 95% bound, no frame lost")
    ax.set_xlabel("Eb/N0 (dB)")
    ax.set_ylabel("bit (frame) error rate")
    ax.set_ylim(1e-6, 0.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("lunarelay modem, end to end (carrier offset, unknown phase, loops in)")
    fig.savefig(path, dpi=100)
    plt.close(fig)
