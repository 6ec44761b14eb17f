"""Ground-station emulator: the ground end of the TM/TC link.

Command side:   dictionary command -> TC space packet -> FOP-1 (232.1-B-2 §5: window,
                retransmission, timer T1, transmission limit) -> SDLS protection
                (355.0-B-2) -> TC randomizer (231.0-B-4 §6) -> CLTU (§5) -> optional channel
                impairments (bit error rate, dropped CLTUs) -> ZeroMQ PUSH to the uplink module.
Telemetry side: CADUs from the downlink's ZeroMQ output -> optional channel impairments
                (each CADU dropped, corrupted by a burst, bit errors; each block of a
                convolutionally coded stream as one unit) -> ``TmReceiveChain`` (sync,
                derandomize, RS, frames, packets) -> the CLCW of each frame's OCF to FOP-1,
                the packets' events as command answers, the store's playback (``playback``).
Samples:        with ``downlink_rf`` (``hil.ground.rf.DownlinkRfLink``) the downlink's output is
                IQ samples: they go through its channel and demodulator instead of the impairments
                and ``rx``; with ``uplink_rf`` (``UplinkRfLink``) the CLTUs go up as a PLOP-2 sample
                stream through its channel, pumped at every ``poll``.
Visibility:     while ``in_view`` is False (Earth is out of the relay's view) the station hears
                nothing (what the downlink sends is lost) and sends nothing; FOP-1 waits.

    python -m hil.ground.station --uplink URL --downlink URL "flight_computer.SET_MODE mode=1"

prints the command's answer as it came back in the downlink (exit code 0 if accepted), then,
with ``--watch``, every event in the downlink until interrupted.
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from typing import Any

import zmq

from hil.channel import Impairments
from hil.ground.cadu import CaduInput
from hil.ground.chain import TmReceiveChain, tc_frames_to_cltus
from hil.ground.command import AnswerMatching, client_main
from hil.ground.fop import Fop1, FopState
from hil.ground.housekeeping import decode_housekeeping
from hil.ground.protection import PLAIN_FRAMES, TcProtector
from onboard.bus.packet import PacketError, PacketType, pack, tai_from_unix, unpack
from onboard.bus.registry import EVENT_BLOCK, Registry, default_registry
from onboard.ccsds.sdls import Sdls
from onboard.commands import CommandDictionary, default_dictionary
from onboard.core import tc
from onboard.core.spp import iter_packets
from onboard.core.tm import parse_frame
from onboard.events import Event
from onboard.modules.downlink import link_config
from onboard.scenario import default_key_file


class GroundStation(AnswerMatching):
    answer_timeout_s = 30.0  # answers come back over the coded downlink at its frame rate
    attempts = 3

    def __init__(self, uplink_url: str, downlink_url: str, scid: int = 0x2A1, vcid: int = 0,
                 key_file: str | None = None, spi: int = 1, window_k: int = 5, t1_s: float = 2.0,
                 transmission_limit: int = 10, frame_length: int = 1115, rs_interleave: int = 5,
                 conv: str | None = None, randomize: bool = True, tc_randomize: bool = True,
                 impairments: Impairments | None = None, downlink_impairments: Impairments | None = None,
                 registry: Registry | None = None, dictionary: CommandDictionary | None = None,
                 context: zmq.Context | None = None, sdls_state: str | None = None):
        self.registry = registry or default_registry()
        self.dictionary = dictionary or default_dictionary()
        self.context = context or zmq.Context.instance()
        # with a state file the SA's IV counter survives this process: a later session never
        # reuses an IV (NIST SP 800-38D §8.2.1), which the onboard anti-replay check would refuse
        self.sdls = Sdls.from_key_file(key_file or default_key_file(), state_path=sdls_state)
        self.protector = TcProtector(self.sdls, spi)
        self.tc_randomize = tc_randomize
        self.impairments = impairments or Impairments()
        self.downlink_impairments = downlink_impairments
        self.cltu_out = self.context.socket(zmq.PUSH)
        self.cltu_out.setsockopt(zmq.LINGER, 0)
        self.cltu_out.setsockopt(zmq.SNDHWM, 10000)
        self.cltu_out.connect(uplink_url)
        self.cadu_in = CaduInput(downlink_url, self.context)
        self.link = link_config(scid, frame_length, rs_interleave, conv, randomize)
        self.rx = TmReceiveChain(self.link)
        self.fop = Fop1(scid, vcid, self._transmit, window_k=window_k, t1_s=t1_s,
                        transmission_limit=transmission_limit, frame_overhead=self.protector.overhead,
                        on_event=self._fop_event)
        self._in_flight: dict[int, bytes] = {}               # N(S) -> packet of the AD frames sent
        self._unconfirmed: list[tuple[int, bytes]] = []      # (N(S), packet) unacknowledged at an alert
        self._clcw_since_alert = True
        self.requeued = self.confirmed_after_alert = 0
        self.queue: collections.deque[bytes] = collections.deque()
        self.events: list[Event] = []
        self.housekeeping: dict[int, bytes] = {}           # APID -> user data of the latest HK
        self.playback: dict[int, bytes] = {}               # store id -> stored packet, until taken
        self.playback_apid = self.registry.message("STORE_PLAYBACK").apid
        self.in_view = True
        self.downlink_rf = None            # hil.ground.rf.DownlinkRfLink: the downlink as samples
        self.radio_out = None              # hil.ground.rf.RadioOutput: uplink samples to an SDR endpoint
        self.on_modulated_cltu = None      # called with each CLTU given to uplink_rf (a bench's capture)
        self.uplink_rf = None              # hil.ground.rf.UplinkRfLink: the uplink as samples
        self.octets_lost_out_of_view = 0
        self.sent_cltus: collections.deque[bytes] = collections.deque(maxlen=64)
        self.last_clcw: int | None = None
        self.cltus_sent = self.frames_received = self.fop_restarts = 0
        self.last_frame_at: float | None = None            # wall clock (Unix s) of the latest frame
        self._seq: dict[int, int] = {}
        self._commands: collections.OrderedDict[tuple[int, int], bytes] = collections.OrderedDict()

    # ---- command side ---------------------------------------------------------------------
    def _fop_event(self, event) -> None:
        if event.kind != "alert":
            return
        # The alert purged the FOP's queues (232.1-B-2 §5.2.2).  What was not acknowledged is kept
        # with its N(S) until a CLCW that arrives after the alert shows how far the FARM got: the
        # frames below its N(R) were accepted (only their acknowledgement was lost) and are
        # dropped, the rest go out again once the FOP is re-initiated (``_initiate``).
        first = self.fop.nn_r
        unconfirmed = [(ns, self._in_flight.get(ns)) for ns in
                       ((first + i) % 256 for i in range((self.fop.vs - first) % 256))]
        self._unconfirmed = [(ns, p) for ns, p in unconfirmed if p is not None] + self._unconfirmed
        self._in_flight.clear()
        self._clcw_since_alert = False

    def _transmit(self, frame: bytes) -> None:
        plain, _ = tc.parse_frame(frame, PLAIN_FRAMES)
        if not plain.header.bypass_flag:                      # a Type-AD frame: remember its packet
            self._in_flight[plain.header.frame_seq_num] = plain.data
        clean = tc_frames_to_cltus([self.protector.protect(frame)], self.tc_randomize)
        self.sent_cltus.append(clean)
        cltu = self.impairments(clean)
        self.cltus_sent += 1
        if cltu is not None and self.uplink_rf is not None:
            self.uplink_rf.send(cltu)
            if self.on_modulated_cltu is not None:
                self.on_modulated_cltu(cltu)
        elif cltu is not None:
            self.cltu_out.send(cltu)

    def send_raw_cltu(self, octets: bytes) -> None:
        """Octets straight onto the uplink (tests: garbage, replays, forgeries)."""
        self.cltu_out.send(octets)

    def packet(self, module: str, name: str, /, **args: Any) -> tuple[bytes, int]:
        """A TC packet for a dictionary command and its sequence count (counted per APID).  A
        command whose protected frame would not fit a TC frame (1024 octets) is refused here, before
        it takes a sequence count (``tc.FrameError``)."""
        apid = self.registry.module(module).apid
        seq = self._seq.get(apid, 0)
        data = self.dictionary.encode(module, name, **args)
        packet = pack(apid, data, seq, tai_from_unix(time.time()), PacketType.TC)
        self.fop.check_fdu(packet)
        self._seq[apid] = (seq + 1) & 0x3FFF
        return packet, seq

    def send(self, module: str, name: str, /, **args: Any) -> int:
        """Queue a command for Type-AD service; return its sequence count."""
        packet, seq = self.packet(module, name, **args)
        self._commands[(self.registry.module(module).apid, seq)] = packet
        while len(self._commands) > 4096:
            self._commands.popitem(last=False)
        self.queue.append(packet)
        self._pump()
        return seq

    def command_packet(self, module: str, seq: int) -> bytes:
        """The command packet ``seq`` of ``module`` as it was sent (one of the last 4096)."""
        return self._commands[(self.registry.module(module).apid, seq)]

    def repeat(self, module: str, seq: int) -> None:
        """Send the command packet ``seq`` of ``module`` again, unchanged (its answer did not come)."""
        self.queue.append(self._commands[(self.registry.module(module).apid, seq)])
        self._pump()

    def _pump(self) -> None:
        if not self.in_view:
            return
        if self.fop.state == FopState.INITIAL:
            if self.last_clcw is None or not self._clcw_since_alert:
                return                    # nothing (new) known of the FARM yet: wait for telemetry
            self._initiate()
        while self.queue and self.fop.state == FopState.ACTIVE and self.fop.transfer(self.queue[0]):
            self.queue.popleft()

    def _initiate(self) -> None:
        # Start from the FARM's N(R) with Unlock, so a FARM that restarted, locked out or was
        # served by another session is met where it is (232.1-B-2 §5.1.7.4); a V(S) guessed
        # below V(R) would have new frames discarded as duplicates yet acknowledged.
        self.fop_restarts += 1
        nr = self.last_clcw & 0xFF
        if self._unconfirmed:
            accepted = (nr - self._unconfirmed[0][0]) % 256
            if accepted > len(self._unconfirmed):
                accepted = 0              # N(R) outside what was sent: a FARM that restarted
            self.confirmed_after_alert += accepted
            resend = [p for _, p in self._unconfirmed[accepted:]]
            self.requeued += len(resend)
            self.queue.extendleft(reversed(resend))
            self._unconfirmed = []
        self.fop.set_vs(nr)
        self.fop.initiate_ad_with_unlock()

    # ---- telemetry side -------------------------------------------------------------------
    def poll(self, timeout_s: float = 0.05) -> None:
        """Take in what the downlink sent, feed the CLCWs to FOP-1, run its timer, send queued
        commands."""
        data = self.cadu_in.receive(timeout_s)
        if self.downlink_rf is not None:
            if data:
                out = self.downlink_rf.push(data, self.in_view)
            else:
                out = None
                self.downlink_rf.heard_nothing()
        else:
            if data and not self.in_view:
                self.octets_lost_out_of_view += len(data)
                return
            if data and self.downlink_impairments is not None:
                data = self._impair_downlink(data)
            out = self.rx.push_bytes(data) if data else None
        self._frames_in(out)
        self.fop.tick()
        self._pump()
        if self.uplink_rf is not None:
            self.uplink_rf.pump(self.in_view)       # the CLTUs just sent, and idle up to now

    def _frames_in(self, out) -> None:
        if out is None:
            return
        cfg = self.link.frame_config
        if len(out.frames):
            self.last_frame_at = time.time()
        for frame in out.frames:
            self.frames_received += 1
            ocf = parse_frame(frame.tobytes(), cfg).ocf
            if ocf is not None and ocf >> 24 & 3 == 1:       # COP-1 in effect (§4.2.1.6)
                self.receive_clcw(ocf)
        self._packets(out.packets)

    def _impair_downlink(self, data: bytes) -> bytes:
        unit = self.link.cadu_length if self.link.conv is None else len(data)
        out = (self.downlink_impairments(data[at:at + unit]) for at in range(0, len(data), unit))
        return b"".join(u for u in out if u is not None)

    def receive_clcw(self, clcw: int) -> None:
        """A CLCW from the downlink's OCF (or any other return path) for FOP-1."""
        self.last_clcw = clcw
        self._clcw_since_alert = True
        self.fop.receive_clcw(clcw)

    def _packets(self, packets: bytes) -> None:
        try:
            for _, raw in iter_packets(packets):
                try:
                    pkt = unpack(raw)
                except PacketError:
                    continue                                  # not a bus packet (no CUC time)
                self._packet(pkt)
        except PacketError:
            pass                                              # the rest cannot be delimited

    def _packet(self, pkt) -> None:
        if pkt.apid >> 8 == 0 and pkt.packet_type is PacketType.TM:
            self.housekeeping[pkt.apid] = pkt.data
        elif pkt.apid == self.playback_apid and len(pkt.data) > 4:
            self.playback[int.from_bytes(pkt.data[:4], "big")] = pkt.data[4:]
        elif pkt.apid >> 8 == EVENT_BLOCK:
            try:
                self.events.append(Event.from_bytes(pkt.data))
            except ValueError:
                pass

    def wait_link(self, timeout_s: float = 30.0) -> bool:
        """Wait until the downlink brings a CLCW (both modules up and talking)."""
        deadline = time.monotonic() + timeout_s
        while self.last_clcw is None and time.monotonic() < deadline:
            self.poll(0.1)
        return self.last_clcw is not None

    def hk(self, module: str) -> dict[str, Any] | None:
        """The latest housekeeping of ``module`` that came down, decoded."""
        data = self.housekeeping.get(self.registry.module(module).apid)
        return None if data is None else decode_housekeeping(module, data)

    def wait_hk(self, module: str, match, timeout_s: float = 30.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            hk = self.hk(module)
            if hk is not None and match(hk):
                return hk
            self.poll(0.1)
        return None

    def wait_event(self, match, timeout_s: float) -> Event | None:
        deadline = time.monotonic() + timeout_s
        seen = 0
        while True:
            for event in self.events[seen:]:
                if match(event):
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                return None
            self.poll(0.05)

    def new_events(self, timeout_s: float) -> list[Event]:
        """The events the downlink brings within one poll of ``timeout_s``."""
        seen = len(self.events)
        self.poll(timeout_s)
        return self.events[seen:]

    def close(self) -> None:
        self.cltu_out.close()
        self.cadu_in.close()
        if self.radio_out is not None:
            self.radio_out.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hil.ground.station", description=__doc__.split("\n")[0])
    parser.add_argument("--uplink", required=True, help="the uplink module's CLTU input URL")
    parser.add_argument("--downlink", required=True, help="the downlink module's ZeroMQ CADU output URL")
    parser.add_argument("--key-file", help="SDLS key file (default: the built-in emulation keys)")
    parser.add_argument("--sdls-state", help="file keeping the ground's SDLS sequence numbers across runs "
                        "(default: ground-sdls.json beside an ipc:// uplink socket)")

    def connect(args: argparse.Namespace) -> GroundStation:
        state = args.sdls_state
        if state is None and args.uplink.startswith("ipc://"):
            state = os.path.join(os.path.dirname(args.uplink[len("ipc://"):]), "ground-sdls.json")
        return GroundStation(args.uplink, args.downlink, key_file=args.key_file, sdls_state=state)

    return client_main(parser, argv, connect, 30.0, "--watch", "in the downlink ")


if __name__ == "__main__":
    raise SystemExit(main())
