"""`lunarelay hil BENCH [SCENARIO]`: run a scenario against the bench a bench file describes.

The run is ``lunarelay emulate``'s (the same modules, ground operator, surface traffic, live
status, closing account and table of checks, and the same options), with the bench's devices
and taps added by ``hil.bench.runner.BenchRun``: the flight computer is the bench file's board
(the emulated board as its own process, or a real one on a serial port) reached over the serial
link, every link passes through a tap that records it, and the run folder (``--out``) receives
``capture.pcapng``, ``report.json``, ``junit.xml`` and ``links.txt``.
"""

from __future__ import annotations

import argparse
import datetime
import os

from hil.bench.file import load_bench
from hil.bench.runner import BenchRun
from lunarelay_tools.commands import emulate

HELP = "Run a scenario against the hardware-in-the-loop bench a bench file describes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", help="bench file (TOML; a bare name is looked for in hil/benches)")
    emulate.add_arguments(parser)
    parser.add_argument("--out", metavar="DIR", help="run folder (default: hil-runs/<bench>-<UTC time>)")


def run(args: argparse.Namespace) -> int:
    bench = load_bench(args.bench)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = os.path.abspath(args.out or os.path.join("hil-runs", f"{bench.name}-{stamp}"))
    log = (lambda line: None) if args.quiet else (lambda line: print(f"bench: {line}", flush=True))
    print(f"bench {bench.name}: {bench.description}; flight computer "
          + (f"emulated board on a {bench.flight_computer.transport}" if bench.flight_computer.emulated
             else f"{bench.flight_computer.url} at {bench.flight_computer.baud} baud")
          + f", {bench.flight_computer.framing} framing; run folder {out}")
    return emulate.run(args, BenchRun(bench, out, log=log))
