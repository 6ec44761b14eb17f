"""Reed-Solomon interop with Phil Karn's libfec (Debian libfec-dev), per codeword.

libfec has no interleaving, so every codeword of a lunarelay codeblock is taken out and handed to
libfec on its own.  RS(255,223): ``encode_rs_8``/``decode_rs_8`` (conventional basis) and
``encode_rs_ccsds``/``decode_rs_ccsds`` (dual basis).  RS(255,239): libfec's general codec
``init_rs_char(8, 0x187, fcr=120, prim=11, nroots=16, pad)``, with libfec's own ``Taltab`` and
``Tal1tab`` basis tables for the dual basis.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from conftest import require_libfec

from onboard.core.rs import ReedSolomon

pytestmark = pytest.mark.interop

u8p = ctypes.POINTER(ctypes.c_ubyte)


@pytest.fixture(scope="module")
def libfec():
    lib = require_libfec(("encode_rs_8", "decode_rs_8", "encode_rs_ccsds", "decode_rs_ccsds", "init_rs_char",
                          "encode_rs_char", "decode_rs_char", "free_rs_char", "Taltab", "Tal1tab"))
    for fn in ("encode_rs_8", "encode_rs_ccsds", "encode_rs_char"):
        getattr(lib, fn).restype = None
    for fn in ("decode_rs_8", "decode_rs_ccsds"):
        getattr(lib, fn).argtypes = [u8p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.init_rs_char.restype = ctypes.c_void_p
    lib.init_rs_char.argtypes = [ctypes.c_int] * 6
    lib.encode_rs_char.argtypes = [ctypes.c_void_p, u8p, u8p]
    lib.decode_rs_char.argtypes = [ctypes.c_void_p, u8p, ctypes.c_void_p, ctypes.c_int]
    lib.free_rs_char.argtypes = [ctypes.c_void_p]
    return lib


class LibfecCodec:
    """One libfec codeword codec matching a ReedSolomon configuration."""

    def __init__(self, lib: ctypes.CDLL, rs: ReedSolomon):
        self.lib, self.rs, self.pad = lib, rs, rs.virtual_fill
        self.handle = None
        if rs.e == 8:
            self.handle = lib.init_rs_char(8, 0x187, 120, 11, 16, self.pad)
            assert self.handle
            self.taltab = np.ctypeslib.as_array((ctypes.c_ubyte * 256).in_dll(lib, "Taltab"))
            self.tal1tab = np.ctypeslib.as_array((ctypes.c_ubyte * 256).in_dll(lib, "Tal1tab"))

    def close(self):
        if self.handle:
            self.lib.free_rs_char(self.handle)

    def parity(self, data: np.ndarray) -> np.ndarray:
        rs = self.rs
        buf = np.ascontiguousarray(data, dtype=np.uint8)
        par = np.zeros(2 * rs.e, dtype=np.uint8)
        if rs.e == 16:
            fn = self.lib.encode_rs_ccsds if rs.dual_basis else self.lib.encode_rs_8
            fn(buf.ctypes.data_as(u8p), par.ctypes.data_as(u8p), self.pad)
            return par
        if rs.dual_basis:
            buf = self.tal1tab[buf]
        self.lib.encode_rs_char(self.handle, buf.ctypes.data_as(u8p), par.ctypes.data_as(u8p))
        return self.taltab[par] if rs.dual_basis else par

    def decode(self, codeword: np.ndarray) -> tuple[np.ndarray, int]:
        rs = self.rs
        buf = np.array(codeword, dtype=np.uint8)
        if rs.e == 16:
            fn = self.lib.decode_rs_ccsds if rs.dual_basis else self.lib.decode_rs_8
            r = fn(buf.ctypes.data_as(u8p), None, 0, self.pad)
            return buf, r
        if rs.dual_basis:
            buf = np.ascontiguousarray(self.tal1tab[buf])
        r = self.lib.decode_rs_char(self.handle, buf.ctypes.data_as(u8p), None, 0)
        return (self.taltab[buf] if rs.dual_basis else buf), r


def test_libfec_reproduces_the_rs255_223_vector(libfec):
    parity = LibfecCodec(libfec, ReedSolomon(e=16, dual_basis=False)).parity(np.arange(223, dtype=np.uint8))
    assert parity.tobytes().hex() == "2fbd4fb4748494b9acd554627212eeb3ebed41191de1d36320ea49290b25abcf"


CONFIGS = [(e, dual, depth, fill) for e in (16, 8) for dual in (False, True)
           for depth, fill in [(1, 0), (2, 0), (3, 17), (5, 0), (8, 100)]]


@pytest.mark.parametrize(("e", "dual_basis", "depth", "fill"), CONFIGS)
def test_encodings_identical_to_libfec(libfec, rng, e, dual_basis, depth, fill):
    rs = ReedSolomon(e=e, interleave=depth, dual_basis=dual_basis, virtual_fill=fill)
    peer = LibfecCodec(libfec, rs)
    data = rng.integers(0, 256, (3, rs.data_len), dtype=np.uint8)
    blocks = rs.encode(data)
    try:
        for b in range(3):
            for j in range(depth):
                want = peer.parity(data[b, j::depth])
                assert (blocks[b, rs.data_len + j::depth] == want).all(), (b, j)
    finally:
        peer.close()


@pytest.mark.parametrize(("e", "dual_basis", "depth", "fill"),
                         [(16, True, 5, 0), (16, False, 2, 30), (8, True, 4, 0), (8, False, 1, 60)])
def test_random_error_patterns_decoded_like_libfec(libfec, rng, e, dual_basis, depth, fill):
    rs = ReedSolomon(e=e, interleave=depth, dual_basis=dual_basis, virtual_fill=fill)
    peer = LibfecCodec(libfec, rs)
    blocks_n = 60
    data = rng.integers(0, 256, (blocks_n, rs.data_len), dtype=np.uint8)
    rx = rs.encode(data)
    for row in rx:
        for j in range(depth):
            errors = int(rng.integers(0, e + 6))   # up to E+5: past E, libfec's verdict rules
            pos = rng.choice(rs.n, errors, replace=False)
            row[pos * depth + j] ^= rng.integers(1, 256, errors, dtype=np.uint8)
    out, counts = rs.decode_codewords(rx)
    flagged_by_libfec = corrected_by_both = 0
    try:
        for b in range(blocks_n):
            for j in range(depth):
                fixed, r = peer.decode(rx[b, j::depth])
                if r < 0:
                    flagged_by_libfec += 1
                    assert counts[b, j] == -1, (b, j)
                else:
                    corrected_by_both += 1
                    assert counts[b, j] == r, (b, j)
                    assert (out[b, j::depth] == fixed[:rs.k]).all(), (b, j)
                    assert (out[b, j::depth] == data[b, j::depth]).all(), (b, j)
    finally:
        peer.close()
    # Both verdicts must actually have been exercised.
    total = blocks_n * depth
    assert flagged_by_libfec >= total // 10 and corrected_by_both >= total // 3


def test_bench_reports_each_rs_figure_against_libfec(libfec):
    from lunarelay_tools.bench import ccsds_rs

    results = ccsds_rs.run(quick=True)
    names = [m.name for m in results]
    for op in ("encode", "decode clean", "decode 16 errors/cw"):
        assert f"RS(255,223) I=5 {op} (portable)" in names
        assert any(op in n and "(portable)" not in n for n in names) or len(names) == 3
    assert all(m.suite == "ccsds" and m.unit == "MB/s" and m.value > 0 and m.baseline_value > 0
               and m.baseline.startswith("libfec") for m in results)
