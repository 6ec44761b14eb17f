"""The CCSDS pseudo-randomizers, TM and TC (csrc/lr_rand.h).

TM: CCSDS 131.0-B-4 §10.4, h(x) = x^8+x^7+x^5+x^3+1, restarted after the ASM of every CADU.
TC: CCSDS 231.0-B-4 §6, h(x) = x^8+x^6+x^4+x^3+x^2+x+1, restarted at every transfer frame.
Applying a randomizer twice gives the input back, so the same calls derandomize.
"""

from __future__ import annotations

import enum

import numpy as np

from onboard.core._api import byte_ptr, check, lib

ASM_LEN = 4


class Sequence(enum.IntEnum):
    TM = lib.LR_RAND_TM
    TC = lib.LR_RAND_TC


class RandKernel(enum.IntEnum):
    AUTO = lib.LR_RAND_AUTO
    LFSR = lib.LR_RAND_LFSR
    WORDS = lib.LR_RAND_WORDS
    AVX2 = lib.LR_RAND_AVX2


def randomize(data, sequence: Sequence = Sequence.TM, phase: int = 0,
              kernel: RandKernel = RandKernel.AUTO) -> np.ndarray:
    """``data`` XOR the sequence starting at its byte ``phase``, as a new uint8 array."""
    if phase < 0:
        raise ValueError(f"sequence phase must be non-negative, not {phase}")
    src, n = byte_ptr(data)
    out = np.empty(n, dtype=np.uint8)
    dst, _ = byte_ptr(out, writable=True)
    check(lib.lr_rand_apply(int(sequence), int(kernel), phase, src, n, dst, n), "randomize")
    return out


def randomize_frames(data, frame_len: int, skip: int = ASM_LEN, sequence: Sequence = Sequence.TM,
                     kernel: RandKernel = RandKernel.AUTO, out=None) -> np.ndarray:
    """(De)randomize every ``frame_len``-byte frame of ``data`` in one C call, leaving the first
    ``skip`` bytes of each (the ASM of a CADU) untouched.  ``out`` may be ``data`` itself
    (a writable buffer) to work in place."""
    if frame_len <= 0 or not 0 <= skip <= frame_len:
        raise ValueError(f"need 0 <= skip ({skip}) <= frame length ({frame_len}) and a positive length")
    src, n = byte_ptr(data)
    if n % frame_len:
        raise ValueError(f"{n} bytes is not a whole number of {frame_len}-byte frames")
    if out is None:
        out = np.empty(n, dtype=np.uint8)
    dst, n_out = byte_ptr(out, writable=True)
    check(lib.lr_rand_frames(int(sequence), int(kernel), frame_len, skip, src, n, dst, n_out),
          "randomize frames")
    return out


def derandomize_cadus(cadus, cadu_len: int) -> np.ndarray:
    """TM derandomization of a stream of whole CADUs (ASM + randomized frame)."""
    return randomize_frames(cadus, cadu_len, ASM_LEN, Sequence.TM)
