"""Benchmark suites for ``lunarelay bench``.

Every module here with ``SUITE`` (a suite name), ``DESCRIPTION`` and
``run(quick: bool) -> list[Measurement]`` adds to that suite; several modules may
add to one suite (``ccsds`` gathers RS, Viterbi, framing and chain figures).  Each
measurement compares a figure with a baseline measured in the same run, so ratios
stay meaningful on a noisy machine.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import statistics
import time
from collections.abc import Callable
from types import ModuleType

HIGHER_IS_BETTER = {"GB/s", "MB/s", "kB/s", "Mbit/s", "Gbit/s", "M packets/s", "packets/s", "G samples/s",
                    "Msps", "x real time", "frames/s", "commands/s", "% of the day"}


@dataclasses.dataclass(frozen=True)
class Measurement:
    suite: str
    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float

    @property
    def ratio(self) -> float:
        """value / baseline_value for a higher-is-better unit, baseline_value / value otherwise."""
        if self.unit in HIGHER_IS_BETTER:
            return self.value / self.baseline_value if self.baseline_value else float("inf")
        return self.baseline_value / self.value if self.value else float("inf")

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["ratio"] = self.ratio
        return d


def suites() -> dict[str, list[ModuleType]]:
    """Suite name -> the modules that contribute to it, in module-name order."""
    found: dict[str, list[ModuleType]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "SUITE"):
            found.setdefault(module.SUITE, []).append(module)
    return dict(sorted(found.items()))


def median_seconds(fn: Callable[[], object], repeat: int, min_time: float = 0.0) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after one warm-up call.

    Runs continue past ``repeat`` until ``min_time`` seconds have been spent in total.
    """
    fn()
    times = []
    spent = 0.0
    while len(times) < repeat or spent < min_time:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return statistics.median(times)


def interleaved_medians(fns: dict[str, Callable[[], object]], repeat: int,
                        before: Callable[[str], object] | None = None) -> dict[str, float]:
    """Median times of several functions measured in alternation, so load spikes hit all alike;
    ``before(key)``, when given, runs untimed before each timed call (removing the output the
    last call left, say)."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for key, fn in fns.items():
            if before is not None:
                before(key)
            t0 = time.perf_counter()
            fn()
            samples[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}
