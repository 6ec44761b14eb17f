"""`lunarelay emulate`: run a scenario in pure-software emulation.

The executive starts the onboard modules (scheduler, store, proximity, uplink, downlink) as
processes on the software bus.  In this process, the scenario's surface users send their packets
over Proximity-1 to the relay, which stores them and acknowledges each once committed; the
ground-station emulator commands the relay through the uplink (CLTU, SDLS, FOP-1), decodes the
downlink's CADU stream (which the downlink also writes to a file for ``lunarelay decode``) and,
while the scenario's contact plan has the relay in view, dumps the store and acknowledges what
came down.  Live status comes from the housekeeping in that stream.

With a ``[world]`` (``hil.world.scenario_world``; the default scenario's is the Moonlight-like
constellation) the contact plan comes from geometry: the ground has the relay while one of its
antennas sees it above the elevation mask with the Moon not in the way (the antenna in use is
shown), and each surface user sends only while it sees the relay above its local mask (its
packets wait on board meanwhile).  A ``[[contact]]`` plan overrides the ground's windows.

The ground commands all through the run while the relay is in view: the flight computer's test
counter (1, 2, 3, ...) and mode, and a NOOP to every module now and then.  It waits for each
command's answer before it sends that destination the next one, and sends the same packet
again when the answer does not come (the receiver answers it from its command log instead of
running it twice), so every command runs once, in the order sent.  After the scenario's end
the ground keeps the link for a closing pass until every command is answered and every module
is healthy (at most the restart budget and ten seconds more).

The run ends with an account and a table of checks, each pass or FAIL:

    modules       every module that died was healthy again within the restart budget, all
                  were healthy at the end and stopped cleanly
    answers       every command the ground sent was answered
    relay         every surface user that made packets while it and the ground both saw the
                  relay had some reach the ground
    acknowledged  every packet the relay acknowledged was delivered or is still in its store
    exactly once  the flight computer's execution journal holds every command sent to it
                  once, in the order sent; each module executed each of its commands at most
                  once (the record in its command log)

A failed check makes the command exit 1 with one line naming the checks that failed and why.
A module that is not healthy within the restart budget ends the run at once.

``--chaos SEED`` turns the run into a fault campaign drawn from SEED (``ChaosPlan``): modules
killed with SIGKILL at random times (store and uplink included; the flight computer and the
store also right after their N-th execution, before answering), CLTUs and CADUs dropped,
corrupted by bursts and given bit errors on both links, and the link to the flight computer
cut for a while.  The same checks must pass; the chaos figures are printed.

A scenario whose ``[downlink]`` or ``[uplink]`` names a ``modulation`` runs that link as IQ
samples (``downlink_outputs``, ``uplink_rf_args``, ``attach_rf_links``): the downlink module
modulates its CADUs and the ground station takes them through the channel (noise, offset, the
orbit's Doppler) into its demodulator; the ground modulates its CLTUs as a continuous PLOP-2
stream and the uplink module demodulates it.  The demodulators' counters appear in the status
line and the uplink's housekeeping.

The navigation nodes' AFS frames broadcast during the run (each node's own ephemeris and clock,
``onboard.nav.afs_node``) are written in the community frame format
(``frame_<prn>_<wn>_<itow>_<toi>.bin``) for ``lunarelay siggen`` users and other AFS
implementations to read: every node of the world from the run's start, and every relay with an
``[relay.orbit]`` from its orbit's first frame.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import glob
import math
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time

from lunarelay_tools.options import number
from lunarelay_tools.progress import Progress
from onboard.bus.packet import tai_from_unix
from onboard.clock import Clock, ClockState, SharedClock
from onboard.core import simd
from onboard.errors import UsageError
from onboard.executive import Executive
from onboard.files import AtomicFile
from onboard.nav.afs_message import SECONDS_PER_WEEK
from onboard.scenario import Scenario, load_scenario

HELP = "Run a scenario in pure-software emulation (the built-in default when no file is given)"
MODULES = ("scheduler", "store", "proximity", "uplink", "downlink")
TARGET_WALL_S = 20.0       # "as fast as possible" runs the default scenario in about this long
FC_PERIOD_S = 2.0          # emulated seconds between flight computer commands
NOOP_PERIOD_S = 15.0       # emulated seconds between NOOPs to one module
RESEND_AFTER_S = 3.0       # wall seconds in view without an answer before the packet goes again
CLOSING_EXTRA_S = 10.0     # the closing pass lasts at most the restart budget and this long


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in)")
    parser.add_argument("--time-scale", type=number(lo=0.0, hi=1e6), default=None,
                        help="emulated seconds per wall second (0: as fast as possible)")
    parser.add_argument("--duration", type=number(above=0.0),
                        help="emulated seconds to run (default: the scenario's)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--cadu-file", help="where the downlink writes its CADU stream "
                        "(default: lunarelay-<scenario>.cadu in the temporary directory)")
    parser.add_argument("--nav-dir", help="where the relays' AFS navigation frames go "
                        "(default: lunarelay-<scenario>-afs/ in the temporary directory)")
    parser.add_argument("--restart-budget", type=number(above=0.0), default=20.0,
                        help="wall seconds a module may take to be healthy after its start or death "
                        "(default 20)")
    chaos = parser.add_argument_group("chaos", "a fault campaign drawn from a seed")
    chaos.add_argument("--chaos", type=number(True), metavar="SEED",
                       help="kill modules, impair both links and cut the flight computer's link at times "
                            "drawn from SEED")
    chaos.add_argument("--chaos-kill-every", type=number(above=0.0), default=40.0, metavar="S",
                       help="mean emulated seconds between kills (default 40)")
    chaos.add_argument("--chaos-drop", type=number(lo=0.0, hi=1.0), default=0.02, metavar="P",
                       help="probability a CLTU or a CADU is lost (default 0.02)")
    chaos.add_argument("--chaos-corrupt", type=number(lo=0.0, hi=1.0), default=0.02, metavar="P",
                       help="probability a CLTU or a CADU is hit by a burst of random octets (default 0.02)")
    chaos.add_argument("--chaos-ber", type=number(lo=0.0, hi=1.0), default=1e-5, metavar="B",
                       help="bit error rate on both links (default 1e-5)")
    chaos.add_argument("--chaos-cuts", type=number(True, lo=0), metavar="N",
                       help="flight computer link cuts (default: one per 200 emulated seconds)")


# ---- chaos ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ChaosPlan:
    """Every fault of a chaos run, drawn from one seed; times in emulated seconds from the start."""

    seed: int
    kills: tuple[tuple[float, str], ...]                 # (time, module) SIGKILLs
    kill_after_executing: tuple[tuple[str, int], ...]    # (executor, N): dies after its N-th execution
    fc_link_cuts: tuple[tuple[float, float], ...]        # (start, end) of each cut
    drop: float
    corrupt: float
    ber: float

    @classmethod
    def draw(cls, seed: int, duration_s: float, kill_every_s: float = 40.0, drop: float = 0.02,
             corrupt: float = 0.02, ber: float = 1e-5, cuts: int | None = None) -> ChaosPlan:
        rng = random.Random(seed)
        # faults stop at 85 % of the run: the rest is for recovery, so the account can close
        n = max(1, round(0.8 * duration_s / kill_every_s))
        times = sorted(rng.uniform(0.05, 0.85) * duration_s for _ in range(n))
        victims = rng.sample(MODULES, len(MODULES)) if n >= len(MODULES) else []
        victims += [rng.choice(MODULES) for _ in range(n - len(victims))]
        rng.shuffle(victims)
        n_cuts = max(1, round(duration_s / 200.0)) if cuts is None else cuts
        link_cuts = []
        for _ in range(n_cuts):
            start = rng.uniform(0.1, 0.7) * duration_s
            link_cuts.append((start, start + min(rng.uniform(5.0, 20.0), 0.1 * duration_s)))
        # early in the run, so even a short one reaches them
        after = (("flight_computer", rng.randint(3, 12)), ("store", rng.randint(5, 15)))
        return cls(seed, tuple(zip(times, victims, strict=True)), after, tuple(sorted(link_cuts)), drop,
                   corrupt, ber)

    def environment(self) -> dict[str, str]:
        from onboard.commands.log import KILL_ENV

        return {KILL_ENV: ",".join(f"{name}={n}" for name, n in self.kill_after_executing)}

    def impairments(self):
        from hil.channel import Impairments

        return (Impairments(self.ber, self.drop, self.seed, self.corrupt),
                Impairments(self.ber, self.drop, self.seed + 1, self.corrupt))


class ClockHold(threading.Thread):
    """Holds emulated time at the scenario's start until every module has answered the
    executive's first ping, then lets it run at the run's scale.  Contact windows are emulated
    seconds: without the hold, modules that take seconds to start on a loaded machine would spend
    a whole contact (minutes, at a scale of 30) not yet running."""

    def __init__(self, executive: Executive, scale: float, start_tai: float, wait_s: float):
        super().__init__(name="clock-hold", daemon=True)
        self.executive, self.scale, self.start_tai, self.wait_s = executive, scale, start_tai, wait_s
        self.done = threading.Event()
        self.held_s: float | None = None          # wall seconds emulated time stood still

    def run(self) -> None:
        t0 = time.monotonic()
        # modules that are not all up within the wait are the executive's to report (restart
        # budget); emulated time runs on regardless, as the scenario's contacts do
        while not self.done.is_set() and time.monotonic() - t0 < self.wait_s:
            if all(c.healthy for c in self.executive.children):
                break
            self.done.wait(0.02)
        if self.done.is_set():
            return                                # the run ended first
        self.held_s = time.monotonic() - t0
        with contextlib.suppress(ValueError):    # ... as it did just now: its clock file is closed
            self.executive.clock.set_state(ClockState.start(self.scale, self.start_tai))


class ChaosMonkey(threading.Thread):
    """Kills the modules of the plan with SIGKILL at their times (a module that is not up then is
    waited for, a little, so every kill hits a running process)."""

    def __init__(self, plan: ChaosPlan, executive: Executive, clock: Clock, start_tai: float):
        super().__init__(name="chaos", daemon=True)
        self.plan, self.executive, self.clock, self.start_tai = plan, executive, clock, start_tai
        self.kills: collections.Counter[str] = collections.Counter()
        self.missed: collections.Counter[str] = collections.Counter()
        self.done = threading.Event()

    def run(self) -> None:
        exe = self.executive
        for at, name in self.plan.kills:
            while not self.done.is_set() and self.clock.now_tai() - self.start_tai < at:
                self.done.wait(0.02)
            deadline = time.monotonic() + 5.0
            child = exe.child(name)
            while not self.done.is_set() and not child.healthy and time.monotonic() < deadline:
                self.done.wait(0.05)
            if self.done.is_set():
                return
            process = child.process
            if child.healthy and process is not None:
                try:
                    os.kill(process.pid, signal.SIGKILL)
                    self.kills[name] += 1
                    continue
                except ProcessLookupError:
                    pass
            self.missed[name] += 1


# ---- the surface and the ground -------------------------------------------------------------
class SurfaceTraffic(threading.Thread):
    """The scenario's surface users, stepped on the emulation clock until told to stop; each sends
    only while ``sees(name, elapsed_s)`` (the contact plan from geometry; always, without a world)."""

    def __init__(self, scenario: Scenario, clock: Clock, run_dir: str, start_tai: float,
                 sees=lambda name, elapsed_s: True):
        super().__init__(name="surface", daemon=True)
        from hil.surface.user import SurfaceUser

        scid = scenario.relays[0].scid
        self.scenario, self.start_tai, self.sees = scenario, start_tai, sees
        self.clock, self.done, self.duration_s = clock, threading.Event(), scenario.duration_s
        self.users = [SurfaceUser(u.name, u.apid, u.packet_length, u.packets_per_s, f"ipc://{run_dir}/proximity",
                                  f"ipc://{run_dir}/proximity-ack", scid) for u in scenario.surface_users]
        self.made_in_view = {u.apid: 0 for u in self.users}
        self.error: str | None = None

    def run(self) -> None:
        try:
            while not self.done.wait(0.02):
                now = self.clock.now_tai()
                elapsed = now - self.start_tai
                for user in self.users:
                    if elapsed >= self.duration_s:
                        user.rate = 0.0           # the scenario is over: no new packets, acks go on
                    before = user.generated
                    sees = self.sees(user.name, elapsed)
                    user.step(now, sees)
                    if sees and self.scenario.in_view(elapsed):
                        self.made_in_view[user.apid] += user.generated - before
        except Exception as exc:  # noqa: BLE001 - reported by the command, which then fails
            self.error = f"surface users: {type(exc).__name__}: {exc}"
        finally:
            for user in self.users:
                user.close()


@dataclasses.dataclass
class Sent:
    """One command the ground sent, and what became of it."""

    line: str
    module: str
    seq: int
    time_tai: float
    args: dict
    sent_at: float                  # wall time of the last transmission
    resent: int = 0
    answer: str | None = None
    answer_id: int | None = None


class GroundOperator(threading.Thread):
    """Runs the ground station beside the executive: commands all through the run, dumps the
    store while in view, closes the run and stops the executive."""

    def __init__(self, scenario: Scenario, executive: Executive, clock: Clock, run_dir: str, quiet: bool,
                 start_tai: float, impairments=None, downlink_impairments=None,
                 radio_ends: dict | None = None, record_cltu=None):
        super().__init__(name="ground", daemon=True)
        self.radio_ends = radio_ends or {}
        self.record_cltu = record_cltu
        self.scenario, self.executive, self.run_dir, self.quiet = scenario, executive, run_dir, quiet
        self.clock = clock
        self.start_tai = start_tai
        self.impairments, self.downlink_impairments = impairments, downlink_impairments
        self.sent: list[Sent] = []
        self.error: str | None = None
        self.station = None
        self.dump = None
        self._answers: dict[tuple[int, int], tuple[int, str]] = {}   # (APID, seq) -> (event id, text)
        self._seen = 0
        self._open: dict[str, Sent | None] = {}
        self._next_at: dict[str, float] = {}
        self._counter = 0

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
                tc_randomize=sc.uplink.randomize, impairments=self.impairments,
                downlink_impairments=self.downlink_impairments)
            attach_rf_links(st, sc, lambda: self.clock.now_tai() - self.start_tai, self.radio_ends)
            st.on_modulated_cltu = self.record_cltu
            self.dump = StoreDump(st)
            progress = Progress(sc.duration_s, self.quiet)
            self._next_at = {"flight_computer": 0.0, **{m: NOOP_PERIOD_S * (1 + i) / 5
                                                        for i, m in enumerate(("scheduler", "store", "uplink",
                                                                               "downlink"))}}
            next_status = 0.0
            closing_until = None
            while not exe.stopping:
                elapsed = self.clock.now_tai() - self.start_tai
                if elapsed >= sc.duration_s:
                    if closing_until is None:
                        closing_until = time.monotonic() + exe.restart_budget_s + CLOSING_EXTRA_S
                        progress.update(sc.duration_s, self.status())
                    if self._closed():
                        break
                    if time.monotonic() > closing_until:
                        break                   # what is still outstanding fails the checks
                st.in_view = closing_until is not None or sc.in_view(elapsed)
                st.poll(0.05)
                self.dump.step()
                self._take_answers()
                if closing_until is None and st.in_view and st.last_clcw is not None:
                    self._command(elapsed)
                self._resend()
                if closing_until is None and time.monotonic() >= next_status:
                    progress.update(elapsed, self.status())
                    next_status = time.monotonic() + 0.5
        except Exception as exc:  # noqa: BLE001 - reported by the command, which then fails
            self.error = f"ground station: {type(exc).__name__}: {exc}"
        finally:
            if self.station is not None:
                self.station.close()
            exe.stop()

    def _closed(self) -> bool:
        answered = all(s.answer is not None for s in self.sent)
        return answered and all(c.healthy for c in self.executive.children)

    def _command(self, elapsed: float) -> None:
        from onboard.bus.packet import unpack

        st = self.station
        for module, due in self._next_at.items():
            if elapsed < due or self._open.get(module) is not None:
                continue                        # not yet, or the last one is not answered yet
            if module == "flight_computer":
                self._counter += 1
                line = (f"flight_computer.SET_MODE mode={self._counter // 25 % 3}" if self._counter % 25 == 0
                        else f"flight_computer.SET_COUNTER value={self._counter}")
                period = FC_PERIOD_S
            else:
                line, period = f"{module}.NOOP", NOOP_PERIOD_S
            mod, name, args = st.dictionary.parse_line(line)
            seq = st.send(mod, name, **args)
            sent = Sent(line, mod, seq, unpack(st.command_packet(mod, seq)).time_tai, args, time.monotonic())
            self.sent.append(sent)
            self._open[module] = sent
            self._next_at[module] = elapsed + period

    def _take_answers(self) -> None:
        from onboard.modules.base import response_to

        events = self.station.events
        for event in events[self._seen:]:
            resp = response_to(event)
            if resp is not None:
                self._answers.setdefault((event.source_apid, resp[1]), (event.event_id, event.text))
        self._seen = len(events)
        for module, sent in self._open.items():
            if sent is None:
                continue
            answer = self._answers.get((self.station.registry.module(sent.module).apid, sent.seq))
            if answer is not None:
                sent.answer_id, sent.answer = answer
                self._open[module] = None

    def _resend(self) -> None:
        st, now = self.station, time.monotonic()
        for sent in self._open.values():
            if sent is None:
                continue
            if not st.in_view:
                sent.sent_at = now                  # nothing goes up out of view: the wait restarts
            elif now - sent.sent_at > RESEND_AFTER_S:
                st.repeat(sent.module, sent.seq)    # same packet: answered from the log if it ran
                sent.resent += 1
                sent.sent_at = now

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
        rx = st.rx.stats() if st.downlink_rf is None else st.downlink_rf.stats()
        if st.downlink_rf is not None:
            parts.append(rf_status(st.downlink_rf))
        if up and st.uplink_rf is not None:
            parts.append(f"uplink demod {'locked' if up['demod_locked'] else 'NOT LOCKED'} Eb/N0 "
                         f"{up['demod_ebn0_db']:.1f} dB offset {up['demod_freq_offset_hz']:.0f} Hz "
                         f"slips {up['demod_cycle_slips']}")
        delivered = sum(map(len, self.dump.delivered.values()))
        answered = sum(s.answer is not None for s in self.sent)
        antenna = self.scenario.antenna_at(self.clock.now_tai() - self.start_tai)
        view = f"in view{f' ({antenna})' if antenna else ''}" if st.in_view else "OUT OF VIEW"
        parts.append(f"ground {view}: {rx['frames']} frames rx, "
                     f"FOP {st.fop.state.name.lower()}, {answered}/{len(self.sent)} answers, "
                     f"{delivered} user packets delivered")
        return "; ".join(parts)


# ---- the run ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run(args: argparse.Namespace, bench=None) -> int:
    """The run; ``bench`` (``lunarelay hil``'s ``hil.bench.runner.BenchRun``) adds the bench's
    devices and taps: ``start(run_dir, start_tai, scenario, module_args)`` brings them up and adds
    to the modules' arguments, ``finish(checks, ground, relayed)`` writes its reports, ``stop()``
    ends its processes."""
    scenario = load_scenario(args.scenario)
    if args.duration is not None:
        scenario = dataclasses.replace(scenario, duration_s=args.duration)
    overridden = bool(scenario.contacts)
    scenario, geometry = contacts_from_geometry(scenario)
    scale = scenario.time_scale if args.time_scale is None else args.time_scale
    if scale <= 0:
        scale = max(1.0, scenario.duration_s / TARGET_WALL_S)
    relay, dl = scenario.relays[0], scenario.downlink
    cadu_path = os.path.abspath(args.cadu_file or os.path.join(tempfile.gettempdir(),
                                                               f"lunarelay-{scenario.name}.cadu"))
    if not os.path.isdir(os.path.dirname(cadu_path)):
        raise UsageError(f"--cadu-file {cadu_path}: no such directory")
    plan = None
    if args.chaos is not None:
        plan = ChaosPlan.draw(args.chaos, scenario.duration_s, args.chaos_kill_every, args.chaos_drop,
                              args.chaos_corrupt, args.chaos_ber, args.chaos_cuts)
    print(f"scenario {scenario.name}: {scenario.description}")
    print(f"  {len(scenario.relays)} relay(s), {len(scenario.surface_users)} surface user(s), "
          f"ground station {scenario.ground_station}; C core path {simd.active().name.lower()}; "
          f"time scale {scale:g}; {scenario.duration_s:g} emulated s"
          + (f"; chaos seed {plan.seed}" if plan else ""))
    for line in describe_contacts(scenario, geometry, overridden):
        print(f"  {line}")
    run_dir = tempfile.mkdtemp(prefix="lunarelay-")
    # the downlink appends to a file of this run's own (across its restarts), which takes the
    # CADU file's place once the run is over: runs side by side never write into one file
    cadu_part = os.path.join(run_dir, "downlink.cadu")
    start_tai = tai_from_unix(time.time())
    coding = [f"--frame-rate={dl.frame_rate_hz}", f"--rs-interleave={dl.rs_interleave}",
              f"--scid={relay.scid}", f"--frame-length={relay.frame_length}"]
    coding += [] if dl.conv == "none" else [f"--conv={dl.conv}"]
    coding += [] if dl.randomize else ["--no-randomize"]
    cuts = [f"--fc-link-outage={start_tai + a!r}:{start_tai + b!r}"
            for a, b in (plan.fc_link_cuts if plan else ())]
    module_args = {
        "store": ["--db", os.path.join(run_dir, "store.sqlite")],
        "proximity": [f"--scid={relay.scid}"],
        "uplink": [f"--scid={relay.scid}", *([] if scenario.uplink.randomize else ["--no-randomize"]), *cuts,
                   *uplink_rf_args(scenario)],
        "downlink": [*coding, *downlink_outputs(scenario, run_dir, cadu_part)],
    }
    log = (lambda line: None) if args.quiet else (lambda line: print(f"executive: {line}", flush=True))
    failures: list[str] = []

    def failed(why: str) -> None:            # a module not healthy within the budget ends the run
        failures.append(why)
        executive.stop()

    try:
        if bench:
            bench.start(run_dir, start_tai, scenario, module_args)
        # emulated time stands at start_tai (a stepped clock) until ClockHold lets it run
        executive = Executive(MODULES, run_dir=run_dir, time_scale=0.0, module_args=module_args, log=log,
                              restart_budget_s=args.restart_budget, stable_s=5.0, start_tai=start_tai,
                              on_failure=failed, env=plan.environment() if plan else None,
                              bus=bench.bus_url if bench else None,
                              curve_keys=bench.curve_keys if bench and bench.bus_url else None)
        # the threads below outlive executive.run(), which closes the owner's map of the clock
        # file: each reads emulated time through this view of it, closed when they are done
        clock_view = SharedClock(executive.clock_path)
        up, down = plan.impairments() if plan else (None, None)
        ground = GroundOperator(scenario, executive, clock_view, run_dir, args.quiet, start_tai, up, down,
                                bench.radio_ends if bench else None, bench.record_cltu if bench else None)
        traffic = SurfaceTraffic(scenario, clock_view, run_dir, start_tai,
                                 geometry.user_sees if geometry else (lambda name, elapsed_s: True))
        monkey = ChaosMonkey(plan, executive, clock_view, start_tai) if plan else None
        hold = ClockHold(executive, scale, start_tai, wait_s=args.restart_budget)
        hold.start()
        ground.start()
        traffic.start()
        if monkey:
            monkey.start()
        try:
            executive.run()
        finally:
            hold.done.set()
            if monkey:
                monkey.done.set()
        ground.join(30.0)
        traffic.done.set()
        traffic.join(10.0)
        if monkey:
            monkey.join(5.0)
        if not any(t.is_alive() for t in (ground, traffic, monkey) if t):
            clock_view.close()
        healthy_at_end = {c.name: c.healthy_at_stop for c in executive.children}
        cadu_size = os.path.getsize(cadu_part) if os.path.exists(cadu_part) else 0
        if cadu_size:
            with open(cadu_part, "rb") as part, AtomicFile(cadu_path) as out:
                shutil.copyfileobj(part, out, 8 << 20)
        relayed = account(traffic.users, ground.dump, os.path.join(run_dir, "store.sqlite"))
        executions = executions_of(run_dir, ground.sent, bench.flight_computer_journal() if bench else None)
        hooked = {name: n for name, n in (plan.kill_after_executing if plan else ())
                  if executions.counts.get(name, 0) >= n}
    finally:
        if bench:
            bench.stop()
        shutil.rmtree(run_dir, ignore_errors=True)

    for module, rows in _by_module(ground.sent).items():
        answered = sum(s.answer is not None for s in rows)
        resent = sum(s.resent for s in rows)
        last = rows[-1]
        print(f"  {module}: {len(rows)} commands sent, {answered} answered"
              + (f" ({resent} sent again)" if resent else "")
              + f"; last: {last.line}: {last.answer or 'no answer in the downlink'}")
    for row in relayed:
        print(f"  {row['user']} (APID {row['apid']:#05x}): {row['generated']} packets made, "
              f"{row['acknowledged']} acknowledged by the relay, {row['delivered']} delivered to the ground, "
              f"{row['in_store']} still in the store, {row['lost']} lost")
    for line in rf_summary(ground.station):
        print(f"  {line}")
    cadu_len = 4 + (255 * dl.rs_interleave if dl.rs_interleave else relay.frame_length)
    frames = f"{cadu_size // cadu_len}" if dl.conv == "none" else f"{cadu_size} octets of coded"
    nav_dir = os.path.abspath(args.nav_dir or os.path.join(tempfile.gettempdir(),
                                                           f"lunarelay-{scenario.name}-afs"))
    for line in broadcast_frames(scenario, nav_dir):
        print(f"  {line}")
    started = (f" (emulated time started {hold.held_s:.1f} s after launch, once every module was up)"
               if hold.held_s is not None else "")
    print(f"done: {scenario.duration_s:.0f} emulated s{started}, {frames} TM frames of "
          f"{relay.frame_length} octets from {relay.name}; "
          + (f"CADU stream in {cadu_path}" if cadu_size else "no CADU stream written"))
    if plan:
        print(chaos_figures(plan, monkey, ground, executive, hooked))

    checks = closing_checks(executive, healthy_at_end, failures, ground, traffic, relayed, executions)
    print("checks:")
    for check in checks:
        print(f"  {'pass' if check.ok else 'FAIL'}  {check.name:<13} {check.detail}")
    if bench:
        bench.finish(checks, ground, relayed)
    failed = [c for c in checks if not c.ok]
    if failed:
        why = "; ".join(f"{c.name}: {c.detail}" for c in failed)
        print(f"lunarelay {'hil' if bench else 'emulate'}: error: {why}", file=sys.stderr)
        return 1
    return 0


# ---- links as samples -------------------------------------------------------------------------
def _modem_args(rf) -> list[str]:
    return [f"--modulation={rf.modulation}", f"--sps={rf.samples_per_symbol!r}", f"--rolloff={rf.rolloff!r}",
            f"--symbol-rate={rf.symbol_rate!r}", f"--subcarrier-hz={rf.subcarrier_hz or 16e3!r}"]


def downlink_outputs(scenario: Scenario, run_dir: str, cadu_path: str) -> list[str]:
    """The downlink's outputs: the run's CADU file, and the ground's end (CADUs, or samples when
    the scenario's downlink is modulated)."""
    ground = f"ipc://{run_dir}/downlink"
    rf = scenario.downlink.rf
    if rf is None:
        return ["--output", ground, "--output", f"file:{cadu_path}"]
    return ["--output", f"file:{cadu_path}", "--iq-output", ground, *_modem_args(rf)]


def uplink_rf_args(scenario: Scenario) -> list[str]:
    """The uplink module's modem, when the scenario's uplink is modulated."""
    return [] if scenario.uplink.rf is None else _modem_args(scenario.uplink.rf)


def attach_rf_links(station, scenario: Scenario, clock, radio_ends: dict | None = None) -> None:
    """Give the ground station the channels and modems of the scenario's modulated links; ``clock``
    gives emulated seconds since the start (the uplink's samples are paced by it).  A link in
    ``radio_ends`` (``hil.ground.rf.RadioEnd`` by link name: a bench's SDR endpoint) is heard
    from, or sent to, that endpoint instead of the run's own sockets."""
    from hil.ground.rf import DownlinkRfLink, UplinkRfLink, link_channel
    from hil.rf_channel import orbit_doppler_hz
    from onboard.ccsds.rf import ModemConfig
    from onboard.scenario import CONV_SYMBOLS_PER_BIT

    orbit = scenario.relays[0].orbit
    dl, up = scenario.downlink.rf, scenario.uplink.rf

    def doppler(rf):
        return orbit_doppler_hz(orbit, rf.carrier_hz) if rf.doppler == "orbit" else 0.0

    if dl is not None:
        modem = ModemConfig.from_spec(dl)
        channel = link_channel(dl, modem, 1.0 / CONV_SYMBOLS_PER_BIT[scenario.downlink.conv], doppler(dl))
        station.downlink_rf = DownlinkRfLink(station.link, modem, channel, clock,
                                             acq_range_hz=acquisition_range_hz(modem, dl, channel))
        if "downlink" in (radio_ends or {}):
            station.cadu_in.close()
            station.cadu_in = radio_ends["downlink"].open_input(station.context)
    if up is not None:
        modem = ModemConfig.from_spec(up)
        # BCH (63,56) is left out of Eb/N0: the channel's bits are the CLTU's
        channel = link_channel(up, modem, 1.0, doppler(up), seed_offset=1)
        out = station.cltu_out
        if "uplink" in (radio_ends or {}):
            out = station.radio_out = radio_ends["uplink"].open_output(station.context)
        station.uplink_rf = UplinkRfLink(modem, channel, clock, out.send)


def acquisition_range_hz(modem, rf, channel) -> float | None:
    """The demodulator's frequency search: the modem's default, widened to the largest offset the
    run's Doppler and carrier offset reach (sampled over an orbit's worth of an hour), within what
    the FFT of the squared or fourth-power signal covers."""
    from onboard.core.modem import Scheme

    worst = abs(rf.cfo_hz) + max(abs(channel.doppler_hz(t)) for t in range(0, 3600, 60))
    power = {Scheme.BPSK: 2, Scheme.PCM_PSK_PM: 1}.get(modem.scheme, 4)
    default = min(max(10e3, 0.02 * modem.symbol_rate), 0.4 * modem.fs_hz / power)
    return min(max(default, 1.2 * worst + 500.0), 0.4 * modem.fs_hz / power)


def rf_status(link) -> str:
    """The ground demodulator's part of the status line."""
    st = link.status()
    return (f"downlink demod {'locked' if st.locked else 'NOT LOCKED'} Eb/N0 {link.ebn0_db():.1f} dB offset "
            f"{st.freq_offset_hz:.0f} Hz slips {st.cycle_slips} acquisitions {st.acquisitions}")


def rf_summary(station) -> list[str]:
    """One line per modulated link: what its demodulator saw over the run."""
    lines = []
    if station is not None and station.downlink_rf is not None:
        link = station.downlink_rf
        st, rx = link.status(), link.stats()
        lines.append(f"downlink as samples: {st.samples} samples demodulated, {st.acquisitions} "
                     f"acquisitions, {st.lock_changes} lock changes, {st.cycle_slips} cycle slips seen in "
                     f"the frames, Eb/N0 {link.ebn0_db():.1f} dB at the end, offset {st.freq_offset_hz:.0f} "
                     f"Hz; {rx['cadus_found']} CADUs found, {rx['rs_uncorrectable_codewords']} RS codewords "
                     "uncorrectable")
    if station is not None and station.uplink_rf is not None:
        up = station.hk("uplink") or {}
        lines.append(f"uplink as samples: {station.uplink_rf.cltus_sent} CLTUs modulated, "
                     f"{station.uplink_rf.tx.samples} samples; the relay's demodulator (its last "
                     f"housekeeping): {up.get('demod_acquisitions', 0)} acquisitions, "
                     f"{up.get('demod_cycle_slips', 0)} cycle slips, Eb/N0 "
                     f"{up.get('demod_ebn0_db', float('nan')):.1f} dB, {up.get('cltu_realigned', 0)} CLTU "
                     "realignments")
    return lines


def _by_module(sent: list[Sent]) -> dict[str, list[Sent]]:
    out: dict[str, list[Sent]] = {}
    for s in sent:
        out.setdefault(s.module, []).append(s)
    return out


@dataclasses.dataclass
class Executions:
    """What the receivers' own records say ran: the flight computer's journal, the modules' logs."""

    flight_computer: list            # onboard.commands.log.Executed, in execution order
    module_rows: dict[str, dict[tuple[int, float], tuple[int, str]]]  # module -> key -> (executed, text)
    counts: dict[str, int]           # executor -> commands it executed in all


def executions_of(run_dir: str, sent: list[Sent], fc_journal: list | None = None) -> Executions:
    """``fc_journal``: the flight computer's journal when it came from another host (else it is
    read from the run directory)."""
    from hil.devices.flight_computer import STATE_FILE, executed_commands

    fc_db = os.path.join(run_dir, STATE_FILE)
    fc = fc_journal if fc_journal is not None else executed_commands(fc_db) if os.path.exists(fc_db) else []
    rows: dict[str, dict] = {}
    counts = {"flight_computer": len(fc)}
    databases = {"store": "store.sqlite", "uplink": "uplink.sqlite"}
    for module in {s.module for s in sent} - {"flight_computer"} | {"store"}:
        path = os.path.join(run_dir, databases.get(module, f"{module}-commands.sqlite"))
        if not os.path.exists(path):
            rows[module] = {}
            continue
        with contextlib.closing(sqlite3.connect(path)) as db:
            # a module killed between opening its database and creating the log leaves no table
            logged = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'command_log'"
                                ).fetchone()
            found = db.execute("SELECT seq, time_tai, executed, coalesce(text, '') "
                               "FROM command_log").fetchall() if logged else []
        rows[module] = {(seq, t): (executed, text) for seq, t, executed, text in found}
        counts[module] = sum(executed for _, _, executed, _ in found)
    return Executions(fc, rows, counts)


