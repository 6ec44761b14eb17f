"""`lunarelay emulate`: run a scenario in pure-software emulation.

The executive starts the onboard modules (scheduler, store, uplink, downlink) as processes on
the software bus; the ground-station emulator, in this process, commands the relay through the
uplink (CLTU, SDLS, FOP-1) and decodes the downlink's CADU stream, which the downlink also writes
to a file for ``lunarelay decode``.  Live status comes from the housekeeping in that stream.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

from onboard.core import simd
from onboard.executive import Executive
from onboard.scenario import Scenario, load_scenario

HELP = "Run a scenario in pure-software emulation (the built-in default when no file is given)"
MODULES = ("scheduler", "store", "uplink", "downlink")
TARGET_WALL_S = 20.0       # "as fast as possible" runs the default scenario in about this long
# what the ground station sends, at these fractions of the run
COMMANDS = ((0.1, "flight_computer.SET_MODE mode=1"), (0.2, "scheduler.NOOP"), (0.3, "store.NOOP"),
            (0.4, "uplink.NOOP"), (0.5, "downlink.NOOP"), (0.6, "flight_computer.SET_MODE mode=2"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in)")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="emulated seconds per wall second (0: as fast as possible)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--cadu-file", help="where the downlink writes its CADU stream "
                        "(default: lunarelay-<scenario>.cadu in the temporary directory)")


class Progress:
    """A status line redrawn in place on a terminal; on a pipe or file, one line per tenth of the run."""

    def __init__(self, total: float, quiet: bool):
        self.total, self.quiet, self.tty = total, quiet, sys.stderr.isatty()
        self.decile = -1

    def update(self, done: float, text: str) -> None:
        if self.quiet:
            return
        fraction = min(1.0, done / self.total) if self.total else 1.0
        if self.tty:
            end = "\n" if fraction >= 1.0 else ""
            sys.stderr.write(f"\r\x1b[K{done:6.0f}/{self.total:.0f} s  {text}{end}")
        elif int(fraction * 10) > self.decile:
            self.decile = int(fraction * 10)
            sys.stderr.write(f"{fraction:4.0%} {done:.0f}/{self.total:.0f} s  {text}\n")
        sys.stderr.flush()


class GroundOperator(threading.Thread):
    """Runs the ground station beside the executive; stops the executive at the scenario's end."""

    def __init__(self, scenario: Scenario, executive: Executive, run_dir: str, quiet: bool):
        super().__init__(name="ground", daemon=True)
        self.scenario, self.executive, self.run_dir, self.quiet = scenario, executive, run_dir, quiet
        self.answers: dict[str, str] = {}
        self.error: str | None = None
        self.station = None

    def run(self) -> None:
        from hil.ground.station import GroundStation

        sc, exe = self.scenario, self.executive
        dl = sc.downlink
        try:
            self.station = st = GroundStation(
                f"ipc://{self.run_dir}/uplink", f"ipc://{self.run_dir}/downlink", scid=sc.relays[0].scid,
                frame_length=sc.relays[0].frame_length, rs_interleave=dl.rs_interleave,
                conv=None if dl.conv == "none" else dl.conv, randomize=dl.randomize,
                tc_randomize=sc.uplink.randomize)
            t0 = exe.clock.now_tai()
            progress = Progress(sc.duration_s, self.quiet)
            pending: dict[str, tuple[str, int]] = {}
            todo = list(COMMANDS)
            next_status = 0.0
            while (elapsed := exe.clock.now_tai() - t0) < sc.duration_s:
                st.poll(0.05)
                while todo and elapsed >= todo[0][0] * sc.duration_s and st.last_clcw is not None:
                    _, line = todo.pop(0)
                    module, name, args = st.dictionary.parse_line(line)
                    pending[line] = (module, st.send(module, name, **args))
                self._collect(pending)
                if time.monotonic() >= next_status:
                    progress.update(elapsed, self.status())
                    next_status = time.monotonic() + 0.5
            progress.update(sc.duration_s, self.status())
        except Exception as exc:  # noqa: BLE001 - reported by the command, which then fails
            self.error = f"ground station: {type(exc).__name__}: {exc}"
        finally:
            if self.station is not None:
                self.station.close()
            exe.stop()

    def _collect(self, pending: dict[str, tuple[str, int]]) -> None:
        from onboard.modules.base import response_to

        st = self.station
        for line, (module, seq) in list(pending.items()):
            apid = st.registry.module(module).apid
            for event in st.events:
                resp = response_to(event)
                if event.source_apid == apid and resp is not None and resp[1] == seq:
                    self.answers[line] = event.text
                    del pending[line]
                    break

    def status(self) -> str:
        st = self.station
        if st is None:
            return "starting"
        parts = []
        exe = st.hk("executive")
        if exe:
            parts.append(f"modules {exe['modules_running']}/{len(MODULES)} restarts {exe['restarts']}")
        up, down = st.hk("uplink"), st.hk("downlink")
        if down:
            parts.append(f"downlink {down['frames_sent']} frames ({down['idle_frames']} idle)")
        if up:
            parts.append(f"uplink {up['cltus']} CLTUs {up['farm_accepted']} accepted "
                         f"{up['sdls_rejected']} SDLS-rejected")
        rx = st.rx.stats()
        parts.append(f"ground: {rx['frames']} frames rx, FOP {st.fop.state.name.lower()}, "
                     f"{len(self.answers)}/{len(COMMANDS)} answers")
        return "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    scale = scenario.time_scale if args.time_scale is None else args.time_scale
    if scale <= 0:
        scale = max(1.0, scenario.duration_s / TARGET_WALL_S)
    relay, dl = scenario.relays[0], scenario.downlink
    cadu_path = os.path.abspath(args.cadu_file or os.path.join(tempfile.gettempdir(),
                                                               f"lunarelay-{scenario.name}.cadu"))
    if os.path.exists(cadu_path):
        os.unlink(cadu_path)
    print(f"scenario {scenario.name}: {scenario.description}")
    print(f"  {len(scenario.relays)} relay(s), {len(scenario.surface_users)} surface user(s), "
          f"ground station {scenario.ground_station}; C core path {simd.active().name.lower()}; "
          f"time scale {scale:g}")
    run_dir = tempfile.mkdtemp(prefix="lunarelay-")
    coding = [f"--frame-rate={dl.frame_rate_hz}", f"--rs-interleave={dl.rs_interleave}",
              f"--scid={relay.scid}", f"--frame-length={relay.frame_length}"]
    coding += [] if dl.conv == "none" else [f"--conv={dl.conv}"]
    coding += [] if dl.randomize else ["--no-randomize"]
    module_args = {
        "store": ["--db", os.path.join(run_dir, "store.sqlite")],
        "uplink": [f"--scid={relay.scid}", *([] if scenario.uplink.randomize else ["--no-randomize"])],
        "downlink": [*coding, "--output", f"ipc://{run_dir}/downlink", "--output", f"file:{cadu_path}"],
    }
    log = (lambda line: None) if args.quiet else (lambda line: print(f"executive: {line}", flush=True))
    try:
        executive = Executive(MODULES, run_dir=run_dir, time_scale=scale, module_args=module_args, log=log)
        ground = GroundOperator(scenario, executive, run_dir, args.quiet)
        ground.start()
        executive.run()
        ground.join(30.0)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for _, line in COMMANDS:
        print(f"  {line}: {ground.answers.get(line, 'no answer in the downlink')}")
    cadu_len = 4 + (255 * dl.rs_interleave if dl.rs_interleave else relay.frame_length)
    size = os.path.getsize(cadu_path) if os.path.exists(cadu_path) else 0
    frames = f"{size // cadu_len}" if dl.conv == "none" else f"{size} octets of coded"
    print(f"done: {scenario.duration_s:.0f} emulated s, {frames} TM frames of {relay.frame_length} octets "
          f"from {relay.name}; CADU stream in {cadu_path}")
    if ground.error:
        print(f"lunarelay emulate: error: {ground.error}", file=sys.stderr)
        return 1
    return 0
