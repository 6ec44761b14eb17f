"""Space packets on a byte stream: the framings of the serial link (csrc/lr_serial.h).

    ASM   1A CF FC 1D, the space packet (its length from the packet data length field,
          CCSDS 133.0-B-2 §4.1.3.5), CRC-16/CCITT of the packet (preset 0xFFFF, as the TM FECF)
    KISS  C0, 00 (data frame, port 0), the escaped packet [+ CRC-16], C0
    SLIP  C0, the escaped packet [+ CRC-16], C0 (RFC 1055)

``frame(packet)`` builds one frame; a ``Deframer`` takes the stream in pieces of any size and
returns the packets whose framing, length and CRC check, counting everything it passed over.
The same C file builds into board firmware: portable C11, no allocation, caller-owned buffers.
"""

from __future__ import annotations

import enum

from onboard.core._api import byte_ptr, check, ffi, lib
from onboard.core.spp import MAX_PACKET_LEN

COUNTER_NAMES = ("octets_in", "frame_octets", "garbage_octets", "packets", "crc_errors", "length_errors",
                 "truncated", "escape_errors")


class Framing(enum.IntEnum):
    ASM = lib.LR_SERIAL_ASM
    KISS = lib.LR_SERIAL_KISS
    SLIP = lib.LR_SERIAL_SLIP


def frame(packet, framing: Framing = Framing.ASM, crc: bool = True) -> bytes:
    """One space packet framed for the serial line (``crc`` applies to KISS and SLIP)."""
    ptr, n = byte_ptr(packet)
    cap = lib.lr_serial_frame_bound(int(framing), n)
    out = bytearray(cap)
    optr, _ = byte_ptr(out, writable=True)
    written = check(lib.lr_serial_frame(int(framing), lib.LR_SERIAL_CRC if crc else 0, ptr, n, optr, cap),
                    f"{Framing(framing).name} framing of a {n}-octet packet")
    return bytes(out[:written])


class Deframer:
    """The resynchronising deframer of one serial link."""

    def __init__(self, framing: Framing = Framing.ASM, crc: bool = True, max_packet: int = 4096):
        if not 7 <= max_packet <= MAX_PACKET_LEN:
            raise ValueError(f"max_packet {max_packet} is outside 7..{MAX_PACKET_LEN}")
        self.framing = Framing(framing)
        self.max_packet = max_packet
        self._state = ffi.new("struct lr_serial_deframer *")
        self._hold = ffi.new("uint8_t[]", lib.lr_serial_holding_size(max_packet))
        check(lib.lr_serial_deframer_init(self._state, int(self.framing), lib.LR_SERIAL_CRC if crc else 0,
                                          max_packet, self._hold, len(self._hold)), "serial deframer")
        self._out = bytearray(max(1 << 16, 4 * max_packet))
        self._consumed = ffi.new("size_t *")
        self._out_len = ffi.new("size_t *")

    def push(self, data) -> list[bytes]:
        """The packets completed by ``data`` (any number of octets), in order."""
        view = memoryview(data).cast("B") if not isinstance(data, bytes | bytearray) else data
        packets: list[bytes] = []
        at = 0
        while True:
            ptr, n = byte_ptr(view[at:])
            out_ptr, cap = byte_ptr(self._out, writable=True)
            count = check(lib.lr_serial_deframe(self._state, ptr, n, self._consumed, out_ptr, cap,
                                                self._out_len), "serial deframe")
            at += self._consumed[0]
            if not count and not self._consumed[0] and at < len(view):
                raise RuntimeError("serial deframer made no progress")   # out always holds a packet
            if count:
                packets.extend(_split(self._out, self._out_len[0]))
            if at >= len(view):
                return packets

    @property
    def counters(self) -> dict[str, int]:
        c = self._state.counters
        return {name: int(getattr(c, name)) for name in COUNTER_NAMES}

    @property
    def held(self) -> int:
        """Octets of an unfinished frame waiting for the rest of it."""
        return int(self._state.hold_len if self.framing is Framing.ASM else self._state.raw_len)


def _split(buf: bytearray, n: int) -> list[bytes]:
    out, at = [], 0
    while at < n:
        length = ((buf[at + 4] << 8) | buf[at + 5]) + 7
        out.append(bytes(buf[at:at + length]))
        at += length
    return out
