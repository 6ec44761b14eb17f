"""CCSDS AOS Space Data Link Protocol, 732.0-B-4 (csrc/lr_aos.h): primary header with the 24-bit VC
frame count and its cycle extension, replay flag, the RS(10,6) frame header error control, insert
zone, OCF and FECF; M_PDU (packets, first header pointer) and B_PDU (bitstream data pointer).

The per-frame work (header code, CRC, layout) is in C; packing packets into M_PDUs is done here over
whole frames with the C frame builder.
"""

from __future__ import annotations

import dataclasses

from onboard.core._api import byte_ptr, ffi, lib
from onboard.core.spp import idle_packet, index_packets
from onboard.errors import FrameError

HEADER_LEN = 6
VCID_IDLE = 63  # 732.0-B-4 §4.1.2.3: all-ones VCID marks idle frames
FHP_NO_PACKET = lib.LR_AOS_FHP_NO_PACKET
FHP_IDLE = lib.LR_AOS_FHP_IDLE
BDP_ALL_DATA = lib.LR_AOS_BDP_ALL_DATA
BDP_IDLE = lib.LR_AOS_BDP_IDLE



@dataclasses.dataclass(frozen=True)
class AosHeader:
    """AOS transfer frame primary header, §4.1.2."""

    scid: int
    vcid: int
    vc_count: int = 0
    replay_flag: bool = False
    vc_count_usage_flag: bool = False
    vc_count_cycle: int = 0
    spare: int = 0
    tfvn: int = 1

    _FIELDS = ("tfvn", "scid", "vcid", "replay_flag", "vc_count_usage_flag", "spare", "vc_count_cycle",
               "vc_count")

    def to_c(self):
        c = ffi.new("struct lr_aos_header *")
        for name in self._FIELDS:
            v = int(getattr(self, name))
            limit = 0xFFFFFF if name == "vc_count" else 0xFF
            if not 0 <= v <= limit:
                raise ValueError(f"AOS header {name} {v} is out of range")
            setattr(c, name, v)
        return c

    def pack(self) -> bytes:
        out = bytearray(HEADER_LEN)
        ptr, n = byte_ptr(out, writable=True)
        if lib.lr_aos_header_pack(self.to_c(), ptr, n) < 0:
            raise ValueError(f"AOS header field out of range in {self}")
        return bytes(out)

    @property
    def extended_vc_count(self) -> int:
        """The 28-bit count when the cycle field is in use (§4.1.2.5.6), else the 24-bit count."""
        return (self.vc_count_cycle << 24 | self.vc_count) if self.vc_count_usage_flag else self.vc_count

    @classmethod
    def from_c(cls, c) -> AosHeader:
        kw = {name: getattr(c, name) for name in cls._FIELDS}
        kw["replay_flag"] = bool(kw["replay_flag"])
        kw["vc_count_usage_flag"] = bool(kw["vc_count_usage_flag"])
        return cls(**kw)

    @classmethod
    def unpack(cls, data) -> AosHeader:
        c = ffi.new("struct lr_aos_header *")
        ptr, n = byte_ptr(data)
        if lib.lr_aos_header_unpack(c, ptr, n) < 0:
            raise FrameError(f"{n} octets cannot hold an AOS primary header (6 needed)")
        return cls.from_c(c)


def fhec(header: bytes) -> int:
    """The RS(10,6) frame header error control of a 6-octet primary header."""
    if len(header) < HEADER_LEN:
        raise FrameError("the FHEC covers a 6-octet primary header")
    return lib.lr_aos_fhec(ffi.from_buffer("uint8_t[]", bytes(header[:HEADER_LEN])))


def fhec_correct(header_and_fhec: bytes) -> tuple[bytes, int]:
    """(corrected 8 octets, nibbles corrected); raises FrameError beyond two nibble errors."""
    buf = bytearray(header_and_fhec[:8])
    if len(buf) != 8:
        raise FrameError("FHEC correction needs the 6-octet header and its 2-octet FHEC")
    r = lib.lr_aos_fhec_correct(ffi.from_buffer("uint8_t[]", buf, require_writable=True))
    if r < 0:
        raise FrameError("AOS frame header has more errors than the FHEC can correct")
    return bytes(buf), r


@dataclasses.dataclass(frozen=True)
class AosConfig:
    """Layout of an AOS physical channel's frames (managed parameters, §4.1)."""

    scid: int
    frame_len: int = 1115
    fhec: bool = False
    insert_zone_len: int = 0
    ocf: bool = False
    fecf: bool = True

    def to_c(self):
        c = ffi.new("struct lr_aos_config *")
        if not 0 <= self.frame_len <= 2048 or not 0 <= self.insert_zone_len <= 2048:
            raise ValueError(f"AOS frame length {self.frame_len} or insert zone {self.insert_zone_len} "
                             f"is out of range")
        c.frame_len, c.fhec_flag, c.ocf_flag, c.fecf_flag = self.frame_len, self.fhec, self.ocf, self.fecf
        c.insert_zone_len = self.insert_zone_len
        if lib.lr_aos_data_len(c) < 0:
            raise ValueError(f"AOS layout {self} leaves no data field")
        return c

    @property
    def data_len(self) -> int:
        return lib.lr_aos_data_len(self.to_c())


@dataclasses.dataclass(frozen=True)
class AosFrame:
    header: AosHeader
    insert_zone: bytes
    data: bytes
    ocf: int | None
    crc_ok: bool
    fhec_corrected: int


def build_frame(cfg: AosConfig, header: AosHeader, data: bytes, *, insert_zone: bytes = b"",
                ocf: int = 0) -> bytes:
    if header.scid != cfg.scid:
        raise ValueError(f"header SCID {header.scid} is not the channel's {cfg.scid}")
    if len(insert_zone) != cfg.insert_zone_len:
        raise ValueError(f"insert zone must be {cfg.insert_zone_len} octets, not {len(insert_zone)}")
    if len(data) != cfg.data_len:
        raise ValueError(f"AOS data field must be {cfg.data_len} octets, not {len(data)}")
    out = bytearray(cfg.frame_len)
    optr, n_out = byte_ptr(out, writable=True)
    dptr, n = byte_ptr(data)
    iz = ffi.from_buffer("uint8_t[]", insert_zone) if insert_zone else ffi.NULL
    r = lib.lr_aos_frame_build(cfg.to_c(), header.to_c(), iz, ocf & 0xFFFFFFFF, dptr, n, optr, n_out)
    if r < 0:
        raise FrameError(f"cannot build an AOS frame with {header}")
    return bytes(out)


def parse_frame(frame, cfg: AosConfig) -> AosFrame:
    info = ffi.new("struct lr_aos_frame_info *")
    ptr, n = byte_ptr(frame)
    r = lib.lr_aos_frame_parse(info, cfg.to_c(), ptr, n)
    if r == lib.LR_E_UNCORRECTABLE:
        raise FrameError("AOS frame header has more errors than the FHEC can correct")
    if r in (lib.LR_E_FORMAT, lib.LR_E_ARG):
        raise FrameError(f"{n} octets are not a version-2 AOS frame of {cfg.frame_len} octets")
    view = memoryview(frame).cast("B")
    return AosFrame(AosHeader.from_c(info.header),
                    bytes(view[info.insert_offset:info.insert_offset + cfg.insert_zone_len]),
                    bytes(view[info.data_offset:info.data_offset + info.data_len]),
                    info.ocf if cfg.ocf else None, bool(info.crc_ok), info.fhec_corrected)


def mpdu_header(first_header_pointer: int) -> bytes:
    """§4.1.4.2.2: five spare bits, then the 11-bit first header pointer."""
    if not 0 <= first_header_pointer <= 0x7FF:
        raise ValueError(f"first header pointer {first_header_pointer} is outside 0..0x7FF")
    return first_header_pointer.to_bytes(2, "big")


def bpdu_header(bitstream_data_pointer: int) -> bytes:
    """§4.1.4.3.2: two spare bits, then the 14-bit bitstream data pointer (last valid bit)."""
    if not 0 <= bitstream_data_pointer <= 0x3FFF:
        raise ValueError(f"bitstream data pointer {bitstream_data_pointer} is outside 0..0x3FFF")
    return bitstream_data_pointer.to_bytes(2, "big")


