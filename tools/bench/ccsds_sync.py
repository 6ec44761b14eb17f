"""TM frame synchronisation and derandomization, against scalar references run in the same process.

* ASM search: a noisy bit stream (random bits, no marker) through the frame synchroniser in
  SEARCH, with a 2-bit error tolerance and the inverted marker, at every bit offset.  Baseline:
  the C loop that extracts the 32 bits at each offset and counts differing bits.
* Derandomizer: 1279-octet CADUs (RS(255,223) I=5 frames plus ASM), sequence restarted per CADU.
  Baseline: the shift register run one bit at a time, in C.
"""

from __future__ import annotations

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core import simd
from onboard.core.rand import RandKernel, Sequence, randomize_frames
from onboard.core.sync import FrameSync, SyncKernel

SUITE = "ccsds"
DESCRIPTION = "ASM search over noise and CADU derandomization, one core"
CADU_LEN = 1279


def _search(stream: np.ndarray, kernel: SyncKernel) -> None:
    sync = FrameSync(CADU_LEN - 4, search_errors=2, detect_inverted=True, kernel=kernel)
    sync.push_bits(stream)


def run(quick: bool = False) -> list[Measurement]:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (1 if quick else 4) << 20, dtype=np.uint8)
    kernels = {k: (lambda k=k: _search(noise, k))
               for k in (SyncKernel.AUTO, SyncKernel.VECTOR, SyncKernel.WINDOW, SyncKernel.BITWISE)}
    t = interleaved_medians(kernels, repeat=3 if quick else 9)
    mbps = {k: noise.size * 8 / v / 1e6 for k, v in t.items()}
    search_base = "ASM search, marker extracted at each offset (C)"
    auto = "avx2" if simd.active() >= simd.SimdLevel.AVX2 else "portable"

    cadus = rng.integers(0, 256, CADU_LEN * (256 if quick else 1024), dtype=np.uint8)
    out = np.empty_like(cadus)
    rands = {k: (lambda k=k: randomize_frames(cadus, CADU_LEN, 4, Sequence.TM, k, out))
             for k in (RandKernel.AUTO, RandKernel.WORDS, RandKernel.LFSR)}
    # The slow bit-serial baseline is timed apart: interleaved with it, whichever fast kernel
    # ran right after it measured half its speed.
    r = interleaved_medians({k: rands[k] for k in (RandKernel.AUTO, RandKernel.WORDS)},
                            repeat=5 if quick else 21)
    r.update(interleaved_medians({RandKernel.LFSR: rands[RandKernel.LFSR]}, repeat=3 if quick else 5))
    gbs = {k: cadus.size / v / 1e9 for k, v in r.items()}
    rand_base = "TM derandomizer, bit-serial LFSR (C)"
    return [
        Measurement(SUITE, f"ASM search over noise, {auto}", mbps[SyncKernel.AUTO], "Mbit/s", search_base,
                    mbps[SyncKernel.BITWISE]),
        Measurement(SUITE, "ASM search over noise, portable vectors", mbps[SyncKernel.VECTOR], "Mbit/s",
                    search_base, mbps[SyncKernel.BITWISE]),
        Measurement(SUITE, "ASM search over noise, portable scalar window", mbps[SyncKernel.WINDOW],
                    "Mbit/s", search_base, mbps[SyncKernel.BITWISE]),
        Measurement(SUITE, f"TM derandomizer 1279-octet CADUs, {auto}", gbs[RandKernel.AUTO], "GB/s",
                    rand_base, gbs[RandKernel.LFSR]),
        Measurement(SUITE, "TM derandomizer 1279-octet CADUs, portable", gbs[RandKernel.WORDS], "GB/s",
                    rand_base, gbs[RandKernel.LFSR]),
    ]
