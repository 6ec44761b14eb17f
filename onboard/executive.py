"""The executive: starts the onboard modules as OS processes, watches them, stops them in order.

Start order: the bus proxy first, then the modules in the order given; stop order is the
reverse, the proxy last.  Each module is ``python -P -m <module> --bus URL --clock FILE
--state-dir DIR`` in its own session (a Ctrl-C on the terminal reaches only the executive,
which then stops the modules one by one); Linux's parent-death signal stops them if the
executive is killed.  ``-P`` and a PYTHONPATH that starts with the directory holding this
``onboard`` package make every child import the installation the executive itself runs
from, whatever the current directory (a source tree there has no compiled core).  What a
child writes on stderr goes on to the executive's stderr; its last line is kept to say why
it died.

Messages in:   pongs (0x300 block), its commands, PING, SCHED_TICK.
Messages out:  PING every ``health_period_s`` (token), CLOCK (the clock record) with it,
               housekeeping, events.
Commands:      STEP_CLOCK(seconds), SET_CLOCK_SCALE(scale), RESTART_MODULE(module), common ones.
Events:        MODULE_STARTED, MODULE_DIED (WARNING_HI: exit code or signal; for the bus proxy,
               restarted at once and reported when the bus is back),
               MODULE_RESTARTED (WARNING_LO: attempt and backoff), MODULE_UNRESPONSIVE
               (WARNING_HI: no pong for ``unresponsive_s``; the module is killed and restarted),
               MODULE_STOPPED, SHUTDOWN, MODULE_FAILED (FATAL: down longer than the restart
               budget).
Housekeeping:  modules_running u8, restarts u16, pings_sent u32, clock_mode u8,
               clock_scale f64, emulated_tai f64.

A module that dies is restarted after a backoff that starts at ``backoff_s`` and doubles on
every death up to ``backoff_max_s``; a module that has answered pings for ``stable_s`` has
its backoff reset.  A module is healthy from its first pong; one that is not healthy within
``restart_budget_s`` (wall seconds) of its start or its death has failed: MODULE_FAILED, and
``on_failure`` is called with one line saying why (``lunarelay emulate`` ends the run there;
the executive alone goes on restarting it).  The executive owns the emulation clock: a file
every process on the host maps (``onboard.clock.SharedClock``), also published as CLOCK for
other hosts.

    python -m onboard.executive [--bus URL] [--run-dir DIR] [--time-scale X] [--modules a,b]
                                [--curve-keys DIR] [--stable S] [--restart-budget S]
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import onboard
from onboard.bus import messages
from onboard.bus.endpoints import BUS_URL_ENV, BusEndpoints, CurveKeyDir
from onboard.bus.packet import BusPacket
from onboard.bus.registry import PONG_BLOCK, PONGS_TOPIC
from onboard.clock import CLOCK_FILE_ENV, ClockError, ClockState, SharedClock
from onboard.errors import LunarelayError, UsageError
from onboard.events import Severity
from onboard.modules import MODULES
from onboard.modules.base import CommandFailed, Module

DEFAULT_MODULES = ("scheduler", "store")


class ExecutiveEvent(enum.IntEnum):
    MODULE_STARTED = 100
    MODULE_DIED = 101
    MODULE_RESTARTED = 102
    MODULE_UNRESPONSIVE = 103
    MODULE_STOPPED = 104
    SHUTDOWN = 105
    MODULE_FAILED = 106


@dataclasses.dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    last_pong: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    restart_at: float | None = None
    healthy_since: float | None = None    # first pong of the running process
    down_since: float | None = None       # started or died, and not healthy since
    deaths: int = 0
    last_death: str = ""                  # how it last ended, with its last line on stderr
    longest_outage_s: float = 0.0         # from a death to the first pong of the next process
    failure: str | None = None            # not healthy within the restart budget: why
    stop_code: int | None = None          # exit status at the ordered shutdown
    healthy_at_stop: bool = False
    stderr_tail: str = ""
    stderr_thread: threading.Thread | None = None

    @property
    def healthy(self) -> bool:
        return self.healthy_since is not None and self.process is not None and self.process.poll() is None


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def child_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: it imports the same ``onboard`` as this process."""
    env = dict(os.environ if base is None else base)
    home = os.path.dirname(os.path.dirname(os.path.abspath(onboard.__file__)))
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([home, *rest])
    env["PYTHONSAFEPATH"] = "1"          # no current directory on sys.path, in grandchildren too
    return env


