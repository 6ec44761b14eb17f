"""CRC-16/CCITT on 1113-byte frames (a common TM frame length) against a byte-wise table.

The baseline is the classic one-table, one-byte-per-step loop, in C, run in the same
process on the same buffer.
"""

from __future__ import annotations

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core import simd
from onboard.core.crc import CrcKernel, crc16_ccitt_frames

SUITE = "crc"
DESCRIPTION = "CRC-16/CCITT-FALSE, 1113-byte frames, one core"
FRAME_LEN = 1113


def run(quick: bool = False) -> list[Measurement]:
    n_frames = 256 if quick else 1024
    data = np.random.default_rng(1).integers(0, 256, FRAME_LEN * n_frames, dtype=np.uint8)
    kernels = {k: (lambda k=k: crc16_ccitt_frames(data, FRAME_LEN, k))
               for k in (CrcKernel.AUTO, CrcKernel.SLICE16, CrcKernel.BYTEWISE)}
    times = interleaved_medians(kernels, repeat=5 if quick else 21)
    gbps = {k: data.nbytes / t / 1e9 for k, t in times.items()}
    base = "crc16 byte-wise table (C)"
    auto_name = "clmul" if simd.active() >= simd.SimdLevel.AVX2 else "slice-by-16"
    return [
        Measurement(SUITE, f"crc16 auto ({auto_name})", gbps[CrcKernel.AUTO], "GB/s", base,
                    gbps[CrcKernel.BYTEWISE]),
        Measurement(SUITE, "crc16 slice-by-16 (portable)", gbps[CrcKernel.SLICE16], "GB/s", base,
                    gbps[CrcKernel.BYTEWISE]),
    ]
