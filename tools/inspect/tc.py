"""TC transfer frames and CLTUs to space packets, with every octet filed (232.0-B-4, 231.0-B-4).

CLTUs are found and BCH-decoded by the C core (start sequence, one-bit correction per codeblock,
tail sequence); each carries one TC frame, derandomized if the TC randomizer is on (§6), whose
length field says where the codeblock fill starts.  A TC frame's data field holds, after the
optional segment header (232.0-B-4 §4.1.3.2) and the optional SDLS security header and trailer
(355.0-B-2 §4.1, lengths from the security association), space packets; control commands
(BC frames with the control command flag, §4.1.3.3) are filed as not packet data.  User data
segmented over frames (segment header sequence flags first, continuation..., last) is
reassembled per virtual channel and MAP ID; a segment whose first or last segment never came is
filed as a lost packet start or end with its ranges.  TC rates are low, so frames are handled
one by one; their packets go on in batches like every other layer's.

SDLS: with a key file (``--sdls-keys``; the emulation's by default) the security header is
recognised by its SPI and the MAC is checked with ``onboard.ccsds.sdls`` (anti-replay included),
and counted.
"""

from __future__ import annotations

import dataclasses
import importlib.resources

import numpy as np

from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.link import LinkParams
from lunarelay_tools.inspect.packets import PacketBatch, index_all, rows_from_index
from onboard.ccsds import sdls
from onboard.core import cltu, rand
from onboard.core.crc import crc16_ccitt
from onboard.core.spp import APID_IDLE, IndexStop

HEADER_LEN = 5
MAX_FRAME = 1024
TC_STATS = ("frames", "crc_failures", "bad_headers", "other_spacecraft", "vc_not_selected",
            "control_commands", "segmented", "segments", "reassembled", "segments_lost", "sdls_verified",
            "sdls_rejected", "packets", "frames_without_packets")
# 232.0-B-4 §4.1.3.2.2: segment header sequence flags
SEG_CONTINUATION, SEG_FIRST, SEG_LAST, SEG_UNSEGMENTED = 0, 1, 2, 3
CLTU_STATS = ("cltus", "codeblocks", "corrected_codeblocks", "uncorrectable", "truncated", "frames",
              "bad_frames")


def default_sdls() -> sdls.Sdls | None:
    """The emulation's key file: its SAs give the security header and trailer lengths."""
    try:
        ref = importlib.resources.files("onboard.scenarios") / "sdls_keys.toml"
        return sdls.Sdls(*sdls.parse_key_file(ref.read_text(), "sdls_keys.toml"))
    except (OSError, sdls.SdlsConfigError):
        return None


def load_sdls(path: str | None) -> sdls.Sdls | None:
    """The SAs of a key file (``onboard/scenarios/sdls_keys.toml``'s format), or the emulation's
    when ``path`` is None; each TC stream gets its own, so anti-replay state is per stream."""
    return default_sdls() if path is None else sdls.Sdls.from_key_file(path)


@dataclasses.dataclass
class _Segments:
    """User data of one MAP being reassembled from its segments."""

    data: bytearray
    frame: int                        # frame number of the first segment
    pieces: list[tuple[int, int]]     # input octets of each segment's data


def tc_header(frame: bytes) -> dict[str, int] | None:
    """232.0-B-4 §4.1.2 fields of a TC primary header, or None if it is impossible."""
    if len(frame) < HEADER_LEN:
        return None
    w = int.from_bytes(frame[:HEADER_LEN], "big")
    h = {"tfvn": w >> 38, "bypass_flag": (w >> 37) & 1, "control_command_flag": (w >> 36) & 1,
         "spare": (w >> 34) & 3, "scid": (w >> 24) & 0x3FF, "vcid": (w >> 18) & 0x3F,
         "frame_length": ((w >> 8) & 0x3FF) + 1, "frame_seq_num": w & 0xFF}
    if h["tfvn"] != 0 or h["frame_length"] < HEADER_LEN + 1:
        return None
    return h