class MpduPacker:
    """Packs packets into the M_PDUs of one virtual channel's frames, with the first header
    pointer of §4.1.4.2.3 and an idle packet to close the last zone on ``flush``."""

    def __init__(self, cfg: AosConfig, vcid: int, *, ocf: int = 0, insert_zone: bytes = b""):
        if not 0 <= vcid < VCID_IDLE:
            raise ValueError(f"AOS packet virtual channel {vcid} is outside 0..62")
        self.cfg, self.vcid, self.ocf, self.insert_zone = cfg, vcid, ocf, insert_zone
        self.vc_count = 0
        self._zone = bytearray()
        self._fhp: int | None = None
        self._zone_len = cfg.data_len - 2

    def _emit(self) -> bytes:
        fhp = FHP_NO_PACKET if self._fhp is None else self._fhp
        header = AosHeader(self.cfg.scid, self.vcid, self.vc_count & 0xFFFFFF, vc_count_usage_flag=True,
                           vc_count_cycle=(self.vc_count >> 24) & 0xF)
        self.vc_count = (self.vc_count + 1) & 0xFFFFFFF
        frame = build_frame(self.cfg, header, mpdu_header(fhp) + bytes(self._zone),
                            insert_zone=self.insert_zone, ocf=self.ocf)
        self._zone.clear()
        self._fhp = None
        return frame

    def pack(self, packets) -> bytes:
        idx = index_packets(packets)
        if idx.consumed != len(packets):
            raise FrameError(f"the {len(packets)} octets given are not whole space packets")
        view = memoryview(packets).cast("B")
        frames = []
        for off, length in zip(idx.entries["offset"].tolist(), idx.entries["length"].tolist(), strict=True):
            if self._fhp is None:
                self._fhp = len(self._zone)
            pkt = view[off:off + length]
            while len(pkt):
                take = min(len(pkt), self._zone_len - len(self._zone))
                self._zone += pkt[:take]
                pkt = pkt[take:]
                if len(self._zone) == self._zone_len:
                    frames.append(self._emit())
        return b"".join(frames)

    def flush(self) -> bytes:
        if not self._zone:
            return b""
        gap = self._zone_len - len(self._zone)
        return self.pack(idle_packet(gap if gap >= 7 else gap + self._zone_len))


def idle_frame(cfg: AosConfig, vc_count: int, *, fill: int = 0x55, ocf: int = 0,
               insert_zone: bytes = b"") -> bytes:
    """An idle frame: VCID 63, data field of idle data (§4.1.2.3, §4.1.4.1)."""
    header = AosHeader(cfg.scid, VCID_IDLE, vc_count & 0xFFFFFF)
    return build_frame(cfg, header, bytes([fill & 0xFF]) * cfg.data_len, insert_zone=insert_zone, ocf=ocf)


def mpdu_unpack(frames: list[AosFrame], stats: dict[str, int] | None = None) -> tuple[bytes, int]:
    """Rebuild the packets of consecutive M_PDU frames of one VC: (packets, frames skipped while
    resynchronising on a VC count gap or a bad first header pointer).  If ``stats`` is given, its
    ``vc_gaps`` and ``frames_lost`` counters are increased for each VC count discontinuity."""
    out = bytearray()
    partial: bytearray | None = None
    expected = None
    skipped = 0
    for f in frames:
        count = f.header.extended_vc_count
        if expected is not None and count != expected:
            if stats is not None:
                modulus = 1 << (28 if f.header.vc_count_usage_flag else 24)
                stats["vc_gaps"] = stats.get("vc_gaps", 0) + 1
                stats["frames_lost"] = stats.get("frames_lost", 0) + (count - expected) % modulus
            partial = None
        expected = (count + 1) & (0xFFFFFFF if f.header.vc_count_usage_flag else 0xFFFFFF)
        fhp = int.from_bytes(f.data[:2], "big") & 0x7FF
        zone = f.data[2:]
        if fhp == FHP_IDLE:
            continue
        if partial is None:
            if fhp == FHP_NO_PACKET or fhp >= len(zone):
                skipped += 1
                continue
            partial = bytearray()
            zone = zone[fhp:]
        else:
            partial += zone if fhp == FHP_NO_PACKET else zone[:fhp]
            zone = b"" if fhp == FHP_NO_PACKET else zone[fhp:]
        stream = partial + zone
        idx = index_packets(bytes(stream))
        out += stream[:idx.consumed]
        partial = bytearray(stream[idx.consumed:])
    return bytes(out), skipped
