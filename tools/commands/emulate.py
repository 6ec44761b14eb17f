"""`lunarelay emulate`: run a scenario in pure-software emulation.

The executive starts the onboard modules (scheduler, store, proximity, uplink, downlink) as
processes on the software bus.  In this process, the scenario's surface users send their packets
over Proximity-1 to the relay, which stores them and acknowledges each once committed; the
ground-station emulator commands the relay through the uplink (CLTU, SDLS, FOP-1), decodes the
downlink's CADU stream (which the downlink also writes to a file for ``lunarelay decode``) and,
while the scenario's contact plan has the relay in view, dumps the store and acknowledges what
came down.  Live status comes from the housekeeping in that stream.  At the end every packet a
user had acknowledged is accounted for: delivered to the ground, or still in the store.

A relay with an orbit is also a navigation node: the AFS frames it broadcast during the run (its
own ephemeris and clock, ``onboard.nav.afs_node``; emulated time zero is the orbit's first frame)
are written in the community frame format (``frame_<prn>_<wn>_<itow>_<toi>.bin``) for
``lunarelay siggen`` users and other AFS implementations to read.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time

from onboard.core import simd
from onboard.executive import Executive
from onboard.scenario import Scenario, load_scenario

HELP = "Run a scenario in pure-software emulation (the built-in default when no file is given)"
MODULES = ("scheduler", "store", "proximity", "uplink", "downlink")
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
    parser.add_argument("--nav-dir", help="where the relays' AFS navigation frames go "
                        "(default: lunarelay-<scenario>-afs/ in the temporary directory)")


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


class SurfaceTraffic(threading.Thread):
    """The scenario's surface users, stepped on the emulation clock until told to stop."""

    def __init__(self, scenario: Scenario, executive: Executive, run_dir: str):
        super().__init__(name="surface", daemon=True)
        from hil.surface.user import SurfaceUser

        scid = scenario.relays[0].scid
        self.clock, self.done, self.duration_s = executive.clock, threading.Event(), scenario.duration_s
        self.users = [SurfaceUser(u.name, u.apid, u.packet_length, u.packets_per_s, f"ipc://{run_dir}/proximity",
                                  f"ipc://{run_dir}/proximity-ack", scid) for u in scenario.surface_users]
        self.error: str | None = None

    def run(self) -> None:
        try:
            t0 = self.clock.now_tai()
            while not self.done.wait(0.02):
                now = self.clock.now_tai()
                for user in self.users:
                    if now - t0 >= self.duration_s:
                        user.rate = 0.0           # the scenario is over: no new packets, acks go on
                    user.step(now)
        except Exception as exc:  # noqa: BLE001 - reported by the command, which then fails
            self.error = f"surface users: {type(exc).__name__}: {exc}"
        finally:
            for user in self.users:
                user.close()


class GroundOperator(threading.Thread):
    """Runs the ground station beside the executive; stops the executive at the scenario's end."""

    def __init__(self, scenario: Scenario, executive: Executive, run_dir: str, quiet: bool):
        super().__init__(name="ground", daemon=True)
        self.scenario, self.executive, self.run_dir, self.quiet = scenario, executive, run_dir, quiet
        self.answers: dict[str, str] = {}
        self.error: str | None = None
        self.station = None
        self.dump = None

    def run(self) -> None:
        from hil.ground.playback import StoreDump
        from hil.ground.station import GroundStation

        sc, exe = self.scenario, self.executive
        dl = sc.downlink
        try:
            self.station = st = GroundStation(
                f"ipc://{self.run_dir}/uplink", f"ipc://{self.run_dir}/downlink", scid=sc.relays[0].scid,
                frame_length=sc.relays[0].frame_length, rs_interleave=dl.rs_interleave,
                conv=None if dl.conv == "none" else dl.conv, randomize=dl.randomize,
                tc_randomize=sc.uplink.randomize)
            self.dump = StoreDump(st)
            t0 = exe.clock.now_tai()
            progress = Progress(sc.duration_s, self.quiet)
            pending: dict[str, tuple[str, int]] = {}
            todo = list(COMMANDS)
            next_status = 0.0
            while (elapsed := exe.clock.now_tai() - t0) < sc.duration_s:
                st.in_view = sc.in_view(elapsed)
                st.poll(0.05)
                self.dump.step()
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
        up, down, store = st.hk("uplink"), st.hk("downlink"), st.hk("store")
        if store:
            parts.append(f"store {store['stored']} packets")
        if down:
            parts.append(f"downlink {down['frames_sent']} frames ({down['idle_frames']} idle)")
        if up:
            parts.append(f"uplink {up['cltus']} CLTUs {up['farm_accepted']} accepted "
                         f"{up['sdls_rejected']} SDLS-rejected")
        rx = st.rx.stats()
        delivered = sum(map(len, self.dump.delivered.values()))
        parts.append(f"ground {'in view' if st.in_view else 'OUT OF VIEW'}: {rx['frames']} frames rx, "
                     f"FOP {st.fop.state.name.lower()}, {len(self.answers)}/{len(COMMANDS)} answers, "
                     f"{delivered} user packets delivered")
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
        "proximity": [f"--scid={relay.scid}"],
        "uplink": [f"--scid={relay.scid}", *([] if scenario.uplink.randomize else ["--no-randomize"])],
        "downlink": [*coding, "--output", f"ipc://{run_dir}/downlink", "--output", f"file:{cadu_path}"],
    }
    log = (lambda line: None) if args.quiet else (lambda line: print(f"executive: {line}", flush=True))
    try:
        executive = Executive(MODULES, run_dir=run_dir, time_scale=scale, module_args=module_args, log=log)
        ground = GroundOperator(scenario, executive, run_dir, args.quiet)
        traffic = SurfaceTraffic(scenario, executive, run_dir)
        ground.start()
        traffic.start()
        executive.run()
        ground.join(30.0)
        traffic.done.set()
        traffic.join(10.0)
        relayed = account(traffic.users, ground.dump, os.path.join(run_dir, "store.sqlite"))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for _, line in COMMANDS:
        print(f"  {line}: {ground.answers.get(line, 'no answer in the downlink')}")
    lost = 0
    for row in relayed:
        lost += row["lost"]
        print(f"  {row['user']} (APID {row['apid']:#05x}): {row['generated']} packets made, "
              f"{row['acknowledged']} acknowledged by the relay, {row['delivered']} delivered to the ground, "
              f"{row['in_store']} still in the store, {row['lost']} lost")
    cadu_len = 4 + (255 * dl.rs_interleave if dl.rs_interleave else relay.frame_length)
    size = os.path.getsize(cadu_path) if os.path.exists(cadu_path) else 0
    frames = f"{size // cadu_len}" if dl.conv == "none" else f"{size} octets of coded"
    nav_dir = os.path.abspath(args.nav_dir or os.path.join(tempfile.gettempdir(),
                                                           f"lunarelay-{scenario.name}-afs"))
    for line in broadcast_frames(scenario, nav_dir):
        print(f"  {line}")
    print(f"done: {scenario.duration_s:.0f} emulated s, {frames} TM frames of {relay.frame_length} octets "
          f"from {relay.name}; CADU stream in {cadu_path}")
    errors = [e for e in (ground.error, traffic.error) if e]
    if lost:
        errors.append(f"{lost} packets the relay acknowledged reached neither the ground nor its store")
    for error in errors:
        print(f"lunarelay emulate: error: {error}", file=sys.stderr)
    return 1 if errors else 0


