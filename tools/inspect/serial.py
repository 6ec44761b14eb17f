"""Serial streams: space packets framed for a serial line, through the C core's deframer.

The framings are the serial link's (``onboard.core.serial``, csrc/lr_serial.h): ASM (1ACFFC1D,
the packet, CRC-16/CCITT of the packet: the bench's framing to the flight computer), KISS (the TNC
protocol of Chepponis and Karn, 1987) and SLIP (RFC 1055), the last two with or without the
CRC-16 after the packet.  The deframer resynchronises by itself and delivers each packet whose
framing, length and CRC check; its counters go to the accounting: the packets' octets as
packets, the rest of each good frame as framing, everything it passed over (noise, text, frames
with a bad CRC, length or escape, frames cut short) as ``serial_garbage``, and a frame still
open when the input ends as truncated.

``detect_framing`` tries each framing on the first octets and keeps the one whose frames hold
the most packets.
"""

from __future__ import annotations

import numpy as np

from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.packets import PacketBatch, index_all, rows_from_index
from onboard.core.serial import Deframer, Framing
from onboard.core.spp import APID_IDLE, MAX_PACKET_LEN

END = 0xC0
ASM = b"\x1a\xcf\xfc\x1d"
FRAMINGS = ("asm", "kiss", "slip")
COUNTERS = ("packets", "crc_errors", "length_errors", "truncated", "escape_errors", "garbage_octets")
PROBE_OCTETS = 1 << 16


def deframer(framing: str, crc: bool) -> Deframer:
    return Deframer(Framing[framing.upper()], crc=crc or framing == "asm", max_packet=MAX_PACKET_LEN)


class SerialLayer:
    """One serial stream in pieces of any size; ``push`` returns the packets its frames completed."""

    def __init__(self, framing: str, crc: bool, ledger: Ledger):
        self.framing = framing
        self.crc = crc or framing == "asm"
        self.ledger = ledger
        self._deframer = deframer(framing, crc)
        self._filed = dict.fromkeys(("frame_octets", "garbage_octets"), 0)
        self.input_octets = 0

    def push(self, chunk) -> PacketBatch:
        data = np.ascontiguousarray(chunk, dtype=np.uint8).reshape(-1)
        self.input_octets += data.size
        packets = self._deframer.push(data)
        return self._deliver(b"".join(packets))

    def _deliver(self, joined: bytes) -> PacketBatch:
        c = self._deframer.counters
        frame_octets = c["frame_octets"] - self._filed["frame_octets"]
        garbage = c["garbage_octets"] - self._filed["garbage_octets"]
        self._filed.update(frame_octets=c["frame_octets"], garbage_octets=c["garbage_octets"])
        self.ledger.add("serial_garbage", garbage)
        if not joined:
            self.ledger.add("capture", frame_octets)
            return PacketBatch.empty()
        buf = np.frombuffer(joined, dtype=np.uint8)
        entries, _, _, _ = index_all(buf)          # the deframer checked every packet's length
        rows = rows_from_index(entries)
        rows["input_offset"] = -1                  # the deframer does not say where a frame began
        idle = entries["apid"] == APID_IDLE
        self.ledger.add("packet", int(entries["length"][~idle].sum()))
        self.ledger.add("idle_packet", int(entries["length"][idle].sum()))
        self.ledger.add("capture", frame_octets - buf.size)
        return PacketBatch(buf, rows)

    def finish(self) -> PacketBatch:
        held = self._deframer.held
        self.ledger.add_range("truncated", self.input_octets - held, self.input_octets,
                              f"{self.framing.upper()} frame cut by the end of the input")
        return PacketBatch.empty()

    def stats(self) -> dict:
        c = self._deframer.counters
        return {"framing": self.framing, "crc": self.crc, **{k: c[k] for k in COUNTERS}}


def looks_framed(head: bytes) -> bool:
    """A stream that starts on a delimiter (as RFC 1055 and KISS senders do) or shows a frame
    boundary (END END, or END then a KISS data command) among its first octets, or one in which
    the attached sync marker comes more than once."""
    if len(head) < 8:
        return False
    if head[:4096].count(ASM) >= 2 or head.startswith(ASM):
        return True
    arr = np.frombuffer(head[:4096], dtype=np.uint8)
    if int((arr == END).sum()) < 2:
        return False
    return bool(arr[0] == END or b"\xc0\xc0" in head[:4096] or b"\xc0\x00" in head[:4096])


def detect_framing(head: np.ndarray, framings=FRAMINGS,
                   crcs=(True, False)) -> tuple[str, bool, int, int] | None:
    """(framing, CRC, packets, frames' share of the octets in percent) of the framing under which the
    first octets hold the most packets, in frames that cover most of them; None if none does."""
    probe = np.ascontiguousarray(head[:PROBE_OCTETS], dtype=np.uint8)
    best = None
    for framing in framings:
        for crc in ((True,) if framing == "asm" else crcs):
            d = deframer(framing, crc)
            packets = d.push(probe)
            c = d.counters
            decided = c["frame_octets"] + c["garbage_octets"]
            if not packets or not decided:
                continue
            share = 100 * c["frame_octets"] // decided
            # one frame that is the whole input, or several that cover most of what was decided
            enough = len(packets) >= 2 or c["frame_octets"] + d.held >= probe.size - 2
            if enough and share >= 60 and (best is None or (len(packets), crc) > (best[2], best[1])):
                best = (framing, crc or framing == "asm", len(packets), share)
    return best
