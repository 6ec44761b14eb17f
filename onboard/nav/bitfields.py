"""Scaled fields of navigation messages: a value in physical units <-> the field's raw bits.

A field is ``bits`` wide, two's complement when signed, and one LSB is worth ``scale`` (IS-GPS-200
§20.3.3, Tables 20-I/III/VI; the LSIS-AFS SB2 layout of ``afs_message``).  Angles are radians here
and semicircles on the wire: ``pi`` is the value the message's standard tells users to take for
pi (IS-GPS-200 §20.3.3.4.3 fixes 3.1415926535898), and an angle wraps to [-1, 1) semicircle.
"""

from __future__ import annotations

import math

from onboard.errors import LunarelayError


class FieldError(LunarelayError, ValueError):
    """A value that does not fit its field; the message names the field."""


def to_raw(name: str, value: float, bits: int, signed: bool, scale: float, pi: float | None = None) -> int:
    """The raw field bits of ``value``; ``pi`` set for an angle (radians -> semicircles)."""
    x = value
    if pi is not None:
        x = math.remainder(value / pi, 2.0)           # -1 <= semicircles <= 1
    raw = round(x / scale)
    half = 1 << (bits - 1)
    lo, hi = (-half, half - 1) if signed else (0, 2 * half - 1)
    if pi is not None and signed and raw == hi + 1:
        raw = lo                                      # +1 semicircle is -1 semicircle
    if not lo <= raw <= hi:
        raise FieldError(f"{name} = {value!r} does not fit {bits} {'signed' if signed else 'unsigned'} "
                         f"bits of {scale:g}")
    return raw & ((1 << bits) - 1)


def from_raw(raw: int, bits: int, signed: bool, scale: float, pi: float | None = None) -> float | int:
    """The value of raw field bits: an int for a plain count (scale 1, not an angle)."""
    if signed and raw >> (bits - 1):
        raw -= 1 << bits
    if scale == 1.0 and pi is None:
        return raw
    x = raw * scale
    return x * pi if pi is not None else x
