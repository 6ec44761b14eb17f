"""The emulated flight computer: a board in the uplink's process, behind the link of
``onboard.links.flight_computer`` (entry point ``emulated`` of ``lunarelay.flight_computers``).

``EmulatedFlightComputer`` checks each command against the shared dictionary and answers it
exactly as an onboard module does (CMD_ACCEPTED / CMD_REJECTED, text ``<NAME> seq <n>: ...``).
Its mode and test counter, its command log and its execution journal are one SQLite
database (``state_path``): a command's effect, its journal line and its log entry commit in
one transaction before the answer goes out (``onboard.commands.log``), so a command packet
that comes again, even after the process hosting the flight computer was killed, is answered
from the log and not executed twice.  The journal is append-only, one line per execution,
apart from the log that prevents repeats, so it is the witness of exactly-once:
``executed_commands(path)`` reads it.
"""

from __future__ import annotations

import collections
import json
import os
import time

from onboard.bus.packet import PacketError, PacketType, pack, tai_from_unix, unpack
from onboard.bus.registry import Registry, default_registry
from onboard.commands import CommandDictionary, CommandRejected, default_dictionary
from onboard.commands.log import Answer, CommandLog, Executed, open_database
from onboard.errors import UsageError
from onboard.events import Event, EventId, Severity


def wall_tai() -> float:
    """The wall clock as TAI seconds since 1958 (a board with no time from the spacecraft)."""
    return tai_from_unix(time.time())


class EmulatedFlightComputer:
    """A flight computer in the same process: modes, a test counter, and a durable execution log."""

    NAME = "flight_computer"

    def __init__(self, registry: Registry | None = None, dictionary: CommandDictionary | None = None,
                 clock=None, state_path: str | os.PathLike | None = None):
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
        self._clock = clock or wall_tai      # TAI seconds since 1958: the packets' CUC time

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

    def counters(self) -> dict[str, int]:
        return {"malformed": self.malformed}

    def close(self) -> None:
        self.db.close()


def journal(db) -> list[Executed]:
    rows = db.execute("SELECT seq, time_tai, name, args, answer FROM fc_journal ORDER BY n").fetchall()
    return [Executed(seq, t, name, json.loads(args), answer) for seq, t, name, args, answer in rows]


def executed_commands(state_path: str | os.PathLike) -> list[Executed]:
    """Every execution the emulated flight computer with this database journaled, in order."""
    db = open_database(state_path)
    try:
        # a board killed between opening its database and creating the journal has executed nothing
        found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fc_journal'")
        if found.fetchone() is None:
            return []
        return journal(db)
    finally:
        db.close()


STATE_FILE = "flight_computer.sqlite"


def open_emulated(argument: str, *, registry: Registry, dictionary: CommandDictionary,
                  state_dir: str | None, on_event=None, clock=None) -> EmulatedFlightComputer:
    """The ``emulated`` flight computer (``onboard.links.flight_computer.open_flight_computer``):
    its database is ``flight_computer.sqlite`` in ``state_dir`` (in memory without one); it
    stamps its answers with ``clock`` (the spacecraft's TAI), else with the wall clock as TAI.  A
    board in the same process has no link to lose, so it never calls ``on_event``."""
    if argument:
        raise UsageError(f"the emulated flight computer takes no argument, not {argument!r}")
    return EmulatedFlightComputer(registry, dictionary, clock=clock or wall_tai,
                                  state_path=os.path.join(state_dir, STATE_FILE) if state_dir else None)
