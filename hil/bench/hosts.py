"""Benches that span hosts: each host's share of the processes, and how the main host watches them.

A bench file assigns each process to a ``[[host]]``.  Every host runs its own share with
``lunarelay hil BENCH --host NAME`` (started however the lab starts things); the main host's run
is the scenario run, and it gives the closing account for the whole bench.  What meets across
hosts, all on the host addresses of the bench file, over ZeroMQ ``tcp://`` authenticated and
encrypted with CURVE (the key directory ``onboard.bus.endpoints.CurveKeyDir``, handed to every
host as ``--curve-keys DIR``; a process without its key is refused):

    the bus         tcp://MAIN:7100 (and 7101): the executive's proxy on the main host; the
                    modules and every host's share connect to it
    the board       socket://BOARD:7120: the emulated flight-computer board, served over TCP by
                    the share of the host the bench file puts it on, behind the main host's tap
    the journal     tcp://BOARD:7110: the board's host answers a REQ for the flight computer's
                    execution journal (JSON), which the closing account checks exactly once on

The board's host is not the main host in such a bench, so the account cannot read the journal
from a file: it asks the board's host for it over this link at the end of the run.  The relay's
store is a module under the main host's executive, so its record stays a local file there.

A host's share supervises its processes (``hil.bench.runner.Supervised``: a process that dies is
started again) and publishes on the bus, as the module ``bench_host``, its housekeeping every
``HK_PERIOD_S`` (``HOST_HK``: board starts, board running, then the host's name) and an event
whenever one of its processes ends or starts again.  The main host's ``HostWatch`` reads both.

Only emulated boards move to another host: a real board's serial port and a real radio's
flowgraph stay on the main host (a bench that puts them elsewhere is refused in one line).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import threading
import time

import zmq

from hil.bench.file import Bench
from hil.bench.runner import BenchRun, Supervised
from onboard.bus.client import BusClient
from onboard.bus.endpoints import CurveKeyDir, CurveServerKeys
from onboard.bus.registry import EVENTS_TOPIC, default_registry
from onboard.commands.log import Executed
from onboard.errors import LunarelayError
from onboard.events import Event, Severity
from onboard.executive import module_command

BUS_PORT = 7100          # and BUS_PORT + 1: the proxy's two sides (onboard.bus.endpoints)
JOURNAL_PORT = 7110
BOARD_PORT = 7120
HK_PERIOD_S = 0.5
HOST_HK = struct.Struct(">HB")           # board starts u16, board running u8; then the host's name


class HostEvent:
    PROCESS_STARTED = 200
    PROCESS_ENDED = 201


class HostsError(LunarelayError):
    pass


def bus_url(bench: Bench) -> str:
    return f"tcp://{bench.host(bench.main_host).address}:{BUS_PORT}"


def board_url(bench: Bench) -> str:
    return f"socket://{bench.host(bench.flight_computer.host).address}:{BOARD_PORT}"


def journal_url(bench: Bench) -> str:
    return f"tcp://{bench.host(bench.flight_computer.host).address}:{JOURNAL_PORT}"


def check_movable(bench: Bench) -> None:
    """Refuse, in one line, a bench that puts on another host what only the main host runs."""
    fc = bench.flight_computer
    elsewhere = fc.host != bench.main_host
    fixed = [f"the serial flight computer {fc.url}"] if not fc.emulated and elsewhere else []
    fixed += [f"the radio {s.name}" for s in bench.sdrs if not s.emulated and s.host != bench.main_host]
    if fixed:
        raise HostsError(f"{bench.source}: {', '.join(fixed)} must be on the main host {bench.main_host}: "
                         "only emulated boards run on another host's share")


def open_keys(bench: Bench, curve_keys: str | None) -> CurveKeyDir:
    if not curve_keys:
        raise HostsError(f"{bench.source}: the bench spans hosts, so its bus is authenticated: give the "
                         "CURVE key directory of the bench with --curve-keys DIR")
    return CurveKeyDir.open(curve_keys)


def encode_host_hk(host: str, board_starts: int, board_running: bool) -> bytes:
    return HOST_HK.pack(min(board_starts, 0xFFFF), int(board_running)) + host.encode()


def decode_host_hk(data: bytes) -> dict:
    if len(data) < HOST_HK.size:
        raise ValueError(f"bench host housekeeping of {len(data)} octets, expected at least {HOST_HK.size}")
    starts, running = HOST_HK.unpack_from(data)
    return {"host": data[HOST_HK.size:].decode(errors="replace"), "board_starts": starts,
            "board_running": bool(running)}


# ---- a host's share ------------------------------------------------------------------------------
class HostShare:
    """What ``lunarelay hil BENCH --host NAME`` runs on a host other than the main host."""

    def __init__(self, bench: Bench, host: str, keys: CurveKeyDir, state_dir: str, log=print):
        if host not in {h.name for h in bench.hosts}:
            raise HostsError(f"{bench.source}: {host!r} is not a [[host]] of this bench "
                             f"({', '.join(h.name for h in bench.hosts)})")
        check_movable(bench)
        self.bench, self.host, self.keys, self.state_dir, self.log = bench, host, keys, state_dir, log
        self.address = bench.host(host).address
        self.registry = default_registry()
        self.me = self.registry.module("bench_host")
        self.board = None
        fc = bench.flight_computer
        if fc.emulated and fc.host == host:
            board = module_command("hil.devices.board", "--state-dir", state_dir, "--framing", fc.framing,
                                   "--hk-period", repr(fc.hk_period_s), "--tcp", str(BOARD_PORT),
                                   "--host", self.address, *([] if fc.crc else ["--no-crc"]))
            self.board = Supervised("board", log=self._process_ended, **board)
        self.client: BusClient | None = None
        self._events: list[tuple[int, Severity, str]] = []

    def _process_ended(self, line: str) -> None:
        self.log(line)
        self._events.append((HostEvent.PROCESS_ENDED, Severity.WARNING_HI, line))

    def processes(self) -> list[str]:
        return ["board"] if self.board else []

    def serve(self, stop: threading.Event) -> None:
        os.makedirs(self.state_dir, exist_ok=True)
        context = zmq.Context.instance()
        self.client = BusClient(bus_url(self.bench), curve=self.keys.client(), context=context)
        journal = None
        if self.board is not None:
            self.board.launch()
            self.board.start()
            self._events.append((HostEvent.PROCESS_STARTED, Severity.ACTIVITY_HI,
                                 f"board serving {self.board.first_line}"))
            journal = context.socket(zmq.REP)
            CurveServerKeys.from_files(self.keys.server_secret, self.keys.authorized).apply(journal)
            journal.linger = 0
            journal.bind(f"tcp://{self.address}:{JOURNAL_PORT}")
        self.log(f"{', '.join(self.processes()) or 'no processes'}; bus {bus_url(self.bench)}")
        print(f"host {self.host} ready", flush=True)
        starts = self.board.starts if self.board else 0
        next_hk = 0.0
        try:
            while not stop.is_set():
                if journal is not None and journal.poll(50):
                    journal.recv()
                    journal.send(json.dumps(self.journal()).encode())
                elif journal is None:
                    stop.wait(0.05)
                if self.board is not None and self.board.starts != starts:
                    starts = self.board.starts
                    self._events.append((HostEvent.PROCESS_STARTED, Severity.WARNING_LO,
                                         f"board started again (start {starts})"))
                while self._events:
                    event_id, severity, text = self._events.pop(0)
                    event = Event(self.me.apid, event_id, severity, f"{self.host}: {text}")
                    self.client.publish(self.me.event_apid, event.to_bytes())
                if time.monotonic() >= next_hk:
                    running = bool(self.board and self.board.process and self.board.process.poll() is None)
                    self.client.publish(self.me.apid, encode_host_hk(self.host, starts, running))
                    next_hk = time.monotonic() + HK_PERIOD_S
        finally:
            if self.board is not None:
                self.board.stop()
            if journal is not None:
                journal.close()
            self.client.close()

    def journal(self) -> list[dict]:
        from hil.devices.flight_computer import STATE_FILE, executed_commands

        path = os.path.join(self.state_dir, STATE_FILE)
        if not os.path.exists(path):
            return []
        return [{"seq": e.seq, "time_tai": e.time_tai, "name": e.name, "args": e.args, "answer": e.answer}
                for e in executed_commands(path)]


# ---- the main host -------------------------------------------------------------------------------
class HostWatch(threading.Thread):
    """On the main host: every host share's housekeeping and events, read off the bus."""

    def __init__(self, bench: Bench, keys: CurveKeyDir, log=print):
        super().__init__(name="host-watch", daemon=True)
        self.bench, self.keys, self.log = bench, keys, log
        self.me = default_registry().module("bench_host")
        self.seen: dict[str, dict] = {}          # host -> its last housekeeping, with "at" (monotonic)
        self.events: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        client = BusClient(bus_url(self.bench), curve=self.keys.client())
        pipe = client.pipe("hosts", [self.me.hk_topic, EVENTS_TOPIC])
        try:
            while not self.stopping.is_set():
                pkt = pipe.receive(0.1)
                if pkt is None:
                    continue
                if pkt.apid == self.me.apid:
                    try:
                        hk = decode_host_hk(pkt.data)
                    except ValueError:
                        continue
                    if hk["host"] not in self.seen:
                        self.log(f"host {hk['host']} is on the bus")
                    self.seen[hk["host"]] = hk | {"at": time.monotonic()}
                elif pkt.apid == self.me.event_apid:
                    try:
                        text = Event.from_bytes(pkt.data).text
                    except ValueError:
                        continue
                    self.events.append(text)
                    self.log(f"host event: {text}")
        finally:
            client.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(2.0)

    def account(self) -> dict[str, dict]:
        """Per host other than the main one: when it was last heard, board starts, its events."""
        now = time.monotonic()
        out = {}
        for h in self.bench.hosts:
            if h.name == self.bench.main_host:
                continue
            hk = self.seen.get(h.name)
            out[h.name] = ({"heard": False} if hk is None else
                           {"heard": True, "last_heard_s_ago": round(now - hk["at"], 3),
                            "board_starts": hk["board_starts"], "board_running": hk["board_running"]})
            out[h.name]["events"] = [e for e in self.events if e.startswith(f"{h.name}: ")]
        return out


