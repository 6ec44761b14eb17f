"""The full CCSDS TM chains of onboard.ccsds.chain, against the same chains with libfec's RS.

Send: space packets -> TM frames (VC multiplexer) -> RS(255,223) I=5 dual basis -> pseudo-
randomizer -> ASM, in Gbit/s of CADU output.  Receive: sync search on the ASM -> derandomize ->
RS decode -> TM frames -> packets (VC demultiplexer, sequence counting), in Mbit/s of CADU input,
on a clean stream and on one with 8 symbol errors in every codeword.

Each chain runs over a large block of ~1 MB packets per call (no per-frame Python).  The baseline
is the same chain with the Reed-Solomon step done as a libfec-based ground station does it:
Debian libfec's ``encode_rs_ccsds`` / ``decode_rs_ccsds``, one call per de-interleaved codeword
(interleaving in numpy), every other step as in lunarelay.  Both produce the same CADUs and
packets (checked before timing).  Single-threaded, medians of interleaved runs.
"""

from __future__ import annotations

import numpy as np

from hil.ground.chain import TmReceiveChain
from lunarelay_tools.bench import Measurement, interleaved_medians
from lunarelay_tools.bench.ccsds_rs import _libfec
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.core import rand, simd, sync
from onboard.core.spp import build_packet
from onboard.errors import LunarelayError

SUITE = "ccsds"
DESCRIPTION = "Full TM send and receive chains (RS I=5) vs the same chains with libfec RS, one core"
DEPTH, N, K = 5, 255, 223


def _packets(n: int, rng) -> bytes:
    sizes = rng.integers(64, 2048, n)
    return b"".join(build_packet(0x100 + i % 4, rng.integers(0, 256, int(sizes[i]), dtype=np.uint8).tobytes(),
                                 seq_count=(i // 4) & 0x3FFF) for i in range(n))


class _FecRs:
    """libfec RS(255,223) over I=5 codeblocks, codeword by codeword."""

    def __init__(self):
        self.ffi, self.fec = _libfec()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        rows = frames.reshape(-1, K * DEPTH)
        cw = np.zeros((len(rows) * DEPTH, N), dtype=np.uint8)
        cw[:, :K] = rows.reshape(-1, K, DEPTH).transpose(0, 2, 1).reshape(-1, K)
        ffi, enc = self.ffi, self.fec.encode_rs_ccsds
        for row in cw:
            p = ffi.from_buffer("unsigned char[]", row)
            enc(p, p + K, 0)
        return cw.reshape(-1, DEPTH, N).transpose(0, 2, 1).reshape(-1)

    def decode(self, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cw = np.ascontiguousarray(blocks.reshape(-1, N, DEPTH).transpose(0, 2, 1).reshape(-1, N))
        ffi, dec, null = self.ffi, self.fec.decode_rs_ccsds, self.ffi.NULL
        counts = np.array([dec(ffi.from_buffer("unsigned char[]", row), null, 0, 0) for row in cw])
        data = cw[:, :K].reshape(-1, DEPTH, K).transpose(0, 2, 1).reshape(-1, K * DEPTH)
        return data, counts.reshape(-1, DEPTH)


def _fec_send(cfg: TmLinkConfig, fec: _FecRs, packets: bytes) -> np.ndarray:
    tx = TmSendChain(cfg)
    frames = np.frombuffer(tx.packets_to_frames(packets), dtype=np.uint8)
    cadus = sync.attach_asm(fec.encode(frames), cfg.codeblock_length, cfg.asm)
    return rand.randomize_frames(cadus, cfg.cadu_length, sync.ASM_LEN, out=cadus)


class _FecReceiveChain(TmReceiveChain):
    """The receive chain with its RS step swapped for libfec's."""

    def __init__(self, cfg: TmLinkConfig, fec: _FecRs):
        super().__init__(cfg)
        self._rs = _RsAdapter(fec)


class _RsAdapter:
    def __init__(self, fec: _FecRs):
        self.fec = fec

    def decode_codewords(self, blocks):
        return self.fec.decode(np.ascontiguousarray(blocks))


def run(quick: bool = False) -> list[Measurement]:
    fec = _FecRs()
    rng = np.random.default_rng(7)
    n_packets = 1500 if quick else 6000
    repeat = 3 if quick else 7
    packets = _packets(n_packets, rng)
    cfg = TmLinkConfig(rs_e=16, rs_interleave=DEPTH, frame_length=K * DEPTH)

    def send():
        return TmSendChain(cfg).packets_to_cadus(packets)

    cadus = send()
    if not np.array_equal(_fec_send(cfg, fec, packets), cadus):
        raise LunarelayError("libfec and lunarelay send chains differ; the bench would compare unlike work")
    noisy = cadus.copy().reshape(-1, cfg.cadu_length)
    for row in noisy:
        for j in range(DEPTH):
            pos = rng.choice(N, 8, replace=False) * DEPTH + j
            row[sync.ASM_LEN + pos] ^= rng.integers(1, 256, 8, dtype=np.uint8)
    noisy = noisy.reshape(-1)

    def receive(chain_cls, stream, *extra):
        def call():
            rx = chain_cls(cfg, *extra)
            got = rx.push_bytes(stream)
            return got.packets, rx.stats()
        return call

    want_frames = len(cadus) // cfg.cadu_length
    for name, fn in (("lunarelay", receive(TmReceiveChain, noisy)),
                     ("libfec", receive(_FecReceiveChain, noisy, fec))):
        got, st = fn()
        # the last frame stays open in the VC mux, so its packets are not in the stream
        if st["frames"] != want_frames or st["rs_corrected_symbols"] != 8 * DEPTH * want_frames or \
                not packets.startswith(got) or len(got) < len(packets) // 2:
            raise LunarelayError(f"the {name} receive chain did not decode the bench stream; bench aborted")

    def on(level, fn):
        def call():
            with simd.forced(level):
                return fn()
        return call

    best = simd.supported()
    levels = sorted({best, simd.SimdLevel.PORTABLE}, reverse=True)
    fns = {"send_fec": lambda: _fec_send(cfg, fec, packets),
           "rx_fec": receive(_FecReceiveChain, cadus, fec),
           "rx_err_fec": receive(_FecReceiveChain, noisy, fec)}
    for level in levels:
        fns[("send", level)] = on(level, send)
        fns[("rx", level)] = on(level, receive(TmReceiveChain, cadus))
        fns[("rx_err", level)] = on(level, receive(TmReceiveChain, noisy))
    times = interleaved_medians(fns, repeat)
    bits = cadus.size * 8
    gbps = {k: bits / t / 1e9 for k, t in times.items()}
    mbps = {k: bits / t / 1e6 for k, t in times.items()}
    out = []
    for level in levels:
        tag = level.name.lower()
        out += [
            Measurement(SUITE, f"TM send chain: packets->frames->RS I=5->randomizer->ASM ({tag})",
                        gbps[("send", level)], "Gbit/s", "same chain, libfec encode_rs_ccsds",
                        gbps["send_fec"]),
            Measurement(SUITE, f"TM receive chain: sync->derandomize->RS->frames->packets, clean ({tag})",
                        mbps[("rx", level)], "Mbit/s", "same chain, libfec decode_rs_ccsds", mbps["rx_fec"]),
            Measurement(SUITE, f"TM receive chain, 8 symbol errors/codeword ({tag})", mbps[("rx_err", level)],
                        "Mbit/s", "same chain, libfec decode_rs_ccsds", mbps["rx_err_fec"]),
        ]
    return out
