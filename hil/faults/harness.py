"""A flight-computer link to exercise across a fault proxy: the emulated board on a thread behind
a serial port of its own, and a host that commands it through ``SerialLink`` as the ground does.

``SerialBoard`` runs ``hil.devices.flight_computer.EmulatedFlightComputer`` behind a
pseudo-terminal (the board holds the master; ``url`` is the slave's path) or a TCP listener
(``url`` is ``socket://``), deframing what comes in and framing its answers through the same C
code as the link.  Its execution journal is durable (``journal()``), the witness of exactly once.

``Commander`` sends ``SET_COUNTER`` commands one at a time through a ``SerialLink`` and waits
for each answer, sending the same packet again (same sequence count and time, so the board
answers it from its log) when none comes within ``resend_s``: the command protocol of the
uplink.  Each command's record says when it was sent, answered and how many times it went.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import socket
import termios
import threading
import time
import tty

from hil.devices.flight_computer import EmulatedFlightComputer, executed_commands
from onboard.bus.packet import PacketError, PacketType, pack, unpack
from onboard.bus.registry import default_registry
from onboard.commands import REPEATED, default_dictionary
from onboard.core.serial import Deframer, Framing, frame
from onboard.events import Event, EventId
from onboard.links.serial import SerialLink

READ_CHUNK = 1 << 16
COMMAND_TIME_TAI = 1.9e9          # the commands' time stamps: this plus the sequence count


class SerialBoard:
    """The emulated flight computer on a thread, on a pty (``transport="pty"``) or TCP port."""

    def __init__(self, state_path: str | os.PathLike, transport: str = "pty",
                 framing: Framing = Framing.ASM, crc: bool = True):
        if transport not in ("pty", "tcp"):
            raise ValueError(f"board transport {transport!r} is not pty or tcp")
        self.state_path, self.transport, self.framing, self.crc = state_path, transport, framing, crc
        self.deframer = Deframer(framing, crc)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.answers_sent = 0
        self.error: str | None = None
        if transport == "pty":
            self.master, self._slave = os.openpty()
            tty.setraw(self._slave, termios.TCSANOW)
            os.set_blocking(self.master, False)
            self.url = os.ttyname(self._slave)
        else:
            self.listener = socket.socket()
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(1)
            self.conn: socket.socket | None = None
            self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self) -> SerialBoard:
        self._thread = threading.Thread(target=self._run, name="serial-board", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self.transport == "pty":
            for fd in (self.master, self._slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
        else:
            for s in (self.conn, self.listener):
                if s is not None:
                    s.close()

    def journal(self) -> list:
        """Every execution, in order, from the board's durable journal."""
        return executed_commands(self.state_path)

    def _read(self) -> bytes:
        if self.transport == "pty":
            try:
                return os.read(self.master, READ_CHUNK)
            except (BlockingIOError, OSError):
                return b""
        if self.conn is None:
            self.conn, _ = self.listener.accept()
            return b""
        data = self.conn.recv(READ_CHUNK)
        if not data:
            self.conn.close()
            self.conn = None
        return data

    def _write(self, data: bytes) -> None:
        if self.transport == "pty":
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self.master, data)
        elif self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.sendall(data)

    def _run(self) -> None:
        fc = EmulatedFlightComputer(state_path=self.state_path)
        try:
            while not self._stop.is_set():
                fd = self.master if self.transport == "pty" else (self.conn or self.listener).fileno()
                if not select.select([fd], [], [], 0.02)[0]:
                    continue
                for packet in self.deframer.push(self._read()):
                    fc.send(packet)
                for answer in fc.receive():
                    self._write(frame(answer, self.framing, self.crc))
                    self.answers_sent += 1
        except Exception as exc:        # noqa: BLE001 - kept for the owner, who reads .error
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            fc.close()


@dataclasses.dataclass
class CommandRecord:
    seq: int
    value: int
    sent_s: float
    answered_s: float | None = None
    attempts: int = 0
    repeated: bool = False        # answered from the board's log: an earlier copy had executed


