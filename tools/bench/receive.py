"""AFS receiver: ``lunarelay receive`` end to end, and its tracking kernel against a scalar reference.

The input is what a user receives: eight AFS nodes (AFS-I with their LSIS frames and AFS-Q with the
tiered pilot code: 16 channels) at 45 dB-Hz with noise, 12 Msps ci8, written by the siggen path to a
SigMF recording.  The end-to-end figure runs the ``lunarelay receive`` command on it (acquisition of
the eight PRNs, tracking, frame search and decoding, fixes, JSON output) and reports samples per
second against the stream's own rate, so the ratio is "times real time" [target >= 2].  The kernel
figures track the same 16 channels through one block with the C core on this CPU's path and on the
portable path, against the scalar reference kernel (one sample and one tap at a time, a table
carrier: the structure of classic software receivers' correlators), measured in the same run, and
against the float64 numpy reference of the same correlations.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time

import numpy as np

from hil import scenario_signal as ss
from hil.receiver import afs
from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core import simd
from onboard.core.siggen import SampleFormat
from onboard.core.track import Kernel, Tracker, reference_correlate
from onboard.links.sigmf import SigmfWriter

SUITE = "receive"
DESCRIPTION = "AFS receiver: 8 nodes (16 channels) at 12 Msps ci8, end to end and tracking kernel"
FS = 12e6
DOPPLERS_HZ = (-6100.0, -4300.0, -2500.0, -700.0, 1100.0, 2900.0, 4700.0, 6500.0)
TARGET_REAL_TIME = 2.0


def write_recording(path: str, duration_s: float) -> None:
    """Eight AFS nodes with their frames, as ``lunarelay siggen --nav-data lsis`` writes them."""
    tx = tuple(ss.Transmitter("afs", k + 1, d, 45.0, code_phase_chips=150.0 * k + 3.25)
               for k, d in enumerate(DOPPLERS_HZ))
    plan = ss.SignalPlan(FS, SampleFormat.CI8, duration_s, 11, tx, nav_data="lsis")
    synth, truths = ss.build_synthesizer(plan)
    with SigmfWriter(path, "ci8", FS, center_frequency_hz=ss.AFS_CARRIER_HZ, truths=truths) as w:
        left = plan.n_samples
        while left:
            n = min(1 << 20, left)
            w.write(synth.generate(n, SampleFormat.CI8))
            left -= n


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
        rec = os.path.join(tmp, "nodes")
        write_recording(rec, duration)
        runs = [receive_seconds(rec) for _ in range(1 if quick else 3)]
        rate = duration * FS / float(np.median(runs)) / 1e6
        results.append(Measurement(SUITE, f"receive 8 nodes end to end, {duration:g} s file, {path_name} "
                                   f"[target >= {TARGET_REAL_TIME:g}x]", rate, "Msps",
                                   "real time (the stream's 12 Msps)", FS / 1e6))
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
