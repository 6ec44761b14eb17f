"""Convolutional code interop with Phil Karn's libfec (Debian libfec-dev).

libfec has no K=7 encoder function, so its side of the encoding is its exported parity table
``Partab`` (after ``partab_init``) over its own polynomials, in the order its fec.h gives for
CCSDS: V27POLYB, then V27POLYA inverted.  Its Viterbi decoder (``create_viterbi27`` ...
``chainback_viterbi27``, the portable C one in Debian) is told the same convention with
``set_viterbi27_polynomial`` (a negative polynomial means an inverted output).  Both sides use
8-bit offset-binary soft symbols: 0 = '0', 255 = '1'.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from conftest import require_libfec

from onboard.core import simd
from onboard.core.conv import decode_frame_bits, encode_frame

pytestmark = pytest.mark.interop

V27POLYA, V27POLYB = 0x6D, 0x4F  # fec.h
u8p = ctypes.POINTER(ctypes.c_ubyte)


@pytest.fixture(scope="module")
def libfec():
    lib = require_libfec(("create_viterbi27", "init_viterbi27", "update_viterbi27_blk", "chainback_viterbi27",
                          "delete_viterbi27", "set_viterbi27_polynomial", "partab_init"))
    lib.create_viterbi27.restype = ctypes.c_void_p
    lib.create_viterbi27.argtypes = [ctypes.c_int]
    lib.init_viterbi27.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.update_viterbi27_blk.argtypes = [ctypes.c_void_p, u8p, ctypes.c_int]
    lib.chainback_viterbi27.argtypes = [ctypes.c_void_p, u8p, ctypes.c_uint, ctypes.c_uint]
    lib.delete_viterbi27.argtypes = [ctypes.c_void_p]
    lib.set_viterbi27_polynomial.argtypes = [ctypes.POINTER(ctypes.c_int)]
    lib.partab_init.restype = None
    lib.set_viterbi27_polynomial((ctypes.c_int * 2)(V27POLYB, -V27POLYA))
    lib.partab_init()
    return lib


def libfec_encode(lib, bits: np.ndarray) -> np.ndarray:
    """Symbols 0/1 for ``bits`` plus the six-bit tail, via libfec's parity table."""
    partab = np.ctypeslib.as_array((ctypes.c_ubyte * 256).in_dll(lib, "Partab"))
    sr = 0
    out = []
    for b in [*bits.tolist(), 0, 0, 0, 0, 0, 0]:
        sr = ((sr << 1) | b) & 0x7F
        out += [int(partab[sr & V27POLYB]), int(partab[sr & V27POLYA]) ^ 1]
    return np.array(out, dtype=np.uint8)


def libfec_decode(lib, soft: np.ndarray, n_bits: int) -> np.ndarray:
    vp = lib.create_viterbi27(n_bits)
    try:
        lib.init_viterbi27(vp, 0)
        buf = np.ascontiguousarray(soft, dtype=np.uint8)
        lib.update_viterbi27_blk(vp, buf.ctypes.data_as(u8p), n_bits + 6)
        out = np.zeros((n_bits + 7) // 8, dtype=np.uint8)
        lib.chainback_viterbi27(vp, out.ctypes.data_as(u8p), n_bits, 0)
    finally:
        lib.delete_viterbi27(vp)
    return np.unpackbits(out)[:n_bits]


def bpsk_soft(symbols01: np.ndarray, ebn0_db: float, rng, rate: float = 0.5) -> np.ndarray:
    """BPSK over AWGN at Eb/N0, quantised to offset-binary bytes ('1' -> high)."""
    sigma = np.sqrt(1.0 / (2.0 * rate * 10 ** (ebn0_db / 10)))
    y = (2.0 * symbols01 - 1.0) + rng.normal(0.0, sigma, symbols01.size)
    return np.clip(np.rint(127.5 + 48.0 * y), 0, 255).astype(np.uint8)


def test_libfec_parity_table_encoding_equals_ours(libfec, rng):
    for n_bytes in (1, 7, 223, 1115):
        data = rng.integers(0, 256, n_bytes, dtype=np.uint8)
        theirs = libfec_encode(libfec, np.unpackbits(data))
        assert encode_frame(data.tobytes(), soft=False).tolist() == theirs.tolist()


def test_libfec_decodes_our_clean_encoding(libfec, rng):
    data = rng.integers(0, 256, 1115, dtype=np.uint8)
    got = libfec_decode(libfec, encode_frame(data.tobytes()), 8 * data.size)
    assert got.tolist() == np.unpackbits(data).tolist()


@pytest.mark.parametrize("level", [simd.SimdLevel.PORTABLE, simd.supported()])
def test_we_decode_libfec_encoded_soft_symbols(libfec, rng, level):
    bits = rng.integers(0, 2, 8 * 600, dtype=np.uint8)
    soft = bpsk_soft(libfec_encode(libfec, bits), 5.0, rng)
    with simd.forced(level):
        assert decode_frame_bits(soft, bits.size).tolist() == bits.tolist()


@pytest.mark.parametrize("ebn0_db", [2.0, 2.5, 3.0, 3.5])
def test_we_decode_noisy_frames_at_least_as_well_as_libfec(libfec, rng, ebn0_db):
    """Same frames, same noise, both decoders; totals over 40 frames of 1784 bits (a 223-byte block)."""
    ours = theirs = 0
    n_bits = 8 * 223
    for _ in range(40):
        data = rng.integers(0, 256, 223, dtype=np.uint8)
        want = np.unpackbits(data)
        soft = bpsk_soft(encode_frame(data.tobytes(), soft=False), ebn0_db, rng)
        ours += int((decode_frame_bits(soft, n_bits) != want).sum())
        theirs += int((libfec_decode(libfec, soft, n_bits) != want).sum())
    assert theirs > 0 or ebn0_db >= 3.0  # the low-Eb/N0 cases must actually exercise correction
    assert ours <= theirs


def test_viterbi_bench_measures_against_libfec_in_the_same_run(libfec):
    from lunarelay_tools.bench import ccsds_viterbi

    results = ccsds_viterbi.run(quick=True)
    names = [m.name for m in results]
    assert any(n.startswith("viterbi27 soft r=1/2") for n in names)
    assert "conv encoder r=1/2 (64-bit words)" in names
    for m in results:
        assert m.suite == "ccsds" and m.unit == "Mbit/s"
        assert m.value > 0 and m.baseline_value > 0
    assert results[0].baseline == "libfec viterbi27 (portable C)"
