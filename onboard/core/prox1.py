"""CCSDS Proximity-1, the relay's surface link (csrc/lr_prox1.h): version-3 transfer frame header
(211.0-B-6 §3.2.2) and the PLTU of 211.2-B-3 §3.3 (ASM 0xFAF320, frame, CRC-32)."""

from __future__ import annotations

import dataclasses

from onboard.core._api import byte_ptr, ffi, lib
from onboard.errors import FrameError

HEADER_LEN = 5
MAX_FRAME_LEN = 2048
ASM = bytes([0xFA, 0xF3, 0x20])
TFVN_VERSION_3 = 2  # the field value '10' names version 3



@dataclasses.dataclass(frozen=True)
class Prox1Header:
    scid: int
    port_id: int = 0
    frame_seq_num: int = 0
    qos: bool = False          # expedited when True
    pdu_type: int = 0          # 0 user data, 1 protocol data (SPDU)
    dfc_id: int = 0
    pcid: int = 0
    src_dst_id: int = 0
    frame_len: int = HEADER_LEN
    tfvn: int = TFVN_VERSION_3

    _FIELDS = ("tfvn", "qos", "pdu_type", "dfc_id", "scid", "pcid", "port_id", "src_dst_id", "frame_seq_num",
               "frame_len")

    def to_c(self):
        c = ffi.new("struct lr_prox1_header *")
        for name in self._FIELDS:
            v = int(getattr(self, name))
            if not 0 <= v <= (0xFF if name == "frame_seq_num" else 0xFFFF):
                raise ValueError(f"Proximity-1 header {name} {v} is out of range")
            setattr(c, name, v)
        return c

    def pack(self) -> bytes:
        out = bytearray(HEADER_LEN)
        ptr, n = byte_ptr(out, writable=True)
        if lib.lr_prox1_header_pack(self.to_c(), ptr, n) < 0:
            raise ValueError(f"Proximity-1 header field out of range in {self}")
        return bytes(out)

    @classmethod
    def from_c(cls, c) -> Prox1Header:
        kw = {name: getattr(c, name) for name in cls._FIELDS}
        kw["qos"] = bool(kw["qos"])
        return cls(**kw)

    @classmethod
    def unpack(cls, data) -> Prox1Header:
        c = ffi.new("struct lr_prox1_header *")
        ptr, n = byte_ptr(data)
        if lib.lr_prox1_header_unpack(c, ptr, n) < 0:
            raise FrameError(f"{n} octets cannot hold a Proximity-1 header (5 needed)")
        return cls.from_c(c)


@dataclasses.dataclass(frozen=True)
class Pltu:
    header: Prox1Header
    data: bytes
    crc: int
    crc_ok: bool


def build_pltu(header: Prox1Header, data: bytes) -> bytes:
    """ASM + version-3 frame (header, ``data``) + CRC-32; the header's frame length is computed."""
    out = bytearray(len(data) + HEADER_LEN + 7)
    optr, n_out = byte_ptr(out, writable=True)
    dptr, n = byte_ptr(data)
    r = lib.lr_prox1_pltu_build(header.to_c(), dptr, n, optr, n_out)
    if r < 0:
        raise FrameError(f"cannot build a Proximity-1 PLTU of {n} data octets with {header} "
                         f"(at most {MAX_FRAME_LEN - HEADER_LEN} octets, fields in range)")
    return bytes(out)


def parse_pltu(data) -> tuple[Pltu, int]:
    """The PLTU at the start of ``data`` and its length; a bad CRC gives ``crc_ok`` False."""
    info = ffi.new("struct lr_prox1_pltu_info *")
    ptr, n = byte_ptr(data)
    r = lib.lr_prox1_pltu_parse(info, ptr, n)
    if r == lib.LR_E_FORMAT:
        raise FrameError(f"{n} octets do not start with a whole version-3 PLTU (ASM FAF320, header, CRC)")
    view = memoryview(data).cast("B")
    length = 3 + info.header.frame_len + 4
    body = bytes(view[info.data_offset:info.data_offset + info.data_len])
    return Pltu(Prox1Header.from_c(info.header), body, info.crc, bool(info.crc_ok)), length


def scan_pltus(stream: bytes) -> tuple[list[Pltu], int]:
    """Every good PLTU in an octet-aligned stream, searching for the ASM after noise or a bad
    PLTU; returns (PLTUs, rejected candidates)."""
    found, rejected, pos = [], 0, 0
    while (pos := stream.find(ASM, pos)) >= 0:
        try:
            pltu, length = parse_pltu(memoryview(stream)[pos:])
        except FrameError:
            rejected += 1
            pos += 1
            continue
        if pltu.crc_ok:
            found.append(pltu)
            pos += length
        else:
            rejected += 1
            pos += 1
    return found, rejected