def whole_packets(data: bytes) -> bool:
    """Whether ``data`` is one or more whole version-0 space packets, exactly."""
    if len(data) < 7:
        return False
    entries, end, stop, _ = index_all(np.frombuffer(data, dtype=np.uint8))
    return stop == IndexStop.END and end == len(data) and len(entries) > 0


class TcFrameLayer:
    """TC frames (whole, one per call or split from a stream by their length fields)."""

    def __init__(self, params: LinkParams, ledger: Ledger, security: sdls.Sdls | None = None):
        self.params = params
        self.ledger = ledger
        self.security = security if security is not None else default_sdls()
        self.stats = dict.fromkeys(TC_STATS, 0)
        self.scids: dict[int, int] = {}
        self.vc_counts: dict[int, int] = {}
        self._pending = b""
        self._pending_at = 0
        self.frames_seen = 0
        self.on_frames = None         # called with ("tc", [frame], params) for every frame
        self.last_refusal: str | None = None
        self._open: dict[tuple[int, int], _Segments] = {}     # (VCID, MAP ID) -> data so far
        self._segmented_vcs: set[int] = set()                  # virtual channels that segment user data

    # --- a stream of back-to-back frames -----------------------------------------------------------
    def push_stream(self, data: bytes, at: int, final: bool = False) -> PacketBatch:
        buf = self._pending + bytes(data)
        base = self._pending_at if self._pending else at
        pos, out = 0, []
        while pos < len(buf):
            h = tc_header(buf[pos:pos + HEADER_LEN])
            if h is None or pos + h["frame_length"] > len(buf):
                if h is not None and not final:
                    break                           # the rest of this frame comes later
                if len(buf) - pos < HEADER_LEN and not final:
                    break
                nxt = self._resync(buf, pos + 1)
                if nxt is None and not final:
                    keep = max(pos, len(buf) - MAX_FRAME)
                    self.ledger.add_range("bad_header", base + pos, base + keep, "TC frame stream")
                    pos = keep
                    break
                end = len(buf) if nxt is None else nxt
                reason = "truncated" if h is not None and nxt is None else "bad_header"
                self.ledger.add_range(reason, base + pos, base + end, "TC frame stream")
                pos = end
                continue
            n = h["frame_length"]
            out.append(self.push_frame(buf[pos:pos + n], base + pos))
            pos += n
        self._pending, self._pending_at = buf[pos:], base + pos
        return PacketBatch.concat(out)

    def finish(self) -> PacketBatch:
        got = PacketBatch.empty()
        if self._pending:
            pending, at = self._pending, self._pending_at
            self._pending = b""
            got = self.push_stream(pending, at, final=True)
        self.close_segments()
        return got

    def close_segments(self) -> None:
        """User data still waiting for its last segment when the input ends."""
        for (vcid, map_id), seg in self._open.items():
            self._lose(seg, "packet_end_lost", f"VC {vcid} MAP {map_id}: no last segment before the end")
        self._open.clear()

    def _resync(self, buf: bytes, start: int) -> int | None:
        """The next offset where a TC frame with a matching FECF starts (or None)."""
        for pos in range(start, len(buf) - HEADER_LEN):
            if buf[pos] >> 6:
                continue
            h = tc_header(buf[pos:pos + HEADER_LEN])
            if h is not None and pos + h["frame_length"] <= len(buf) and \
                    crc16_ccitt(buf[pos:pos + h["frame_length"]]) == 0:
                return pos
        return None

    # --- one frame ---------------------------------------------------------------------------------
    def push_frame(self, frame: bytes, at: int) -> PacketBatch:
        """One whole TC frame starting at input octet ``at``."""
        p = self.params
        st = self.stats
        st["frames"] += 1
        if self.on_frames is not None:
            self.on_frames("tc", [frame], p)
        index = self.frames_seen
        self.frames_seen += 1
        end = at + len(frame)
        h = tc_header(frame)
        if p.fecf and (len(frame) < HEADER_LEN + 3 or crc16_ccitt(frame) != 0):
            st["crc_failures"] += 1
            self.ledger.add_range("crc_failure", at, end, "TC frame")
            return PacketBatch.empty()
        if h is None or h["frame_length"] != len(frame):
            st["bad_headers"] += 1
            self.ledger.add_range("bad_header", at, end, "TC frame")
            return PacketBatch.empty()
        self.scids[h["scid"]] = self.scids.get(h["scid"], 0) + 1
        self.vc_counts[h["vcid"]] = self.vc_counts.get(h["vcid"], 0) + 1
        if p.scid is not None and h["scid"] != p.scid:
            st["other_spacecraft"] += 1
            self.ledger.add_range("other_spacecraft", at, end, "TC frame")
            return PacketBatch.empty()
        if p.vcids is not None and h["vcid"] not in p.vcids:
            st["vc_not_selected"] += 1
            self.ledger.add_range("vc_not_selected", at, end, "TC frame")
            return PacketBatch.empty()
        trailer = 2 if p.fecf else 0
        body = frame[HEADER_LEN:len(frame) - trailer]
        self.ledger.add("frame_header", HEADER_LEN)
        self.ledger.add("frame_trailer", trailer)
        if h["control_command_flag"]:
            st["control_commands"] += 1
            self.ledger.add_range("not_packet_data", at + HEADER_LEN, at + HEADER_LEN + len(body),
                                  "TC control command")
            return PacketBatch.empty()
        self.last_refusal = None
        head, tail, data, seg = self._unwrap(h["vcid"], frame[:HEADER_LEN], body)
        self.ledger.add("frame_header", head)
        self.ledger.add("frame_trailer", tail)
        data_at = at + HEADER_LEN + head
        if self.last_refusal is not None:
            # the receiving end refuses it (355.0-B-2 §4.2.3.4): so does the inspection
            self.ledger.add_range("sdls_rejected", data_at, data_at + len(data), self.last_refusal)
            return PacketBatch.empty()
        if seg is not None and seg[0] != SEG_UNSEGMENTED:
            return self._segment(h["vcid"], seg, data, data_at, index)
        if data is None or not whole_packets(data):
            st["frames_without_packets"] += 1
            self.ledger.add_range("not_packet_data", data_at, data_at + len(body) - head - tail,
                                  "TC frame data that is not whole space packets")
            return PacketBatch.empty()
        return self._packets(data, [(data_at, data_at + len(data))], h["vcid"], index)

    def _packets(self, data: bytes, pieces: list[tuple[int, int]], vcid: int, frame: int) -> PacketBatch:
        """The whole packets of ``data``, whose octets came from the input ``pieces``."""
        buf = np.frombuffer(data, dtype=np.uint8).copy()
        entries, _, _, _ = index_all(buf)
        rows = rows_from_index(entries)
        rows["vcid"] = vcid
        rows["frame"] = frame
        # a packet's first octet, back in the input: through the pieces its data came in
        starts = np.array([a for a, _ in pieces], dtype=np.int64)
        lens = np.array([b - a for a, b in pieces], dtype=np.int64)
        at = np.cumsum(lens) - lens
        off = entries["offset"].astype(np.int64)
        k = np.searchsorted(at, off, side="right") - 1
        rows["input_offset"] = starts[k] + off - at[k]
        idle = entries["apid"] == APID_IDLE
        self.ledger.add("packet", int(entries["length"][~idle].sum()))
        self.ledger.add("idle_packet", int(entries["length"][idle].sum()))
        self.stats["packets"] += int((~idle).sum())
        return PacketBatch(buf, rows)

    def _segment(self, vcid: int, seg: tuple[int, int], data: bytes, data_at: int, index: int) -> PacketBatch:
        """One segment of user data split over frames (232.0-B-4 §4.1.3.2.2), per VC and MAP ID."""
        flags, map_id = seg
        key = (vcid, map_id)
        self.stats["segments"] += 1
        self._segmented_vcs.add(vcid)
        piece = (data_at, data_at + len(data))
        open_ = self._open.pop(key, None)
        if flags == SEG_FIRST:
            if open_ is not None:
                self._lose(open_, "packet_end_lost", f"VC {vcid} MAP {map_id}: a first segment came before "
                                                     "the last one")
            self._open[key] = _Segments(bytearray(data), index, [piece])
            return PacketBatch.empty()
        if open_ is None:
            self.stats["segments_lost"] += 1
            self.ledger.add_range("packet_start_lost", *piece,
                                  f"VC {vcid} MAP {map_id}: segment without its first segment")
            return PacketBatch.empty()
        open_.data += data
        open_.pieces.append(piece)
        if flags == SEG_CONTINUATION:
            self._open[key] = open_
            return PacketBatch.empty()
        whole = bytes(open_.data)
        if not whole_packets(whole):
            self.stats["frames_without_packets"] += 1
            for a, b in open_.pieces:
                self.ledger.add_range("not_packet_data", a, b,
                                      f"VC {vcid} MAP {map_id}: reassembled data is not whole packets")
            return PacketBatch.empty()
        self.stats["reassembled"] += 1
        return self._packets(whole, open_.pieces, vcid, open_.frame)

    def _lose(self, seg: _Segments, reason: str, note: str) -> None:
        self.stats["segments_lost"] += len(seg.pieces)
        for a, b in seg.pieces:
            self.ledger.add_range(reason, a, b, note)

    def _unwrap(self, vcid: int, header: bytes,
                body: bytes) -> tuple[int, int, bytes | None, tuple[int, int] | None]:
        """(octets of segment/security header, of security trailer, the user data, (sequence flags,
        MAP ID) of the segment header or None) of a frame's data field: tried as bare packets, with
        a segment header, with SDLS, with both."""
        if whole_packets(body):
            return 0, 0, body, None
        seg = (body[0] >> 6, body[0] & 0x3F) if len(body) > 1 else None
        if seg is not None and seg[0] == SEG_UNSEGMENTED and whole_packets(body[1:]):
            return 1, 0, body[1:], seg
        for skip in (0, 1):
            got = self._sdls(header, body[skip:], self._segment_check(vcid, seg) if skip else whole_packets)
            if got is not None:
                head, tail, data = got
                if skip:
                    self.stats["segmented"] += 1
                return skip + head, tail, data, seg if skip else None
        if seg is not None and self._segment_check(vcid, seg)(body[1:]):
            return 1, 0, body[1:], seg
        return 0, 0, None, None

    def _segment_check(self, vcid: int, seg: tuple[int, int] | None):
        """Whether data can be this segment: whole packets unsegmented, a packet's start first, and
        a continuation or last segment only where segmented user data has been seen."""
        def check(data: bytes) -> bool:
            if seg is None or not data:
                return False
            flags, map_id = seg
            if flags == SEG_UNSEGMENTED:
                return whole_packets(data)
            if flags == SEG_FIRST:
                # well-formed packets from its first octet, the last one running past its end
                _, _, stop, _ = index_all(np.frombuffer(data, dtype=np.uint8))
                return stop in (IndexStop.TRUNCATED, IndexStop.END)
            # a continuation or last segment: where its MAP has data open, or on a virtual channel
            # that has shown segmented user data (its first segment was lost)
            return (vcid, map_id) in self._open or vcid in self._segmented_vcs
        return check

    def _sdls(self, header: bytes, protected: bytes, plausible) -> tuple[int, int, bytes] | None:
        if self.security is None or len(protected) < 2:
            return None
        sa = self.security.sas.get(int.from_bytes(protected[:2], "big"))
        if sa is None or len(protected) <= sa.overhead:
            return None
        data = protected[sa.header_length:len(protected) - sa.mac_length]
        if not plausible(data):
            return None
        verified = self.security.process(header, protected)
        self.stats["sdls_verified" if verified.ok else "sdls_rejected"] += 1
        self.last_refusal = None if verified.ok else verified.reason
        return sa.header_length, sa.mac_length, data

    def stats_dict(self) -> dict:
        return {"tc": dict(self.stats),
                "spacecraft_ids": {f"{s:#x}": c for s, c in sorted(self.scids.items())},
                "virtual_channels": {v: {"frames": c} for v, c in sorted(self.vc_counts.items())}}