class SpanningBenchRun(BenchRun):
    """The main host's part of a bench run (``lunarelay hil BENCH [--host MAIN]``): the bench's
    run of ``hil.bench.runner``, and, when the bench spans hosts, the executive's bus on
    ``tcp://`` with CURVE, the board reached at its host, the hosts watched over the bus, and the
    board's journal asked of its host for the closing account."""

    def __init__(self, bench: Bench, out_dir: str, log=print, curve_keys: str | None = None):
        super().__init__(bench, out_dir, log=log)
        self.curve_keys = curve_keys
        self.keys: CurveKeyDir | None = None
        self.watch: HostWatch | None = None

    def start(self, run_dir: str, start_tai: float, scenario, module_args: dict[str, list[str]]) -> None:
        super().start(run_dir, start_tai, scenario, module_args)
        if self.bus_url is not None:
            # on a tcp:// bus the modules find no run directory beside it: name their local links
            # and state there, where the ground and the surface users meet them
            module_args.setdefault("proximity", []).extend(
                [f"--pltu-url=ipc://{run_dir}/proximity", f"--ack-url=ipc://{run_dir}/proximity-ack"])
            sdls_state = os.path.join(run_dir, "uplink-sdls.json")
            module_args.setdefault("uplink", []).append(f"--sdls-state={sdls_state}")

    def _span_hosts(self, elsewhere: list[str]) -> None:
        if not self.curve_keys:
            raise HostsError(f"{self.bench.source}: processes are assigned to host(s) "
                             f"{', '.join(elsewhere)}; "
                             "a bench that spans hosts needs its CURVE key directory (--curve-keys DIR)")
        check_movable(self.bench)
        self.keys = open_keys(self.bench, self.curve_keys)
        self.bus_url = bus_url(self.bench)
        self.watch = HostWatch(self.bench, self.keys, self.log)
        self.watch.start()
        self.log(f"bus {self.bus_url} (CURVE); hosts {', '.join(elsewhere)} run their shares")

    def _board_elsewhere(self) -> str:
        return board_url(self.bench)

    def flight_computer_journal(self) -> list | None:
        fc = self.bench.flight_computer
        if self.keys is None or fc.host == self.host:
            return None
        try:
            return fetch_journal(self.bench, self.keys)
        except HostsError as exc:
            self.log(str(exc))
            return []          # the exactly-once check then fails, naming the commands not journaled

    def hosts_report(self) -> dict:
        return self.watch.account() if self.watch else {}

    def stop(self) -> None:
        super().stop()
        if self.watch is not None:
            self.watch.stop()


