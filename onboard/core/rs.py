"""CCSDS Reed-Solomon codes RS(255,223) and RS(255,239) (CCSDS 131.0-B-4 §4; csrc/lr_rs.h).

``ReedSolomon(e=16, interleave=5, dual_basis=True, virtual_fill=0)`` encodes and decodes whole
codeblocks: ``interleave`` codewords interleaved symbol by symbol (§4.3.7), each carrying
``k = 255 - 2E - Q`` data symbols and ``2E`` check symbols, with ``Q = virtual_fill`` leading zero
symbols that are not transmitted (§4.3.8).  Symbols on the wire are in the dual (Berlekamp) basis
of Annex F unless ``dual_basis=False``.  Every call takes a batch of codeblocks and makes one C
call.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from onboard.core._api import byte_ptr, check, ffi, lib

INTERLEAVE_DEPTHS = (1, 2, 3, 4, 5, 8)  # CCSDS 131.0-B-4 §4.3.7
CORRECTABLE = (8, 16)  # E: RS(255,239) and RS(255,223)


class RsDecoded(NamedTuple):
    data: np.ndarray       # corrected data; uncorrectable codewords pass through as received
    corrected: np.ndarray  # symbols corrected per codeblock (in its correctable codewords)
    ok: np.ndarray         # True where every codeword of the codeblock was correctable


class ReedSolomon:
    """One CCSDS Reed-Solomon configuration; immutable, any number of calls."""

    def __init__(self, e: int = 16, interleave: int = 1, dual_basis: bool = True,
                 virtual_fill: int = 0):
        if e not in CORRECTABLE:
            raise ValueError(f"E must be 8 (RS(255,239)) or 16 (RS(255,223)), not {e}")
        if interleave not in INTERLEAVE_DEPTHS:
            raise ValueError(f"interleave depth must be one of {INTERLEAVE_DEPTHS}, not {interleave}")
        if not 0 <= virtual_fill < 255 - 2 * e:
            raise ValueError(f"virtual fill must be in 0..{254 - 2 * e} for E={e}, not {virtual_fill}")
        self._rs = ffi.new("struct lr_rs *")
        check(lib.lr_rs_init(self._rs, e, interleave, int(bool(dual_basis)), virtual_fill), "RS init")
        self.e = e
        self.interleave = interleave
        self.dual_basis = bool(dual_basis)
        self.virtual_fill = virtual_fill

    def __repr__(self) -> str:
        return (f"ReedSolomon(e={self.e}, interleave={self.interleave}, dual_basis={self.dual_basis}, "
                f"virtual_fill={self.virtual_fill})")

    @property
    def n(self) -> int:
        """Transmitted symbols per codeword."""
        return int(self._rs.n)

    @property
    def k(self) -> int:
        """Data symbols per codeword."""
        return int(self._rs.k)

    @property
    def data_len(self) -> int:
        """Data bytes per codeblock (I*k)."""
        return self.interleave * self.k

    @property
    def block_len(self) -> int:
        """Bytes per codeblock (I*n)."""
        return self.interleave * self.n

    @staticmethod
    def _bytes(buf, what: str):
        if isinstance(buf, np.ndarray):
            if buf.dtype != np.uint8:
                raise ValueError(f"{what} must be bytes or a uint8 array, not a {buf.dtype} array")
            if not buf.flags.c_contiguous:
                raise ValueError(f"{what} must be a contiguous array")
            buf = buf.reshape(-1)  # a view; also lets an empty 2-D batch through
        return byte_ptr(buf)

    def _count(self, size: int, unit: int, what: str) -> int:
        if size % unit:
            raise ValueError(f"{size} bytes is not a whole number of {unit}-byte {what} for {self!r}")
        return size // unit

    def encode(self, data) -> np.ndarray:
        """Codeblocks of ``data`` (a whole number of ``data_len``-byte frames, back to back or as
        rows of a 2-D array).  Returns uint8, 1-D, or one row per codeblock for 2-D input."""
        ptr, size = self._bytes(data, "data")
        blocks = self._count(size, self.data_len, "codeblock data fields")
        out = np.empty((blocks, self.block_len), dtype=np.uint8)
        check(lib.lr_rs_encode(self._rs, ptr, size, ffi.from_buffer("uint8_t[]", out), out.size),
              "RS encode")
        return out if np.ndim(data) == 2 else out.reshape(-1)

    def decode_codewords(self, codeblocks) -> tuple[np.ndarray, np.ndarray]:
        """(data, counts): counts[b, j] is the number of symbols corrected in codeword j of
        codeblock b, or -1 if it is uncorrectable.  data is shaped like ``encode``'s input."""
        ptr, size = self._bytes(codeblocks, "codeblocks")
        blocks = self._count(size, self.block_len, "codeblocks")
        out = np.empty((blocks, self.data_len), dtype=np.uint8)
        counts = np.empty((blocks, self.interleave), dtype=np.int16)
        check(lib.lr_rs_decode(self._rs, ptr, size, ffi.from_buffer("uint8_t[]", out), out.size,
                               ffi.from_buffer("int16_t[]", counts), counts.size), "RS decode")
        return (out if np.ndim(codeblocks) == 2 else out.reshape(-1)), counts

    def decode(self, codeblocks) -> RsDecoded:
        """Correct a batch of codeblocks: (data, corrected symbols per codeblock, ok per codeblock)."""
        data, counts = self.decode_codewords(codeblocks)
        ok = (counts >= 0).all(axis=1)
        corrected = np.where(counts > 0, counts, 0).sum(axis=1, dtype=np.int64)
        return RsDecoded(data, corrected, ok)
