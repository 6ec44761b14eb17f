"""The link to the flight computer, and an emulated flight computer behind it.

The uplink module hands the flight computer every telecommand packet addressed to its APID
(``flight_computer`` in ``onboard/bus/msgids.toml``) and forwards whatever packets come back
(its command answers, as events on its event APID) to the bus.  Both directions carry whole
CCSDS space packets in the bus format (``onboard.bus.packet``), so the serial driver of the
bench implements the same two methods over its own framing and nobody else changes.

``EmulatedFlightComputer`` checks each command against the shared dictionary and answers it
exactly as an onboard module does (CMD_ACCEPTED / CMD_REJECTED, text ``<NAME> seq <n>: ...``).
Its mode and test counter, its command log and its execution journal are one SQLite
database (``state_path``): a command's effect, its journal line and its log entry commit in
one transaction before the answer goes out (``onboard.commands.log``), so a command packet
that comes again, even after the process hosting the flight computer was killed, is answered
from the log and not executed twice.  The journal is append-only, one line per execution,
apart from the log that prevents repeats, so it is the witness of exactly-once:
``executed_commands(path)`` reads it.

``LinkOutages`` cuts the link for windows of emulated time, as a pulled cable does on the
bench: packets in either direction are lost while it is cut.
"""

from __future__ import annotations

import collections
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from onboard.bus.packet import PacketError, PacketType, pack, unpack
from onboard.bus.registry import Registry, default_registry
from onboard.commands import CommandDictionary, CommandRejected, default_dictionary
from onboard.commands.log import Answer, CommandLog, Executed, open_database
from onboard.events import Event, EventId, Severity


class FlightComputerLink(Protocol):
    """Packets to and from the flight computer."""

    def send(self, packet: bytes) -> None:
        """Deliver one telecommand packet."""

    def receive(self) -> list[bytes]:
        """Packets the flight computer sent since the last call (never blocks)."""

    def close(self) -> None:
        """Release the link."""


class EmulatedFlightComputer:
    """A flight computer in the same process: modes, a test counter, and a durable execution log."""

    NAME = "flight_computer"

    def __init__(self, registry: Registry | None = None, dictionary: CommandDictionary | None = None,
                 clock=time.time, state_path: str | os.PathLike | None = None):
        self.registry = registry or default_registry()
        self.dictionary = dictionary or default_dictionary()
        self.ident = self.registry.module(self.NAME)
        self.db = open_database(state_path)
        self.db.execute("CREATE TABLE IF NOT EXISTS fc_state (id INTEGER PRIMARY KEY CHECK (id = 0), "
                        "mode INTEGER NOT NULL, counter INTEGER NOT NULL)")
        self.db.execute("INSERT OR IGNORE INTO fc_state VALUES (0, 0, 0)")
        self.db.execute("CREATE TABLE IF NOT EXISTS fc_journal (n INTEGER PRIMARY KEY AUTOINCREMENT, "
                        "seq INTEGER NOT NULL, time_tai REAL NOT NULL, name TEXT NOT NULL, "
                        "args TEXT NOT NULL, answer TEXT NOT NULL)")
        self.log = CommandLog(self.db, self.NAME)
        self.mode, self.counter = self._state()
        self.malformed = 0
        self._out: collections.deque[bytes] = collections.deque(maxlen=1024)
        self._seq = 0
        self._clock = clock

    def _state(self) -> tuple[int, int]:
        return self.db.execute("SELECT mode, counter FROM fc_state").fetchone()

    @property
    def executed(self) -> list[tuple[str, dict]]:
        """(name, arguments) of every command executed, in order, restarts included."""
        return [(e.name, e.args) for e in journal(self.db)]

    def _answer(self, answer: Answer) -> None:
        event = Event(self.ident.apid, *answer)
        self._out.append(pack(self.ident.event_apid, event.to_bytes(), self._seq, self._clock()))
        self._seq = (self._seq + 1) & 0x3FFF

    def send(self, packet: bytes) -> None:
        try:
            pkt = unpack(packet)
        except PacketError:
            self.malformed += 1
            return
        if pkt.packet_type is not PacketType.TC or pkt.apid != self.ident.apid:
            self.malformed += 1
            return
        seq, t = pkt.seq_count, pkt.time_tai
        answer = self.log.previous(seq, t)
        if answer is None:
            answer = self._execute(pkt)
        self._answer(answer)

    def _execute(self, pkt) -> Answer:
        seq = pkt.seq_count
        try:
            cmd, args = self.dictionary.decode(self.NAME, pkt.data)
        except CommandRejected as exc:
            name = f"OPCODE_{pkt.data[0] if pkt.data else 0}"
            answer = (EventId.CMD_REJECTED, Severity.WARNING_LO, f"{name} seq {seq}: rejected: {exc}")
            self.log.record(seq, pkt.time_tai, name, answer)
            return answer

        def run() -> tuple[Answer, bool]:
            # inside the transaction that records the command: the effect commits with it
            detail = ""
            if cmd.name == "SET_MODE":
                self.db.execute("UPDATE fc_state SET mode = ?", (args["mode"],))
                detail = f": mode {args['mode']}"
            elif cmd.name == "SET_COUNTER":
                self.db.execute("UPDATE fc_state SET counter = ?", (args["value"],))
                detail = f": counter {args['value']}"
            answer = (EventId.CMD_ACCEPTED, Severity.COMMAND, f"{cmd.name} seq {seq}: accepted{detail}")
            self.db.execute("INSERT INTO fc_journal (seq, time_tai, name, args, answer) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (seq, pkt.time_tai, cmd.name, json.dumps(args), answer[2]))
            return answer, True

        answer = self.log.execute(seq, pkt.time_tai, cmd.name, args, run, durable=True)
        self.mode, self.counter = self._state()
        return answer

    def receive(self) -> list[bytes]:
        out = list(self._out)
        self._out.clear()
        return out

    def close(self) -> None:
        self.db.close()


def journal(db) -> list[Executed]:
    rows = db.execute("SELECT seq, time_tai, name, args, answer FROM fc_journal ORDER BY n").fetchall()
    return [Executed(seq, t, name, json.loads(args), answer) for seq, t, name, args, answer in rows]


def executed_commands(state_path: str | os.PathLike) -> list[Executed]:
    """Every execution the emulated flight computer with this database journaled, in order."""
    db = open_database(state_path)
    try:
        return journal(db)
    finally:
        db.close()


class LinkOutages:
    """``link`` cut during the windows ``(start, end)`` of ``now()`` (emulated TAI seconds):
    what is sent either way while it is cut is lost, and counted."""

    def __init__(self, link: FlightComputerLink, windows: Sequence[tuple[float, float]],
                 now: Callable[[], float]):
        self.link, self.windows, self.now = link, sorted(windows), now
        self.lost_to = self.lost_from = 0

    @property
    def cut(self) -> bool:
        t = self.now()
        return any(start <= t < end for start, end in self.windows)

    def send(self, packet: bytes) -> None:
        if self.cut:
            self.lost_to += 1
            return
        self.link.send(packet)

    def receive(self) -> list[bytes]:
        packets = self.link.receive()
        if packets and self.cut:
            self.lost_from += len(packets)
            return []
        return packets

    def close(self) -> None:
        self.link.close()