def fetch_journal(bench: Bench, keys: CurveKeyDir, timeout_s: float = 10.0) -> list[Executed]:
    """The flight computer's execution journal, asked of the board's host over its journal link
    (a REQ that gets no answer within a second is dropped and sent again on a new socket)."""
    context = zmq.Context.instance()
    client = keys.client()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock = context.socket(zmq.REQ)
        client.apply(sock)
        sock.linger = 0
        sock.connect(journal_url(bench))
        try:
            sock.send(b"journal")
            if sock.poll(1000):
                rows = json.loads(sock.recv())
                return [Executed(r["seq"], r["time_tai"], r["name"], r["args"], r["answer"]) for r in rows]
        finally:
            sock.close()
    raise HostsError(f"the flight computer's host {bench.flight_computer.host} did not send its journal "
                     f"within {timeout_s:g} s ({journal_url(bench)})")


def run_share(bench: Bench, host: str, curve_keys: str | None, state_dir: str, quiet: bool) -> int:
    """``lunarelay hil BENCH --host NAME`` for a host other than the main one: until SIGTERM/SIGINT."""
    import signal

    keys = open_keys(bench, curve_keys)
    log = (lambda line: None) if quiet else (lambda line: print(f"host {host}: {line}", flush=True))
    share = HostShare(bench, host, keys, state_dir, log)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    share.serve(stop)
    sys.stdout.flush()
    return 0