def closing_checks(executive: Executive, healthy_at_end: dict[str, bool], failures: list[str], ground,
                   traffic, relayed: list[dict], executions: Executions) -> list[Check]:
    checks = []
    # modules
    problems = list(failures)
    problems += [f"{c.name} was not healthy at the end" for c in executive.children
                 if not healthy_at_end.get(c.name) and not c.failure]
    problems += [f"{c.name} ended with {_exit(c.stop_code)} at the shutdown" for c in executive.children
                 if c.stop_code not in (0, None)]
    deaths = sum(c.deaths for c in executive.children)
    longest = max((c.longest_outage_s for c in executive.children), default=0.0)
    deaths_text = (f"{deaths} deaths, each healthy again within {executive.restart_budget_s:g} s (longest "
                   f"outage {longest:.1f} s)" if deaths else "no module died")
    checks.append(Check("modules", not problems, "; ".join(problems) if problems else
                        f"{len(executive.children)} healthy at the end, stopped cleanly; {deaths_text}"))
    # answers
    sent = ground.sent
    unanswered = [s for s in sent if s.answer is None]
    problems = [e for e in (ground.error, traffic.error) if e]
    if unanswered:
        first = unanswered[0]
        problems.append(f"{len(unanswered)} of {len(sent)} commands never answered, the first "
                        f"{first.line} (seq {first.seq}, sent {first.resent + 1} times)")
    if not sent and not problems:
        problems.append("the ground sent no command: the link never came up")
    refused = [s for s in sent if s.answer is not None and s.answer_id != 1 and "interrupted" not in s.answer]
    if refused:
        problems.append(f"{len(refused)} commands refused, the first {refused[0].line}: {refused[0].answer}")
    interrupted = sum(s.answer is not None and "interrupted" in s.answer for s in sent)
    checks.append(Check("answers", not problems, "; ".join(problems) if problems else
                        f"{len(sent)} commands, all answered ({sum(s.resent for s in sent)} sent again"
                        + (f", {interrupted} interrupted by a restart, not run again" if interrupted else "")
                        + ")"))
    # the relay: packets made in view reach the ground
    silent = [(r, traffic.made_in_view.get(r["apid"], 0)) for r in relayed
              if traffic.made_in_view.get(r["apid"], 0) and not r["delivered"]]
    checks.append(Check("relay", not silent, "; ".join(
        f"{r['user']} made {n} packets while the relay was in view, none reached the ground"
        for r, n in silent) if silent else
        f"{sum(r['delivered'] for r in relayed)} user packets delivered to the ground"))
    # acknowledged packets
    lost = sum(r["lost"] for r in relayed)
    acknowledged = sum(r["acknowledged"] for r in relayed)
    checks.append(Check("acknowledged", not lost,
                        f"{lost} of {acknowledged} packets the relay acknowledged reached neither the ground "
                        "nor its store" if lost else
                        f"{acknowledged} acknowledged packets, each delivered or still in the store"))
    checks.append(exactly_once(sent, executions))
    return checks