def account(users, dump, db_path: str) -> list[dict]:
    """Per surface user: what it made, what the relay acknowledged, what the ground holds, what
    the store still holds, and what is lost (acknowledged, yet in neither place)."""
    from hil.surface.user import check_payload
    from onboard.bus.packet import PacketError, unpack

    in_store: dict[int, set[int]] = {}
    if os.path.exists(db_path):
        with sqlite3.connect(db_path) as db:
            for (raw,) in db.execute("SELECT raw FROM packet"):
                try:
                    pkt = unpack(raw)
                except PacketError:
                    continue
                number = check_payload(pkt.apid, pkt.data)
                if number is not None:
                    in_store.setdefault(pkt.apid, set()).add(number)
    rows = []
    for user in users:
        delivered = dump.delivered.get(user.apid, set()) if dump else set()
        stored = in_store.get(user.apid, set())
        rows.append({"user": user.name, "apid": user.apid, "generated": user.generated,
                     "acknowledged": len(user.acknowledged), "delivered": len(delivered),
                     "in_store": len(stored - delivered),
                     "lost": len(user.acknowledged - delivered - stored)})
    return rows


def broadcast_frames(scenario: Scenario, out_dir: str) -> list[str]:
    """Write the AFS frames each relay with an orbit broadcast during the run; one line each."""
    from onboard.nav import afs_message, lsis_formats
    from onboard.nav.afs_node import FRAME_SECONDS, node_from_relay

    lines = []
    for relay in scenario.relays:
        if relay.orbit is None:
            continue
        node = node_from_relay(relay)
        os.makedirs(out_dir, exist_ok=True)
        for old in glob.glob(os.path.join(out_dir, f"frame_{node.prn}_*.bin")):
            os.unlink(old)                           # a directory holds one run's frames
        first = node.first_frame_s
        n = max(1, int(scenario.duration_s // FRAME_SECONDS))
        for k in range(n):
            t = first + k * FRAME_SECONDS
            at = afs_message.afs_time(t)
            name = f"frame_{node.prn}_{at.wn}_{at.itow}_{at.toi}.bin"
            lsis_formats.write_frame_bin(os.path.join(out_dir, name), node.frame_symbols(t), node.prn,
                                         timestamp=int(scenario_unix_time(t)))
        start, end = afs_message.afs_time(first), afs_message.afs_time(first + (n - 1) * FRAME_SECONDS)
        fit = node.ephemeris_fit(first)
        lines.append(f"{relay.name} (AFS PRN {node.prn}): {n} navigation frames, WN {start.wn} ITOW "
                     f"{start.itow} TOI {start.toi} to WN {end.wn} ITOW {end.itow} TOI {end.toi}; broadcast "
                     f"ephemeris within {fit.max_position_error_m:.2f} m of the orbit; frames in {out_dir}")
    return lines


def scenario_unix_time(t_s: float) -> float:
    """Unix time of a node system time, whose week count is taken to start at the GPS epoch
    (1980-01-06), without leap seconds: for the frame header's informative timestamp."""
    return 315964800.0 + t_s
