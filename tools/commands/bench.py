"""`lunarelay bench`: benchmarks that print figures and ratios against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import json

from lunarelay_tools import bench
from onboard.errors import UsageError

HELP = "Run benchmarks against same-run baselines and print figures and ratios"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", nargs="*", metavar="SUITE",
                        help=f"suites to run (default: all): {', '.join(bench.suites())}")
    parser.add_argument("--json", action="store_true", help="print one JSON array of measurements")
    parser.add_argument("--quick", action="store_true", help="smaller inputs and fewer repeats")


def run(args: argparse.Namespace) -> int:
    available = bench.suites()
    unknown = [s for s in args.suite if s not in available]
    if unknown:
        raise UsageError(f"unknown suite {unknown[0]!r}; known: {', '.join(available)}")
    results = []
    for name in args.suite or list(available):
        for module in available[name]:
            results.extend(module.run(quick=args.quick))
    if args.json:
        print(json.dumps([m.as_dict() for m in results], indent=1))
        return 0
    width = max(len(m.name) for m in results) if results else 10
    print(f"{'suite':8} {'measurement':{width}} {'value':>10} {'unit':10} {'ratio':>8}  baseline")
    for m in results:
        print(f"{m.suite:8} {m.name:{width}} {m.value:10.3f} {m.unit:10} {m.ratio:7.2f}x  "
              f"{m.baseline} = {m.baseline_value:.3f} {m.unit}")
    return 0
