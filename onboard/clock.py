"""The emulation clock: one emulated TAI time for every process of an emulation.

Three modes:

- REALTIME: emulated time runs with the wall clock (the bench).
- SCALED: emulated time runs ``scale`` times faster (or slower) than the wall clock.
- STEPPED: emulated time stands still until its owner steps it (deterministic runs).

The state is a small record: mode, scale, the emulated time at an anchor, and the wall time
(Unix seconds) of that anchor.  Any process turns the record into "now" on its own, so no
message is needed per reading.  On one host the owner (the executive) keeps the record in a
file mapped by every process (``SharedClock``), written under a sequence lock so a reader
never sees half an update; processes on other hosts follow the CLOCK message on the bus,
which carries the same record.  Wall clocks across hosts are assumed NTP/PTP-synchronised.

Times are TAI seconds since 1958-01-01, the CUC epoch of CCSDS 301.0-B-4 §3.2.
"""

from __future__ import annotations

import dataclasses
import enum
import mmap
import os
import struct
import time

from onboard.bus.packet import tai_from_unix
from onboard.errors import LunarelayError

CLOCK_FILE_ENV = "LUNARELAY_CLOCK"
_RECORD = struct.Struct("<B7xddd")         # mode, scale, epoch_tai, anchor_unix
_LOCKED = struct.Struct("<Q")              # sequence lock: odd while the owner writes
FILE_SIZE = _LOCKED.size + _RECORD.size


class ClockError(LunarelayError):
    pass


class ClockMode(enum.IntEnum):
    REALTIME = 0
    SCALED = 1
    STEPPED = 2


@dataclasses.dataclass(frozen=True)
class ClockState:
    mode: ClockMode
    scale: float           # emulated seconds per wall second (1.0 in REALTIME, unused in STEPPED)
    epoch_tai: float       # emulated TAI at the anchor
    anchor_unix: float     # wall time of the anchor

    def now_tai(self, wall_unix: float | None = None) -> float:
        if self.mode is ClockMode.STEPPED:
            return self.epoch_tai
        wall = time.time() if wall_unix is None else wall_unix
        return self.epoch_tai + (wall - self.anchor_unix) * self.scale

    def wall_seconds_until(self, tai: float) -> float | None:
        """Wall seconds until emulated time reaches ``tai``; None when only a step can get there."""
        if self.mode is ClockMode.STEPPED:
            return 0.0 if tai <= self.epoch_tai else None
        return max(0.0, (tai - self.now_tai()) / self.scale)

    def to_bytes(self) -> bytes:
        return _RECORD.pack(int(self.mode), self.scale, self.epoch_tai, self.anchor_unix)

    @classmethod
    def from_bytes(cls, data: bytes) -> ClockState:
        if len(data) != _RECORD.size:
            raise ClockError(f"clock record of {len(data)} octets, expected {_RECORD.size}")
        mode, scale, epoch, anchor = _RECORD.unpack(data)
        if mode not in ClockMode._value2member_map_:
            raise ClockError(f"clock record has unknown mode {mode}")
        return cls(ClockMode(mode), scale, epoch, anchor)

    @classmethod
    def start(cls, scale: float = 1.0, epoch_tai: float | None = None) -> ClockState:
        """A clock starting now: scale 1 is REALTIME, 0 is STEPPED, anything else SCALED."""
        if scale < 0:
            raise ClockError(f"clock scale {scale} is negative")
        wall = time.time()
        epoch = tai_from_unix(wall) if epoch_tai is None else epoch_tai
        mode = ClockMode.STEPPED if scale == 0 else ClockMode.REALTIME if scale == 1 else ClockMode.SCALED
        return cls(mode, scale if scale else 0.0, epoch, wall)


class Clock:
    """A clock owned by this process (tests, tools, a single-process run)."""

    def __init__(self, state: ClockState | None = None):
        self._state = state or ClockState.start()

    @property
    def state(self) -> ClockState:
        return self._state

    def now_tai(self) -> float:
        return self._state.now_tai()

    def set_state(self, state: ClockState) -> None:
        self._state = state

    def step(self, seconds: float) -> None:
        state = self.state
        if state.mode is not ClockMode.STEPPED:
            raise ClockError(f"only a STEPPED clock can be stepped; this one is {state.mode.name}")
        if seconds < 0:
            raise ClockError(f"a clock step of {seconds} s would run time backwards")
        self.set_state(dataclasses.replace(state, epoch_tai=state.epoch_tai + seconds))

    def set_scale(self, scale: float) -> None:
        """Change rate without a jump: the new anchor is now, at the current emulated time."""
        self.set_state(ClockState.start(scale, self.now_tai()))


class SharedClock(Clock):
    """A clock in a file that every process on the host maps; only the owner writes it."""

    def __init__(self, path: str | os.PathLike, owner: bool = False, state: ClockState | None = None):
        self.path = os.fspath(path)
        self.owner = owner
        self._seen = -1
        flags = os.O_RDWR | (os.O_CREAT if owner else 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise ClockError(f"{self.path}: cannot open the shared clock: {exc.strerror}") from None
        try:
            if owner:
                os.ftruncate(fd, FILE_SIZE)
            elif os.fstat(fd).st_size != FILE_SIZE:
                raise ClockError(f"{self.path}: not a clock file ({os.fstat(fd).st_size} octets)")
            self._map = mmap.mmap(fd, FILE_SIZE)
        finally:
            os.close(fd)
        if owner:
            self.set_state(state or ClockState.start())

    @property
    def state(self) -> ClockState:
        (seq,) = _LOCKED.unpack_from(self._map, 0)
        if seq == self._seen:                     # unchanged since the last read: no copy, no parse
            return self._cached
        for _ in range(10000):
            (before,) = _LOCKED.unpack_from(self._map, 0)
            record = self._map[_LOCKED.size:FILE_SIZE]
            (after,) = _LOCKED.unpack_from(self._map, 0)
            if before == after and not before & 1:
                self._cached, self._seen = ClockState.from_bytes(record), before
                return self._cached
        raise ClockError(f"{self.path}: the clock owner seems stuck in an update")

    def now_tai(self) -> float:
        return self.state.now_tai()

    def set_state(self, state: ClockState) -> None:
        if not self.owner:
            raise ClockError("only the clock's owner may change it")
        (seq,) = _LOCKED.unpack_from(self._map, 0)
        _LOCKED.pack_into(self._map, 0, seq + 1)
        self._map[_LOCKED.size:FILE_SIZE] = state.to_bytes()
        _LOCKED.pack_into(self._map, 0, seq + 2)

    def close(self) -> None:
        self._map.close()


def open_clock(path: str | None = None) -> Clock:
    """The emulation's shared clock if one is named (argument or LUNARELAY_CLOCK), else wall time."""
    path = path or os.environ.get(CLOCK_FILE_ENV)
    return SharedClock(path) if path else Clock()
