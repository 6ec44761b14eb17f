"""A seeded soak of the flight computer's serial link across the fault proxy.

The emulated board (on a pseudo-terminal) is commanded through ``SerialLink`` across
``hil.faults.serial_proxy`` for the soak's length, one ``SET_COUNTER`` at a time, under every
serial fault at once: the port vanishing every few seconds, dropped and duplicated frames, bit
errors, garbage and console text between frames, and a UART at the wrong rate for a while.  The
baseline is the same link through the same proxy with no fault, run just before.

Figures: commands per second (against the clean link's), and the recovery time after each
disconnect and after the baud mismatch, from the port back (or the rates agreeing again) to the
first answer that came, p50 and p99 (against the clean link's command round trip).  The run's
account goes to stderr: commands, frames through, faults injected, recoveries, and the checks
(each command answered, executed once and in order).
"""

from __future__ import annotations

import statistics
import sys
import tempfile

import numpy as np

from hil.faults.harness import exercise
from hil.faults.schedule import Fault, FaultSchedule
from lunarelay_tools.bench import Measurement

SUITE = "faults"
DESCRIPTION = "flight computer serial link under every serial fault at once vs the clean link"
SEED = 2026


def soak_plan(duration_s: float, seed: int = SEED) -> FaultSchedule:
    """Every serial fault over the soak; the last second is left for recovery."""
    window = {"start_s": 0.5, "duration_s": max(1.0, duration_s - 1.5)}
    mismatch_at = duration_s / 2
    return FaultSchedule([
        Fault("disconnect", every_s=2.5, down_s=0.3, **window),
        Fault("drop", probability=0.05, **window),
        Fault("duplicate", probability=0.05, **window),
        Fault("ber", ber=1e-4, **window),
        Fault("garbage", octets=128, every_s=0.7, **window),
        Fault("console", every_s=1.3, **window),
        Fault("baud_mismatch", ratio=1.2, start_s=mismatch_at, duration_s=0.5),
    ], seed)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(quick: bool = False) -> list[Measurement]:
    duration_s = 8.0 if quick else 30.0
    with tempfile.TemporaryDirectory(prefix="lunarelay-faults-") as tmp:
        clean = exercise(FaultSchedule(), f"{tmp}/clean.sqlite", duration_s=2.0 if quick else 5.0)
        plan = soak_plan(duration_s)
        soak = exercise(plan, f"{tmp}/soak.sqlite", duration_s=duration_s)
    ends = [back for _, back in soak.host_down]
    ends += [f.end_s for f in plan.faults if f.kind == "baud_mismatch"]
    recoveries = [r for r in (soak.recovery_s(e) for e in ends) if r is not None]
    round_trip = [r.answered_s - r.sent_s for r in clean.answered]
    p = soak.proxy
    injected = {
        "disconnects": p["disconnects"],
        "frames dropped": p["to_board.frames_dropped"] + p["to_host.frames_dropped"],
        "frames duplicated": p["to_board.frames_duplicated"] + p["to_host.frames_duplicated"],
        "bits flipped": p["to_board.bits_flipped"] + p["to_host.bits_flipped"],
        "garbage octets": p["to_board.garbage_octets"] + p["to_host.garbage_octets"],
        "console lines": p["to_board.console_lines"] + p["to_host.console_lines"],
        "UART framing errors": p["to_board.uart_framing_errors"] + p["to_host.uart_framing_errors"],
    }
    problems = soak.problems() + clean.problems()
    print(f"faults (seed {plan.seed}, {duration_s:g} s): {len(soak.records)} commands, "
          f"{sum(r.attempts for r in soak.records)} sent with the resends; frames through "
          f"{p['to_board.frames']} to the board, {p['to_host.frames']} to the host; injected: "
          + ", ".join(f"{v} {k}" for k, v in injected.items())
          + f"; {len(recoveries)} of {len(ends)} recoveries"
          + (f" (p50 {statistics.median(recoveries) * 1e3:.0f} ms, max {max(recoveries) * 1e3:.0f} ms)"
             if recoveries else "")
          + f"; link saw {soak.link['crc_errors']} CRC errors, {soak.link['garbage_octets']} garbage octets, "
          f"{soak.link['disconnects']} disconnects; "
          + ("every command answered, executed once, in order" if not problems else "; ".join(problems)),
          file=sys.stderr)
    clean_rate = len(clean.records) / max(1e-9, clean.records[-1].answered_s - clean.started_s)
    soak_rate = len(soak.records) / max(1e-9, (soak.records[-1].answered_s or soak.records[-1].sent_s)
                                        - soak.started_s)
    base_rt = "clean link command round trip p50"
    rt_ms = statistics.median(round_trip) * 1e3 if round_trip else float("nan")
    return [
        Measurement(SUITE, "commands under every serial fault", soak_rate, "commands/s",
                    "clean link through the proxy", clean_rate),
        Measurement(SUITE, "recovery p50 (port back or rates agree -> first answer)",
                    _percentile(recoveries, 50) * 1e3, "ms", base_rt, rt_ms),
        Measurement(SUITE, "recovery p99", _percentile(recoveries, 99) * 1e3, "ms", base_rt, rt_ms),
    ]