def exactly_once(sent: list[Sent], executions: Executions) -> Check:
    """The flight computer's journal against what the ground sent it; the modules' command logs
    against what the ground sent them."""
    problems = []
    fc_sent = [(s.seq, s.time_tai) for s in sent if s.module == "flight_computer"]
    journal = [(e.seq, e.time_tai) for e in executions.flight_computer]
    times = collections.Counter(journal)
    twice = [k for k in fc_sent if times[k] > 1]
    unknown = [k for k in times if k not in set(fc_sent)]
    if twice:
        problems.append(f"{len(twice)} flight computer commands executed more than once (seq "
                        f"{', '.join(str(seq) for seq, _ in twice[:5])})")
    if unknown:
        problems.append(f"{len(unknown)} executions in the flight computer's journal the ground never sent")
    if [k for k in fc_sent if times[k]] != list(dict.fromkeys(journal)):
        problems.append("the flight computer executed its commands out of the order they were sent")
    args = {(e.seq, e.time_tai): e.args for e in executions.flight_computer}
    wrong = [s for s in sent
             if s.module == "flight_computer" and args.get((s.seq, s.time_tai), s.args) != s.args]
    if wrong:
        problems.append(f"{len(wrong)} flight computer commands ran with other arguments than sent")
    accepted = [s for s in sent if s.module == "flight_computer" and s.answer_id == 1]
    unjournaled = [s for s in accepted if not times[(s.seq, s.time_tai)]]
    if unjournaled:
        problems.append(f"{len(unjournaled)} flight computer commands answered accepted yet not in its "
                        f"journal, the first {unjournaled[0].line} (seq {unjournaled[0].seq})")
    recorded = 0
    for s in sent:
        if s.module == "flight_computer" or s.answer is None:
            continue
        if (s.seq, s.time_tai) in executions.module_rows.get(s.module, {}):
            recorded += 1
        else:
            problems.append(f"{s.module} answered {s.line} (seq {s.seq}) without a record of it")
    if problems:
        return Check("exactly once", False, "; ".join(problems[:3]))
    return Check("exactly once", True, f"{len(fc_sent)} flight computer commands in its journal once each, "
                 f"in the order sent; {recorded} module commands recorded once each")


