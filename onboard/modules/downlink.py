"""Downlink: the onboard end of the telemetry link.

    bus packets -> virtual channels (132.0-B-3 §4.1.4 packet multiplexing) -> TM frames at a
    constant frame rate, idle frames when nothing waits (§4.1.4.2.3) -> CLCW in the OCF
    (232.0-B-4 §4.2.1, 132.0-B-3 §4.1.5) -> Reed-Solomon, randomizer, ASM, optional
    convolutional code (131.0-B-4, ``onboard.ccsds.chain``) -> CADU outputs (file, UDP, ZeroMQ)
    and, with a modulation, IQ outputs: the CADUs as samples (``--iq-output``, ``onboard.ccsds.rf``)

Messages in:   events (VC 0, first priority), housekeeping (VC 1), store playback and
               surface-user data (VC 2), UPLINK_CLCW (the FARM-1 CLCW for the OCF);
               its commands, PING, SCHED_TICK.
Messages out:  the CADU stream on its outputs, the samples on its IQ outputs (not on the bus;
               ``--iq-socket`` pub or push, ``--iq-format`` cf32 or ci16: gr-zeromq's stream
               messages, what a radio's flowgraph pulls is what the air carries).
Commands:      SET_FRAME_RATE(frames_per_s), and the common ones.
Events:        FRAMES_DROPPED (WARNING_LO: a virtual channel's backlog overflowed),
               SLOTS_SKIPPED (WARNING_LO: emulated time jumped; the missed frame slots are not
               sent in a burst).
Housekeeping:  frames_sent u32, idle_frames u32, packets_in u32, frames_dropped u32,
               slots_skipped u32, cadu_octets u64, clcw u32, backlog_frames u16, iq_samples u64
               (samples sent on the IQ outputs), iq_clipped u32 (samples the modulator clipped).

Frame slots follow the emulation clock: ``frames_per_s`` frames per emulated second, each
slot filled by the highest-priority virtual channel with a complete frame, else by the
highest-priority channel with a partly filled frame (closed with an idle packet, so a command
answer does not wait for a full frame), else by an idle frame on VC 7.  A frame is finished when
it goes out: its master channel frame count is the next in transmission order (132.0-B-3
§4.1.2.4; a channel's frames wait in its queue while higher-priority ones overtake them, so the
count cannot be given when the frame is packed), its OCF is the CLCW of that moment (so CLCWs
reach the ground in the FARM's order), and only then is its FECF computed, once.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import enum
import math

import numpy as np

from onboard.bus.endpoints import beside_bus
from onboard.bus.packet import BusPacket, block_topic
from onboard.bus.registry import EVENT_BLOCK, EVENTS_TOPIC, USER_DATA_TOPIC
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.ccsds.rf import ModulatedOutput, add_modem_arguments, modem_of
from onboard.core.crc import crc16_ccitt_frames
from onboard.core.siggen import SampleFormat
from onboard.core.spp import idle_packet
from onboard.core.tm import TmMux
from onboard.events import Severity
from onboard.links.cadu import CaduSink, ZmqSink, open_sink
from onboard.modules.base import Module

IDLE_VC = 7
VC_EVENTS, VC_HK, VC_DATA = 0, 1, 2
PRIORITY = (VC_EVENTS, VC_HK, VC_DATA)
MAX_BACKLOG_FRAMES = 2000
MAX_CATCH_UP_S = 2.0
IDLE_PACKET_MIN = 7
OCF_LEN, FECF_LEN = 4, 2
CLCW_NONE = 0                      # "no COP in effect" (232.0-B-4 §4.2.1.6): until the uplink reports


class DownlinkEvent(enum.IntEnum):
    FRAMES_DROPPED = 100
    SLOTS_SKIPPED = 101


def link_config(scid: int, frame_length: int = 1115, rs_interleave: int = 5, conv: str | None = None,
                randomize: bool = True) -> TmLinkConfig:
    """The TM link both ends use: TM frames with OCF and FECF, RS(255,223) dual basis."""
    return TmLinkConfig(frame="tm", frame_length=frame_length, scid=scid, vcids=PRIORITY, ocf=True,
                        fecf=True, rs_e=16 if rs_interleave else 0, rs_interleave=rs_interleave or 1,
                        conv=conv, randomize=randomize)


class FrameScheduler:
    """Virtual channels with priorities, and the frames of each slot; no bus, no clock.

    The multiplexer packs frames without their FECF (the same data field: the FECF is the last
    field); ``next_frames`` gives each frame its MC count and OCF as it goes out and appends the
    FECF over the final octets."""

    def __init__(self, cfg: TmLinkConfig):
        self.cfg = cfg
        full = cfg.frame_config
        self.fecf = full.fecf
        body = full if not full.fecf else dataclasses.replace(full, frame_len=full.frame_len - FECF_LEN,
                                                               fecf=False)
        self.mux = TmMux(body)
        self.ready: dict[int, collections.deque[bytes]] = {vc: collections.deque() for vc in PRIORITY}
        # packets not yet handed to the multiplexer: it is given only enough to complete a frame
        self.waiting: dict[int, bytearray] = {vc: bytearray() for vc in PRIORITY}
        self.flen = body.frame_len            # octets the multiplexer writes per frame
        self.data_len = body.data_len
        self.mc_count = 0                     # of the next frame to go out
        self.idle_frames = self.frames_dropped = 0

    def put(self, vc: int, packet: bytes) -> None:
        waiting = self.waiting[vc]
        waiting += packet
        if self.mux.pending(vc) + len(waiting) >= self.data_len:
            self._add(vc, self.mux.pack(vc, bytes(waiting)))
            waiting.clear()

    def _close(self, vc: int) -> None:
        """Complete the open frame of ``vc`` with an idle packet (133.0-B-2 §4.1.3.3.4.4)."""
        waiting = self.waiting[vc]
        if waiting:
            waiting += idle_packet(max(IDLE_PACKET_MIN, self.data_len - self.mux.pending(vc) - len(waiting)))
            self._add(vc, self.mux.pack(vc, bytes(waiting)))
            waiting.clear()
        if self.mux.pending(vc):
            self._add(vc, self.mux.flush(vc))

    def _add(self, vc: int, frames: bytes) -> None:
        q = self.ready[vc]
        for at in range(0, len(frames), self.flen):
            q.append(frames[at:at + self.flen])
        while len(q) > MAX_BACKLOG_FRAMES:
            q.popleft()
            self.frames_dropped += 1

    @property
    def backlog(self) -> int:
        return sum(len(q) for q in self.ready.values()) + sum(map(len, self.waiting.values())) // self.flen

    def next_frames(self, n: int, ocf: int = 0) -> np.ndarray:
        """The frames of the next ``n`` slots, finished, as an (n, frame length) array: the MC
        frame count in the order they go out, ``ocf`` in the OCF (when the link has one), then the
        FECF (132.0-B-3 §4.1.6)."""
        out = []
        while len(out) < n:
            frame = self._one()
            if frame is None:
                break
            out.append(frame)
        self.idle_frames += n - len(out)
        # each idle frame takes the next VC 7 count from the multiplexer
        out.extend(self.mux.idle_frame(IDLE_VC) for _ in range(n - len(out)))
        body = np.frombuffer(b"".join(out), dtype=np.uint8).reshape(n, self.flen)
        frames = np.empty((n, self.cfg.frame_length), dtype=np.uint8)
        frames[:, :self.flen] = body
        frames[:, 2] = (self.mc_count + np.arange(n)) & 0xFF         # 132.0-B-3 §4.1.2.4
        self.mc_count = (self.mc_count + n) & 0xFF
        if self.cfg.ocf:
            frames[:, self.flen - OCF_LEN:self.flen] = np.frombuffer(ocf.to_bytes(OCF_LEN, "big"), np.uint8)
        if self.fecf:
            crc = crc16_ccitt_frames(np.ascontiguousarray(frames[:, :self.flen]), self.flen)
            frames[:, -2] = crc >> 8
            frames[:, -1] = crc & 0xFF
        return frames

    def _one(self) -> bytes | None:
        for vc in PRIORITY:
            if self.ready[vc]:
                return self.ready[vc].popleft()
        for vc in PRIORITY:
            if self.mux.pending(vc) or self.waiting[vc]:
                self._close(vc)
                return self.ready[vc].popleft()
        return None


def code_frames(frames: np.ndarray, send_chain: TmSendChain) -> tuple[bytes, int]:
    """Finished frames of one batch of slots (``FrameScheduler.next_frames``) -> (channel octets,
    octets per transfer unit): the chain's RS, randomizer, ASM and optional convolutional code."""
    return channel_octets(send_chain.frames_to_cadus(frames), send_chain)


