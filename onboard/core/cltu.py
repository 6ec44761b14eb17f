"""TC BCH(63,56) codeblocks and CLTUs (CCSDS 231.0-B-4 §3 and §5; csrc/lr_cltu.h).

``encode_cltu`` wraps a (randomized or plain) TC transfer frame in a CLTU: start sequence EB 90,
BCH codeblocks with 0x55 fill, tail C5C5C5C5C5C5C579.  ``CltuDecoder`` finds CLTUs in an octet
stream, corrects one bit per codeblock (correction mode, §3.3) and counts everything it sees.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from onboard.core._api import byte_ptr, check, ffi, lib
from onboard.errors import LunarelayError

START_SEQUENCE = bytes.fromhex("EB90")
TAIL_SEQUENCE = bytes.fromhex("C5C5C5C5C5C5C579")
FILL = 0x55


class CltuEnd(enum.IntEnum):
    TAIL = lib.LR_CLTU_END_TAIL
    UNCORRECTABLE = lib.LR_CLTU_END_UNCORRECTABLE
    TRUNCATED = lib.LR_CLTU_END_TRUNCATED


class UncorrectableCodeblock(LunarelayError, ValueError):
    """A BCH codeblock has more errors than the decoder may correct."""


def bch_parity(info) -> int:
    """Parity octet (complemented parity bits, filler bit 0) of 7 information octets."""
    ptr, n = byte_ptr(info)
    if n != 7:
        raise ValueError(f"a BCH codeblock carries 7 information octets, not {n}")
    return lib.lr_bch_parity(ptr)


def bch_encode(data) -> np.ndarray:
    """Codeblocks (8 octets each) of ``data``, whose length must be a multiple of 7."""
    ptr, n = byte_ptr(data)
    if n % 7:
        raise ValueError(f"{n} octets is not a whole number of 7-octet codeblock payloads")
    out = np.empty(n // 7 * 8, dtype=np.uint8)
    check(lib.lr_bch_encode(ptr, n, ffi.from_buffer("uint8_t[]", out), out.size), "BCH encode")
    return out


def bch_decode_block(codeblock, correct: bool = True) -> tuple[bytes, bool]:
    """(7 information octets, whether a bit was corrected) of one 8-octet codeblock."""
    ptr, n = byte_ptr(codeblock)
    if n != 8:
        raise ValueError(f"a BCH codeblock is 8 octets, not {n}")
    info = ffi.new("uint8_t[7]")
    r = lib.lr_bch_decode_block(ptr, int(correct), info)
    if r < 0:
        raise UncorrectableCodeblock(f"codeblock {bytes(ffi.buffer(ptr, 8)).hex()} is uncorrectable")
    return bytes(ffi.buffer(info, 7)), r == 1


def encode_cltu(frame) -> bytes:
    """One CLTU carrying ``frame`` (octets)."""
    ptr, n = byte_ptr(frame)
    size = lib.lr_cltu_encoded_len(n)
    out = bytearray(size)
    check(lib.lr_cltu_encode(ptr, n, ffi.from_buffer("uint8_t[]", out), size), "CLTU encode")
    return bytes(out)


@dataclasses.dataclass(frozen=True)
class Cltu:
    start: int        # offset of the start sequence in the input given to decode()
    data: bytes       # decoded octets, 7 per codeblock, fill included
    corrected: int    # codeblocks with one bit corrected
    end: CltuEnd


class CltuDecoder:
    """Finds and decodes CLTUs in octet-aligned input; counters accumulate across calls."""

    def __init__(self, correct: bool = True, start_tolerance: int = 0):
        if start_tolerance not in (0, 1):
            raise ValueError(f"start-sequence tolerance must be 0 or 1 bit, not {start_tolerance}")
        self._d = ffi.new("struct lr_cltu_decoder *")
        check(lib.lr_cltu_decoder_init(self._d, int(correct), start_tolerance), "CLTU decoder")

    @property
    def counters(self) -> dict[str, int]:
        d = self._d
        return {"cltus": d.cltus, "codeblocks": d.codeblocks, "corrected": d.corrected,
                "rejected": d.rejected, "tails": d.tails, "truncated": d.truncated,
                "octets_skipped": d.octets_skipped}

    def decode(self, data) -> list[Cltu]:
        """Every CLTU in ``data``; a CLTU cut by the end of ``data`` ends as TRUNCATED."""
        src, n = byte_ptr(data)
        out = np.empty(n // 8 * 7 + 7, dtype=np.uint8)
        n_info = n // 10 + 1
        info = ffi.new("struct lr_cltu_info[]", n_info)
        consumed = ffi.new("size_t *")
        found: list[Cltu] = []
        pos = 0
        while pos < n:
            r = check(lib.lr_cltu_decode(self._d, src + pos, n - pos, ffi.from_buffer("uint8_t[]", out),
                                         out.size, info, n_info, consumed), "CLTU decode")
            for i in range(r):
                ci = info[i]
                data_i = out[ci.out_offset:ci.out_offset + ci.n_data].tobytes()
                found.append(Cltu(pos + ci.start, data_i, ci.corrected, CltuEnd(ci.end)))
            if consumed[0] == 0:
                break
            pos += consumed[0]
        return found
