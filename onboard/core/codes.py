"""Spreading codes: GPS L1 C/A and LunaNet AFS-I / AFS-Q (csrc/lr_codes.h).

Every function returns one code period as a read-only numpy ``uint8`` array of
logic-level chips (0 or 1; the signal maps logic 0 -> +1 and 1 -> -1, LSIS-AFS V1.0
Table 8, and the same for GPS).  Tables are generated once per PRN and cached.

- GPS L1 C/A: 1023-chip Gold codes, PRN 1..37 (IS-GPS-200 §3.3.2.3, Table 3-Ia).
- AFS-I: 2046-chip Gold codes at 1.023 Mcps, PRN 1..210 (LSIS-AFS V1.0 App. C).
- AFS-Q primary: 10230-chip Weil codes at 5.115 Mcps, PRN 1..210 (LSIS App. D).
- AFS-Q secondary: S0..S3, one chip per 2 ms primary epoch (LSIS Table 10).
- AFS-Q tertiary: 1500-chip Weil codes, one chip per 8 ms (LSIS App. E).
"""

from __future__ import annotations

import enum
import functools

import numpy as np

from onboard.core._api import byte_ptr, check, lib


class CodeKind(enum.IntEnum):
    GPS_L1CA = lib.LR_CODE_GPS_L1CA
    AFS_I = lib.LR_CODE_AFS_I
    AFS_Q_PRIMARY = lib.LR_CODE_AFS_Q_PRIMARY
    AFS_Q_SECONDARY = lib.LR_CODE_AFS_Q_SECONDARY
    AFS_Q_TERTIARY = lib.LR_CODE_AFS_Q_TERTIARY


GPS_L1CA_CHIPS = lib.LR_GPS_L1CA_CHIPS
AFS_I_CHIPS = lib.LR_AFS_I_CHIPS
AFS_Q_PRIMARY_CHIPS = lib.LR_AFS_Q_PRIMARY_CHIPS
AFS_Q_SECONDARY_CHIPS = lib.LR_AFS_Q_SECONDARY_CHIPS
AFS_Q_TERTIARY_CHIPS = lib.LR_AFS_Q_TERTIARY_CHIPS
GPS_L1CA_PRN_MAX = lib.LR_GPS_L1CA_PRN_MAX
AFS_PRN_MAX = lib.LR_AFS_PRN_MAX

GPS_L1CA_CHIP_RATE_HZ = 1.023e6
AFS_I_CHIP_RATE_HZ = 1.023e6
AFS_Q_CHIP_RATE_HZ = 5.115e6


def code_length(kind: CodeKind) -> int:
    """Chips in one period of ``kind``."""
    return check(lib.lr_code_length(int(kind)), f"length of code kind {kind}")


def _frozen(chips: np.ndarray) -> np.ndarray:
    chips.flags.writeable = False
    return chips


def _generated(kind: CodeKind, prn: int, what: str) -> np.ndarray:
    out = np.empty(code_length(kind), dtype=np.uint8)
    ptr, n = byte_ptr(out, writable=True)
    check(lib.lr_code_generate(int(kind), prn, ptr, n), what)
    return _frozen(out)


def _prn_checked(prn: int, prn_max: int, name: str) -> int:
    if not isinstance(prn, int | np.integer) or not 1 <= prn <= prn_max:
        raise ValueError(f"{name} PRN must be an integer 1..{prn_max}, not {prn!r}")
    return int(prn)


@functools.cache
def gps_l1ca(prn: int) -> np.ndarray:
    """GPS L1 C/A code of ``prn`` (1..37), 1023 chips."""
    prn = _prn_checked(prn, GPS_L1CA_PRN_MAX, "GPS L1 C/A")
    return _generated(CodeKind.GPS_L1CA, prn, f"GPS L1 C/A PRN {prn}")


