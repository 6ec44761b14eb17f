"""FARM-1, the onboard end of COP-1 (CCSDS 232.1-B-2 §6), and the CLCW (232.0-B-4 §4.2.1).

``Farm`` judges TC transfer frames that already passed the frame checks (FECF, spacecraft and
virtual channel ids) by the FARM-1 state table, and reports its state as a 32-bit CLCW.
``Clcw`` unpacks a CLCW for the ground side (``onboard.ccsds.cop1``).  ``FarmRecord`` is the
state variables of 232.1-B-2 §6.1 (and the FARM-B counter), for a FARM that must resume
where it was after its process restarts.
"""

from __future__ import annotations

import dataclasses
import enum

from onboard.core._api import CoreError, byte_ptr, check, ffi, lib
from onboard.errors import LunarelayError


class FarmState(enum.IntEnum):
    OPEN = lib.LR_FARM_OPEN
    WAIT = lib.LR_FARM_WAIT
    LOCKOUT = lib.LR_FARM_LOCKOUT


class FarmResult(enum.IntEnum):
    ACCEPT_AD = lib.LR_FARM_ACCEPT_AD
    ACCEPT_BD = lib.LR_FARM_ACCEPT_BD
    UNLOCK = lib.LR_FARM_UNLOCK
    SET_VR = lib.LR_FARM_SET_VR
    BC_IGNORED = lib.LR_FARM_BC_IGNORED
    DISCARD_AHEAD = lib.LR_FARM_DISCARD_AHEAD
    DISCARD_BEHIND = lib.LR_FARM_DISCARD_BEHIND
    DISCARD_LOCKOUT = lib.LR_FARM_DISCARD_LOCKOUT
    DISCARD_WAIT = lib.LR_FARM_DISCARD_WAIT
    DISCARD_INVALID_BC = lib.LR_FARM_DISCARD_INVALID_BC

    @property
    def delivers(self) -> bool:
        """The frame's data goes up to the next layer."""
        return self in (FarmResult.ACCEPT_AD, FarmResult.ACCEPT_BD)


class InvalidTcFrame(LunarelayError, ValueError):
    """A frame handed to the FARM does not have a valid TC transfer frame header."""


@dataclasses.dataclass(frozen=True)
class Clcw:
    """The fields of a Communications Link Control Word (232.0-B-4 §4.2.1)."""

    control_word_type: int
    version: int
    status: int
    cop_in_effect: int
    vcid: int
    no_rf_available: bool
    no_bit_lock: bool
    lockout: bool
    wait: bool
    retransmit: bool
    farm_b_counter: int
    report_value: int

    @classmethod
    def unpack(cls, word: int) -> Clcw:
        if not 0 <= word <= 0xFFFFFFFF:
            raise ValueError(f"CLCW {word:#x} does not fit 32 bits")
        return cls(word >> 31, word >> 29 & 3, word >> 26 & 7, word >> 24 & 3, word >> 18 & 0x3F,
                   bool(word >> 15 & 1), bool(word >> 14 & 1), bool(word >> 13 & 1),
                   bool(word >> 12 & 1), bool(word >> 11 & 1), word >> 9 & 3, word & 0xFF)


@dataclasses.dataclass(frozen=True)
class FarmRecord:
    """What a FARM must keep to resume after a restart: W, and the state, V(R), the Lockout,
    Wait and Retransmit flags, the buffer state and the FARM-B counter."""

    window: int
    state: int
    vr: int
    lockout: bool
    wait: bool
    retransmit: bool
    buffer_full: bool
    farm_b: int


class Farm:
    """FARM-1 of one virtual channel with sliding window width ``window`` (even, 2..254)."""

    def __init__(self, window: int = 10, vcid: int = 0, has_fecf: bool = True):
        if window % 2 or not 2 <= window <= 254:
            raise ValueError(f"FARM window {window} must be even and within 2..254")
        if not 0 <= vcid <= 63:
            raise ValueError(f"VCID {vcid} does not fit 6 bits")
        self._f = ffi.new("struct lr_farm *")
        check(lib.lr_farm_init(self._f, window, vcid, int(has_fecf)), "FARM-1")

    def receive(self, frame) -> FarmResult:
        """Judge one whole TC frame; whether to deliver its data is ``result.delivers``."""
        ptr, n = byte_ptr(frame)
        r = lib.lr_farm_frame(self._f, ptr, n)
        if r == lib.LR_E_FORMAT:
            raise InvalidTcFrame(f"{n}-octet frame is not a valid TC transfer frame for the FARM")
        if r < 0:
            raise CoreError(r, "FARM-1 frame")
        return FarmResult(r)

    def buffer_available(self, available: bool) -> FarmState:
        """Tell the FARM whether the layer above can take frames (True is the buffer release)."""
        return FarmState(lib.lr_farm_buffer(self._f, int(available)))

    @property
    def clcw(self) -> int:
        return lib.lr_farm_clcw(self._f)

    @property
    def state(self) -> FarmState:
        return FarmState(self._f.state)

    @property
    def vr(self) -> int:
        return self._f.vr

    @property
    def flags(self) -> dict[str, bool]:
        f = self._f
        return {"lockout": bool(f.lockout), "wait": bool(f.wait), "retransmit": bool(f.retransmit)}

    @property
    def counters(self) -> dict[str, int]:
        f = self._f
        return {"ad_accepted": f.ad_accepted, "bd_accepted": f.bd_accepted, "bc_accepted": f.bc_accepted,
                "discarded": f.discarded, "invalid": f.invalid, "lockouts": f.lockouts,
                "farm_b": f.farm_b}

    def record(self) -> FarmRecord:
        f = self._f
        return FarmRecord(f.window, f.state, f.vr, bool(f.lockout), bool(f.wait), bool(f.retransmit),
                          bool(f.buffer_full), f.farm_b)

    def restore(self, record: FarmRecord) -> None:
        """Take up the state of ``record`` (its window included); the counters stay as they are."""
        if record.window % 2 or not 2 <= record.window <= 254:
            raise ValueError(f"FARM window {record.window} must be even and within 2..254")
        if record.state not in FarmState._value2member_map_ or not 0 <= record.vr <= 255:
            raise ValueError(f"FARM state {record.state} or V(R) {record.vr} is not a FARM-1 state")
        f = self._f
        f.window, f.state, f.vr = record.window, record.state, record.vr
        f.lockout, f.wait, f.retransmit = int(record.lockout), int(record.wait), int(record.retransmit)
        f.buffer_full, f.farm_b = int(record.buffer_full), record.farm_b & 0xFFFFFFFF

    def set_physical_flags(self, no_rf_available: bool, no_bit_lock: bool) -> None:
        self._f.no_rf = int(no_rf_available)
        self._f.no_bitlock = int(no_bit_lock)