def channel_octets(cadus: np.ndarray, send_chain: TmSendChain) -> tuple[bytes, int]:
    """CADUs -> (channel octets, octets per transfer unit): the optional convolutional code, hard
    decisions packed straight into octets (the link carries bits, not soft symbols)."""
    out = send_chain.cadus_to_octets(cadus)
    return out.tobytes(), send_chain.cfg.cadu_length if send_chain.cfg.conv is None else out.size


class Downlink(Module):
    NAME = "downlink"
    HK_FIELDS = (("frames_sent", "I"), ("idle_frames", "I"), ("packets_in", "I"), ("frames_dropped", "I"),
                 ("slots_skipped", "I"), ("cadu_octets", "Q"), ("clcw", "I"), ("backlog_frames", "H"),
                 ("iq_samples", "Q"), ("iq_clipped", "I"))

    def __init__(self, outputs: list[str] | tuple[str, ...] = (), scid: int = 0x2A1, frame_length: int = 1115,
                 frames_per_s: float = 10.0, rs_interleave: int = 5, conv: str | None = None,
                 randomize: bool = True, iq_outputs: list[str] | tuple[str, ...] = (), modem=None,
                 iq_socket: str = "pub", iq_format: str = "cf32", **kwargs):
        super().__init__(**kwargs)
        self.link = link_config(scid, frame_length, rs_interleave, conv, randomize)
        if iq_outputs and modem is None:
            raise ValueError("an IQ output needs a modulation (--modulation)")
        self.iq_outputs = [ModulatedOutput(ZmqSink(url, self.client.context, iq_socket), self.link, modem,
                                           SampleFormat.parse(iq_format))
                           for url in iq_outputs]
        self.frames = FrameScheduler(self.link)
        self.send_chain = TmSendChain(self.link)
        if not outputs and not iq_outputs:
            outputs = [beside_bus(self.client.endpoints.url, "downlink")]
        self.outputs = list(outputs)
        self.sinks: list[CaduSink] = [open_sink(url, self.client.context) for url in outputs]
        self.frames_per_s = frames_per_s
        self.clcw = CLCW_NONE
        self.clcw_apid = self.registry.message("UPLINK_CLCW").apid
        self.frames_sent = self.packets_in = self.slots_skipped = 0
        self._t0 = 0.0
        self._slots_done = 0

    def data_topics(self) -> list[bytes]:
        return [EVENTS_TOPIC, block_topic(0), self.registry.message("STORE_PLAYBACK").topic, USER_DATA_TOPIC,
                self.registry.message("UPLINK_CLCW").topic]

    def setup(self) -> None:
        self._t0 = self.clock.now_tai()

    def on_packet(self, pkt: BusPacket) -> None:
        if pkt.apid == self.clcw_apid:
            if len(pkt.data) >= 4:
                self.clcw = int.from_bytes(pkt.data[:4], "big")
            return
        vc = VC_EVENTS if pkt.apid >> 8 == EVENT_BLOCK else VC_HK if pkt.apid >> 8 == 0 else VC_DATA
        self.packets_in += 1
        before = self.frames.frames_dropped
        self.frames.put(vc, pkt.raw)                    # the packet as the bus carried it
        if self.frames.frames_dropped > before:
            self.events(DownlinkEvent.FRAMES_DROPPED, Severity.WARNING_LO,
                        f"VC {vc} backlog above {MAX_BACKLOG_FRAMES} frames: "
                        f"{self.frames.frames_dropped} frames dropped in all")

    def poll_timeout_s(self) -> float:
        wait = self.clock.state.wall_seconds_until(self._t0 + (self._slots_done + 1) / self.frames_per_s)
        return 0.02 if wait is None else min(max(wait, 0.0), 0.1)

    def on_idle(self) -> None:
        due = math.floor((self.clock.now_tai() - self._t0) * self.frames_per_s) - self._slots_done
        if due <= 0:
            return
        limit = max(1, int(MAX_CATCH_UP_S * self.frames_per_s))
        if due > limit:
            skipped = due - limit
            self.slots_skipped += skipped
            self._slots_done += skipped
            self.events(DownlinkEvent.SLOTS_SKIPPED, Severity.WARNING_LO,
                        f"emulated time jumped ahead: {skipped} frame slots skipped")
            due = limit
        self.emit(due)
        self._slots_done += due

    def emit(self, n: int) -> bytes:
        """Code and send the next ``n`` frames; return the channel octets."""
        cadus = self.send_chain.frames_to_cadus(self.frames.next_frames(n, self.clcw))
        data, unit = channel_octets(cadus, self.send_chain)
        for sink in self.sinks:
            sink.write(data, unit)
        for iq in self.iq_outputs:
            iq.write_cadus(cadus)
        self.frames_sent += n
        return data

    def housekeeping(self) -> tuple:
        m = 0xFFFFFFFF
        return (self.frames_sent & m, self.frames.idle_frames & m, self.packets_in & m,
                self.frames.frames_dropped & m, self.slots_skipped & m,
                sum(s.octets for s in self.sinks), self.clcw, min(self.frames.backlog, 0xFFFF),
                sum(o.samples for o in self.iq_outputs), sum(o.clipped for o in self.iq_outputs) & m)

    def cmd_set_frame_rate(self, frames_per_s: float) -> str:
        self._t0 = self.clock.now_tai()
        self._slots_done = 0
        self.frames_per_s = frames_per_s
        return f"{frames_per_s} frames per emulated second"

    def teardown(self) -> None:
        for sink in [*self.sinks, *self.iq_outputs]:
            sink.close()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--output", action="append", default=[],
                            help="CADU output: file:PATH, udp://HOST:PORT, or a ZeroMQ URL to bind "
                            "(repeatable; default: ipc socket 'downlink' beside the bus socket)")
        parser.add_argument("--scid", type=lambda s: int(s, 0), default=0x2A1, help="spacecraft id")
        parser.add_argument("--frame-length", type=int, default=1115, help="TM frame length, octets")
        parser.add_argument("--frame-rate", type=float, default=10.0, help="frames per emulated second")
        parser.add_argument("--rs-interleave", type=int, default=5, help="RS interleave depth (0: no RS)")
        parser.add_argument("--conv", help="convolutional code rate (1/2, 2/3, 3/4, 5/6, 7/8), default none")
        parser.add_argument("--no-randomize", action="store_true", help="no pseudo-randomizer")
        rf = parser.add_argument_group("RF", "the CADU stream as IQ samples (onboard.ccsds.rf)")
        rf.add_argument("--iq-output", action="append", default=[], metavar="URL",
                        help="ZeroMQ URL to bind at, carrying the CADUs modulated as samples "
                        "(repeatable; needs --modulation)")
        rf.add_argument("--iq-socket", choices=("pub", "push"), default="pub",
                        help="the IQ outputs' ZeroMQ pattern (gr-zeromq pub_sink or push_sink; default pub)")
        rf.add_argument("--iq-format", choices=("cf32", "ci16"), default="cf32",
                        help="the IQ outputs' items (default cf32)")
        add_modem_arguments(rf)

    @classmethod
    def options(cls, args: argparse.Namespace) -> dict:
        return {"iq_outputs": args.iq_output, "modem": modem_of(args), "iq_socket": args.iq_socket,
                "iq_format": args.iq_format, "outputs": args.output,
                "scid": args.scid, "frame_length": args.frame_length,
                "frames_per_s": args.frame_rate, "rs_interleave": args.rs_interleave, "conv": args.conv,
                "randomize": not args.no_randomize}


MODULE = Downlink

if __name__ == "__main__":
    raise SystemExit(Downlink.main())
