"""The link to the flight computer, and an emulated flight computer behind it.

The uplink module hands the flight computer every telecommand packet addressed to its APID
(``flight_computer`` in ``onboard/bus/msgids.toml``) and forwards whatever packets come back
(its command answers, as events on its event APID) to the bus.  Both directions carry whole
CCSDS space packets in the bus format (``onboard.bus.packet``), so the serial driver of the
bench implements the same two methods over its own framing and nobody else changes.

``EmulatedFlightComputer`` checks each command against the shared dictionary and answers it
exactly as an onboard module does (CMD_ACCEPTED / CMD_REJECTED, text ``<NAME> seq <n>: ...``),
and keeps a log of what it executed, in order, so tests can see that each command ran once.
"""

from __future__ import annotations

import collections
import time
from typing import Protocol

from onboard.bus.packet import PacketError, PacketType, pack, unpack
from onboard.bus.registry import Registry, default_registry
from onboard.commands import REPEATED, AnswerLog, CommandDictionary, CommandRejected, default_dictionary
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
    """A flight computer in the same process: modes, a test counter, and an execution log."""

    NAME = "flight_computer"

    def __init__(self, registry: Registry | None = None, dictionary: CommandDictionary | None = None,
                 clock=time.time):
        self.registry = registry or default_registry()
        self.dictionary = dictionary or default_dictionary()
        self.ident = self.registry.module(self.NAME)
        self.mode = 0
        self.counter = 0
        self.executed: list[tuple[str, dict]] = []
        self.malformed = 0
        self._out: collections.deque[bytes] = collections.deque(maxlen=1024)
        self._seq = 0
        self._clock = clock
        self.answer_log = AnswerLog()
        self._key: tuple[int, float] | None = None

    def _answer(self, event_id: EventId, severity: Severity, text: str) -> None:
        if self._key is not None:
            self.answer_log.record(*self._key, (event_id, severity, text))
        event = Event(self.ident.apid, event_id, severity, text)
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
        previous = self.answer_log.previous(pkt.seq_count, pkt.time_tai)
        if previous is not None:
            event_id, severity, text = previous
            self._key = None
            self._answer(event_id, severity, text + REPEATED)
            return
        self._key = (pkt.seq_count, pkt.time_tai)
        try:
            cmd, args = self.dictionary.decode(self.NAME, pkt.data)
        except CommandRejected as exc:
            self._answer(EventId.CMD_REJECTED, Severity.WARNING_LO,
                         f"OPCODE_{pkt.data[0] if pkt.data else 0} seq {pkt.seq_count}: rejected: {exc}")
            return
        if cmd.name == "SET_MODE":
            self.mode = args["mode"]
        elif cmd.name == "SET_COUNTER":
            self.counter = args["value"]
        self.executed.append((cmd.name, args))
        detail = {"SET_MODE": f": mode {self.mode}",
                  "SET_COUNTER": f": counter {self.counter}"}.get(cmd.name, "")
        self._answer(EventId.CMD_ACCEPTED, Severity.COMMAND,
                     f"{cmd.name} seq {pkt.seq_count}: accepted{detail}")

    def receive(self) -> list[bytes]:
        out = list(self._out)
        self._out.clear()
        return out

    def close(self) -> None:
        pass
