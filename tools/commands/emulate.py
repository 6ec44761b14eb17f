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


def _progress(done: float, total: float, text: str, quiet: bool) -> None:
    if quiet:
        return
    width = 30
    filled = int(width * (done / total if total else 1.0))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:7.1f}/{total:.0f} s  {text}")
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
        _progress(t, scenario.duration_s, f"{frames} frames", args.quiet)
    if not args.quiet:
        sys.stderr.write("\n")
    print(f"done: {scenario.duration_s:.0f} emulated s, {frames} TM frames of {relay.frame_length} octets "
          f"from {relay.name}")
    return 0
