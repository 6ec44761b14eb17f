"""One inspection: an input's octets through detection and the decoding layers, to packets.

``StreamInspection`` takes one octet stream in pieces (a file, a capture's flow, a live source):
it keeps the first octets until detection can decide (or the stream ends), builds the layers
the detected link needs, and from then on hands every piece straight to them.  Each batch of
packets goes to the per-APID statistics and to the sinks (outputs, dictionary decoding).

``inspect_capture`` does the same for every flow of a pcap or pcapng file: lunarelay link
types (``hil.capture``) by interface, UDP payloads by destination, TCP payloads by connection
and direction (put back in order by ``hil.capture.TcpStream``), and files the capture's own
octets, retransmitted copies and the records it cannot read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from hil import capture as cap
from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.cadu import CaduLayer
from lunarelay_tools.inspect.detect import HEAD_OCTETS, Detection, detect
from lunarelay_tools.inspect.frames import FrameLayer
from lunarelay_tools.inspect.link import LinkParams
from lunarelay_tools.inspect.packets import PacketBatch, PacketStream, as_u8
from lunarelay_tools.inspect.serial import FRAMINGS, SerialLayer
from lunarelay_tools.inspect.stats import PacketStats
from lunarelay_tools.inspect.tc import CltuLayer, TcFrameLayer, load_sdls
from onboard.core.crc import crc16_ccitt_frames

Sink = Callable[["StreamInspection", PacketBatch, np.ndarray], None]


@dataclasses.dataclass
class Options:
    pinned: dict = dataclasses.field(default_factory=dict)   # LinkParams fields the user gave
    time_code: str = "cuc"
    head_octets: int = HEAD_OCTETS        # detection decides on at most this many first octets
    probe_octets: int | None = None       # live: try from this many, doubling until it fits
    frame_sink: Callable | None = None     # (kind, frames, params) for every frame decoded
    sdls_keys: str | None = None          # SDLS key file for TC frames (None: the emulation's)
    series: bool = False                  # keep a row per packet for the plots (--plot)


class BareFrames:
    """Back-to-back TM/AOS frames of one length; with a FECF, alignment is found again after damage."""

    def __init__(self, params: LinkParams, ledger: Ledger):
        self.params = params
        self.ledger = ledger
        self.frames = FrameLayer(params, ledger)
        self._pending = np.empty(0, dtype=np.uint8)
        self._at = 0
        self.realignments = 0

    def push(self, chunk: np.ndarray, final: bool = False) -> PacketBatch:
        buf = np.concatenate([self._pending, chunk]) if self._pending.size else chunk
        flen = self.params.frame_length
        out, pos = [], 0
        while buf.size - pos >= flen:
            n = (buf.size - pos) // flen
            frames = buf[pos:pos + n * flen].reshape(n, flen)
            if self.params.fecf:
                ok = crc16_ccitt_frames(np.ascontiguousarray(frames), flen) == 0
                bad_run = np.nonzero(~ok[:-1] & ~ok[1:])[0] if n > 1 else np.empty(0, dtype=np.int64)
                if bad_run.size:
                    k = int(bad_run[0])
                    out.append(self.frames.push(frames[:k], self._at + pos + np.arange(k) * flen))
                    pos += k * flen
                    new = self._realign(buf, pos, final)
                    if new is None:
                        break
                    if new > pos:
                        self.realignments += 1
                        self.ledger.add_range("bad_header", self._at + pos, self._at + new,
                                              "frame alignment lost")
                    else:
                        out.append(self.frames.push(buf[pos:pos + flen].reshape(1, flen),
                                                    np.array([self._at + pos])))
                        new = pos + flen
                    pos = new
                    continue
            out.append(self.frames.push(frames, self._at + pos + np.arange(n) * flen))
            pos += n * flen
        if final and pos < buf.size:
            self.ledger.add_range("truncated", self._at + pos, self._at + buf.size, "a frame cut by the end")
            pos = buf.size
        self._pending = buf[pos:].copy()
        self._at += pos
        return PacketBatch.concat(out)

    def _realign(self, buf: np.ndarray, pos: int, final: bool) -> int | None:
        """The next offset from which two frames with matching FECFs follow; pos if none is near."""
        flen = self.params.frame_length
        limit = buf.size - 2 * flen
        if limit < pos and not final:
            return None
        for at in range(pos, min(limit, pos + 4 * flen) + 1):
            two = np.ascontiguousarray(buf[at:at + 2 * flen].reshape(2, flen))
            if (crc16_ccitt_frames(two, flen) == 0).all():
                return at
        return pos

    def finish(self) -> PacketBatch:
        got = self.push(np.empty(0, dtype=np.uint8), final=True)
        self.frames.finish()
        return got


class StreamInspection:
    """Detection and decoding of one octet stream."""

    def __init__(self, name: str, options: Options, sinks: list[Sink] | None = None,
                 detection: Detection | None = None):
        self.name = name
        self.options = options
        self.sinks = sinks or []
        self.ledger = Ledger(name)
        self.stats = PacketStats(options.time_code, keep_series=options.series)
        self.detection = detection
        self.layer = None
        self.input_octets = 0
        self._head: list[np.ndarray] = []
        self._head_size = 0
        self._next_probe = options.probe_octets or options.head_octets
        self.finished = False
        self.tcp = None                    # hil.capture.TcpStream of a capture's TCP flow
        if detection is not None:
            self._build()

    # --- input -------------------------------------------------------------------------------------
    def push(self, data) -> None:
        chunk = as_u8(data)
        if not chunk.size:
            return
        self.input_octets += chunk.size
        if self.layer is None and (self.detection is None or self.detection.found):
            self._head.append(chunk.copy())
            self._head_size += chunk.size
            if self._head_size >= self._next_probe:
                self._decide(whole=False, now=self._head_size >= self.options.head_octets)
            return
        self._feed(chunk)

    def finish(self) -> None:
        if self.finished:
            return
        if self.layer is None and self._head:
            self._decide(whole=True, now=True)
        if self.layer is None:
            self.ledger.add_range("unrecognised", 0, self.input_octets, "no link hypothesis fits")
        else:
            self._deliver(self.layer.finish())
            if isinstance(self.layer, CaduLayer) and self.layer.params.symbols == "soft" \
                    or isinstance(self.layer, CaduLayer) and self.layer.params.conv:
                self.ledger.add("channel_code", self.input_octets - self.layer.decoded_octets())
        self.finished = True

    def _decide(self, whole: bool, now: bool) -> None:
        """Detect on the octets kept so far; ``whole``: they are the entire input; ``now``: no more
        will be waited for."""
        head = np.concatenate(self._head) if len(self._head) > 1 else self._head[0]
        if self.detection is None:
            det = detect(head, self.options.pinned, final=whole)
            if det.params is None and det.container is None and not now:
                # a live stream may just not have shown enough yet: try again on twice as much
                self._head, self._next_probe = [head], 2 * self._head_size
                return
            self.detection = det
        self._head, self._head_size = [], 0
        if self.detection.params is None:
            return                  # nothing fits: the whole stream is filed as unrecognised at the end
        self._build()
        self._feed(head)

    def _build(self) -> None:
        p = self.detection.params
        if self.detection.container in FRAMINGS:
            self.layer = SerialLayer(self.detection.container, self.detection.serial_crc, self.ledger)
        elif p.format == "cadu":
            self.layer = CaduLayer(p, self.ledger)
        elif p.format in ("tm", "aos"):
            self.layer = BareFrames(p, self.ledger)
        elif p.format == "tc":
            self.layer = _TcStream(p, self.ledger, load_sdls(self.options.sdls_keys))
        elif p.format == "cltu":
            self.layer = _CltuStream(p, self.ledger, load_sdls(self.options.sdls_keys))
        else:
            self.layer = _Packets(self.ledger)
        frame_layer = self.frame_layer()
        if frame_layer is not None:
            frame_layer.on_frames = self.options.frame_sink

    def frame_layer(self):
        """The layer that sees whole transfer frames (TM/AOS or TC), if this stream has one."""
        layer = self.layer
        if isinstance(layer, (CaduLayer, BareFrames)):
            return layer.frames
        if isinstance(layer, _TcStream):
            return layer.inner
        if isinstance(layer, _CltuStream):
            return layer.inner.frames
        return None

    def _feed(self, chunk: np.ndarray) -> None:
        if self.layer is None:
            return
        self._deliver(self.layer.push(chunk))

    def _deliver(self, batch: PacketBatch) -> None:
        # idle packets are counted by the layers and filed in the ledger; past here only data
        batch = batch.without_idle()
        if not len(batch):
            return
        times = self.stats.update(batch)
        for sink in self.sinks:
            sink(self, batch, times)

    # --- results -----------------------------------------------------------------------------------
    def layer_stats(self) -> dict:
        out = self._layer_stats()
        if self.tcp is not None:
            t = self.tcp
            out["tcp"] = {"delivered_octets": t.delivered, "retransmitted_octets": t.duplicate_octets,
                          "holes": t.holes, "hole_octets": t.hole_octets}
        return out

    def _layer_stats(self) -> dict:
        layer = self.layer
        if layer is None:
            return {}
        if isinstance(layer, CaduLayer):
            return layer.stats_dict()
        if isinstance(layer, BareFrames):
            return {**layer.frames.stats(), "realignments": layer.realignments}
        if isinstance(layer, (_TcStream, _CltuStream)):
            return layer.inner.stats_dict()
        if isinstance(layer, SerialLayer):
            return {"serial": layer.stats()}
        return {"packets": {"resynchronisations": layer.stream.bad_headers}}

    @property
    def params(self) -> LinkParams | None:
        return self.detection.params if self.detection else None


class _Packets:
    def __init__(self, ledger: Ledger):
        self.stream = PacketStream(ledger)

    def push(self, chunk):
        return self.stream.push(chunk)

    def finish(self):
        return self.stream.finish()


class _TcStream:
    def __init__(self, params: LinkParams, ledger: Ledger, security):
        self.inner = TcFrameLayer(params, ledger, security)
        self._at = 0

    def push(self, chunk):
        got = self.inner.push_stream(chunk.tobytes(), self._at)
        self._at += chunk.size
        return got

    def finish(self):
        return self.inner.finish()


class _CltuStream:
    def __init__(self, params: LinkParams, ledger: Ledger, security):
        self.inner = CltuLayer(params, ledger, security)

    def push(self, chunk):
        return self.inner.push(chunk.tobytes())

    def finish(self):
        return self.inner.finish()


# --- captures ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class CaptureResult:
    capture: cap.Capture
    ledger: Ledger
    flows: list[StreamInspection]
    unsupported_records: int = 0


def _params_from_description(itf: cap.Interface) -> dict:
    """Pinned link parameters from a lunarelay interface description."""
    d = itf.params
    out: dict = {}
    ints = {"frame_length": "frame_length", "scid": "scid", "rs_e": "rs_e", "interleave": "interleave",
            "insert_zone": "insert_zone", "virtual_fill": "virtual_fill"}
    for key, name in ints.items():
        if key in d:
            try:
                out[name] = int(d[key], 0)
            except ValueError:
                pass
    for key in ("ocf", "fecf", "fhec", "randomize"):
        if key in d:
            out[key] = d[key] in ("1", "true", "yes")
    if "basis" in d:
        out["dual_basis"] = d["basis"] != "conventional"
    if "conv" in d and d["conv"] != "none":
        out["conv"] = d["conv"]
    return out


def inspect_capture(source, name: str, options: Options, sinks: list[Sink]) -> CaptureResult:
    """Every flow of a pcap/pcapng file (a path or its octets), decoded."""
    c = cap.read_capture(source)
    ledger = Ledger(name)
    ledger.add("capture", c.structure_octets)
    if c.unread_octets:
        ledger.add_range("capture_damaged", c.size - c.unread_octets, c.size, c.problem or "")
    flows: dict[tuple, StreamInspection] = {}
    tcp: dict[tuple, cap.TcpStream] = {}
    unsupported = 0
    for rec in c.records:
        itf = c.interfaces[rec.interface]
        link = itf.link
        if link is not None and link != "serial":
            key = ("link", rec.interface)
            flow = flows.get(key)
            if flow is None:
                pinned = dict(options.pinned)
                pinned.update(_params_from_description(itf))
                pinned["format"] = {"cadu": "cadu", "tm": "tm", "aos": "aos", "tc": "tc", "cltu": "cltu",
                                    "packet": "packets"}[link]
                if link in ("tm", "aos"):
                    pinned["frame"] = link
                flow = flows[key] = StreamInspection(
                    f"{name} interface {rec.interface} ({link}{' ' + itf.name if itf.name else ''})",
                    dataclasses.replace(options, pinned=pinned), sinks)
            flow.push(rec.data)
            continue
        if link == "serial":
            framing = itf.params.get("framing", "")
            if framing not in FRAMINGS:
                unsupported += 1
                ledger.add_range("unsupported_link", rec.offset, rec.offset + len(rec.data),
                                 f"serial framing {framing or 'unnamed'}")
                continue
            key = ("serial", rec.interface)
            flow = flows.get(key)
            if flow is None:
                pinned = dict(options.pinned, format=framing)
                if "crc" in itf.params:
                    pinned["serial_crc"] = itf.params["crc"] in ("1", "true", "yes")
                flow = flows[key] = StreamInspection(f"{name} interface {rec.interface} ({framing})",
                                                     dataclasses.replace(options, pinned=pinned), sinks)
            flow.push(rec.data)
            continue
        if itf.linktype in cap.IP_LINKTYPES:
            dg = cap.udp_datagram(itf.linktype, rec.data)
            if dg is not None:
                ledger.add("capture", len(rec.data) - dg.payload_length)
                key = ("udp", dg.dst, dg.dst_port)
                flow = flows.get(key)
                if flow is None:
                    flow = flows[key] = StreamInspection(f"{name} UDP to {dg.dst}:{dg.dst_port}", options,
                                                         sinks)
                flow.push(rec.data[dg.payload_offset:dg.payload_offset + dg.payload_length])
                continue
            seg = cap.tcp_segment(itf.linktype, rec.data)
            if seg is not None:
                ledger.add("capture", len(rec.data) - seg.payload_length)
                key = ("tcp", seg.src, seg.src_port, seg.dst, seg.dst_port)
                flow = flows.get(key)
                if flow is None:
                    flow = flows[key] = StreamInspection(
                        f"{name} TCP {seg.src}:{seg.src_port} to {seg.dst}:{seg.dst_port}", options, sinks)
                    tcp[key] = cap.TcpStream()
                payload = bytes(rec.data[seg.payload_offset:seg.payload_offset + seg.payload_length])
                flow.push(tcp[key].push(seg, payload))
                continue
            unsupported += 1
            ledger.add_range("unsupported_link", rec.offset, rec.offset + len(rec.data),
                             "not a UDP datagram or TCP segment (IP fragments are not reassembled)")
            continue
        unsupported += 1
        ledger.add_range("unsupported_link", rec.offset, rec.offset + len(rec.data),
                         f"link type {itf.linktype}")
    for key, flow in flows.items():
        if key in tcp:
            flow.push(tcp[key].finish())
            ledger.add("retransmitted", tcp[key].duplicate_octets)
            flow.tcp = tcp[key]
        flow.finish()
        ledger.merge(flow.ledger)
    return CaptureResult(c, ledger, list(flows.values()), unsupported)
