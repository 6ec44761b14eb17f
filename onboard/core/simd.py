"""Which SIMD path the C core uses (csrc/lr_cpu.h)."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator

from onboard.core._api import check, lib


class SimdLevel(enum.IntEnum):
    PORTABLE = lib.LR_SIMD_PORTABLE
    AVX2 = lib.LR_SIMD_AVX2


def supported() -> SimdLevel:
    """The best path this CPU supports."""
    return SimdLevel(lib.lr_simd_supported())


def active() -> SimdLevel:
    """The path in use: the best supported, unless LUNARELAY_SIMD=portable."""
    return SimdLevel(lib.lr_simd_level())


@contextlib.contextmanager
def forced(level: SimdLevel) -> Iterator[None]:
    """Run the kernels on ``level`` inside the block, for comparing paths."""
    check(lib.lr_simd_force(int(level)), f"force SIMD level {level.name}")
    try:
        yield
    finally:
        lib.lr_simd_force(-1)
