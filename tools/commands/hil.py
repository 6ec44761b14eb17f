"""`lunarelay hil BENCH [SCENARIO]`: run a scenario against the bench a bench file describes.

The run is ``lunarelay emulate``'s (the same modules, ground operator, surface traffic, live
status, closing account and table of checks, and the same options), with the bench's devices
and taps added by ``hil.bench.runner.BenchRun``: the flight computer is the bench file's board
(the emulated board as its own process, or a real one on a serial port) reached over the serial
link, every link passes through a tap that records it, and the run folder (``--out``) receives
``capture.pcapng``, ``report.json``, ``junit.xml`` and ``links.txt``.

A bench that spans hosts (``hil.bench.hosts``) runs as one ``lunarelay hil BENCH --host NAME
--curve-keys DIR`` on each host: the main host's is the scenario run, watching the others over
the bus and giving the closing account; any other host's runs its share of the processes,
supervised, until it is stopped (SIGTERM or Ctrl-C).
"""

from __future__ import annotations

import argparse
import datetime
import os

from hil.bench.file import load_bench
from hil.bench.hosts import SpanningBenchRun, run_share
from lunarelay_tools.commands import emulate

HELP = "Run a scenario against the hardware-in-the-loop bench a bench file describes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", help="bench file (TOML; a bare name is looked for in hil/benches)")
    emulate.add_arguments(parser)
    parser.add_argument("--out", metavar="DIR", help="run folder (default: hil-runs/<bench>-<UTC time>)")
    parser.add_argument("--host", metavar="NAME", help="run this [[host]]'s share of the bench (default: the "
                        "main host, which runs the scenario)")
    parser.add_argument("--curve-keys", metavar="DIR", help="the bench's CURVE key directory "
                        "(onboard.bus.endpoints.CurveKeyDir), needed when the bench spans hosts")


def run(args: argparse.Namespace) -> int:
    bench = load_bench(args.bench)
    if args.host and args.host != bench.main_host:
        state_dir = os.path.abspath(args.out or os.path.join("hil-runs", f"{bench.name}-{args.host}"))
        return run_share(bench, args.host, args.curve_keys, state_dir, args.quiet)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = os.path.abspath(args.out or os.path.join("hil-runs", f"{bench.name}-{stamp}"))
    log = (lambda line: None) if args.quiet else (lambda line: print(f"bench: {line}", flush=True))
    print(f"bench {bench.name}: {bench.description}; flight computer "
          + (f"emulated board on a {bench.flight_computer.transport}" if bench.flight_computer.emulated
             else f"{bench.flight_computer.url} at {bench.flight_computer.baud} baud")
          + f", {bench.flight_computer.framing} framing; run folder {out}")
    return emulate.run(args, SpanningBenchRun(bench, out, log=log, curve_keys=args.curve_keys))