def _exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def chaos_figures(plan: ChaosPlan, monkey: ChaosMonkey, ground: GroundOperator, executive: Executive,
                  hooked: dict[str, int]) -> str:
    kills = ", ".join(f"{m} {monkey.kills[m]}" for m in MODULES)
    total = sum(monkey.kills.values())
    st = ground.station
    up = st.impairments.stats() if st else {}
    down = st.downlink_impairments.stats() if st and st.downlink_impairments else {}
    cut_s = sum(b - a for a, b in plan.fc_link_cuts)
    after = ", ".join(f"{name} after its {n}th execution" for name, n in hooked.items())
    return (f"chaos (seed {plan.seed}): {total} SIGKILLs ({kills})"
            + (f", {sum(monkey.missed.values())} missed (module not up)" if monkey.missed else "")
            + (f", and {len(hooked)} kill{'s' * (len(hooked) > 1)} between executing and answering ({after})"
               if hooked else "")
            + f"; {sum(c.deaths for c in executive.children)} module deaths in all; "
            f"{_link('uplink', 'CLTUs', up)}; {_link('downlink', 'CADUs', down)}; flight computer link cut "
            f"{len(plan.fc_link_cuts)} times, {cut_s:.0f} emulated s in all")


def _link(name: str, units: str, stats: dict[str, int]) -> str:
    return (f"{name} {stats.get('units', 0)} {units}, {stats.get('dropped', 0)} dropped, "
            f"{stats.get('bursts', 0)} hit by a burst, {stats.get('corrupted', 0) - stats.get('bursts', 0)} "
            f"more with bit errors")


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


