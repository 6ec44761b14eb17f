"""Signal generation as users run it: ``lunarelay siggen`` through its command code, to a SigMF file.

Two measures, each against the same command with the same channels at fixed Doppler and random
symbols (no geometry, no navigation message, no tiered code) in the same run:

- GPS L1 C/A with the LNAV sky (``--nav-data lnav``): 12 satellites, 4 Msps ci8, geometry at
  100 Hz, noise [target >= 25x real time];
- AFS from the geometry (``--receiver-moon-llh``): 12 nodes in view with LSIS frames (each
  node's own ephemeris fit), tiered AFS-Q codes, geometry at 100 Hz, noise, 12 Msps ci8
  [target >= 6x real time; LANS-AFS-SIM, measured on one core: 1.26x for 7 nodes with noise].

The figures are real-time factors of the whole command on one core: plan, truth propagation,
frames, synthesis, metadata and file output (without the optional SHA-512 of the data, which the
command writes only with ``--sha512``), timed as the process's CPU time (user + system), so that
other work on a shared machine does not count.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import pathlib
import statistics
import tempfile
import time

from lunarelay_tools.bench import Measurement
from lunarelay_tools.commands import siggen

SUITE = "siggen"
DESCRIPTION = "siggen end to end through the command, file output"
# A receiver and time with twelve satellites of the synthetic sky above the 10 deg mask.
GPS_RX = ("--receiver-llh", "10,100,80", "--gps-time", "2360,426600")
MOON_START_TOW = 345660.0  # a minute after the bench constellation's epoch


def bench_constellation(directory: pathlib.Path) -> pathlib.Path:
    """Twelve nodes in the Moonlight-like 24 h ELFO, 30 deg apart in node, all at apolune over the
    south pole at the epoch: twelve in view of a south-pole receiver."""
    from hil.world.constellation import DEFAULT_CONSTELLATION

    text = DEFAULT_CONSTELLATION.read_text()
    head = text[:text.index("[[node]]")]
    tail = text[text.index("[[relay]]"):]
    nodes = []
    for k in range(12):
        nodes.append(f'[[node]]\nname = "bench-{k + 1}"\nafs_prn = {k + 1}\n'
                     f"elements = {{ a_km = 9750.7, e = 0.6, i_deg = 56.2, raan_deg = {30.0 * k}, "
                     f"argp_deg = 90.0, m0_deg = {180.0 + 2.0 * k} }}\n"
                     f"clock = {{ bias_s = {1e-5 * (k - 6)}, drift_s_s = {1e-12 * (k % 5 - 2)} }}\n\n")
    path = directory / "bench_constellation.toml"
    path.write_text(head + "".join(nodes) + tail)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siggen")
    siggen.add_arguments(parser)
    return parser


def run_command(argv: list[str]) -> float:
    """CPU seconds (user and system, this process: the command is single-threaded, so this is its
    time on one core even on a shared machine) of one ``lunarelay siggen`` run, its summary line
    swallowed; the
    constellation and sky caches are emptied first, so every run propagates its orbits again."""
    from hil import scenario_signal
    from hil.world import constellation

    constellation._parse_cached.cache_clear()
    scenario_signal.lunar_sky.cache_clear()
    scenario_signal.gps_sky.cache_clear()
    args = _parser().parse_args(argv)
    t0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        siggen.run(args)
    return time.process_time() - t0


def _median_speed(argv: list[str], duration_s: float, repeat: int) -> float:
    return statistics.median(duration_s / run_command(argv) for _ in range(repeat))


def commands(directory: pathlib.Path, duration_s: float) -> dict[str, list[str]]:
    out = str(directory / "rec")
    common = ["--duration", str(duration_s), "--format", "ci8", "--quiet", "-o", out]
    plan = directory / "afs.toml"
    plan.write_text(f'[siggen]\nfs_hz = 12e6\nformat = "ci8"\nduration_s = {duration_s}\nnav_data = "lsis"\n'
                    f'[siggen.moon_receiver]\nllh = [-89.66, 129.20, 100.0]\nwn = 2400\n'
                    f'tow_s = {MOON_START_TOW}\nconstellation = "{bench_constellation(directory).name}"\n')
    gps_prns = ",".join(str(p) for p in _gps_prns())
    afs_prns = ",".join(str(p) for p in range(1, 13))
    dopplers = ",".join(str(-4000 + 700 * k) for k in range(12))
    return {
        "gps sky": ["--nav-data", "lnav", *GPS_RX, "--prn", gps_prns, "--fs", "4e6", *common],
        "gps fixed": ["--prn", gps_prns, "--doppler", dopplers, "--fs", "4e6", *common],
        "afs sky": [str(plan), "-o", out, "--quiet"],
        "afs fixed": ["--signal", "afs", "--prn", afs_prns, "--doppler", dopplers, "--fs", "12e6", *common],
    }


def _gps_prns() -> list[int]:
    """The satellites above the bench receiver's mask (twelve)."""
    from hil.world.gps_sky import GpsReceiver, GpsSky

    rx = GpsReceiver.from_llh(10.0, 100.0, 80.0, 2360, 426600.0)
    return [v.prn for v in GpsSky(rx).visible()]


def run(quick: bool = False) -> list[Measurement]:
    duration = 2.0 if quick else 6.0
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(pathlib.Path(tmp), duration)
        speed = {name: _median_speed(argv, duration, repeat) for name, argv in cmds.items()}
    unit = "x real time"
    gps = "GPS L1 C/A lnav sky, 12 sat, 4 Msps ci8, command to file [target >= 25]"
    afs = ("AFS 12 nodes from geometry, LSIS frames, tiered codes, 100 Hz, noise, 12 Msps ci8, "
           "command to file [target >= 6; LANS-AFS-SIM 1.26 for 7 nodes]")
    return [
        Measurement(SUITE, gps, speed["gps sky"], unit, "same channels at fixed Doppler, random bits",
                    speed["gps fixed"]),
        Measurement(SUITE, afs, speed["afs sky"], unit, "same channels at fixed Doppler, random symbols",
                    speed["afs fixed"]),
    ]


