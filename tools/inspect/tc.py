"""TC transfer frames and CLTUs to space packets, with every octet filed (232.0-B-4, 231.0-B-4).

CLTUs are found and BCH-decoded by the C core (start sequence, one-bit correction per codeblock,
tail sequence); each carries one TC frame, derandomized if the TC randomizer is on (§6), whose
length field says where the codeblock fill starts.  A TC frame's data field holds, after the
optional segment header (232.0-B-4 §4.1.3.2) and the optional SDLS security header and trailer
(355.0-B-2 §4.1, lengths from the security association), whole space packets; control commands
(BC frames with the control command flag, §4.1.3.3) are filed as not packet data.  TC rates are
low, so frames are handled one by one; their packets go on in batches like every other layer's.

SDLS: with a key file (the emulation's by default) the security header is recognised by its
SPI and the MAC is checked with ``onboard.ccsds.sdls`` (anti-replay included), and counted.
"""

from __future__ import annotations

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
            "control_commands", "segmented", "sdls_verified", "sdls_rejected", "packets",
            "frames_without_packets")
CLTU_STATS = ("cltus", "codeblocks", "corrected_codeblocks", "uncorrectable", "truncated", "frames",
              "bad_frames")


def default_sdls() -> sdls.Sdls | None:
    """The emulation's key file: its SAs give the security header and trailer lengths."""
    try:
        ref = importlib.resources.files("onboard.scenarios") / "sdls_keys.toml"
        return sdls.Sdls(*sdls.parse_key_file(ref.read_text(), "sdls_keys.toml"))
    except (OSError, sdls.SdlsConfigError):
        return None


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
        if not self._pending:
            return PacketBatch.empty()
        pending, at = self._pending, self._pending_at
        self._pending = b""
        return self.push_stream(pending, at, final=True)

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
        head, tail, data = self._unwrap(frame[:HEADER_LEN], body)
        self.ledger.add("frame_header", head)
        self.ledger.add("frame_trailer", tail)
        data_at = at + HEADER_LEN + head
        if self.last_refusal is not None:
            # the receiving end refuses it (355.0-B-2 §4.2.3.4): so does the inspection
            self.ledger.add_range("sdls_rejected", data_at, data_at + len(data), self.last_refusal)
            return PacketBatch.empty()
        if data is None or not whole_packets(data):
            st["frames_without_packets"] += 1
            self.ledger.add_range("not_packet_data", data_at, data_at + len(body) - head - tail,
                                  "TC frame data that is not whole space packets")
            return PacketBatch.empty()
        buf = np.frombuffer(data, dtype=np.uint8).copy()
        entries, _, _, _ = index_all(buf)
        rows = rows_from_index(entries)
        rows["vcid"] = h["vcid"]
        rows["frame"] = index
        rows["input_offset"] = data_at + entries["offset"].astype(np.int64)
        idle = entries["apid"] == APID_IDLE
        self.ledger.add("packet", int(entries["length"][~idle].sum()))
        self.ledger.add("idle_packet", int(entries["length"][idle].sum()))
        st["packets"] += int((~idle).sum())
        return PacketBatch(buf, rows)

    def _unwrap(self, header: bytes, body: bytes) -> tuple[int, int, bytes | None]:
        """(octets of segment/security header, of security trailer, the packet octets) of a frame's
        data field: tried as bare packets, with a segment header, with SDLS, with both."""
        if whole_packets(body):
            return 0, 0, body
        seg = len(body) > 1 and body[0] & 0xC0 == 0xC0 and whole_packets(body[1:])
        if seg:
            return 1, 0, body[1:]
        for skip in (0, 1):
            got = self._sdls(header, body[skip:])
            if got is not None:
                head, tail, data = got
                if skip:
                    self.stats["segmented"] += 1
                return skip + head, tail, data
        return 0, 0, None

    def _sdls(self, header: bytes, protected: bytes) -> tuple[int, int, bytes] | None:
        if self.security is None or len(protected) < 2:
            return None
        sa = self.security.sas.get(int.from_bytes(protected[:2], "big"))
        if sa is None or len(protected) <= sa.overhead:
            return None
        data = protected[sa.header_length:len(protected) - sa.mac_length]
        if not whole_packets(data):
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
        return got

    def stats_dict(self) -> dict:
        return {"cltu": dict(self.stats), **self.frames.stats_dict()}