class CltuLayer:
    """CLTU octets in pieces of any size; their TC frames go to a ``TcFrameLayer``."""

    def __init__(self, params: LinkParams, ledger: Ledger, security: sdls.Sdls | None = None):
        self.params = params
        self.ledger = ledger
        self.frames = TcFrameLayer(params, ledger, security)
        self.stats = dict.fromkeys(CLTU_STATS, 0)
        self._pending = b""
        self._pending_at = 0
        self._end = 0                 # input octet after the last CLTU filed

    def push(self, data, final: bool = False) -> PacketBatch:
        buf = self._pending + bytes(data)
        base = self._pending_at
        out = []
        keep = len(buf)
        for c in cltu.CltuDecoder().decode(buf):
            start = base + c.start
            if c.end == cltu.CltuEnd.TRUNCATED and not final:
                keep = c.start
                break
            blocks = len(c.data) // 7
            stop = c.start + 2 + 8 * blocks + (len(cltu.TAIL_SEQUENCE) if c.end == cltu.CltuEnd.TAIL else 0)
            self._gap(self._end, start)
            self.stats["cltus"] += 1
            self.stats["codeblocks"] += blocks
            self.stats["corrected_codeblocks"] += c.corrected
            if c.end == cltu.CltuEnd.TRUNCATED:
                self.stats["truncated"] += 1
                self.ledger.add_range("truncated", start, base + len(buf), "CLTU cut by the end of the input")
                self._end = base + len(buf)
                keep = len(buf)
                break
            frame = c.data
            if self.params.randomize:
                frame = rand.randomize(frame, rand.Sequence.TC).tobytes()
            h = tc_header(frame)
            n = h["frame_length"] if h is not None else 0
            if c.end == cltu.CltuEnd.UNCORRECTABLE or h is None or n > len(frame) or len(frame) - n >= 7:
                self.stats["uncorrectable" if c.end == cltu.CltuEnd.UNCORRECTABLE else "bad_frames"] += 1
                self.ledger.add_range("cltu_uncorrectable", start, base + stop,
                                      "uncorrectable codeblock" if c.end == cltu.CltuEnd.UNCORRECTABLE
                                      else "no TC frame in the CLTU")
                self._end = base + stop
                continue
            self.stats["frames"] += 1
            # a frame of n octets sits in the first n information octets; the rest is coding
            self.ledger.add("cltu_coding", (stop - c.start) - n)
            out.append(self.frames.push_frame(frame[:n], start + 2))
            self._end = base + stop
        if keep == len(buf) and not final and buf[-1:] == cltu.START_SEQUENCE[:1]:
            keep = len(buf) - 1     # perhaps the first half of a start sequence
        self._gap(self._end, base + keep)
        self._end = max(self._end, base + keep)
        self._pending, self._pending_at = buf[keep:], base + keep
        return PacketBatch.concat(out)

    def _gap(self, start: int, end: int) -> None:
        """Octets between CLTUs: the idle (acquisition) sequence 0x55/0xAA, or noise."""
        if end <= start:
            return
        self.ledger.add_range("no_sync", start, end, "outside any CLTU")

    def finish(self) -> PacketBatch:
        pending, at = self._pending, self._pending_at
        self._pending = b""
        self._pending_at = at
        got = self.push(pending, final=True) if pending else PacketBatch.empty()
        self.frames.close_segments()
        return got

    def stats_dict(self) -> dict:
        return {"cltu": dict(self.stats), **self.frames.stats_dict()}
