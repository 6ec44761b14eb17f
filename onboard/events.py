"""Events: what a module reports, with an ID, a severity and filtering.

An event is one bus packet on the module's event APID (0x400 + module APID), user data

    source APID u16 | event ID u16 | severity u8 | text (UTF-8, at most 160 octets)

Severities follow F´'s (lowest to highest).  Filtering, per module, is cFS EVS-like:
a minimum severity, and for any event ID a count after which that ID is suppressed (so
a flood of one event cannot drown the rest).  Suppressed events are counted and the
counters go into housekeeping.

IDs 1..99 are common to every module (``EventId``); each module numbers its own from 100.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Callable

_HEAD = struct.Struct(">HHB")
MAX_TEXT = 160
UNLIMITED = 0xFFFF


class Severity(enum.IntEnum):
    DIAGNOSTIC = 0
    ACTIVITY_LO = 1
    ACTIVITY_HI = 2
    COMMAND = 3
    WARNING_LO = 4
    WARNING_HI = 5
    FATAL = 6


class EventId(enum.IntEnum):
    CMD_ACCEPTED = 1          # COMMAND: "<NAME> accepted" (the command response)
    CMD_REJECTED = 2          # WARNING_LO: "<opcode> rejected: <why>"
    CMD_FAILED = 3            # WARNING_HI: a valid command that could not be carried out
    COUNTERS_RESET = 4
    STARTED = 5
    STOPPING = 6
    MALFORMED = 7             # a malformed packet arrived
    PACKETS_LOST = 8          # sequence-count gaps on a pipe
    QUEUE_OVERFLOW = 9        # a pipe's queue was full
    FILTER_CHANGED = 10


@dataclasses.dataclass(frozen=True)
class Event:
    source_apid: int
    event_id: int
    severity: Severity
    text: str

    def to_bytes(self) -> bytes:
        return _HEAD.pack(self.source_apid, self.event_id, int(self.severity)) + \
            self.text.encode()[:MAX_TEXT]

    @classmethod
    def from_bytes(cls, data: bytes) -> Event:
        if len(data) < _HEAD.size:
            raise ValueError(f"event of {len(data)} octets is shorter than its {_HEAD.size}-octet head")
        apid, event_id, severity = _HEAD.unpack_from(data)
        if severity not in Severity._value2member_map_:
            raise ValueError(f"event severity {severity} is unknown")
        return cls(apid, event_id, Severity(severity), data[_HEAD.size:].decode(errors="replace"))

    def __str__(self) -> str:
        return f"[{self.severity.name}] {self.event_id}: {self.text}"


class EventFilter:
    """Decides which events go out and counts the rest."""

    def __init__(self, min_severity: Severity = Severity.DIAGNOSTIC):
        self.min_severity = min_severity
        self.limits: dict[int, int] = {}
        self._counts: dict[int, int] = {}
        self.suppressed = 0

    def set_limit(self, event_id: int, max_count: int) -> None:
        """Let ``max_count`` more events of ``event_id`` through (UNLIMITED: no limit)."""
        if max_count >= UNLIMITED:
            self.limits.pop(event_id, None)
        else:
            self.limits[event_id] = max_count
        self._counts[event_id] = 0

    def admit(self, event_id: int, severity: Severity) -> bool:
        if severity < self.min_severity:
            self.suppressed += 1
            return False
        count = self._counts.get(event_id, 0)
        if event_id in self.limits and count >= self.limits[event_id]:
            self.suppressed += 1
            return False
        self._counts[event_id] = count + 1
        return True


class EventSender:
    """A module's event output: filter, publish, count."""

    def __init__(self, source_apid: int, event_apid: int, publish: Callable[[int, bytes], object],
                 event_filter: EventFilter | None = None, log: Callable[[Event], object] | None = None):
        self.source_apid = source_apid
        self.event_apid = event_apid
        self.publish = publish
        self.filter = event_filter or EventFilter()
        self.log = log
        self.sent = 0

    def __call__(self, event_id: int, severity: Severity, text: str) -> bool:
        if not self.filter.admit(event_id, severity):
            return False
        event = Event(self.source_apid, int(event_id), severity, text)
        self.publish(self.event_apid, event.to_bytes())
        self.sent += 1
        if self.log:
            self.log(event)
        return True
