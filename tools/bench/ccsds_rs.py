"""CCSDS Reed-Solomon RS(255,223) against libfec, measured in the same run.

lunarelay codes codeblocks of interleave depth 5 in the dual basis, one C call per batch.  The
baseline is Debian's libfec (Phil Karn), ``encode_rs_ccsds``/``decode_rs_ccsds`` (the same code,
also dual basis), called once per codeword through cffi's ABI mode on the same codewords; the
call costs well under a microsecond, against several microseconds of work per codeword.  Figures
are MB/s of information bytes (223 per codeword), single-threaded, medians of interleaved runs;
the decode-with-errors batch has 16 symbol errors at random positions in every codeword.
"""

from __future__ import annotations

import ctypes.util
import glob

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core import simd
from onboard.core.rs import ReedSolomon
from onboard.errors import LunarelayError

SUITE = "ccsds"
DESCRIPTION = "RS(255,223) encode / decode vs libfec, interleave 5, dual basis, one core"
DEPTH = 5
K, N = 223, 255


def _libfec():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("""
        void encode_rs_ccsds(unsigned char *data, unsigned char *parity, int pad);
        int decode_rs_ccsds(unsigned char *data, int *eras_pos, int no_eras, int pad);
    """)
    for name in filter(None, [ctypes.util.find_library("fec"), *sorted(glob.glob("/usr/lib/*/libfec.so.0"))]):
        try:
            return ffi, ffi.dlopen(name)
        except OSError:
            continue
    raise LunarelayError("the ccsds RS bench needs libfec as its baseline: install Debian libfec-dev "
                         "(tests/peers/install-debian.sh)")


def _codewords(blocks: np.ndarray) -> np.ndarray:
    """(codewords, 255) de-interleaved copy of (blocks, DEPTH*255) codeblocks."""
    return np.ascontiguousarray(blocks.reshape(len(blocks), N, DEPTH).transpose(0, 2, 1).reshape(-1, N))


def run(quick: bool = False) -> list[Measurement]:
    ffi, fec = _libfec()
    n_blocks = 80 if quick else 400
    repeat = 3 if quick else 9
    rng = np.random.default_rng(1)
    rs = ReedSolomon(e=16, interleave=DEPTH, dual_basis=True)
    data = rng.integers(0, 256, (n_blocks, rs.data_len), dtype=np.uint8)
    blocks = rs.encode(data)
    rx = blocks.copy()
    for row in rx:
        for j in range(DEPTH):
            row[rng.choice(N, 16, replace=False) * DEPTH + j] ^= rng.integers(1, 256, 16, dtype=np.uint8)

    # libfec works on one de-interleaved codeword at a time, in place.
    cw_clean, cw_rx = _codewords(blocks), _codewords(rx)
    cw_work = cw_rx.copy()
    parity = np.empty((len(cw_clean), 32), dtype=np.uint8)
    clean_p = [ffi.from_buffer("unsigned char[]", row) for row in cw_clean]
    work_p = [ffi.from_buffer("unsigned char[]", row) for row in cw_work]
    par_p = [ffi.from_buffer("unsigned char[]", row) for row in parity]
    null = ffi.NULL

    def fec_encode():
        for d, p in zip(clean_p, par_p, strict=True):
            fec.encode_rs_ccsds(d, p, 0)

    def fec_decode_clean():
        return [fec.decode_rs_ccsds(d, null, 0, 0) for d in clean_p]

    def fec_decode_errors():
        np.copyto(cw_work, cw_rx)
        return [fec.decode_rs_ccsds(d, null, 0, 0) for d in work_p]

    def on(level, fn):
        def call():
            with simd.forced(level):
                return fn()
        return call

    # Both sides must really do the work being timed.
    fec_encode()
    if not (parity == cw_clean[:, K:]).all():
        raise LunarelayError("libfec and lunarelay RS encodings differ; the bench would compare unlike work")
    if fec_decode_errors() != [16] * len(cw_rx) or not (rs.decode(rx).corrected == 16 * DEPTH).all():
        raise LunarelayError("a decoder did not correct the 16 errors per codeword; bench aborted")

    best = simd.supported()
    fns = {"fec_enc": fec_encode, "fec_clean": fec_decode_clean, "fec_err": fec_decode_errors}
    for level in {best, simd.SimdLevel.PORTABLE}:
        fns[("enc", level)] = on(level, lambda: rs.encode(data))
        fns[("clean", level)] = on(level, lambda: rs.decode(blocks))
        fns[("err", level)] = on(level, lambda: rs.decode(rx))
    times = interleaved_medians(fns, repeat)
    info = data.nbytes
    mbs = {key: info / t / 1e6 for key, t in times.items()}

    out = []
    for level in sorted({best, simd.SimdLevel.PORTABLE}, reverse=True):
        tag = level.name.lower()
        out += [
            Measurement(SUITE, f"RS(255,223) I=5 encode ({tag})", mbs[("enc", level)], "MB/s",
                        "libfec encode_rs_ccsds", mbs["fec_enc"]),
            Measurement(SUITE, f"RS(255,223) I=5 decode clean ({tag})", mbs[("clean", level)], "MB/s",
                        "libfec decode_rs_ccsds", mbs["fec_clean"]),
            Measurement(SUITE, f"RS(255,223) I=5 decode 16 errors/cw ({tag})", mbs[("err", level)], "MB/s",
                        "libfec decode_rs_ccsds", mbs["fec_err"]),
        ]
    return out
