"""CCSDS TM Space Data Link Protocol, 132.0-B-3 (csrc/lr_tm.h): frame headers, frame parsing, a
virtual-channel multiplexer that packs packet streams into fixed-length frames and a demultiplexer
that rebuilds packets across frames and counts gaps.

    cfg = TmConfig(scid=0x1AB, frame_len=1115, ocf=True, fecf=True)
    mux = TmMux(cfg)
    frames = mux.pack(vcid=1, packets=b"...") + mux.flush(1)
    demux = TmDemux(cfg, vcids=[1])
    packets = demux.feed(frames)          # demux.stats() says what was lost
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onboard.core._api import CoreError, Status, byte_ptr, check, ffi, lib
from onboard.errors import FrameError

HEADER_LEN = 6
MAX_FRAME_LEN = 2048
FHP_NO_PACKET = lib.LR_TM_FHP_NO_PACKET
FHP_IDLE = lib.LR_TM_FHP_IDLE



@dataclasses.dataclass(frozen=True)
class TmConfig:
    """Layout of a TM physical channel's frames (132.0-B-3 §4.1)."""

    scid: int
    frame_len: int = 1115
    ocf: bool = False
    fecf: bool = True
    sec_hdr_len: int = 0  # whole secondary header (identification octet included), 0 or 2..64
    idle_fill: int = 0x55

    def to_c(self):
        c = ffi.new("struct lr_tm_config *")
        if not 0 <= self.scid <= 0x3FF:
            raise ValueError(f"TM spacecraft ID {self.scid} is outside 0..1023")
        if not 0 <= self.frame_len <= MAX_FRAME_LEN:
            raise ValueError(f"TM frame length {self.frame_len} is outside 0..2048")
        c.scid, c.frame_len, c.ocf_flag, c.fecf_flag = self.scid, self.frame_len, self.ocf, self.fecf
        if not 0 <= self.sec_hdr_len <= 64:
            raise ValueError(f"TM secondary header length {self.sec_hdr_len} is outside 0, 2..64")
        c.sec_hdr_len, c.idle_fill = self.sec_hdr_len, self.idle_fill & 0xFF
        n = lib.lr_tm_data_len(c)
        if n < 0:
            raise ValueError(f"TM layout {self} leaves no room for packets (or has a bad secondary header)")
        return c

    @property
    def data_len(self) -> int:
        return lib.lr_tm_data_len(self.to_c())


@dataclasses.dataclass(frozen=True)
class TmHeader:
    """TM transfer frame primary header, 132.0-B-3 §4.1.2."""

    scid: int
    vcid: int
    mc_count: int = 0
    vc_count: int = 0
    ocf_flag: bool = False
    sec_hdr_flag: bool = False
    sync_flag: bool = False
    packet_order_flag: bool = False
    segment_length_id: int = 3
    first_header_pointer: int = 0
    tfvn: int = 0

    _C = (("tfvn", "tfvn"), ("scid", "scid"), ("vcid", "vcid"), ("ocf_flag", "ocf_flag"),
          ("mc_count", "mc_count"), ("vc_count", "vc_count"), ("sec_hdr_flag", "sec_hdr_flag"),
          ("sync_flag", "sync_flag"), ("packet_order_flag", "packet_order_flag"),
          ("segment_length_id", "segment_length_id"), ("first_header_pointer", "fhp"))

    def pack(self) -> bytes:
        c = ffi.new("struct lr_tm_header *")
        for py, cn in self._C:
            v = int(getattr(self, py))
            if v < 0 or v > 0xFFFF:
                raise ValueError(f"TM header {py} {v} is out of range")
            setattr(c, cn, v)
        out = bytearray(HEADER_LEN)
        ptr, n = byte_ptr(out, writable=True)
        if lib.lr_tm_header_pack(c, ptr, n) < 0:
            raise ValueError(f"TM header field out of range in {self}")
        return bytes(out)

    @classmethod
    def from_c(cls, c) -> TmHeader:
        kw = {py: getattr(c, cn) for py, cn in cls._C}
        for flag in ("ocf_flag", "sec_hdr_flag", "sync_flag", "packet_order_flag"):
            kw[flag] = bool(kw[flag])
        return cls(**kw)

    @classmethod
    def unpack(cls, data) -> TmHeader:
        c = ffi.new("struct lr_tm_header *")
        ptr, n = byte_ptr(data)
        if lib.lr_tm_header_unpack(c, ptr, n) < 0:
            raise FrameError(f"{n} octets cannot hold a TM frame primary header (6 needed)")
        return cls.from_c(c)


