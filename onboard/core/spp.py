"""CCSDS Space Packet Protocol, 133.0-B-2 (csrc/lr_spp.h): headers, packets, idle packets,
segmentation and a batch indexer that walks a packet stream in one C call.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator

import numpy as np

from onboard.core._api import byte_ptr, check, ffi, lib
from onboard.errors import LunarelayError

HEADER_LEN = 6
MAX_PACKET_LEN = 65542
MAX_DATA_LEN = 65536
APID_IDLE = 2047


class SeqFlags(enum.IntEnum):
    """133.0-B-2 §4.1.3.4.2.2."""

    CONTINUATION = lib.LR_SPP_SEQ_CONTINUATION
    FIRST = lib.LR_SPP_SEQ_FIRST
    LAST = lib.LR_SPP_SEQ_LAST
    UNSEGMENTED = lib.LR_SPP_SEQ_UNSEGMENTED


class PacketType(enum.IntEnum):
    """133.0-B-2 §4.1.3.3.3: 0 telemetry (reporting), 1 telecommand (requesting)."""

    TM = 0
    TC = 1


class IndexStop(enum.IntEnum):
    END = lib.LR_SPP_STOP_END
    TRUNCATED = lib.LR_SPP_STOP_TRUNCATED
    FULL = lib.LR_SPP_STOP_FULL
    VERSION = lib.LR_SPP_STOP_VERSION


class PacketError(LunarelayError, ValueError):
    """A byte string is not a well-formed space packet."""


# numpy view of struct lr_spp_entry (24 octets, no padding).
ENTRY_DTYPE = np.dtype([("offset", "<u8"), ("length", "<u4"), ("apid", "<u2"), ("seq_count", "<u2"),
                        ("seq_flags", "u1"), ("type", "u1"), ("sec_hdr_flag", "u1"), ("version", "u1"),
                        ("reserved", "<u4")])
assert ENTRY_DTYPE.itemsize == ffi.sizeof("struct lr_spp_entry")


@dataclasses.dataclass(frozen=True)
class PrimaryHeader:
    """The six-octet primary header, 133.0-B-2 §4.1.3."""

    apid: int
    seq_count: int = 0
    seq_flags: SeqFlags = SeqFlags.UNSEGMENTED
    type: PacketType = PacketType.TM
    sec_hdr_flag: bool = False
    data_length: int = 0
    version: int = 0

    @property
    def packet_length(self) -> int:
        return self.data_length + HEADER_LEN + 1

    @property
    def is_idle(self) -> bool:
        return self.apid == APID_IDLE

    def pack(self) -> bytes:
        c = _to_c(self)
        out = bytearray(HEADER_LEN)
        ptr, n = byte_ptr(out, writable=True)
        _check_fields(lib.lr_spp_header_pack(c, ptr, n), self)
        return bytes(out)

    @classmethod
    def unpack(cls, data) -> PrimaryHeader:
        c = ffi.new("struct lr_spp_header *")
        ptr, n = byte_ptr(data)
        if lib.lr_spp_header_unpack(c, ptr, n) < 0:
            raise PacketError(f"{n} octets cannot hold a space packet primary header (6 needed)")
        return _from_c(c)


def _to_c(h: PrimaryHeader):
    c = ffi.new("struct lr_spp_header *")
    for name, limit in (("version", 7), ("apid", 0x7FF), ("seq_count", 0x3FFF), ("data_length", 0xFFFF),
                        ("seq_flags", 3), ("type", 1)):
        value = int(getattr(h, name))
        if not 0 <= value <= limit:
            raise ValueError(f"space packet {name} {value} is outside 0..{limit}")
        setattr(c, name, value)
    c.sec_hdr_flag = int(bool(h.sec_hdr_flag))
    return c


def _from_c(c) -> PrimaryHeader:
    return PrimaryHeader(apid=c.apid, seq_count=c.seq_count, seq_flags=SeqFlags(c.seq_flags),
                         type=PacketType(c.type), sec_hdr_flag=bool(c.sec_hdr_flag),
                         data_length=c.data_length, version=c.version)


def _check_fields(result: int, h: PrimaryHeader) -> int:
    return check(result, f"space packet header {h}")


def build_packet(apid: int, data, *, seq_count: int = 0, seq_flags: SeqFlags = SeqFlags.UNSEGMENTED,
                 type: PacketType = PacketType.TM, sec_hdr_flag: bool = False) -> bytes:
    """A whole packet: primary header then ``data`` (1..65536 octets, secondary header included)."""
    _, n_data = byte_ptr(data)
    if not 1 <= n_data <= MAX_DATA_LEN:
        raise ValueError(f"a packet data field holds 1..65536 octets, not {n_data}")
    h = PrimaryHeader(apid, seq_count, seq_flags, type, sec_hdr_flag, n_data - 1)
    c = _to_c(h)
    out = bytearray(n_data + HEADER_LEN)
    optr, n_out = byte_ptr(out, writable=True)
    dptr, _ = byte_ptr(data)
    check(lib.lr_spp_build(c, dptr, n_data, optr, n_out), f"build space packet APID {apid}")
    return bytes(out)


def idle_packet(length: int, seq_count: int = 0, fill: int = 0x55) -> bytes:
    """An idle packet (APID 2047) of ``length`` octets (7..65542), data octets all ``fill``."""
    if not HEADER_LEN + 1 <= length <= MAX_PACKET_LEN:
        raise ValueError(f"an idle packet is 7..65542 octets long, not {length}")
    out = bytearray(length)
    ptr, n = byte_ptr(out, writable=True)
    check(lib.lr_spp_idle(seq_count & 0x3FFF, fill & 0xFF, length, ptr, n), "idle packet")
    return bytes(out)


def segment(apid: int, user_data: bytes, max_data_len: int, *, first_seq_count: int = 0,
            type: PacketType = PacketType.TM) -> list[bytes]:
    """Split ``user_data`` over packets of at most ``max_data_len`` data octets with the sequence
    flags of 133.0-B-2 §4.1.3.4.2.2 (first, continuation..., last; unsegmented if it fits)."""
    if not 1 <= max_data_len <= MAX_DATA_LEN:
        raise ValueError(f"maximum data length {max_data_len} is outside 1..65536")
    if not user_data:
        raise ValueError("nothing to segment")
    chunks = [user_data[i:i + max_data_len] for i in range(0, len(user_data), max_data_len)]
    packets = []
    for i, chunk in enumerate(chunks):
        if len(chunks) == 1:
            flags = SeqFlags.UNSEGMENTED
        elif i == 0:
            flags = SeqFlags.FIRST
        elif i == len(chunks) - 1:
            flags = SeqFlags.LAST
        else:
            flags = SeqFlags.CONTINUATION
        packets.append(build_packet(apid, chunk, seq_count=(first_seq_count + i) & 0x3FFF,
                                    seq_flags=flags, type=type))
    return packets


class Reassembler:
    """Rebuilds segmented user data per APID.  A sequence with a missing or out-of-order segment
    is dropped whole and counted once in ``broken``."""

    _ABSENT = object()
    _DISCARD = object()

    def __init__(self) -> None:
        # APID -> (last sequence count, parts so far), or _DISCARD while dropping a broken sequence.
        self._parts: dict[int, object] = {}
        self.broken = 0

    def feed(self, packet: bytes) -> bytes | None:
        h = PrimaryHeader.unpack(packet)
        if len(packet) != h.packet_length:
            raise PacketError(f"packet APID {h.apid} is {len(packet)} octets, its header says "
                              f"{h.packet_length}")
        data = bytes(packet[HEADER_LEN:])
        state = self._parts.pop(h.apid, self._ABSENT)
        if h.seq_flags in (SeqFlags.UNSEGMENTED, SeqFlags.FIRST):
            self.broken += isinstance(state, tuple)  # the previous sequence never got its last segment
            if h.seq_flags == SeqFlags.UNSEGMENTED:
                return data
            self._parts[h.apid] = (h.seq_count, [data])
            return None
        if not isinstance(state, tuple) or (state[0] + 1) & 0x3FFF != h.seq_count:
            self.broken += state is not self._DISCARD
            if h.seq_flags != SeqFlags.LAST:
                self._parts[h.apid] = self._DISCARD
            return None
        parts = state[1]
        parts.append(data)
        if h.seq_flags == SeqFlags.LAST:
            return b"".join(parts)
        self._parts[h.apid] = (h.seq_count, parts)
        return None


@dataclasses.dataclass
class PacketIndex:
    """What ``index_packets`` found: one structured row per whole packet (``ENTRY_DTYPE``:
    offset, length, apid, seq_count, seq_flags, type, sec_hdr_flag), where it stopped and why."""

    entries: np.ndarray
    consumed: int
    stop: IndexStop
    missing: int

    @property
    def truncated(self) -> bool:
        return self.stop == IndexStop.TRUNCATED

    def __len__(self) -> int:
        return len(self.entries)


class PacketIndexer:
    """Batch indexer over a packet stream (``lr_spp_index``); counters add up over calls."""

    def __init__(self) -> None:
        self._st = ffi.new("struct lr_spp_index_state *")

    @property
    def packets(self) -> int:
        return self._st.packets

    @property
    def idle(self) -> int:
        return self._st.idle

    @property
    def truncated(self) -> int:
        return self._st.truncated

    @property
    def rejected(self) -> int:
        return self._st.rejected

    def index_into(self, data, out: np.ndarray) -> int:
        """Fill ``out`` (ENTRY_DTYPE) from ``data``; returns the entries written (see ``last_*``)."""
        if out.dtype != ENTRY_DTYPE or not out.flags.c_contiguous:
            raise ValueError("output must be a contiguous array of ENTRY_DTYPE")
        ptr, n = byte_ptr(data)
        return lib.lr_spp_index(self._st, ptr, n, ffi.cast("struct lr_spp_entry *",
                                                              ffi.from_buffer(out, require_writable=True)),
                                len(out))

    def index(self, data) -> PacketIndex:
        """Index every whole packet of ``data`` (which starts on a packet boundary)."""
        _, n = byte_ptr(data)
        # A packet is at least 7 octets long, so this many entries always suffice.
        out = np.empty(n // (HEADER_LEN + 1) + 1, dtype=ENTRY_DTYPE)
        k = self.index_into(data, out)
        return PacketIndex(out[:k], self._st.consumed, IndexStop(self._st.stop), self._st.missing)


def index_packets(data) -> PacketIndex:
    """Index a packet stream in one C call; see ``PacketIndexer.index``."""
    return PacketIndexer().index(data)


def iter_packets(data) -> Iterator[tuple[PrimaryHeader, memoryview]]:
    """(header, packet view) for every whole packet; raises PacketError on a bad version or
    truncation, naming the offset."""
    view = memoryview(data).cast("B")
    idx = index_packets(view)
    for off, length in zip(idx.entries["offset"].tolist(), idx.entries["length"].tolist(), strict=True):
        pkt = view[off:off + length]
        yield PrimaryHeader.unpack(pkt), pkt
    if idx.stop == IndexStop.TRUNCATED:
        raise PacketError(f"packet at offset {idx.consumed} is truncated ({idx.missing} octets missing)")
    if idx.stop == IndexStop.VERSION:
        raise PacketError(f"packet at offset {idx.consumed} has version number "
                          f"{view[idx.consumed] >> 5}, not 0")


def concat(packets: Iterable[bytes]) -> bytes:
    return b"".join(packets)
