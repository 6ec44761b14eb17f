"""CCSDS TC Space Data Link Protocol, 232.0-B-4 (csrc/lr_tc.h): frame and segment headers, frame
building and checking, MAP segmentation over frames, and the COP-1 control commands
(§4.1.3.3: Unlock, Set V(R))."""

from __future__ import annotations

import dataclasses
import enum

from onboard.core._api import byte_ptr, ffi, lib
from onboard.errors import FrameError

HEADER_LEN = 5
MAX_FRAME_LEN = 1024



class SegFlags(enum.IntEnum):
    """Segment header sequence flags, 232.0-B-4 §4.1.3.2.2."""

    CONTINUATION = 0
    FIRST = 1
    LAST = 2
    UNSEGMENTED = 3


@dataclasses.dataclass(frozen=True)
class TcHeader:
    """TC transfer frame primary header, §4.1.2.  ``frame_len`` is the whole frame length."""

    scid: int
    vcid: int
    frame_seq_num: int = 0
    bypass_flag: bool = False
    ctrl_cmd_flag: bool = False
    frame_len: int = HEADER_LEN + 1
    spare: int = 0
    tfvn: int = 0

    def to_c(self):
        c = ffi.new("struct lr_tc_header *")
        for name in ("tfvn", "bypass_flag", "ctrl_cmd_flag", "spare", "scid", "vcid", "frame_seq_num",
                     "frame_len"):
            v = int(getattr(self, name))
            if not 0 <= v <= 0xFFFF or (name == "frame_seq_num" and v > 255):
                raise ValueError(f"TC header {name} {v} is out of range")
            setattr(c, name, v)
        return c

    def pack(self) -> bytes:
        out = bytearray(HEADER_LEN)
        ptr, n = byte_ptr(out, writable=True)
        if lib.lr_tc_header_pack(self.to_c(), ptr, n) < 0:
            raise ValueError(f"TC header field out of range in {self}")
        return bytes(out)

    @classmethod
    def from_c(cls, c) -> TcHeader:
        return cls(scid=c.scid, vcid=c.vcid, frame_seq_num=c.frame_seq_num, bypass_flag=bool(c.bypass_flag),
                   ctrl_cmd_flag=bool(c.ctrl_cmd_flag), frame_len=c.frame_len, spare=c.spare, tfvn=c.tfvn)

    @classmethod
    def unpack(cls, data) -> TcHeader:
        c = ffi.new("struct lr_tc_header *")
        ptr, n = byte_ptr(data)
        if lib.lr_tc_header_unpack(c, ptr, n) < 0:
            raise FrameError(f"{n} octets cannot hold a TC frame primary header (5 needed)")
        return cls.from_c(c)


@dataclasses.dataclass(frozen=True)
class TcConfig:
    """Managed parameters of a TC virtual channel."""

    scid: int
    vcid: int
    fecf: bool = True
    segment_header: bool = True

    def to_c(self):
        c = ffi.new("struct lr_tc_config *")
        c.fecf_flag, c.seg_hdr_flag = self.fecf, self.segment_header
        return c

    @property
    def max_data_len(self) -> int:
        return MAX_FRAME_LEN - HEADER_LEN - int(self.segment_header) - 2 * int(self.fecf)


@dataclasses.dataclass(frozen=True)
class TcFrame:
    header: TcHeader
    data: bytes
    map_id: int | None
    seq_flags: SegFlags | None
    crc_ok: bool


def build_frame(cfg: TcConfig, data: bytes, *, frame_seq_num: int = 0, bypass: bool = False,
                control: bool = False, map_id: int = 0, seq_flags: SegFlags = SegFlags.UNSEGMENTED) -> bytes:
    spec = ffi.new("struct lr_tc_frame_spec *")
    spec.header = TcHeader(cfg.scid, cfg.vcid, frame_seq_num, bypass, control).to_c()[0]
    spec.cfg = cfg.to_c()[0]
    if not 0 <= map_id <= 63:
        raise ValueError(f"MAP ID {map_id} is outside 0..63")
    spec.seq_flags, spec.map_id = int(seq_flags), map_id
    out = bytearray(MAX_FRAME_LEN)
    optr, n_out = byte_ptr(out, writable=True)
    dptr, n = byte_ptr(data)
    r = lib.lr_tc_frame_build(spec, dptr, n, optr, n_out)
    if r < 0:
        raise FrameError(f"cannot build a TC frame of {n} data octets on SCID {cfg.scid} VC {cfg.vcid} "
                         f"(1..{cfg.max_data_len} octets fit, fields must be in range)")
    return bytes(out[:r])


def parse_frame(frame, cfg: TcConfig) -> tuple[TcFrame, int]:
    """The frame at the start of ``frame`` and its length; a bad FECF gives ``crc_ok`` False."""
    info = ffi.new("struct lr_tc_frame_info *")
    ptr, n = byte_ptr(frame)
    r = lib.lr_tc_frame_parse(info, cfg.to_c(), ptr, n)
    if r == lib.LR_E_FORMAT:
        raise FrameError(f"{n} octets do not start with a well-formed TC frame (version 0, spare 0, "
                         f"length within the buffer and room for its fields)")
    view = memoryview(frame).cast("B")
    seg = bool(info.has_seg_hdr)
    length = r if r >= 0 else info.header.frame_len
    return (TcFrame(TcHeader.from_c(info.header),
                    bytes(view[info.data_offset:info.data_offset + info.data_len]),
                    info.map_id if seg else None, SegFlags(info.seq_flags) if seg else None,
                    bool(info.crc_ok)), length)


def segment_frames(cfg: TcConfig, data: bytes, *, map_id: int = 0, first_seq_num: int = 0,
                   bypass: bool = False, max_data_len: int | None = None) -> list[bytes]:
    """Split a user data unit over frames with segment headers (first, continuation..., last)."""
    if not cfg.segment_header:
        raise ValueError("segmentation needs a virtual channel with segment headers")
    size = max_data_len or cfg.max_data_len
    chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
    if len(chunks) == 1:
        flags = [SegFlags.UNSEGMENTED]
    else:
        flags = [SegFlags.FIRST] + [SegFlags.CONTINUATION] * (len(chunks) - 2) + [SegFlags.LAST]
    return [build_frame(cfg, c, frame_seq_num=(first_seq_num + i) & 0xFF, bypass=bypass, map_id=map_id,
                        seq_flags=f) for i, (c, f) in enumerate(zip(chunks, flags, strict=True))]


def unlock_frame(cfg: TcConfig) -> bytes:
    """BC frame carrying the Unlock directive (§4.1.3.3.2: one octet, all zeros)."""
    return build_frame(cfg, b"\x00", bypass=True, control=True)


def set_vr_frame(cfg: TcConfig, vr: int) -> bytes:
    """BC frame carrying Set V(R) (§4.1.3.3.3: 0x82 0x00 then the new V(R))."""
    if not 0 <= vr <= 255:
        raise ValueError(f"V(R) {vr} is outside 0..255")
    return build_frame(cfg, bytes([0x82, 0x00, vr]), bypass=True, control=True)
