"""CRC-16/CCITT-FALSE, the CCSDS frame error control field, and the Proximity-1 CRC-32
(csrc/lr_crc.h).

CCSDS 132.0-B-3 §4.1.6 (TM), 232.0-B-4 §4.1.4.2 (TC), 732.0-B-4 §4.1.6 (AOS):
generator 0x1021, register preset to 0xFFFF, no output XOR.
CCSDS 211.2-B-3 §3.3.3 (Proximity-1 PLTU): generator 0x00A00805, preset 0, no output XOR.
"""

from __future__ import annotations

import enum

import numpy as np

from onboard.core._api import byte_ptr, check, ffi, lib

CCSDS_CRC16_INIT = 0xFFFF


class CrcKernel(enum.IntEnum):
    AUTO = lib.LR_CRC_AUTO
    BYTEWISE = lib.LR_CRC_BYTEWISE
    SLICE16 = lib.LR_CRC_SLICE16
    CLMUL = lib.LR_CRC_CLMUL


def crc16_ccitt(data, crc: int = CCSDS_CRC16_INIT, kernel: CrcKernel = CrcKernel.AUTO) -> int:
    """CRC of ``data`` (any byte buffer), continuing from register ``crc``."""
    if not 0 <= crc <= 0xFFFF:
        raise ValueError(f"CRC register {crc:#x} does not fit 16 bits")
    ptr, n = byte_ptr(data)
    return lib.lr_crc16_ccitt_kernel(int(kernel), crc, ptr, n)


def crc16_ccitt_frames(data, frame_len: int, kernel: CrcKernel = CrcKernel.AUTO) -> np.ndarray:
    """CRC (preset 0xFFFF) of every ``frame_len``-byte frame in ``data``, in one C call."""
    if frame_len <= 0:
        raise ValueError(f"frame length must be positive, not {frame_len}")
    ptr, size = byte_ptr(data)
    if size % frame_len:
        raise ValueError(f"{size} bytes is not a whole number of {frame_len}-byte frames")
    n = size // frame_len
    out = np.empty(n, dtype=np.uint16)
    check(lib.lr_crc16_ccitt_frames(int(kernel), ptr, frame_len, n,
                                    ffi.from_buffer("uint16_t[]", out), n), "crc16 frames")
    return out


def crc32_prox1(data, crc: int = 0) -> int:
    """Proximity-1 CRC-32 of ``data``, continuing from register ``crc`` (0 to start)."""
    if not 0 <= crc <= 0xFFFFFFFF:
        raise ValueError(f"CRC register {crc:#x} does not fit 32 bits")
    ptr, n = byte_ptr(data)
    return lib.lr_crc32_prox1(crc, ptr, n)
