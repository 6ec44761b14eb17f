"""CCSDS time codes, 301.0-B-4: CUC (§3.2) and CDS (§3.3), to and from TAI seconds.

Times are seconds of TAI since the CCSDS epoch 1958-01-01T00:00:00 TAI (§3.2.4.3.1), passed as
an ``int``, ``float`` or ``fractions.Fraction`` (exact).  CDS days are taken as 86400 s of that
time scale, so no leap second ever lands in a CDS code made here.  Decoding returns a Fraction.

The P-field says which code follows; ``encode_*`` write it when ``with_pfield`` is true and
``decode`` reads it.  construct declarations (``CucPField``, ``cuc_construct``, ``CdsPField``,
``cds_construct``) serve as mission secondary headers in construct packet declarations.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from construct import BitsInteger, BitStruct, BytesInteger, Flag, If, Int16ub, Int24ub, Int32ub, Struct, this

from onboard.errors import LunarelayError

SECONDS_PER_DAY = 86400
# §3.2.2.2 / §3.3.2.2: time code identification in P-field bits 1-3.
CUC_ID_TAI_EPOCH = 0b001
CUC_ID_AGENCY_EPOCH = 0b010
CDS_ID = 0b100


class TimeCodeError(LunarelayError, ValueError):
    """A time code cannot be built or read as asked."""


# §3.2.2: first octet and the optional extension octet of the CUC P-field.
CucPField = BitStruct(
    "extension" / Flag,
    "time_code_id" / BitsInteger(3),
    "coarse_octets_m1" / BitsInteger(2),
    "fine_octets" / BitsInteger(2),
    "ext" / If(this.extension, Struct(
        "extension" / Flag,
        "coarse_octets_add" / BitsInteger(2),
        "fine_octets_add" / BitsInteger(3),
        "reserved" / BitsInteger(2),
    )),
)

# §3.3.2: CDS P-field.
CdsPField = BitStruct(
    "extension" / Flag,
    "time_code_id" / BitsInteger(3),
    "epoch_id" / BitsInteger(1),
    "day_24bit" / Flag,
    "sub_ms_resolution" / BitsInteger(2),
)


def cuc_construct(coarse_octets: int = 4, fine_octets: int = 2):
    """T-field of a CUC code with the given octet counts (no P-field), for secondary headers."""
    _check_cuc(coarse_octets, fine_octets)
    fields = ["coarse" / BytesInteger(coarse_octets)]
    if fine_octets:
        fields.append("fine" / BytesInteger(fine_octets))
    return Struct(*fields)


def cds_construct(day_octets: int = 2, sub_ms_octets: int = 0):
    """T-field of a CDS code (no P-field): day, ms of day, optional sub-ms."""
    if day_octets not in (2, 3) or sub_ms_octets not in (0, 2, 4):
        raise TimeCodeError(f"CDS day octets must be 2 or 3 and sub-ms octets 0, 2 or 4, "
                            f"not {day_octets} and {sub_ms_octets}")
    fields = ["day" / (Int16ub if day_octets == 2 else Int24ub), "ms_of_day" / Int32ub]
    if sub_ms_octets:
        fields.append("sub_ms" / (Int16ub if sub_ms_octets == 2 else Int32ub))
    return Struct(*fields)


def _check_cuc(coarse: int, fine: int) -> None:
    # §3.2.2: 1..4 coarse and 0..3 fine octets in the first P-field octet, up to 3 more coarse and
    # 4 more fine (301.0-B-4 allows 10 fine octets in all; this code keeps to 7) with the extension.
    if not 1 <= coarse <= 7 or not 0 <= fine <= 7:
        raise TimeCodeError(f"CUC needs 1..7 coarse and 0..7 fine octets, not {coarse} and {fine}")


def _to_fraction(tai_seconds) -> Fraction:
    try:
        t = Fraction(tai_seconds)
    except (ValueError, OverflowError, TypeError):      # nan, infinities, not a number
        raise TimeCodeError(f"time {tai_seconds!r} is not a finite number of seconds") from None
    if t < 0:
        raise TimeCodeError(f"time {float(t)} s is before the 1958 TAI epoch")
    return t


@dataclasses.dataclass(frozen=True)
class Cuc:
    """CUC layout: coarse (seconds) and fine (binary fractions of a second) octet counts."""

    coarse_octets: int = 4
    fine_octets: int = 2
    agency_epoch: bool = False

    def __post_init__(self) -> None:
        _check_cuc(self.coarse_octets, self.fine_octets)

    def pfield(self) -> bytes:
        code_id = CUC_ID_AGENCY_EPOCH if self.agency_epoch else CUC_ID_TAI_EPOCH
        c1 = min(self.coarse_octets, 4)
        f1 = min(self.fine_octets, 3)
        c2, f2 = self.coarse_octets - c1, self.fine_octets - f1
        ext = c2 > 0 or f2 > 0
        first = (int(ext) << 7) | (code_id << 4) | ((c1 - 1) << 2) | f1
        if not ext:
            return bytes([first])
        return bytes([first, (c2 << 5) | (f2 << 2)])

    def encode(self, tai_seconds, with_pfield: bool = False) -> bytes:
        t = _to_fraction(tai_seconds)
        coarse = int(t)
        # Fine time truncates toward the epoch, as a counter would.
        fine = int((t - coarse) * (1 << (8 * self.fine_octets)))
        if coarse >> (8 * self.coarse_octets):
            raise TimeCodeError(f"{coarse} s does not fit {self.coarse_octets} coarse octets")
        tfield = coarse.to_bytes(self.coarse_octets, "big") + fine.to_bytes(self.fine_octets, "big")
        return (self.pfield() if with_pfield else b"") + tfield

    def decode_tfield(self, data: bytes) -> Fraction:
        n = self.coarse_octets + self.fine_octets
        if len(data) < n:
            raise TimeCodeError(f"CUC T-field needs {n} octets, got {len(data)}")
        coarse = int.from_bytes(data[:self.coarse_octets], "big")
        fine = int.from_bytes(data[self.coarse_octets:n], "big")
        return coarse + Fraction(fine, 1 << (8 * self.fine_octets))

    @property
    def length(self) -> int:
        return self.coarse_octets + self.fine_octets


@dataclasses.dataclass(frozen=True)
class Cds:
    """CDS layout: 16- or 24-bit day count, 32-bit ms of day, optional sub-ms (µs or ps)."""

    day_octets: int = 2
    sub_ms_octets: int = 0  # 0, 2 (microseconds of ms) or 4 (picoseconds of ms)
    agency_epoch: bool = False

    def __post_init__(self) -> None:
        cds_construct(self.day_octets, self.sub_ms_octets)

    def pfield(self) -> bytes:
        res = {0: 0, 2: 1, 4: 2}[self.sub_ms_octets]
        return bytes([(CDS_ID << 4) | (int(self.agency_epoch) << 3) | ((self.day_octets == 3) << 2) | res])

    @property
    def length(self) -> int:
        return self.day_octets + 4 + self.sub_ms_octets

    def encode(self, tai_seconds, with_pfield: bool = False) -> bytes:
        t = _to_fraction(tai_seconds)
        day, rest = divmod(t, SECONDS_PER_DAY)
        ms, rest_ms = divmod(rest * 1000, 1)
        if int(day) >> (8 * self.day_octets):
            raise TimeCodeError(f"day {int(day)} does not fit {self.day_octets} day octets")
        out = int(day).to_bytes(self.day_octets, "big") + int(ms).to_bytes(4, "big")
        if self.sub_ms_octets == 2:
            out += int(rest_ms * 1000).to_bytes(2, "big")
        elif self.sub_ms_octets == 4:
            out += int(rest_ms * 1_000_000_000).to_bytes(4, "big")
        return (self.pfield() if with_pfield else b"") + out

    def decode_tfield(self, data: bytes) -> Fraction:
        if len(data) < self.length:
            raise TimeCodeError(f"CDS T-field needs {self.length} octets, got {len(data)}")
        d = self.day_octets
        day = int.from_bytes(data[:d], "big")
        ms = int.from_bytes(data[d:d + 4], "big")
        if ms >= SECONDS_PER_DAY * 1000 + 1000:  # one leap second at most (§3.3.1.3)
            raise TimeCodeError(f"CDS ms of day {ms} is out of range")
        t = day * SECONDS_PER_DAY + Fraction(ms, 1000)
        if self.sub_ms_octets == 2:
            sub = int.from_bytes(data[d + 4:d + 6], "big")
            if sub > 999:
                raise TimeCodeError(f"CDS microsecond of ms {sub} is out of range")
            t += Fraction(sub, 1_000_000)
        elif self.sub_ms_octets == 4:
            sub = int.from_bytes(data[d + 4:d + 8], "big")
            if sub > 999_999_999:
                raise TimeCodeError(f"CDS picosecond of ms {sub} is out of range")
            t += Fraction(sub, 1_000_000_000_000)
        return t


def layout_from_pfield(data: bytes) -> tuple[Cuc | Cds, int]:
    """The time code layout a P-field announces, and the P-field's length in octets."""
    if not data:
        raise TimeCodeError("empty time code")
    first = data[0]
    code_id = (first >> 4) & 7
    if code_id in (CUC_ID_TAI_EPOCH, CUC_ID_AGENCY_EPOCH):
        coarse, fine, n = ((first >> 2) & 3) + 1, first & 3, 1
        if first & 0x80:
            if len(data) < 2:
                raise TimeCodeError("CUC P-field announces an extension octet that is missing")
            coarse += (data[1] >> 5) & 3
            fine += (data[1] >> 2) & 7
            n = 2
            if data[1] & 0x80:
                raise TimeCodeError("CUC P-field with a second extension octet is not supported")
        return Cuc(coarse, fine, code_id == CUC_ID_AGENCY_EPOCH), n
    if code_id == CDS_ID:
        if first & 0x80:
            raise TimeCodeError("CDS P-field extension is not defined")
        res = first & 3
        if res == 3:
            raise TimeCodeError("CDS sub-millisecond resolution 11 is reserved")
        return Cds(3 if first & 4 else 2, (0, 2, 4)[res], bool(first & 8)), 1
    raise TimeCodeError(f"time code identification {code_id:03b} is not CUC or CDS")


def decode(data: bytes) -> tuple[Fraction, Cuc | Cds]:
    """Decode a time code that starts with its P-field: (TAI seconds since 1958, layout)."""
    layout, n = layout_from_pfield(data)
    return layout.decode_tfield(data[n:]), layout
