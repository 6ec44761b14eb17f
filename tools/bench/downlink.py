"""The downlink module's CADU output on one core: bus packets in, coded CADUs out (RS I=5 +
randomizer + ASM), through the module's own code path (``FrameScheduler`` virtual channels and
finished frames: MC count, CLCW in the OCF, FECF; ``code_frames``: ``TmSendChain``) into a file
sink on /dev/null.

Baseline, measured in the same run and alternated with it: the same packets through the same
scheduler, with the Reed-Solomon step done by Debian libfec's ``encode_rs_ccsds``,
one call per de-interleaved codeword, as a libfec-based implementation would.  Both outputs are
checked equal before timing.  Figures are CADU output bits per second of wall time.
"""

from __future__ import annotations

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from lunarelay_tools.bench.ccsds_rs import _libfec
from onboard.bus.packet import PacketType, pack
from onboard.ccsds.chain import TmSendChain
from onboard.core import rand, sync
from onboard.errors import LunarelayError
from onboard.links.cadu import FileSink
from onboard.modules import downlink as dl

SUITE = "downlink"
DESCRIPTION = "Downlink module CADU output (RS I=5 + randomizer), one core, vs the same path with libfec RS"
DEPTH, N, K = 5, 255, 223
CLCW = 0x0100_0000


def _traffic(n: int, rng) -> list[tuple[int, bytes]]:
    """(VC, packet) as the bus brings them: mostly relay data, some housekeeping and events."""
    out = []
    for i in range(n):
        kind = i % 10
        if kind < 7:
            out.append((dl.VC_DATA, pack(0x101 + i % 2, rng.integers(0, 256, 1000, dtype=np.uint8).tobytes(),
                                      i & 0x3FFF, 1000.0 + i)))
        elif kind < 9:
            out.append((dl.VC_HK, pack(0x012, bytes(80), i & 0x3FFF, 1000.0 + i)))
        else:
            out.append((dl.VC_EVENTS, pack(0x412, bytes(60), i & 0x3FFF, 1000.0 + i, PacketType.TM)))
    return out


def _libfec_code(batch: np.ndarray, cfg, ffi, fec) -> tuple[bytes, int]:
    cw = np.zeros((len(batch) * DEPTH, N), dtype=np.uint8)
    cw[:, :K] = batch.reshape(-1, K, DEPTH).transpose(0, 2, 1).reshape(-1, K)
    for row in cw:
        p = ffi.from_buffer("unsigned char[]", row)
        fec.encode_rs_ccsds(p, p + K, 0)
    blocks = cw.reshape(-1, DEPTH, N).transpose(0, 2, 1).reshape(-1)
    cadus = sync.attach_asm(blocks, cfg.codeblock_length, cfg.asm)
    rand.randomize_frames(cadus, cfg.cadu_length, sync.ASM_LEN, out=cadus)
    return cadus.tobytes(), cfg.cadu_length


def run(quick: bool = False) -> list[Measurement]:
    cfg = dl.link_config(0x2A1, 1115, rs_interleave=5)
    traffic = _traffic(400 if quick else 2000, np.random.default_rng(1))
    octets = sum(len(p) for _, p in traffic)
    ffi, fec = _libfec()
    sink = FileSink("/dev/null")

    def path(coder):
        def call() -> bytes:
            sched = dl.FrameScheduler(cfg)
            chain = TmSendChain(cfg)
            for vc, packet in traffic:
                sched.put(vc, packet)
            # the slots of this traffic, 64 at a time as a busy link's emission batches come
            n = sched.backlog + 3
            out = []
            for at in range(0, n, 64):
                data, unit = coder(sched.next_frames(min(64, n - at), CLCW), chain)
                sink.write(data, unit)
                out.append(data)
            return b"".join(out)
        return call

    ours = path(dl.code_frames)
    base = path(lambda frames, chain: _libfec_code(frames, cfg, ffi, fec))
    stream = ours()
    if stream != base():
        raise LunarelayError("libfec and lunarelay downlink paths differ; the bench would compare "
                             "unlike work")
    bits = len(stream) * 8
    med = interleaved_medians({"ours": ours, "libfec": base}, 5 if quick else 15)
    sink.close()
    return [Measurement(SUITE, f"downlink CADU output, RS I=5 + randomizer ({octets // 1000} kB of packets)",
                        bits / med["ours"] / 1e6, "Mbit/s", "same path, libfec encode_rs_ccsds",
                        bits / med["libfec"] / 1e6)]