# ---- the world: contacts from geometry, navigation nodes ---------------------------------------
def contacts_from_geometry(scenario: Scenario):
    """The scenario with its ground contacts computed from its world's geometry (unless its
    ``[[contact]]`` plan overrides them), and the contact plan (None without a ``[world]``)."""
    world = scenario.tables.get("world")
    if world is None:
        return scenario, None
    from hil.world.scenario_world import contact_plan
    from onboard.scenario import Contact

    plan = contact_plan(world, scenario.relays[0].name, [u.name for u in scenario.surface_users],
                        scenario.duration_s)
    if scenario.contacts:
        return scenario, plan
    # no antenna sees the relay all run: one window that never opens (no window at all is "always")
    ground = plan.ground or (Contact(scenario.duration_s, scenario.duration_s),)
    return dataclasses.replace(scenario, contacts=ground), plan


def describe_contacts(scenario: Scenario, geometry, overridden: bool) -> list[str]:
    """The world and the contact plan (``overridden``: the ground's from the scenario's
    ``[[contact]]``): a line for the world, one for the ground and one per surface user."""
    def spans(windows) -> str:
        return ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in windows) or "never"

    relay = scenario.relays[0].name
    lines = []
    world = scenario.tables.get("world")
    if world is not None:
        c = world.constellation
        wn, tow = divmod(world.start_s, SECONDS_PER_WEEK)
        lines.append(f"world {os.path.basename(world.constellation_path)}: {len(c.nodes)} navigation nodes "
                     f"(AFS PRN {', '.join(str(n.afs_prn) for n in c.nodes)}), ground antennas "
                     f"{', '.join(s.name for s in c.ground_stations)}; emulated time zero at WN {wn:.0f} "
                     f"TOW {tow:.1f} s")
    if not scenario.contacts:
        lines.append(f"contacts: none given, the ground sees {relay} all the time")
    elif geometry is None or overridden:
        lines.append(f"contacts from the scenario's [[contact]]: ground sees {relay} "
                     + spans((c.start_s, c.end_s) for c in scenario.contacts))
    else:
        lines.append(f"contacts from geometry: ground sees {relay} "
                     + (", ".join(f"{c.start_s:.1f}-{c.end_s:.1f} s via {c.antenna}" for c in geometry.ground)
                        or "never"))
    if geometry is not None:
        lines += [f"{name} sees {relay}: {spans(windows)}" for name, windows in geometry.users.items()]
    return lines


