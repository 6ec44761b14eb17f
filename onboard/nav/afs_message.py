"""Content of the AFS navigation frame (FID 0): AFS time, subframe 2 and subframes 3/4.

Time (LSIS-AFS V1.0 §2.4, and the interop export ``tF = WN*604800 + ITOW*1200 + TOI*12``):
a week number WN (13 bits, 0..8191), the interval of week ITOW (9 bits, 20 min intervals,
0..503) and, in SB1, the time of interval TOI (0..99), the 12 s frame within that interval.
The fields name the frame in which they are sent: its first sync symbol leaves at ``tF``.  AFS
system time here is seconds since the WN 0 epoch (the LunaNet reference epoch is
{LSIS-TBD-2003}; LANS-AFS-SIM uses GPS time's).

Subframe 2 (1176 bits).  LSIS V1.0 fixes WN and ITOW in bits 0..21, leaves the clock and
ephemeris data (CED, {LSIS-TBW-2006}), health ({LSIS-TBW-2005}) and time conversions
({LSIS-TBW-2012}) to be written, and makes bits 1150..1175 spare (LSIS-FID0-550,
{LSIS-TBC-2022}; spare bits alternate 0, 1, ... from 0).  For the CED this module uses the
layout that the two public AFS implementations share: LANS-AFS-SIM's transmitter
(``afs_sim.c``, ``eph2sbf``) and PocketSDR-AFS's receiver (``sdr_pvt_afs.c``,
``decode_afs_frame``), so that PocketSDR-AFS computes positions from lunarelay's frames:

====  ======  ====  ======  ===================  =========================================
bit   field   bits  signed  scale                 meaning
====  ======  ====  ======  ===================  =========================================
0     WN      13    no      1 week                week number
13    ITOW    9     no      1200 s                interval of week
22    toe     16    no      16 s                  ephemeris reference time (s of week)
38    e       32    no      2^-32                 eccentricity
70    sqrtA   32    no      2^-19 m^1/2           square root of the semi-major axis
102   i0      32    yes     2^-31 semicircles     inclination
134   OMEGA0  32    yes     2^-31 semicircles     right ascension of the ascending node
166   omega   32    yes     2^-31 semicircles     argument of perilune
198   M0      32    yes     2^-31 semicircles     mean anomaly at toe
230   toc     16    no      16 s                  clock reference time (s of week)
246   af0     22    yes     2^-31 s               clock bias
268   af1     16    yes     2^-43 s/s             clock drift
====  ======  ====  ======  ===================  =========================================

Bits 284..1175 carry the alternating filler (bit j = j mod 2), which is LANS-AFS-SIM's fill and
also the LSIS spare pattern at 1150..1175.  The ephemeris is two-body Keplerian about the Moon in
the Moon-centred inertial frame of :mod:`onboard.nav.lunar_orbit`, with GM = 4.9028e12 m^3/s^2.

Subframes 3 and 4 (846 bits each) start with a message type, "4 or 6 bits" in V1.0
({LSIS-TBC-2023}, {LSIS-TBC-2024}); this module uses 6, as the LunaLink parser of the interop
vectors does.  The message contents and type numbers are TBW in V1.0; lunarelay sends type
:data:`TYPE_SPARE` (0) with spare bits, because the node's own ephemeris and clock travel in SB2.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from onboard.errors import LunarelayError
from onboard.nav import afs_frame, bitfields

SECONDS_PER_WEEK = 604800
ITOW_SECONDS = 1200
FRAME_SECONDS = 12
WN_BITS, ITOW_BITS = 13, 9
WN_MAX, ITOW_MAX = (1 << WN_BITS) - 1, SECONDS_PER_WEEK // ITOW_SECONDS - 1  # 8191, 503
TOI_MAX = ITOW_SECONDS // FRAME_SECONDS - 1  # 99
SB2_SPARE_START = 1150
TYPE_BITS = 6
TYPE_SPARE = 0


class MessageError(LunarelayError, ValueError):
    """A navigation message field is out of range or a bit string has the wrong size."""


# -- AFS time -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AfsTime:
    wn: int
    itow: int
    toi: int

    @property
    def seconds(self) -> int:
        """``tF``: system time of the frame's leading edge (WN taken as a full week count)."""
        return self.wn * SECONDS_PER_WEEK + self.itow * ITOW_SECONDS + self.toi * FRAME_SECONDS


