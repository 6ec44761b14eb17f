"""The serial link's deframer (ASM + CRC-16 framing) against a byte-at-a-time Python deframer.

Two streams of 256-octet packets: clean, and with 1 % of its octets random garbage between
frames.  Figures: the C deframer alone (one call over the stream, out buffer reused), the same
through ``onboard.core.serial.Deframer.push`` in 64 KiB reads (what the serial link runs),
and the baseline, :class:`ReferenceDeframer`: the same resynchronisation rules written as the
obvious Python loop, one octet at a time.  The reference is also the oracle the tests compare
the C deframer's packets and counters with.
"""

from __future__ import annotations

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core._api import byte_ptr, ffi, lib
from onboard.core.crc import crc16_ccitt
from onboard.core.serial import Deframer, Framing, frame
from onboard.core.spp import build_packet

SUITE = "serial"
DESCRIPTION = "serial link deframer (ASM + CRC-16), clean and 1 % garbage, vs byte-at-a-time Python"
ASM = bytes.fromhex("1ACFFC1D")
PACKET_LEN = 256
READ_SIZE = 1 << 16


class ReferenceDeframer:
    """ASM framing, one octet at a time: the rules of csrc/lr_serial.c in plain Python."""

    def __init__(self, max_packet: int = 4096):
        self.max_packet = max_packet
        self.buf = bytearray()
        self.counters = dict.fromkeys(("octets_in", "frame_octets", "garbage_octets", "packets", "crc_errors",
                                       "length_errors", "truncated"), 0)

    def push(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for octet in data:
            self.buf.append(octet)
            self.counters["octets_in"] += 1
            self._drain(out)
        return out

    def _drop_one(self) -> None:
        del self.buf[0]
        self.counters["garbage_octets"] += 1

    def _drain(self, out: list[bytes]) -> None:
        buf, c = self.buf, self.counters
        while buf:
            have = min(len(buf), 4)
            if buf[:have] != ASM[:have]:
                self._drop_one()
                continue
            if len(buf) < 10:
                return
            plen = ((buf[8] << 8) | buf[9]) + 7
            if buf[4] >> 5 or plen > self.max_packet:
                c["length_errors"] += 1
                self._drop_one()
                continue
            total = 4 + plen + 2
            if len(buf) < total:
                return
            if crc16_ccitt(bytes(buf[4:4 + plen])) != int.from_bytes(buf[4 + plen:total], "big"):
                c["truncated" if ASM in buf[1:total] else "crc_errors"] += 1
                self._drop_one()
                continue
            out.append(bytes(buf[4:4 + plen]))
            c["packets"] += 1
            c["frame_octets"] += total
            del buf[:total]


def make_stream(n_packets: int, garbage_fraction: float, seed: int = 1) -> tuple[bytes, int]:
    """ASM frames of PACKET_LEN-octet packets, with random garbage between some of them."""
    rng = np.random.default_rng(seed)
    frames = [frame(build_packet(0x100 + i % 64, rng.bytes(PACKET_LEN - 6), seq_count=i % 16384),
                    Framing.ASM) for i in range(n_packets)]
    if not garbage_fraction:
        return b"".join(frames), n_packets
    per_gap = PACKET_LEN * garbage_fraction / (1 - garbage_fraction)
    parts = []
    for f in frames:
        parts.append(rng.bytes(int(rng.poisson(per_gap))))
        parts.append(f)
    return b"".join(parts), n_packets


def _c_deframe(stream: bytes, out: bytearray) -> int:
    """The bare C deframer over the whole stream, the out buffer reused (no Python per packet)."""
    hold = ffi.new("uint8_t[]", lib.lr_serial_holding_size(4096))
    d = ffi.new("struct lr_serial_deframer *")
    lib.lr_serial_deframer_init(d, lib.LR_SERIAL_ASM, 0, 4096, hold, len(hold))
    used, got = ffi.new("size_t *"), ffi.new("size_t *")
    ptr, n = byte_ptr(stream)
    optr, cap = byte_ptr(out, writable=True)
    at = packets = 0
    while at < n:
        packets += lib.lr_serial_deframe(d, ptr + at, n - at, used, optr, cap, got)
        at += used[0]
    return packets


def _push_path(stream: bytes) -> int:
    deframer = Deframer(Framing.ASM)
    view = memoryview(stream)
    return sum(len(deframer.push(view[at:at + READ_SIZE])) for at in range(0, len(stream), READ_SIZE))


def run(quick: bool = False) -> list[Measurement]:
    n = 4000 if quick else 40000
    out = bytearray(1 << 20)
    results = []
    for label, fraction in (("clean", 0.0), ("1 % garbage", 0.01)):
        stream, n_packets = make_stream(n, fraction)
        sample = stream[:len(stream) // (20 if quick else 100)]       # the Python loop is slow
        assert _c_deframe(stream, out) == n_packets == _push_path(stream)
        times = interleaved_medians({"c": lambda s=stream: _c_deframe(s, out),
                                     "push": lambda s=stream: _push_path(s),
                                     "python": lambda s=sample: ReferenceDeframer().push(s)},
                                    repeat=3 if quick else 7)
        c_mbs = len(stream) / times["c"] / 1e6
        push_mbs = len(stream) / times["push"] / 1e6
        py_mbs = len(sample) / times["python"] / 1e6
        base = "byte-at-a-time Python deframer"
        results += [Measurement(SUITE, f"C deframer, {label}", c_mbs, "MB/s", base, py_mbs),
                    Measurement(SUITE, f"Deframer.push in 64 KiB reads, {label}", push_mbs, "MB/s", base,
                                py_mbs)]
    return results
