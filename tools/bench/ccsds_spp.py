"""Batch space packet indexing (133.0-B-2) against spacepackets and CCSDSPy, and TM virtual
channel multiplexing/demultiplexing (132.0-B-3) against spacepackets' TM frame code, same run.

The stream is variable-length packets averaging 64 octets (33..95, random APIDs).  The
baselines are a Python header walk with ``spacepackets.ccsds.SpacePacketHeader.unpack``
(on a slice of the same stream, scaled per packet) and CCSDSPy's fixed-length numpy loader
on a stream of 64-octet packets with as many packets (CCSDSPy's fast path needs a fixed
length; its variable-length loader is slower still).  The TM figures are packet octets per second
through 1115-octet frames with OCF and FECF, 64-octet packets; their baseline is spacepackets
unpacking the same frames (header, OCF, FECF check in its Rust CRC) in Python, which splits frames
but does not rebuild packets, so it flatters the baseline.
"""

from __future__ import annotations

import io
import logging

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core import tm
from onboard.core.spp import ENTRY_DTYPE, HEADER_LEN, PacketIndexer

SUITE = "ccsds"
DESCRIPTION = ("space packet batch indexer vs spacepackets and CCSDSPy, 64-octet packets; TM VC mux/demux "
               "vs spacepackets; one core")
MEAN_LEN = 64


def make_stream(n_packets: int, seed: int = 1, fixed: bool = False) -> bytes:
    rng = np.random.default_rng(seed)
    lengths = np.full(n_packets, MEAN_LEN) if fixed else rng.integers(33, 96, n_packets)
    apids = rng.integers(0, 2047, n_packets)
    out = bytearray(int(lengths.sum()))
    pos = 0
    for i, (length, apid) in enumerate(zip(lengths.tolist(), apids.tolist(), strict=True)):
        dl = length - HEADER_LEN - 1
        out[pos:pos + 6] = bytes([apid >> 8, apid & 0xFF, 0xC0 | (i >> 8 & 0x3F), i & 0xFF,
                                  dl >> 8, dl & 0xFF])
        pos += length
    return bytes(out)


def _spacepackets_walk(data: bytes) -> int:
    from spacepackets.ccsds import SpacePacketHeader

    pos, n, end = 0, 0, len(data)
    while pos + HEADER_LEN <= end:
        h = SpacePacketHeader.unpack(data[pos:pos + HEADER_LEN])
        pos += h.packet_len
        n += 1
    return n


def run(quick: bool = False) -> list[Measurement]:
    import ccsdspy

    # CCSDSPy sets its own logger up on import and warns about mixed APIDs in the stream.
    logging.getLogger("ccsdspy").setLevel(logging.ERROR)

    n = 200_000 if quick else 1_000_000
    n_slow = 20_000 if quick else 50_000
    stream = make_stream(n)
    idx = PacketIndexer()
    out = np.empty(n + 1, dtype=ENTRY_DTYPE)
    # The spacepackets walk covers the first n_slow packets of the same stream.
    probe = PacketIndexer()
    probe_out = np.empty(n_slow + 1, dtype=ENTRY_DTYPE)
    probe.index_into(stream, probe_out[:n_slow])
    slow_stream = stream[:int(probe_out[n_slow - 1]["offset"] + probe_out[n_slow - 1]["length"])]
    fixed = make_stream(n, fixed=True)
    loader = ccsdspy.FixedLength([ccsdspy.PacketArray(name="data", data_type="uint", bit_length=8,
                                                      array_shape=MEAN_LEN - HEADER_LEN)])

    def ours():
        assert idx.index_into(stream, out) == n

    def ccsdspy_load():
        loader.load(io.BytesIO(fixed), include_primary_header=True)

    def spacepackets_walk():
        assert _spacepackets_walk(slow_stream) == n_slow

    times = interleaved_medians({"ours": ours, "ccsdspy": ccsdspy_load, "sp": spacepackets_walk},
                                repeat=3 if quick else 7)
    rate = n / times["ours"] / 1e6
    return _tm_measurements(quick) + [
        Measurement(SUITE, "spp index vs spacepackets, 64 B variable-length", rate, "M packets/s",
                    "spacepackets SpacePacketHeader.unpack walk (Python)", n_slow / times["sp"] / 1e6),
        Measurement(SUITE, "spp index vs CCSDSPy, 64 B variable-length", rate, "M packets/s",
                    "CCSDSPy FixedLength.load, 64 B fixed-length (numpy)", n / times["ccsdspy"] / 1e6),
    ]


def _tm_measurements(quick: bool) -> list[Measurement]:
    from spacepackets.ccsds.tm_frame import TmTransferFrame

    cfg = tm.TmConfig(scid=0x1AB, frame_len=1115, ocf=True, fecf=True)
    stream = make_stream(60_000 if quick else 200_000, seed=2)
    frames = tm.TmMux(cfg).pack(1, stream)
    n_frames = len(frames) // cfg.frame_len
    payload = n_frames * cfg.data_len  # packet octets the frames carry
    few = frames[:cfg.frame_len * min(n_frames, 400)]

    def mux():
        tm.TmMux(cfg).pack(1, stream)

    def demux():
        tm.TmDemux(cfg, vcids=[1]).feed(frames)

    def sp_unpack():
        for i in range(0, len(few), cfg.frame_len):
            TmTransferFrame.unpack(few[i:i + cfg.frame_len], cfg.frame_len, has_error_control_field=True)

    times = interleaved_medians({"mux": mux, "demux": demux, "sp": sp_unpack}, repeat=3 if quick else 7)
    sp_rate = (len(few) // cfg.frame_len) * cfg.data_len / times["sp"] / 1e6
    base = "spacepackets TmTransferFrame.unpack per frame (Python)"
    return [
        Measurement(SUITE, "tm vc mux, 1115 B frames, OCF+FECF", len(stream) / times["mux"] / 1e6, "MB/s",
                    base, sp_rate),
        Measurement(SUITE, "tm vc demux, 1115 B frames, OCF+FECF", payload / times["demux"] / 1e6, "MB/s",
                    base, sp_rate),
    ]