class Commander:
    """``SET_COUNTER`` commands through ``link``, one at a time, each re-sent until answered."""

    def __init__(self, link: SerialLink, resend_s: float = 0.25, clock=time.monotonic):
        self.link, self.resend_s, self.clock = link, resend_s, clock
        registry = default_registry()
        self.apid = registry.module(EmulatedFlightComputer.NAME).apid
        self.dictionary = default_dictionary()
        self.records: list[CommandRecord] = []
        self.stray_answers = 0         # answers to a command already answered (duplicates, repeats)

    def command(self, value: int, timeout_s: float = 10.0) -> CommandRecord:
        """Send ``SET_COUNTER value`` and wait for its answer (up to ``timeout_s``)."""
        seq = len(self.records) & 0x3FFF
        data = self.dictionary.encode(EmulatedFlightComputer.NAME, "SET_COUNTER", value=value)
        packet = pack(self.apid, data, seq, COMMAND_TIME_TAI + len(self.records), PacketType.TC)
        record = CommandRecord(seq, value, self.clock())
        self.records.append(record)
        deadline = record.sent_s + timeout_s
        next_send = record.sent_s
        prefix = f"SET_COUNTER seq {seq}: "
        while self.clock() < deadline:
            now = self.clock()
            if now >= next_send:
                self.link.send(packet)
                record.attempts += 1
                next_send = now + self.resend_s
            for answer in self.link.receive():
                text = _answer_text(answer)
                if text is not None and text.startswith(prefix) and record.answered_s is None:
                    record.answered_s = self.clock()
                    record.repeated = text.endswith(REPEATED)
                else:
                    self.stray_answers += 1
            if record.answered_s is not None:
                return record
            time.sleep(0.002)
        return record


def _answer_text(packet: bytes) -> str | None:
    try:
        event = Event.from_bytes(unpack(packet).data)
    except (PacketError, ValueError):
        return None
    return event.text if event.event_id in (EventId.CMD_ACCEPTED, EventId.CMD_REJECTED) else None


@dataclasses.dataclass
class LinkRun:
    """What one exercise of the link across the proxy showed."""

    records: list[CommandRecord]
    journal: list
    link: dict[str, int]            # the host's SerialLink counters (its deframer's included)
    board: dict[str, int]           # the board's deframer counters
    proxy: dict[str, int]
    link_events: list[tuple[str, str]]
    started_s: float                # the proxy's start on the commander's clock
    stray_answers: int
    host_down: list[tuple[float, float]]    # (start, end) of each disconnect, proxy seconds

    @property
    def executed_values(self) -> list[int]:
        return [e.args["value"] for e in self.journal]

    @property
    def answered(self) -> list[CommandRecord]:
        return [r for r in self.records if r.answered_s is not None]

    def problems(self) -> list[str]:
        """What breaks the link's promises, one line each (empty: none): a command never
        answered, an answered (acknowledged) command missing from the board's journal, a command
        executed twice or out of the order sent."""
        out = []
        lost = [r.value for r in self.records if r.answered_s is None]
        if lost:
            out.append(f"{len(lost)} commands never answered (values {lost[:5]})")
        executed = self.executed_values
        missing = sorted({r.value for r in self.answered} - set(executed))
        if missing:
            out.append(f"{len(missing)} acknowledged commands not in the journal (values {missing[:5]})")
        if len(executed) != len(set(executed)):
            out.append(f"{len(executed) - len(set(executed))} commands executed more than once")
        if executed != sorted(executed):
            out.append("commands executed out of the order sent")
        return out

    def recovery_s(self, end_s: float) -> float | None:
        """From ``end_s`` (proxy seconds: a fault's end, a port back) to the first answer that
        came after it; None when none came."""
        at = self.started_s + end_s
        after = [r.answered_s for r in self.answered if r.answered_s >= at]
        return min(after) - at if after else None

    def answered_after(self, end_s: float) -> int:
        """Commands sent after ``end_s`` (proxy seconds) and answered: the link works again."""
        at = self.started_s + end_s
        return sum(1 for r in self.answered if r.sent_s >= at)


def exercise(schedule, state_path: str | os.PathLike, *, duration_s: float = 2.5, transport: str = "pty",
             downstream: str = "pty", resend_s: float = 0.1, command_timeout_s: float = 10.0,
             framing: Framing = Framing.ASM) -> LinkRun:
    """Command the board through a serial fault proxy carrying ``schedule`` for ``duration_s``
    (then until the command in flight is answered), one command at a time."""
    from hil.faults.serial_proxy import SerialFaultProxy
    from onboard.links.serial import SerialConfig

    board = SerialBoard(state_path, transport, framing).start()
    proxy = SerialFaultProxy(board.url, downstream, schedule, framing=framing)
    events: list[tuple[str, str]] = []
    link = None
    try:
        proxy.start()
        link = SerialLink(SerialConfig(proxy.url, framing=framing, retry_s=0.05),
                          on_event=lambda kind, text: events.append((kind, text)))
        commander = Commander(link, resend_s)
        started = proxy.started_at
        value = 0
        while time.monotonic() - started < duration_s:
            if commander.command(value, command_timeout_s).answered_s is None:
                break
            value += 1
        for part in (proxy, board):
            if part.error:
                raise RuntimeError(f"{type(part).__name__} failed: {part.error}")
        return LinkRun(commander.records, board.journal(), link.counters(), board.deframer.counters,
                       proxy.counters(), events, started, commander.stray_answers, list(proxy.host_down))
    finally:
        if link is not None:
            link.close()
        proxy.stop()
        board.stop()
