"""The skeleton every onboard module shares (the cFS application pattern).

    init      connect to the bus, open the command pipe and the data pipe, wait until the
              publisher is connected, report STARTED
    run loop  wait on the command pipe, the data pipe, the module's link sockets and a signal
              pipe; commands first, then a bounded batch of data, then a bounded batch of each
              link socket's messages, then ``on_idle``; SIGTERM/SIGINT end the loop
    stop      report STOPPING, ``teardown``, close every socket (an ipc:// link socket's file
              removed)

Command pipe (queue of 64): the module's commands (TC to its APID), PING from the
executive (answered with a pong: token and process id), SCHED_TICK (housekeeping when due),
and CLOCK when the process follows the emulation clock over the bus (``--clock bus``, for a
module on another host than the executive and its clock file).
Data pipe: whatever ``data_topics`` names, with its own bounded queue, so a flood of data
cannot delay a command.
Link sockets: a module's own sockets to the outside (the uplink's CLTU input, the proximity
link's PLTU input and acknowledgement output) come from ``link_socket``; one given a handler is
waited on with the pipes and its messages (at most ``LINK_BATCH`` per pass) go to the handler,
so no module polls a socket from ``on_idle``.  A link that is a file descriptor (the flight
computer's serial port) is named by ``wait_fds``: the loop waits on it too and runs ``on_idle``
as soon as it is readable.

Commands are checked against the command dictionary before anything runs.  Each ends in one
event: CMD_ACCEPTED (severity COMMAND), CMD_REJECTED (it does not match the dictionary, and
why) or CMD_FAILED (valid but could not be done, and why); the text starts with
``<NAME> seq <n>:`` so a sender can match the answer to its command.  Handlers are methods
``cmd_<name>`` taking the arguments by name.

Every command packet is executed at most once and answered at least once, across restarts:
its outcome is committed to the module's command log (``onboard.commands.log``, SQLite in
``--state-dir``, by default the directory of an ipc:// bus; in memory without one) before
the answer goes out, and a packet that comes again is answered from there.  Commands in
``DURABLE_COMMANDS`` keep their effect in the log's own database (``open_command_log``) and
commit it in the same transaction as their entry.

Housekeeping (on a tick with housekeeping due), user data big-endian:

    commands accepted u16, rejected u16, errors u16, events sent u16, events suppressed u16,
    command pipe stats, data pipe stats (``PipeStats``: received, malformed, lost, dropped
    u32 each, high-water mark, depth u16 each), then the module's own ``HK_FIELDS``.

Packets lost (sequence gaps), dropped (queue full) or malformed also raise an event, at most
``LOSS_EVENTS_MAX`` of each ID until the counters are reset; the counters always count.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import signal
import struct
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import zmq

from onboard.bus import messages
from onboard.bus.client import BusClient, PipeStats
from onboard.bus.endpoints import BusEndpoints, CurveClientKeys, bus_directory, remove_ipc_file
from onboard.bus.packet import BusPacket, PacketType
from onboard.bus.registry import Registry, default_registry
from onboard.clock import Clock, ClockError, ClockState, open_clock
from onboard.commands import CommandDictionary, CommandRejected, default_dictionary
from onboard.commands.log import Answer, CommandFailed, CommandLog
from onboard.errors import LunarelayError
from onboard.events import Event, EventFilter, EventId, EventSender, Severity

COMMON_HK = struct.Struct(">HHHHH")
COMMON_HK_FIELDS = ("cmd_accepted", "cmd_rejected", "errors", "events_sent", "events_suppressed")
LOSS_EVENTS_MAX = 8
LINK_BATCH = 256              # messages taken from one link socket per pass of the run loop
_RESPONSE = re.compile(r"^([A-Z0-9_]+) seq (\d+): ")


def response_to(event: Event) -> tuple[str, int] | None:
    """(command name, sequence count) a CMD_ACCEPTED/REJECTED/FAILED event answers, else None."""
    if event.event_id not in (EventId.CMD_ACCEPTED, EventId.CMD_REJECTED, EventId.CMD_FAILED):
        return None
    m = _RESPONSE.match(event.text)
    return (m.group(1), int(m.group(2))) if m else None


def _u16(n: int) -> int:
    return min(n, 0xFFFF)


class Module:
    NAME: ClassVar[str]
    HK_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()     # (name, struct code) after the common part
    CMD_DEPTH: ClassVar[int] = 64
    DURABLE_COMMANDS: ClassVar[frozenset[str]] = frozenset()   # effect lives in the command log's database

    def __init__(self, bus: BusEndpoints | str | None = None, clock: Clock | None = None,
                 registry: Registry | None = None, dictionary: CommandDictionary | None = None,
                 curve: CurveClientKeys | None = None, data_depth: int = 1000,
                 context: zmq.Context | None = None, follow_bus_clock: bool = False,
                 state_dir: str | None = None):
        self.registry = registry or default_registry()
        self.dictionary = dictionary or default_dictionary()
        self.ident = self.registry.module(self.NAME)
        self.clock = clock or Clock()
        self.client = BusClient(bus, time_source=self.clock.now_tai, curve=curve, context=context)
        self._ping_apid = self.registry.message("PING").apid
        self._tick_apid = self.registry.message("SCHED_TICK").apid
        control = [self.ident.cmd_topic, self.registry.message("PING").topic,
                   self.registry.message("SCHED_TICK").topic]
        # a process on another host follows the executive's CLOCK messages instead of the clock file
        self._clock_apid = self.registry.message("CLOCK").apid if follow_bus_clock else None
        if follow_bus_clock:
            control.append(self.registry.message("CLOCK").topic)
        self.cmd_pipe = self.client.pipe("command", control, depth=self.CMD_DEPTH)
        topics = self.data_topics()
        self.data_pipe = self.client.pipe("data", topics, depth=data_depth) if topics else None
        self.events = EventSender(self.ident.apid, self.ident.event_apid, self.client.publish, EventFilter())
        for eid in (EventId.PACKETS_LOST, EventId.QUEUE_OVERFLOW, EventId.MALFORMED):
            self.events.filter.set_limit(eid, LOSS_EVENTS_MAX)
        self.cmd_accepted = self.cmd_rejected = self.errors = 0
        self.state_dir = state_dir if state_dir is not None else bus_directory(self.client.endpoints.url)
        self._command_log: CommandLog | None = None
        self._reported = {"lost": 0, "dropped": 0, "malformed": 0}
        self._links: list[tuple[zmq.Socket, str | None]] = []
        self._handlers: list[tuple[zmq.Socket, Callable[[bytes], None]]] = []
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    # ---- hooks for subclasses -------------------------------------------------------------
    def data_topics(self) -> list[bytes]:
        return []

    def setup(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def on_packet(self, pkt: BusPacket) -> None:
        pass

    def on_packets_done(self) -> None:
        """After a batch of data packets (e.g. commit a transaction)."""

    def on_tick(self, tick: messages.Tick) -> None:
        pass

    def on_idle(self) -> None:
        pass

    def poll_timeout_s(self) -> float:
        return 0.5

    def wait_fds(self) -> tuple[int, ...]:
        """File descriptors (a serial port) the run loop waits on besides its sockets: when one
        is readable ``on_idle`` runs at once, instead of at the end of ``poll_timeout_s``."""
        return ()

    def housekeeping(self) -> tuple:
        return ()

    # ---- link sockets ---------------------------------------------------------------------
    def link_socket(self, kind: int, url: str, handler: Callable[[bytes], None] | None = None,
                    connect: bool = False) -> zmq.Socket:
        """A socket of this module's own link (ZeroMQ ``kind``) bound at ``url`` (or connected to
        it: a peer such as a radio's gr-zeromq sink binds); closed at the end, and an ipc://
        socket's file removed.  With ``handler`` it is registered with the run loop
        (``register_socket``)."""
        sock = self.client.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(url) if connect else sock.bind(url)
        except zmq.ZMQError:
            sock.close()
            raise
        self._links.append((sock, None if connect else url))     # the binder removes an ipc file
        if handler is not None:
            self.register_socket(sock, handler)
        return sock

    def register_socket(self, sock: zmq.Socket, handler: Callable[[bytes], None]) -> None:
        """Wait on ``sock`` in the run loop and give ``handler`` each message it receives."""
        self._handlers.append((sock, handler))

    def _serve_links(self) -> None:
        for sock, handler in self._handlers:
            for _ in range(LINK_BATCH):
                try:
                    message = sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                handler(message)

    def _close_links(self) -> None:
        for sock, url in self._links:
            sock.close()
            if url is not None:
                remove_ipc_file(url)
        self._links.clear()

    # ---- common commands ------------------------------------------------------------------
    def cmd_noop(self) -> str:
        return f"{self.NAME} pid {os.getpid()}"

    def cmd_reset_counters(self) -> None:
        self.cmd_accepted = self.cmd_rejected = self.errors = 0
        self.events.sent = self.events.filter.suppressed = 0
        for eid in (EventId.PACKETS_LOST, EventId.QUEUE_OVERFLOW, EventId.MALFORMED):
            self.events.filter.set_limit(eid, LOSS_EVENTS_MAX)
        for pipe in self.client.pipes:
            pipe.stats = PipeStats(depth=pipe.pending())
        self._reported = dict.fromkeys(self._reported, 0)

    def cmd_set_event_filter(self, event_id: int, max_count: int) -> str:
        self.events.filter.set_limit(event_id, max_count)
        return f"event {event_id} limited to {max_count}"

    def cmd_set_min_severity(self, severity: int) -> str:
        self.events.filter.min_severity = Severity(severity)
        return f"events below {Severity(severity).name} dropped"

    # ---- machinery ------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop

    def stop(self) -> None:
        """Ask the run loop to end (safe from a signal handler or another thread)."""
        self._stop = True
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass

    def send_housekeeping(self) -> None:
        common = COMMON_HK.pack(_u16(self.cmd_accepted), _u16(self.cmd_rejected), _u16(self.errors),
                                _u16(self.events.sent), _u16(self.events.filter.suppressed))
        data_stats = self.data_pipe.snapshot() if self.data_pipe else PipeStats()
        own = struct.pack(">" + "".join(code for _, code in self.HK_FIELDS), *self.housekeeping())
        pipes = self.cmd_pipe.snapshot().to_hk() + data_stats.to_hk()
        self.client.publish(self.ident.apid, common + pipes + own)

    @property
    def command_log(self) -> CommandLog:
        if self._command_log is None:              # opened at the first command, after ``setup``
            self._command_log = self.open_command_log()
        return self._command_log

    def open_command_log(self) -> CommandLog:
        """The record of executed commands; a module whose commands change its own database
        overrides this to keep the record in that database."""
        path = os.path.join(self.state_dir, f"{self.NAME}-commands.sqlite") if self.state_dir else None
        return CommandLog.open(path, self.NAME)

    def before_durable_command(self) -> None:
        """Before the transaction of a command in ``DURABLE_COMMANDS`` opens."""

    def _on_command(self, pkt: BusPacket) -> None:
        previous = self.command_log.previous(pkt.seq_count, pkt.time_tai)
        if previous is None:
            previous = self._execute(pkt)
        self.events(*previous)

    def _execute(self, pkt: BusPacket) -> Answer:
        log, seq = self.command_log, pkt.seq_count
        try:
            cmd, args = self.dictionary.decode(self.NAME, pkt.data)
        except CommandRejected as exc:
            self.cmd_rejected += 1
            name = "UNKNOWN" if not pkt.data else next(
                (c.name for c in self.dictionary.commands(self.NAME).values() if c.opcode == pkt.data[0]),
                f"OPCODE_{pkt.data[0]}")
            answer = (EventId.CMD_REJECTED, Severity.WARNING_LO, f"{name} seq {seq}: rejected: {exc}")
            log.record(seq, pkt.time_tai, name, answer)
            return answer
        handler = getattr(self, f"cmd_{cmd.name.lower()}", None)
        if handler is None:
            self.cmd_rejected += 1
            self.errors += 1
            answer = (EventId.CMD_REJECTED, Severity.WARNING_HI, f"{cmd.name} seq {seq}: rejected: "
                      f"{self.NAME} has no handler for it (dictionary and module disagree)")
            log.record(seq, pkt.time_tai, cmd.name, answer)
            return answer

        def run() -> tuple[Answer, bool]:
            try:
                text = handler(**args)
            except CommandFailed as exc:
                self.cmd_rejected += 1
                failed = f"{cmd.name} seq {seq}: failed: {exc}"
                return (EventId.CMD_FAILED, Severity.WARNING_HI, failed), False
            except Exception as exc:  # noqa: BLE001 - a bug in one handler must not stop the module
                self.cmd_rejected += 1
                self.errors += 1
                return (EventId.CMD_FAILED, Severity.WARNING_HI,
                        f"{cmd.name} seq {seq}: failed: internal error {type(exc).__name__}: {exc}"), False
            self.cmd_accepted += 1
            return (EventId.CMD_ACCEPTED, Severity.COMMAND,
                    f"{cmd.name} seq {seq}: accepted" + (f": {text}" if text else "")), True

        durable = cmd.name in self.DURABLE_COMMANDS
        if durable:
            self.before_durable_command()
        return log.execute(seq, pkt.time_tai, cmd.name, args, run, durable)

    def _on_control(self, pkt: BusPacket) -> None:
        if pkt.packet_type is PacketType.TC:
            self._on_command(pkt)
        elif pkt.apid == self._ping_apid and len(pkt.data) >= messages.PING.size:
            (token,) = messages.PING.unpack_from(pkt.data)
            self.client.publish(self.ident.pong_apid, messages.PONG.pack(token, os.getpid()))
        elif pkt.apid == self._clock_apid:
            try:
                self.clock.set_state(ClockState.from_bytes(pkt.data))
            except ClockError:
                self.errors += 1
        elif pkt.apid == self._tick_apid and len(pkt.data) >= messages.TICK.size:
            tick = messages.Tick.from_bytes(pkt.data)
            self.on_tick(tick)
            if tick.hk_due:
                self.send_housekeeping()

    def _report_losses(self) -> None:
        for field, eid, what in (("lost", EventId.PACKETS_LOST, "lost before arrival (sequence gaps)"),
                                 ("dropped", EventId.QUEUE_OVERFLOW, "dropped, queue full"),
                                 ("malformed", EventId.MALFORMED, "malformed, discarded")):
            total = sum(getattr(p.stats, field) for p in self.client.pipes)
            if total > self._reported[field]:
                self.events(eid, Severity.WARNING_LO, f"{total - self._reported[field]} packets {what}; "
                            f"{total} in all")
                self._reported[field] = total

    def run(self) -> None:
        self.client.await_connection(self.ident.pong_apid)   # an empty pong is a probe
        self.setup()
        self.events(EventId.STARTED, Severity.ACTIVITY_HI, f"{self.NAME} started, pid {os.getpid()}")
        poller = zmq.Poller()
        poller.register(self.cmd_pipe.socket, zmq.POLLIN)
        if self.data_pipe:
            poller.register(self.data_pipe.socket, zmq.POLLIN)
        for sock, _ in self._handlers:
            poller.register(sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        waited: set[int] = set()
        try:
            while not self._stop:
                fds = set(self.wait_fds())
                for fd in waited - fds:
                    poller.unregister(fd)
                for fd in fds - waited:
                    poller.register(fd, zmq.POLLIN)
                waited = fds
                poller.poll(max(0, int(self.poll_timeout_s() * 1000)))
                while not self._stop and (pkt := self.cmd_pipe.get()) is not None:
                    self._on_control(pkt)
                if self.data_pipe:
                    self.data_pipe.drain()
                    n = 0
                    while n < 1000 and (pkt := self.data_pipe.get()) is not None:
                        self.on_packet(pkt)
                        n += 1
                    if n:
                        self.on_packets_done()
                self._serve_links()
                self.on_idle()
                self._report_losses()
        finally:
            self.events(EventId.STOPPING, Severity.ACTIVITY_HI, f"{self.NAME} stopping")
            try:
                self.teardown()
            finally:
                self._close_links()
                if self._command_log is not None:
                    self._command_log.close()
                self.client.close()
                os.close(self._wake_r)
                os.close(self._wake_w)

    # ---- process entry --------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        pass

    @classmethod
    def options(cls, args: argparse.Namespace) -> dict[str, Any]:
        """Constructor keyword arguments from the module's own command-line options."""
        return {}

    @classmethod
    def main(cls, argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(prog=f"python -m {cls.__module__}",
                                         description=(cls.__doc__ or "").split("\n")[0])
        parser.add_argument("--bus", help="bus URL (default: $LUNARELAY_BUS or an ipc:// socket in /tmp)")
        parser.add_argument("--clock", help="shared emulation clock file, or 'bus' to follow the CLOCK "
                            "messages (default: $LUNARELAY_CLOCK, else wall time)")
        parser.add_argument("--curve-secret", help="this module's secret CURVE certificate")
        parser.add_argument("--curve-server", help="the proxy's public CURVE certificate")
        parser.add_argument("--state-dir", help="directory of the module's durable state (its command log); "
                            "default: the directory of an ipc:// bus socket")
        cls.add_arguments(parser)
        args = parser.parse_args(argv)
        _die_with_parent()
        curve = None
        if args.curve_secret:
            curve = CurveClientKeys.from_files(args.curve_secret, args.curve_server)
        follow = args.clock == "bus"
        clock = Clock() if follow else open_clock(args.clock)
        module = cls(bus=args.bus, clock=clock, curve=curve, follow_bus_clock=follow,
                     state_dir=args.state_dir, **cls.options(args))
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: module.stop())
        try:
            module.run()
        except LunarelayError as exc:
            print(f"{cls.NAME}: error: {exc}", file=sys.stderr)
            return 1
        return 0


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process if the executive that started it dies (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux") or os.getppid() == 1:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass
