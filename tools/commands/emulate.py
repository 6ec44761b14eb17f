"""`lunarelay emulate`: run a scenario in pure-software emulation."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from onboard.core import simd
from onboard.core.crc import crc16_ccitt_frames
from onboard.scenario import load_scenario

HELP = "Run a scenario in pure-software emulation (the built-in default when no file is given)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in)")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="emulated seconds per wall second (0: as fast as possible)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


class Progress:
    """A bar redrawn in place on a terminal; on a pipe or file, one line per tenth of the run."""

    def __init__(self, total: float, quiet: bool):
        self.total, self.quiet, self.tty = total, quiet, sys.stderr.isatty()
        self.decile = -1

    def update(self, done: float, text: str) -> None:
        if self.quiet:
            return
        fraction = min(1.0, done / self.total) if self.total else 1.0
        if self.tty:
            bar = "#" * int(30 * fraction)
            end = "\n" if fraction >= 1.0 else ""
            sys.stderr.write(f"\r[{bar:.<30}] {done:7.1f}/{self.total:.0f} s  {text}{end}")
        elif int(fraction * 10) > self.decile:
            self.decile = int(fraction * 10)
            sys.stderr.write(f"{fraction:4.0%} {done:.0f}/{self.total:.0f} s  {text}\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    scale = scenario.time_scale if args.time_scale is None else args.time_scale
    print(f"scenario {scenario.name}: {scenario.description}")
    print(f"  {len(scenario.relays)} relay(s), {len(scenario.surface_users)} surface user(s), "
          f"ground station {scenario.ground_station}; C core path {simd.active().name.lower()}")
    rng = np.random.default_rng(0)
    relay = scenario.relays[0]
    frames = 0
    octets = 0.0
    t = 0.0
    wall0 = time.monotonic()
    progress = Progress(scenario.duration_s, args.quiet)
    while t < scenario.duration_s:
        step = min(scenario.step_s, scenario.duration_s - t)
        # Surface traffic offered in this step, carried in the relay's fixed-length frames,
        # each checked by its frame error control field.
        octets += sum(u.packet_length * u.packets_per_s * step for u in scenario.surface_users)
        n_frames = int(octets // relay.frame_length)
        if n_frames:
            payload = rng.integers(0, 256, n_frames * relay.frame_length, dtype=np.uint8)
            crc16_ccitt_frames(payload, relay.frame_length)
            frames += n_frames
            octets -= n_frames * relay.frame_length
        t += step
        if scale > 0:
            time.sleep(max(0.0, wall0 + t / scale - time.monotonic()))
        progress.update(t, f"{frames} frames")
    print(f"done: {scenario.duration_s:.0f} emulated s, {frames} TM frames of {relay.frame_length} octets "
          f"from {relay.name}")
    return 0