def broadcast_frames(scenario: Scenario, out_dir: str) -> list[str]:
    """Write the AFS frames each navigation node broadcast during the run (each relay with an orbit,
    and each node of the scenario's world from the run's start); one line each."""
    from onboard.nav import afs_message, lsis_formats
    from onboard.nav.afs_node import FRAME_SECONDS, node_from_relay

    nodes = [(relay.name, node_from_relay(relay), None) for relay in scenario.relays
             if relay.orbit is not None]
    world = scenario.tables.get("world")
    if world is not None:
        start = FRAME_SECONDS * math.ceil(world.start_s / FRAME_SECONDS)
        nodes += [(n.name, n.nav_node(), start) for n in world.constellation.nodes]
    lines = []
    for label, node, first in nodes:
        os.makedirs(out_dir, exist_ok=True)
        for old in glob.glob(os.path.join(out_dir, f"frame_{node.prn}_*.bin")):
            os.unlink(old)                           # a directory holds one run's frames
        first = node.first_frame_s if first is None else first
        n = max(1, int(scenario.duration_s // FRAME_SECONDS))
        for k in range(n):
            t = first + k * FRAME_SECONDS
            at = afs_message.afs_time(t)
            name = f"frame_{node.prn}_{at.wn}_{at.itow}_{at.toi}.bin"
            lsis_formats.write_frame_bin(os.path.join(out_dir, name), node.frame_symbols(t), node.prn,
                                         timestamp=int(scenario_unix_time(t)))
        start, end = afs_message.afs_time(first), afs_message.afs_time(first + (n - 1) * FRAME_SECONDS)
        fit = node.ephemeris_fit(first)
        lines.append(f"{label} (AFS PRN {node.prn}): {n} navigation frames, WN {start.wn} ITOW "
                     f"{start.itow} TOI {start.toi} to WN {end.wn} ITOW {end.itow} TOI {end.toi}; broadcast "
                     f"ephemeris within {fit.max_position_error_m:.2f} m of the orbit; frames in {out_dir}")
    return lines


def scenario_unix_time(t_s: float) -> float:
    """Unix time of a node system time, whose week count is taken to start at the GPS epoch
    (1980-01-06), without leap seconds: for the frame header's informative timestamp."""
    return 315964800.0 + t_s
