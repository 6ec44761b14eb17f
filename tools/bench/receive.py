"""AFS receiver: ``lunarelay receive`` end to end, and its tracking kernel against a scalar reference.

The input is what a user receives: ``lunarelay siggen --receiver-moon-llh`` from a scenario, a
receiver near the lunar south pole and every node in view with its geometry (code phase from the
light-time range and the node's clock, Doppler at 100 Hz), AFS-I with its LSIS frames and AFS-Q
with the tiered pilot code, 45 dB-Hz per node with noise, 12 Msps ci8, half a second before a frame
starts so that SB2 is decoded and fixes are made.  Two constellations: the default Moonlight-like
one, whose four navigation nodes are all that a user can have in view (8 channels), and the same
with four more planes 45 deg between its own, eight nodes in view (16 channels: the target's
load).  The end-to-end figure runs the ``lunarelay receive`` command on each recording
(acquisition, tracking, frame search and decoding, fixes, JSON output and the error plot) and
reports samples per second against the stream's own rate, so the ratio is "times real time"
[target >= 2 for 8 nodes].  The kernel figures track 16 channels through one block of the
eight-node recording with the C core on this CPU's path and on the portable path, against the
scalar reference kernel (one sample and one tap at a time, a table carrier: the structure of
classic software receivers' correlators), measured in the same run, and against the float64 numpy
reference of the same correlations.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time

import numpy as np

from hil.receiver import afs
from hil.world.constellation import DEFAULT_CONSTELLATION
from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core import simd
from onboard.core.track import Kernel, Tracker, reference_correlate

SUITE = "receive"
DESCRIPTION = ("AFS receiver on siggen's geometry at 12 Msps ci8: the default constellation's 4 nodes and "
               "an 8-node one (16 channels), end to end; tracking kernel")
FS = 12e6
SITE = (-89.66, 129.20, 100.0)
START = (2400, 388799.5)  # 12 h after the epoch, half a second before a frame boundary: the first
                          # frame is whole; the four nodes in view, PDOP 3.2
DOPPLERS_HZ = (-6100.0, -4300.0, -2500.0, -700.0, 1100.0, 2900.0, 4700.0, 6500.0)
TARGET_REAL_TIME = 2.0


def eight_node_constellation() -> str:
    """The default constellation with four more navigation nodes (PRN 5..8) in the planes at right
    angles to its own, phased like them (two pairs half an orbit apart): eight nodes over the
    south pole."""
    text = DEFAULT_CONSTELLATION.read_text()
    extra = "".join(
        f'[[node]]\nname = "LCNS-{5 + k}"\nafs_prn = {5 + k}\n'
        f"elements = {{ a_km = 9750.7, e = 0.6, i_deg = 56.2, raan_deg = {90.0 + 180.0 * (k % 2)}, "
        f"argp_deg = 90.0, m0_deg = {60.0 + 180.0 * (k // 2)} }}\n"
        f"clock = {{ bias_s = {1e-4 * (k - 1.5):.2e}, drift_s_s = 2.0e-12 }}\n\n"
        for k in range(4))
    at = text.index("[[relay]]")
    return text[:at] + extra + text[at:]


def write_recording(path: str, duration_s: float, constellation: str | None = None) -> int:
    """Every node in view of the south-pole receiver, as ``lunarelay siggen`` writes it from a
    scenario; returns how many nodes that is."""
    from lunarelay_tools import cli

    scenario = path + ".toml"
    with open(scenario, "w") as f:
        f.write(f'[siggen]\nfs_hz = {FS:g}\nformat = "ci8"\nduration_s = {duration_s:g}\nseed = 11\n'
                f'nav_data = "lsis"\n[siggen.moon_receiver]\nllh = [{SITE[0]}, {SITE[1]}, {SITE[2]}]\n'
                f"wn = {START[0]}\ntow_s = {START[1]}\ncn0_dbhz = 45.0\n")
        if constellation is not None:
            f.write(f'constellation = "{os.path.basename(constellation)}"\n')
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["siggen", scenario, "-o", path, "--quiet"])
    if rc != 0:
        raise RuntimeError(f"lunarelay siggen {scenario} failed with exit code {rc}")
    with open(path + ".sigmf-meta") as f:
        return len(json.load(f)["global"]["lunarelay:afs_nodes"])


def receive_seconds(path: str) -> float:
    """Wall time of ``lunarelay receive PATH`` run in this process, fixes to a file."""
    from lunarelay_tools import cli

    with tempfile.TemporaryDirectory() as out_dir:
        out = os.path.join(out_dir, "fixes.jsonl")
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(["receive", path, "-o", out, "--quiet"])
        dt = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"lunarelay receive {path} failed with exit code {rc}")
    return dt


def _tracker(kernel: Kernel) -> Tracker:
    tracker = Tracker(FS, kernel=kernel)
    for k, doppler in enumerate(DOPPLERS_HZ):
        ch = tracker.add_channel(afs.code_chips(k + 1, "afs-q"), 5.115e6, main_component=1,
                                 data_chips=afs.code_chips(k + 1, "afs-i"), code_phase_chips=750.0 * k,
                                 carrier_hz=doppler, carrier_freq_hz=afs.CARRIER_HZ)
        ch.set_loops(10.0, 0.0, 0.5)
    return tracker


def run(quick: bool = False) -> list[Measurement]:
    path_name = simd.supported().name.lower()
    results = []
    duration = 3.0 if quick else 13.0
    with tempfile.TemporaryDirectory() as tmp:
        eight = os.path.join(tmp, "eight_nodes.toml")
        with open(eight, "w") as f:
            f.write(eight_node_constellation())
        for label, constellation in (("the default constellation", None), ("an 8-node constellation", eight)):
            rec = os.path.join(tmp, "default" if constellation is None else "eight")
            nodes = write_recording(rec, duration, constellation)
            runs = [receive_seconds(rec) for _ in range(1 if quick else 3)]
            rate = duration * FS / float(np.median(runs)) / 1e6
            target = f" [target >= {TARGET_REAL_TIME:g}x]" if nodes >= 8 else ""
            name = (f"receive {nodes} nodes end to end ({nodes} in view from {label}), {duration:g} s "
                    f"geometry file, {path_name}{target}")
            results.append(Measurement(SUITE, name, rate, "Msps", "real time (the stream's 12 Msps)",
                                       FS / 1e6))
        block = np.fromfile(rec + ".sigmf-data", dtype=np.int8, count=2 * int(0.05 * FS))
    n = block.size // 2
    trackers = {"best": _tracker(Kernel.SIMD), "portable": _tracker(Kernel.SIMD),
                "scalar": _tracker(Kernel.SCALAR)}

    def on(level, fn):
        def call():
            with simd.forced(level):
                fn()
        return call

    times = interleaved_medians({
        "best": on(simd.supported(), lambda: trackers["best"].process(block, "ci8")),
        "portable": on(simd.SimdLevel.PORTABLE, lambda: trackers["portable"].process(block, "ci8")),
        "scalar": lambda: trackers["scalar"].process(block, "ci8"),
    }, 3 if quick else 9)
    msps = {k: n / t / 1e6 for k, t in times.items()}
    baseline = "scalar reference kernel (C, one sample and tap at a time), 16 channels"
    name = "tracking kernel 16 channels"
    results.append(Measurement(SUITE, f"{name}, {path_name}", msps["best"], "Msps", baseline, msps["scalar"]))
    results.append(Measurement(SUITE, f"{name}, portable", msps["portable"], "Msps", baseline,
                               msps["scalar"]))
    # The numpy oracle: the same four correlations per node, float64, over 10 ms.
    pairs = block[:2 * int(0.01 * FS)].reshape(-1, 2).astype(np.float32)
    x = (pairs[:, 0] + 1j * pairs[:, 1]).astype(np.complex64)
    t0 = time.perf_counter()
    for k, doppler in enumerate(DOPPLERS_HZ):
        reference_correlate(x, FS, afs.code_chips(k + 1, "afs-q"), 750.0 * k, 5.115e6, 0.0, doppler,
                            data_chips=afs.code_chips(k + 1, "afs-i"))
    numpy_msps = x.size / (time.perf_counter() - t0) / 1e6
    results.append(Measurement(SUITE, f"{name}, {path_name} vs numpy", msps["best"], "Msps",
                               "numpy float64 reference correlator, 16 channels", numpy_msps))
    return results