def afs_time(t_s: float) -> AfsTime:
    """WN, ITOW and TOI of the frame that starts at (or contains) system time ``t_s``."""
    t = math.floor(t_s)
    wn, tow = divmod(t, SECONDS_PER_WEEK)
    itow, rest = divmod(tow, ITOW_SECONDS)
    return AfsTime(int(wn), int(itow), int(rest // FRAME_SECONDS))


def time_of_week(t_s: float) -> float:
    return t_s - math.floor(t_s / SECONDS_PER_WEEK) * SECONDS_PER_WEEK


# -- bit fields ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    bits: int
    signed: bool
    scale: float  # value of one LSB in the field's physical unit (semicircles for angles)
    semicircles: bool = False  # the Python value is radians, the message carries semicircles


SB2_FIELDS = (
    Field("wn", 13, False, 1.0),
    Field("itow", 9, False, 1.0),
    Field("toe_s", 16, False, 16.0),
    Field("e", 32, False, 2.0 ** -32),
    Field("sqrt_a", 32, False, 2.0 ** -19),
    Field("i0_rad", 32, True, 2.0 ** -31, True),
    Field("omega0_rad", 32, True, 2.0 ** -31, True),
    Field("argp_rad", 32, True, 2.0 ** -31, True),
    Field("m0_rad", 32, True, 2.0 ** -31, True),
    Field("toc_s", 16, False, 16.0),
    Field("af0_s", 22, True, 2.0 ** -31),
    Field("af1_s_s", 16, True, 2.0 ** -43),
)
SB2_USED_BITS = sum(f.bits for f in SB2_FIELDS)  # 284


def _to_raw(field: Field, value: float) -> int:
    try:
        return bitfields.to_raw(field.name, value, field.bits, field.signed, field.scale,
                                math.pi if field.semicircles else None)
    except bitfields.FieldError as exc:
        raise MessageError(str(exc)) from None


def _from_raw(field: Field, raw: int) -> float | int:
    return bitfields.from_raw(raw, field.bits, field.signed, field.scale,
                              math.pi if field.semicircles else None)


def _put(bits: np.ndarray, start: int, n: int, raw: int) -> None:
    bits[start:start + n] = [(raw >> (n - 1 - k)) & 1 for k in range(n)]


def _get(bits: np.ndarray, start: int, n: int) -> int:
    raw = 0
    for b in bits[start:start + n]:
        raw = (raw << 1) | int(b)
    return raw


def spare_bits(n: int, start: int = 0) -> np.ndarray:
    """The alternating filler: bit j of the subframe is j mod 2."""
    return (np.arange(start, start + n) % 2).astype(np.uint8)


def _check_bits(bits, n: int, what: str) -> np.ndarray:
    b = np.asarray(bits)
    if b.shape != (n,) or (b.size and (b.min() < 0 or b.max() > 1)):
        raise MessageError(f"{what} must be {n} bits of 0/1, not shape {b.shape}")
    return b.astype(np.uint8)


# -- subframe 2 ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Subframe2:
    """SB2 fields in physical units: seconds, radians, metres^1/2 (see the module table)."""

    wn: int
    itow: int
    toe_s: float = 0.0
    e: float = 0.0
    sqrt_a: float = 0.0
    i0_rad: float = 0.0
    omega0_rad: float = 0.0
    argp_rad: float = 0.0
    m0_rad: float = 0.0
    toc_s: float = 0.0
    af0_s: float = 0.0
    af1_s_s: float = 0.0

    @property
    def itow_valid(self) -> bool:
        """A parsed ITOW can be 504..511 (all-ones input); only 0..503 name an interval."""
        return 0 <= self.itow <= ITOW_MAX

    def quantised(self) -> Subframe2:
        """The values a receiver reads back (each field rounded to its LSB)."""
        return parse_sb2(pack_sb2(self))


def pack_sb2(sb2: Subframe2) -> np.ndarray:
    """The 1176 SB2 data bits, first-sent first."""
    if not 0 <= sb2.itow <= ITOW_MAX:
        raise MessageError(f"ITOW {sb2.itow} is outside 0..{ITOW_MAX}")
    bits = spare_bits(afs_frame.SB2_DATA_BITS)
    start = 0
    for f in SB2_FIELDS:
        _put(bits, start, f.bits, _to_raw(f, float(getattr(sb2, f.name))))
        start += f.bits
    return bits


def parse_sb2(bits) -> Subframe2:
    """Fields of 1176 SB2 bits (the filler is not checked: see :func:`sb2_spare_ok`)."""
    b = _check_bits(bits, afs_frame.SB2_DATA_BITS, "SB2")
    values, start = {}, 0
    for f in SB2_FIELDS:
        raw = _get(b, start, f.bits)
        values[f.name] = _from_raw(f, raw)
        start += f.bits
    values["wn"], values["itow"] = int(values["wn"]), int(values["itow"])
    return Subframe2(**values)


def sb2_spare_ok(bits) -> bool:
    """Whether the LSIS spare bits 1150..1175 hold the alternating pattern."""
    b = _check_bits(bits, afs_frame.SB2_DATA_BITS, "SB2")
    return bool(np.array_equal(b[SB2_SPARE_START:], spare_bits(b.size - SB2_SPARE_START, SB2_SPARE_START)))


# -- subframes 3 and 4 --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MessageSb34:
    msg_type: int
    payload: np.ndarray  # the 840 bits after the type field

    def __post_init__(self):
        if not 0 <= self.msg_type < 1 << TYPE_BITS:
            raise MessageError(f"message type {self.msg_type} does not fit {TYPE_BITS} bits")
        _check_bits(self.payload, afs_frame.SB3_DATA_BITS - TYPE_BITS, "SB3/SB4 payload")


def spare_message(msg_type: int = TYPE_SPARE) -> MessageSb34:
    return MessageSb34(msg_type, spare_bits(afs_frame.SB3_DATA_BITS - TYPE_BITS, TYPE_BITS))


def pack_sb34(msg: MessageSb34) -> np.ndarray:
    bits = np.empty(afs_frame.SB3_DATA_BITS, np.uint8)
    _put(bits, 0, TYPE_BITS, msg.msg_type)
    bits[TYPE_BITS:] = msg.payload
    return bits


def parse_sb34(bits) -> MessageSb34:
    b = _check_bits(bits, afs_frame.SB3_DATA_BITS, "SB3/SB4")
    return MessageSb34(_get(b, 0, TYPE_BITS), b[TYPE_BITS:].copy())


# -- whole frame --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FrameContent:
    fid: int
    toi: int
    sb2: Subframe2
    sb3: MessageSb34
    sb4: MessageSb34

    @property
    def time(self) -> AfsTime:
        return AfsTime(self.sb2.wn, self.sb2.itow, self.toi)

    def data_bits(self) -> np.ndarray:
        return np.concatenate([pack_sb2(self.sb2), pack_sb34(self.sb3), pack_sb34(self.sb4)])

    def symbols(self) -> np.ndarray:
        """The 6000 frame symbols (0/1) of :func:`onboard.nav.afs_frame.encode_frame`."""
        return afs_frame.encode_frame(self.data_bits(), fid=self.fid, toi=self.toi)


def parse_data_bits(data_bits, fid: int = 0, toi: int = 0) -> FrameContent:
    """Split SB2 ‖ SB3 ‖ SB4 (2868 bits) into fields."""
    d = _check_bits(data_bits, afs_frame.DATA_BITS, "AFS frame data")
    n2, n3 = afs_frame.SB2_DATA_BITS, afs_frame.SB3_DATA_BITS
    return FrameContent(fid, toi, parse_sb2(d[:n2]), parse_sb34(d[n2:n2 + n3]), parse_sb34(d[n2 + n3:]))


def decode_frame_content(symbols) -> FrameContent:
    """Decode 6000 clean hard symbols and parse them; MessageError if a CRC or the sync fails."""
    decoded = afs_frame.decode_frame(symbols)
    if not decoded.ok:
        raise MessageError(f"frame does not decode: sync {decoded.sync_ok}, CRCs {decoded.crc_ok}")
    return parse_data_bits(decoded.data_bits, decoded.fid, decoded.toi)