@functools.cache
def afs_i(prn: int) -> np.ndarray:
    """AFS-I primary Gold code of ``prn`` (1..210), 2046 chips."""
    prn = _prn_checked(prn, AFS_PRN_MAX, "AFS-I")
    return _generated(CodeKind.AFS_I, prn, f"AFS-I PRN {prn}")


@functools.cache
def afs_q_primary(prn: int) -> np.ndarray:
    """AFS-Q primary Weil code of ``prn`` (1..210), 10230 chips."""
    prn = _prn_checked(prn, AFS_PRN_MAX, "AFS-Q primary")
    return _generated(CodeKind.AFS_Q_PRIMARY, prn, f"AFS-Q primary PRN {prn}")


@functools.cache
def afs_q_tertiary(prn: int) -> np.ndarray:
    """AFS-Q tertiary Weil code of ``prn`` (1..210), 1500 chips (the last one an appended 0)."""
    prn = _prn_checked(prn, AFS_PRN_MAX, "AFS-Q tertiary")
    return _generated(CodeKind.AFS_Q_TERTIARY, prn, f"AFS-Q tertiary PRN {prn}")


@functools.cache
def afs_q_secondary(index: int) -> np.ndarray:
    """AFS-Q secondary code S<index> (0..3), 4 chips, leftmost first (LSIS Table 10)."""
    if not isinstance(index, int | np.integer) or not 0 <= index <= 3:
        raise ValueError(f"AFS-Q secondary code index must be 0..3, not {index!r}")
    return _generated(CodeKind.AFS_Q_SECONDARY, int(index), f"AFS-Q secondary S{index}")


def afs_q_secondary_index(prn: int) -> int:
    """Secondary code assigned to node ``prn``: S[(prn - 1) mod 4] (LSIS Table 11, interim)."""
    prn = _prn_checked(prn, AFS_PRN_MAX, "AFS")
    return (prn - 1) % 4


def afs_i_gold(g2_delay: int) -> np.ndarray:
    """AFS-I Gold code with an explicit G2 delay (0..2046), for configurable code sets."""
    out = np.empty(AFS_I_CHIPS, dtype=np.uint8)
    ptr, n = byte_ptr(out, writable=True)
    check(lib.lr_afs_i_gold(int(g2_delay), ptr, n), f"AFS-I Gold code with G2 delay {g2_delay}")
    return out


def afs_q_primary_weil(k: int, p: int) -> np.ndarray:
    """AFS-Q primary Weil code with explicit Weil index k (1..5111) and insertion index p (1..10223);
    LSIS-222 Note-1 keeps these configurable while they are {LSIS-TBC-2020}."""
    out = np.empty(AFS_Q_PRIMARY_CHIPS, dtype=np.uint8)
    ptr, n = byte_ptr(out, writable=True)
    check(lib.lr_afs_q_primary_weil(int(k), int(p), ptr, n), f"AFS-Q primary Weil code k={k} p={p}")
    return out


def afs_q_tertiary_weil(k: int) -> np.ndarray:
    """AFS-Q tertiary Weil code with an explicit Weil index k (1..749)."""
    out = np.empty(AFS_Q_TERTIARY_CHIPS, dtype=np.uint8)
    ptr, n = byte_ptr(out, writable=True)
    check(lib.lr_afs_q_tertiary_weil(int(k), ptr, n), f"AFS-Q tertiary Weil code k={k}")
    return out


def code(kind: CodeKind, prn: int) -> np.ndarray:
    """Cached code of any kind; ``prn`` is the secondary index 0..3 for AFS_Q_SECONDARY."""
    return {
        CodeKind.GPS_L1CA: gps_l1ca,
        CodeKind.AFS_I: afs_i,
        CodeKind.AFS_Q_PRIMARY: afs_q_primary,
        CodeKind.AFS_Q_SECONDARY: afs_q_secondary,
        CodeKind.AFS_Q_TERTIARY: afs_q_tertiary,
    }[CodeKind(kind)](prn)