def python_module(module: str) -> list[str]:
    """argv that runs ``module`` with this interpreter, never from the current directory."""
    return [sys.executable, "-P", "-m", module]


def module_command(module: str, *args: str) -> dict:
    """``subprocess.Popen`` or ``run`` arguments (``args``, ``env``) that run ``module`` with
    ``args`` as a child process importing the same installation as this one, whatever the
    current directory (a clone's root holds a source tree without the compiled core)."""
    return {"args": [*python_module(module), *args], "env": child_environment()}


def _forward_stderr(child: Child, stream) -> None:
    """Copy a child's stderr to ours line by line, keeping its last line."""
    out = getattr(sys.stderr, "buffer", None)
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").strip()
        if line:
            child.stderr_tail = line
        try:
            if out is not None:
                out.write(raw)
                out.flush()
            else:
                sys.stderr.write(raw.decode(errors="replace"))
        except (OSError, ValueError):
            pass
    stream.close()


def stop_process(proc: subprocess.Popen, timeout_s: float = 5.0) -> int:
    """Stop a child process: SIGTERM, then SIGKILL if it has not ended within ``timeout_s``; its
    exit code (the one it already had when it was not running)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Executive(Module):
    NAME = "executive"
    HK_FIELDS = (("modules_running", "B"), ("restarts", "H"), ("pings_sent", "I"), ("clock_mode", "B"),
                 ("clock_scale", "d"), ("emulated_tai", "d"))

    def __init__(self, modules: list[str] | tuple[str, ...] = DEFAULT_MODULES, bus: str | None = None,
                 run_dir: str | None = None, time_scale: float = 1.0, health_period_s: float = 0.5,
                 unresponsive_s: float = 10.0, backoff_s: float = 0.5, backoff_max_s: float = 30.0,
                 stable_s: float = 60.0, stop_timeout_s: float = 5.0, module_args: dict | None = None,
                 curve_keys: str | None = None, log=None, restart_budget_s: float = 20.0,
                 on_failure: Callable[[str], None] | None = None, start_tai: float | None = None,
                 env: dict[str, str] | None = None):
        unknown = [m for m in modules if m not in MODULES]
        if unknown:
            raise UsageError(f"unknown module {unknown[0]!r}; known: {', '.join(MODULES)}")
        self.run_dir = run_dir or tempfile.mkdtemp(prefix="lunarelay-")
        os.makedirs(self.run_dir, exist_ok=True)
        self.bus_url = bus or os.environ.get(BUS_URL_ENV) or f"ipc://{self.run_dir}/bus"
        self.clock_path = os.path.join(self.run_dir, "clock")
        shared = SharedClock(self.clock_path, owner=True, state=ClockState.start(time_scale, start_tai))
        self.health_period_s, self.unresponsive_s = health_period_s, unresponsive_s
        self.backoff_s, self.backoff_max_s, self.stable_s = backoff_s, backoff_max_s, stable_s
        self.stop_timeout_s = stop_timeout_s
        self.restart_budget_s = restart_budget_s
        self.on_failure = on_failure
        self.log = log or (lambda line: print(f"executive: {line}", flush=True))
        self.env = {**child_environment(), **(env or {}), CLOCK_FILE_ENV: self.clock_path}
        keys = CurveKeyDir.open(curve_keys) if curve_keys else None
        common = ["--bus", self.bus_url, "--clock", self.clock_path, "--state-dir", self.run_dir,
                  *(keys.module_args() if keys else [])]
        module_args = module_args or {}
        self.proxy = Child("bus", [*python_module("onboard.bus.proxy"), "--bus", self.bus_url,
                                   *(keys.proxy_args() if keys else [])])
        self.children = [Child(name, [*python_module(MODULES[name]), *common,
                                      *module_args.get(name, self._default_args(name))])
                         for name in modules]
        self._start(self.proxy)
        super().__init__(bus=self.bus_url, clock=shared, curve=keys.client() if keys else None,
                         state_dir=self.run_dir)
        self.pings_sent = 0
        self._next_ping = 0.0

    def _default_args(self, name: str) -> list[str]:
        return ["--db", os.path.join(self.run_dir, "store.sqlite")] if name == "store" else []

    def data_topics(self) -> list[bytes]:
        return [PONGS_TOPIC]

    # ---- processes ------------------------------------------------------------------------
    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=self.env, start_new_session=True,
                                         stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        child.stderr_thread = threading.Thread(target=_forward_stderr, args=(child, child.process.stderr),
                                               daemon=True, name=f"{child.name}-stderr")
        child.stderr_thread.start()
        child.started_at = child.last_pong = time.monotonic()
        child.restart_at = None
        child.healthy_since = None
        if child.down_since is None:
            child.down_since = child.started_at
        self.log(f"started {child.name} (pid {child.process.pid})")

    def child(self, name: str) -> Child:
        for c in self.children:
            if c.name == name:
                return c
        running = ", ".join(c.name for c in self.children)
        raise CommandFailed(f"no module {name!r} runs here; running: {running}")

    def setup(self) -> None:
        for child in self.children:
            self._start(child)
            self.events(ExecutiveEvent.MODULE_STARTED, Severity.ACTIVITY_HI,
                        f"{child.name} started, pid {child.process.pid}")

    def on_packet(self, pkt: BusPacket) -> None:
        if pkt.apid >> 8 != PONG_BLOCK or len(pkt.data) < messages.PONG.size:
            return
        owner = self.registry.module_of_apid(pkt.apid)
        _, pid = messages.PONG.unpack_from(pkt.data)
        for child in self.children:
            if owner and child.name == owner.name and child.process and child.process.pid == pid:
                child.last_pong = now = time.monotonic()
                if child.healthy_since is None:
                    child.healthy_since = now
                if child.down_since is not None:
                    if child.deaths:
                        child.longest_outage_s = max(child.longest_outage_s, now - child.down_since)
                    child.down_since = None

    def on_idle(self) -> None:
        now = time.monotonic()
        if now >= self._next_ping:
            token = messages.PING.pack(self.pings_sent & 0xFFFFFFFF)
            self.client.publish(self.registry.message("PING").apid, token)
            self.client.publish(self.registry.message("CLOCK").apid, self.clock.state.to_bytes())
            self.pings_sent += 1
            self._next_ping = now + self.health_period_s
        for child in self.children:
            self._supervise(child, now)
        if self.proxy.process and self.proxy.process.poll() is not None:
            why = f"bus proxy (pid {self.proxy.process.pid}) {_describe_exit(self.proxy.process.returncode)}"
            self.log(why)
            self._start(self.proxy)
            self.proxy.restarts += 1
            # With the bus down, an event would be lost: report once the bus carries this process again.
            # Every socket reconnects on its own; modules never notice more than a gap.
            self.client.await_connection(self.ident.pong_apid)
            self.events(ExecutiveEvent.MODULE_DIED, Severity.WARNING_HI, f"{why}; restarted")

    def _supervise(self, child: Child, now: float) -> None:
        if child.down_since is not None and child.failure is None and \
                now - child.down_since > self.restart_budget_s:
            self._failed(child, now)
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._start(child)
                child.restarts += 1
                self.events(ExecutiveEvent.MODULE_RESTARTED, Severity.WARNING_LO,
                            f"{child.name} restarted, pid {child.process.pid}, restart {child.restarts}, "
                            f"after {child.backoff_s:.1f} s backoff")
            return
        code = child.process.poll()
        if code is None:
            if child.healthy_since is not None and now - child.healthy_since > self.stable_s:
                child.backoff_s = 0.0
            if now - child.last_pong > self.unresponsive_s:
                self.events(ExecutiveEvent.MODULE_UNRESPONSIVE, Severity.WARNING_HI,
                            f"{child.name} (pid {child.process.pid}) gave no pong for "
                            f"{now - child.last_pong:.1f} s: killing it")
                child.process.kill()
                child.process.wait()
                code = child.process.returncode
            else:
                return
        child.backoff_s = min(self.backoff_max_s, child.backoff_s * 2 if child.backoff_s else self.backoff_s)
        child.restart_at = now + child.backoff_s
        child.deaths += 1
        child.healthy_since = None
        if child.down_since is None:
            child.down_since = now
        if child.stderr_thread is not None:
            child.stderr_thread.join(1.0)  # the pipe ends with the process: its last line is in
        child.last_death = _describe_exit(code) + (f" ({child.stderr_tail})" if child.stderr_tail and code > 0
                                                    else "")
        what = (f"{child.name} (pid {child.process.pid}) {_describe_exit(code)}; "
                f"restart in {child.backoff_s:.1f} s")
        self.log(what)
        self.events(ExecutiveEvent.MODULE_DIED, Severity.WARNING_HI, what)

    def _failed(self, child: Child, now: float) -> None:
        if child.deaths:
            why = (f"{child.name} {child.last_death} and was not healthy again within "
                   f"{self.restart_budget_s:g} s ({child.restarts} restarts)")
        else:
            why = f"{child.name} answered no ping within {self.restart_budget_s:g} s of its start"
        child.failure = why
        self.log(why)
        self.events(ExecutiveEvent.MODULE_FAILED, Severity.FATAL, why)
        if self.on_failure is not None:
            self.on_failure(why)

    @property
    def failures(self) -> list[str]:
        return [c.failure for c in self.children if c.failure]

    def _stop_child(self, child: Child) -> int | None:
        return None if child.process is None else stop_process(child.process, self.stop_timeout_s)

    def teardown(self) -> None:
        self.events(ExecutiveEvent.SHUTDOWN, Severity.ACTIVITY_HI,
                    f"stopping {', '.join(c.name for c in reversed(self.children))} in that order")
        for child in reversed(self.children):
            running = child.process is not None and child.process.poll() is None
            child.healthy_at_stop = child.healthy
            code = self._stop_child(child)
            child.stop_code = code if running else None
            self.log(f"stopped {child.name} ({_describe_exit(code) if code is not None else 'not running'})")
            self.events(ExecutiveEvent.MODULE_STOPPED, Severity.ACTIVITY_HI, f"{child.name} stopped")

    def run(self) -> None:
        try:
            super().run()
        finally:
            code = self._stop_child(self.proxy)
            self.log(f"stopped bus ({_describe_exit(code) if code is not None else 'not running'})")
            self.clock.close()

    # ---- commands and housekeeping --------------------------------------------------------
    def cmd_step_clock(self, seconds: float) -> str:
        try:
            self.clock.step(seconds)
        except ClockError as exc:
            raise CommandFailed(str(exc)) from None
        return f"emulated time now {self.clock.now_tai():.3f}"

    def cmd_set_clock_scale(self, scale: float) -> str:
        self.clock.set_scale(scale)
        return f"clock {self.clock.state.mode.name} at scale {scale}"

    def cmd_restart_module(self, module: str) -> str:
        child = self.child(module)
        self._stop_child(child)
        self._start(child)
        child.restarts += 1
        return f"{module} restarted, pid {child.process.pid}"

    def housekeeping(self) -> tuple:
        state = self.clock.state
        running = sum(1 for c in self.children if c.process and c.process.poll() is None)
        return (running, min(sum(c.restarts for c in self.children), 0xFFFF), self.pings_sent & 0xFFFFFFFF,
                int(state.mode), state.scale, state.now_tai())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onboard.executive",
                                     description="Start, supervise and stop the onboard modules.")
    parser.add_argument("--bus", help="bus URL (default: $LUNARELAY_BUS, else an ipc:// socket in the run "
                        "directory)")
    parser.add_argument("--run-dir", help="directory for the bus socket, clock file and store")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="emulated seconds per wall second: 1 real time, 0 stepped")
    parser.add_argument("--modules", default=",".join(DEFAULT_MODULES), help="modules to run, in start order")
    parser.add_argument("--health-period", type=float, default=0.5, help="seconds between pings")
    parser.add_argument("--unresponsive", type=float, default=10.0, help="seconds without pong before a kill")
    parser.add_argument("--stable", type=float, default=60.0,
                        help="seconds a module must answer pings before its restart backoff starts over")
    parser.add_argument("--restart-budget", type=float, default=20.0,
                        help="seconds a module may take to answer pings after its start or death before it "
                        "is reported failed")
    parser.add_argument("--curve-keys", help="CURVE key directory (onboard.bus.endpoints.CurveKeyDir) for "
                        "an authenticated, encrypted bus")
    args = parser.parse_args(argv)
    try:
        if args.bus:
            BusEndpoints.from_url(args.bus)
        executive = Executive([m for m in args.modules.split(",") if m], bus=args.bus, run_dir=args.run_dir,
                              time_scale=args.time_scale, health_period_s=args.health_period,
                              unresponsive_s=args.unresponsive, curve_keys=args.curve_keys,
                              restart_budget_s=args.restart_budget, stable_s=args.stable)
    except LunarelayError as exc:
        print(f"executive: error: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: executive.stop())
    print(f"executive: bus {executive.bus_url}, run directory {executive.run_dir}", flush=True)
    executive.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