@dataclasses.dataclass(frozen=True)
class TmFrame:
    header: TmHeader
    secondary_header: bytes
    data: bytes
    ocf: int | None
    crc_ok: bool


def parse_frame(frame, cfg: TmConfig) -> TmFrame:
    """Split one frame into its fields; ``crc_ok`` is False if the FECF does not match."""
    info = ffi.new("struct lr_tm_frame_info *")
    ptr, n = byte_ptr(frame)
    r = lib.lr_tm_frame_parse(info, cfg.to_c(), ptr, n)
    if r < 0 and r != lib.LR_E_CHECK:
        raise FrameError(f"{n}-octet TM frame is too short for the fields its header announces")
    view = memoryview(frame).cast("B")
    off = info.data_offset
    return TmFrame(TmHeader.from_c(info.header), bytes(view[off - info.sec_hdr_len:off]),
                   bytes(view[off:off + info.data_len]), info.ocf if info.header.ocf_flag else None,
                   bool(info.crc_ok))


class TmMux:
    """Virtual-channel multiplexer of one master channel.  ``pack`` takes whole packets and
    returns the frames they completed; the frame in progress stays open until more packets or
    ``flush`` fill it.  ``secondary_header`` is the secondary header's data field, written into
    every frame after the identification octet.  Frames come out in the order they are completed,
    which is the order the MC count numbers them."""

    def __init__(self, cfg: TmConfig, ocf: int = 0, secondary_header: bytes = b""):
        self.cfg = cfg
        self._mc = ffi.new("struct lr_tm_mux_mc *")
        self._mc.cfg = cfg.to_c()[0]
        self.ocf = ocf
        if len(secondary_header) != max(cfg.sec_hdr_len - 1, 0):
            raise ValueError(f"secondary header data must be {max(cfg.sec_hdr_len - 1, 0)} octets "
                             f"(the layout's {cfg.sec_hdr_len} less the identification octet), "
                             f"not {len(secondary_header)}")
        if secondary_header:
            # The C side writes the identification octet (§4.1.3.2) at sec_hdr[0].
            ffi.memmove(self._mc.sec_hdr + 1, secondary_header, len(secondary_header))
        self._vcs: dict[int, object] = {}

    @property
    def ocf(self) -> int:
        return self._mc.ocf

    @ocf.setter
    def ocf(self, value: int) -> None:
        """The OCF (e.g. the CLCW word) written into every following frame."""
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"OCF {value:#x} does not fit 32 bits")
        self._mc.ocf = value

    @property
    def frames(self) -> int:
        return self._mc.frames

    def _vc(self, vcid: int):
        if not 0 <= vcid <= 7:
            raise ValueError(f"TM virtual channel {vcid} is outside 0..7")
        vc = self._vcs.get(vcid)
        if vc is None:
            vc = ffi.new("struct lr_tm_mux_vc *")
            vc.mc = self._mc
            vc.vcid = vcid
            self._vcs[vcid] = vc
        return vc

    def pending(self, vcid: int) -> int:
        """Octets already placed in the open frame of ``vcid``."""
        return self._vc(vcid).fill

    def pack(self, vcid: int, packets) -> bytes:
        vc = self._vc(vcid)
        ptr, n = byte_ptr(packets)
        dlen = self.cfg.data_len
        out = bytearray(((vc.fill + n) // dlen) * self.cfg.frame_len)
        optr, n_out = byte_ptr(out, writable=True)
        r = lib.lr_tm_mux_pack(vc, ptr, n, optr, n_out)
        if r == lib.LR_E_FORMAT:
            raise FrameError(f"VC {vcid}: the {n} octets given are not whole version-1 space packets")
        check(r, f"TM multiplex on VC {vcid}")
        return bytes(out)

    def flush(self, vcid: int) -> bytes:
        """Close the open frame of ``vcid`` with an idle packet (one or two frames, or none)."""
        out = bytearray(2 * self.cfg.frame_len)
        optr, n_out = byte_ptr(out, writable=True)
        k = check(lib.lr_tm_mux_flush(self._vc(vcid), optr, n_out), f"TM flush VC {vcid}")
        return bytes(out[:k * self.cfg.frame_len])

    def idle_frame(self, vcid: int = 7) -> bytes:
        """One frame of only idle data (FHP 0x7FE) on ``vcid``, which must have no open frame."""
        out = bytearray(self.cfg.frame_len)
        optr, n_out = byte_ptr(out, writable=True)
        try:
            check(lib.lr_tm_mux_idle_frame(self._vc(vcid), optr, n_out), f"TM idle frame VC {vcid}")
        except CoreError as e:
            if e.status == Status.STATE:
                raise FrameError(f"VC {vcid} has an open frame; flush it before sending idle frames") from e
            raise
        return bytes(out)


_STAT_FIELDS = ("frames", "crc_errors", "bad_headers", "mc_gaps", "mc_frames_lost", "vc_gaps",
                "vc_frames_lost", "fhp_mismatches", "bad_packets", "idle_frames", "unsupported", "packets",
                "idle_packets", "octets_discarded")


class TmDemux:
    """Rebuilds the packets of the chosen virtual channels from a stream of frames."""

    def __init__(self, cfg: TmConfig, vcids=range(8), drop_idle: bool = True):
        self.cfg = cfg
        self._st = ffi.new("struct lr_tm_demux *")
        self._st.cfg = cfg.to_c()[0]
        mask = 0
        for v in vcids:
            if not 0 <= v <= 7:
                raise ValueError(f"TM virtual channel {v} is outside 0..7")
            mask |= 1 << v
        self._st.vc_mask = mask
        self._st.drop_idle = drop_idle

    def feed(self, frames) -> bytes:
        """Packets completed by ``frames`` (whole frames), back to back."""
        ptr, n = byte_ptr(frames)
        flen = self.cfg.frame_len
        if n % flen:
            raise FrameError(f"{n} octets is not a whole number of {flen}-octet TM frames")
        chunks = []
        done = 0
        while done < n:
            # Enough for every octet of these frames plus the packets already in progress.
            cap = n - done + sum(self._st.vc[v].have for v in range(8)) + flen
            out = bytearray(cap)
            optr, n_out = byte_ptr(out, writable=True)
            got = check(lib.lr_tm_demux_frames(self._st, ptr + done, n - done, optr, n_out), "TM demux")
            chunks.append(bytes(out[:got]))
            done += self._st.consumed
        return b"".join(chunks)

    @property
    def last_ocf(self) -> int:
        return self._st.last_ocf

    def stats(self) -> dict[str, int]:
        return {f: int(getattr(self._st, f)) for f in _STAT_FIELDS}


def frames_array(frames: bytes, cfg: TmConfig) -> np.ndarray:
    """A (n_frames, frame_len) uint8 view of a frame stream."""
    if len(frames) % cfg.frame_len:
        raise FrameError(f"{len(frames)} octets is not a whole number of {cfg.frame_len}-octet frames")
    return np.frombuffer(frames, dtype=np.uint8).reshape(-1, cfg.frame_len)
