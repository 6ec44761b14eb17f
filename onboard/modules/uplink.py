"""Uplink: the onboard end of the telecommand link.

    CLTU stream -> BCH decoding (231.0-B-4 §3) -> derandomization (§6, unless the link is
    configured without the randomizer) -> TC transfer frame (232.0-B-4 §4.1: FECF,
    spacecraft and virtual channel ids) -> SDLS authentication (355.0-B-2) -> FARM-1
    (232.1-B-2 §6) -> space packet -> the bus (to the module named by its APID) or the
    flight computer (through ``onboard.links.flight_computer``)

Messages in:   CLTUs as ZeroMQ messages on a PULL socket the module binds (``--cltu-url``);
               a message may hold any octets: the CLTU decoder finds the CLTUs in them.
               Its commands, PING, SCHED_TICK.
Messages out:  the delivered TC packets, unchanged (their sequence count is the ground's, so
               the module's answer names it); the flight computer's answers; UPLINK_CLCW
               (u32) on every change and every tick, for the downlink's OCF.
Commands:      SET_FARM_WINDOW(window), and the common ones.
Events:        SDLS_REJECTED (WARNING_HI: the reason: bad MAC or wrong key, replay, unknown
               SPI...), FRAME_REJECTED (WARNING_LO: FECF, ids, length), FARM_DISCARDED
               (ACTIVITY_LO: out of sequence, lockout), PACKET_REJECTED (WARNING_LO: not a bus
               packet, unknown APID).  A rejected frame is never executed.
Housekeeping:  cltus u32, cltus_truncated u32, octets_skipped u32, frames_bad u32,
               sdls_accepted u32, sdls_rejected u32, farm_accepted u32, farm_discarded u32,
               packets_to_bus u32, packets_to_fc u32, packets_rejected u32, clcw u32.

Frames on the uplink carry the SDLS security header and trailer around the packet
(``TcProtector`` below builds them on the ground).  The FARM sees the frame as it was before
protection, so a retransmitted frame, protected again with a fresh sequence number, passes
SDLS and is then judged by the FARM by its N(S) alone.

FARM-1 resumes after a restart where it was: its state variables (``FarmRecord``: V(R),
Lockout, Wait, Retransmit, FARM-B counter, W) are committed to ``uplink.sqlite`` in the state
directory after each frame's data was handed on, and read back at start.  The other way,
a FARM that restarts from V(R) = 0 and a ground that re-initialises (Initiate AD with Set
V(R)), needs the ground to tell a reset from a lost CLCW: a CLCW carries no restart flag, and
an N(R) that falls back inside the FOP's window is taken for an acknowledgement of frames the
new FARM never saw, which loses them.  Resuming keeps COP-1 as 232.1-B-2 runs it.  The order
of the commits closes the windows a kill opens: a frame whose data went on but whose V(R)
is not committed is retransmitted by the FOP (no CLCW ever acknowledged it) and its packet is
answered from the receiver's command log, not executed again; V(R) is never committed, nor
reported in a CLCW, for a frame whose data did not go on, so none is lost.

The emulated flight computer lives in this process (``onboard.links.flight_computer``), its
state and execution log in ``flight_computer.sqlite`` in the state directory.
``--fc-link-outage START:END`` cuts its link during those emulated TAI seconds (bench fault
injection: a cable pulled).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import math
import os

import zmq

from onboard.bus.packet import PacketError, PacketType, unpack
from onboard.ccsds.cop1 import TC_HEADER_LEN, build_tc_frame, check_frame_fits, fecf_ok
from onboard.ccsds.sdls import Sdls
from onboard.commands.log import CommandLog, open_database
from onboard.core.cltu import CltuDecoder, CltuEnd
from onboard.core.crc import crc16_ccitt
from onboard.core.farm import Farm, FarmRecord, FarmResult
from onboard.core.rand import Sequence, randomize
from onboard.events import Severity
from onboard.links.flight_computer import EmulatedFlightComputer, FlightComputerLink, LinkOutages
from onboard.modules.base import CommandFailed, Module

FECF_LEN = 2


class UplinkEvent(enum.IntEnum):
    SDLS_REJECTED = 100
    FRAME_REJECTED = 101
    FARM_DISCARDED = 102
    PACKET_REJECTED = 103


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one frame: ``packet`` is set when it is to be executed."""

    kind: str              # "packet", "control", "frame", "sdls", "farm"
    reason: str = ""
    packet: bytes = b""
    farm: FarmRecord | None = None     # the FARM right after judging this frame (it judged it)


class TcProtector:
    """Ground side of the frame protection: wraps a plain TC frame's data in SDLS (355.0-B-2
    §4.1) with the final primary header, then appends the FECF."""

    def __init__(self, sdls: Sdls, spi: int):
        self.sdls, self.spi = sdls, spi

    @property
    def overhead(self) -> int:
        """Octets protection adds to a frame: the SA's security header and trailer."""
        return self.sdls.sa(self.spi).overhead

    def protect(self, frame: bytes) -> bytes:
        """The protected frame; ``tc.FrameError`` if it would exceed 1024 octets."""
        check_frame_fits(len(frame), self.overhead)
        hdr = frame[:TC_HEADER_LEN]
        data = frame[TC_HEADER_LEN:-FECF_LEN]
        length = len(frame) + self.overhead
        header = bytes([hdr[0], hdr[1], (hdr[2] & 0xFC) | ((length - 1) >> 8), (length - 1) & 0xFF, hdr[4]])
        body = header + self.sdls.apply(self.spi, header, data)
        return body + crc16_ccitt(body).to_bytes(2, "big")


class UplinkChain:
    """Frames in, verdicts out; no bus, so it is testable alone.  Counters accumulate."""

    def __init__(self, scid: int, vcid: int, sdls: Sdls, farm_window: int = 10, derandomize: bool = True):
        self.scid, self.vcid, self.sdls = scid, vcid, sdls
        self.derandomize = derandomize
        self.decoder = CltuDecoder()
        self.farm = Farm(farm_window, vcid)
        self.counts = dict.fromkeys(("cltus", "cltus_truncated", "frames_bad", "farm_accepted",
                                     "farm_discarded"), 0)

    def set_window(self, window: int) -> None:
        self.farm = Farm(window, self.vcid)

    def cltus(self, octets: bytes) -> list[Outcome]:
        out = []
        for cltu in self.decoder.decode(octets):
            if cltu.end is CltuEnd.TRUNCATED:
                self.counts["cltus_truncated"] += 1
                continue
            self.counts["cltus"] += 1
            # the randomizer restarts with each frame (231.0-B-4 §6); the codeblock fill after
            # the frame is derandomized too, harmlessly: the frame length field cuts it off
            data = randomize(cltu.data, Sequence.TC).tobytes() if self.derandomize else cltu.data
            out.append(self.frame(data))
        return out

    def frame(self, data: bytes) -> Outcome:
        """One TC frame (possibly followed by CLTU fill)."""
        if len(data) < TC_HEADER_LEN + FECF_LEN:
            return self._bad(f"{len(data)} octets cannot hold a TC frame")
        length = ((data[2] & 3) << 8 | data[3]) + 1
        if data[0] >> 6 or length > len(data) or length < TC_HEADER_LEN + FECF_LEN:
            return self._bad(f"frame length {length} or version {data[0] >> 6} invalid for "
                             f"{len(data)} octets")
        frame = bytes(data[:length])
        if not fecf_ok(frame):
            return self._bad("FECF does not check")
        scid, vcid = (frame[0] & 3) << 8 | frame[1], frame[2] >> 2
        if scid != self.scid or vcid != self.vcid:
            return self._bad(f"SCID {scid} VC {vcid} is not this spacecraft's SCID {self.scid} "
                             f"VC {self.vcid}")
        verified = self.sdls.process(frame[:TC_HEADER_LEN], frame[TC_HEADER_LEN:-FECF_LEN])
        if not verified.ok:
            return Outcome("sdls", f"N(S) {frame[4]}: {verified.reason}")
        bypass, control = bool(frame[0] & 0x20), bool(frame[0] & 0x10)
        plain = build_tc_frame(scid, vcid, frame[4], verified.data, bypass=bypass, control=control)
        result = self.farm.receive(plain)
        if not result.delivers:
            if result in (FarmResult.UNLOCK, FarmResult.SET_VR):
                return Outcome("control", result.name, farm=self.farm.record())
            self.counts["farm_discarded"] += 1
            return Outcome("farm", f"N(S) {frame[4]}: {result.name} (V(R) {self.farm.vr})",
                           farm=self.farm.record())
        self.counts["farm_accepted"] += 1
        return Outcome("packet", packet=verified.data, farm=self.farm.record())

    def _bad(self, reason: str) -> Outcome:
        self.counts["frames_bad"] += 1
        return Outcome("frame", reason)


def beside_bus(bus_url: str, name: str) -> str:
    """An ipc:// URL named ``name`` in the directory of an ipc:// bus (the run directory)."""
    if bus_url.startswith("ipc://"):
        return f"ipc://{os.path.join(os.path.dirname(bus_url[len('ipc://'):]), name)}"
    return f"ipc:///tmp/lunarelay-{name}"


class Uplink(Module):
    NAME = "uplink"
    HK_FIELDS = tuple((name, "I") for name in (
        "cltus", "cltus_truncated", "octets_skipped", "frames_bad", "sdls_accepted", "sdls_rejected",
        "farm_accepted", "farm_discarded", "packets_to_bus", "packets_to_fc", "packets_rejected", "clcw"))
    DURABLE_COMMANDS = frozenset({"SET_FARM_WINDOW"})

    def __init__(self, cltu_url: str | None = None, scid: int = 0x2A1, vcid: int = 0,
                 key_file: str | None = None, sdls_state: str | None = None, farm_window: int = 10,
                 derandomize: bool = True, flight_computer: FlightComputerLink | None = None,
                 fc_link_outages: list[tuple[float, float]] | None = None, **kwargs):
        super().__init__(**kwargs)
        if key_file is None:
            from onboard.scenario import default_key_file

            key_file = default_key_file()
        bus_url = self.client.endpoints.url
        if sdls_state is None and bus_url.startswith("ipc://"):
            # the anti-replay counters outlive a restart of this process (kept in the run directory)
            sdls_state = os.path.join(os.path.dirname(bus_url[len("ipc://"):]), "uplink-sdls.json")
        self.chain = UplinkChain(scid, vcid, Sdls.from_key_file(key_file, state_path=sdls_state), farm_window,
                                 derandomize)
        state = (lambda name: os.path.join(self.state_dir, name)) if self.state_dir else (lambda name: None)
        self.state_db = open_database(state("uplink.sqlite"))
        self.state_db.execute("CREATE TABLE IF NOT EXISTS farm (vcid INTEGER PRIMARY KEY, window INTEGER, "
                              "state INTEGER, vr INTEGER, lockout INTEGER, wait INTEGER, retransmit INTEGER, "
                              "buffer_full INTEGER, farm_b INTEGER)")
        row = self.state_db.execute("SELECT window, state, vr, lockout, wait, retransmit, buffer_full, "
                                    "farm_b FROM farm WHERE vcid = ?", (vcid,)).fetchone()
        if row is not None:
            self.chain.farm.restore(FarmRecord(*row))
        self._saved_farm = self.chain.farm.record()
        self.fc = flight_computer or EmulatedFlightComputer(self.registry, self.dictionary,
                                                             state_path=state("flight_computer.sqlite"))
        if fc_link_outages:
            self.fc = LinkOutages(self.fc, fc_link_outages, self.clock.now_tai)
        self.fc_apid = self.registry.module("flight_computer").apid
        self.clcw_apid = self.registry.message("UPLINK_CLCW").apid
        self.cltu_url = cltu_url or beside_bus(bus_url, "uplink")
        self.cltu_in = self.client.context.socket(zmq.PULL)
        self.cltu_in.setsockopt(zmq.LINGER, 0)
        self.cltu_in.bind(self.cltu_url)
        self.packets_to_bus = self.packets_to_fc = self.packets_rejected = 0
        self._last_clcw: int | None = None

    def poll_timeout_s(self) -> float:
        return 0.005

    def on_idle(self) -> None:
        for _ in range(256):
            try:
                octets = self.cltu_in.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            for outcome in self.chain.cltus(octets):
                self._handle(outcome)
                if outcome.farm is not None:
                    self._save_farm(outcome.farm)    # its data went on: now V(R) may say so
        for packet in self.fc.receive():
            self.client.publish_raw(packet)
        self._publish_clcw(force=False)

    def _handle(self, outcome: Outcome) -> None:
        why = outcome.reason
        if outcome.kind == "sdls":
            self.events(UplinkEvent.SDLS_REJECTED, Severity.WARNING_HI, f"TC frame rejected: {why}")
        elif outcome.kind == "frame":
            self.events(UplinkEvent.FRAME_REJECTED, Severity.WARNING_LO, f"TC frame rejected: {why}")
        elif outcome.kind == "farm":
            self.events(UplinkEvent.FARM_DISCARDED, Severity.ACTIVITY_LO, f"FARM-1 discarded {why}")
        elif outcome.kind == "packet":
            self._dispatch(outcome.packet)

    def _dispatch(self, packet: bytes) -> None:
        try:
            pkt = unpack(packet)
        except PacketError as exc:
            return self._reject_packet(f"not a bus packet: {exc}")
        owner = self.registry.module_of_apid(pkt.apid)
        if pkt.packet_type is not PacketType.TC or owner is None or owner.apid != pkt.apid:
            return self._reject_packet(f"APID {pkt.apid:#x} type {pkt.packet_type.name} names no module")
        if pkt.apid == self.fc_apid:
            self.fc.send(packet)
            self.packets_to_fc += 1
        else:
            self.client.publish_raw(packet)
            self.packets_to_bus += 1

    def _save_farm(self, record: FarmRecord) -> None:
        if record == self._saved_farm:
            return
        self.state_db.execute("INSERT OR REPLACE INTO farm VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              (self.chain.vcid, record.window, record.state, record.vr, int(record.lockout),
                               int(record.wait), int(record.retransmit), int(record.buffer_full),
                               record.farm_b))
        self._saved_farm = record

    def open_command_log(self) -> CommandLog:
        return CommandLog(self.state_db, self.NAME)

    def _reject_packet(self, why: str) -> None:
        self.packets_rejected += 1
        self.events(UplinkEvent.PACKET_REJECTED, Severity.WARNING_LO, f"TC packet rejected: {why}")

    def _publish_clcw(self, force: bool) -> None:
        clcw = self.chain.farm.clcw
        if force or clcw != self._last_clcw:
            self.client.publish(self.clcw_apid, clcw.to_bytes(4, "big"))
            self._last_clcw = clcw

    def on_tick(self, tick) -> None:
        self._publish_clcw(force=True)

    def housekeeping(self) -> tuple:
        c, d, s = self.chain.counts, self.chain.decoder.counters, self.chain.sdls
        m = 0xFFFFFFFF
        return (c["cltus"] & m, c["cltus_truncated"] & m, d["octets_skipped"] & m, c["frames_bad"] & m,
                s.accepted & m, sum(s.rejected.values()) & m, c["farm_accepted"] & m, c["farm_discarded"] & m,
                self.packets_to_bus & m, self.packets_to_fc & m, self.packets_rejected & m,
                self.chain.farm.clcw)

    def cmd_set_farm_window(self, window: int) -> str:
        if window % 2:
            raise CommandFailed(f"FARM window {window} must be even")
        self.chain.set_window(window)
        self._save_farm(self.chain.farm.record())    # in the command's transaction (DURABLE_COMMANDS)
        return f"FARM-1 window {window}, state Open, V(R) 0"

    def teardown(self) -> None:
        self.cltu_in.close()
        self.fc.close()
        self.state_db.close()
        if self.cltu_url.startswith("ipc://"):
            try:
                os.unlink(self.cltu_url[len("ipc://"):])
            except OSError:
                pass

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cltu-url", help="where to bind the CLTU input (ZeroMQ PULL; default: "
                            "ipc socket 'uplink' beside the bus socket)")
        parser.add_argument("--scid", type=lambda s: int(s, 0), default=0x2A1, help="spacecraft id")
        parser.add_argument("--vcid", type=int, default=0, help="TC virtual channel")
        parser.add_argument("--key-file", help="SDLS key file (default: the built-in emulation keys)")
        parser.add_argument("--sdls-state", help="file keeping the anti-replay counters across restarts "
                            "(default: in the run directory of an ipc:// bus)")
        parser.add_argument("--farm-window", type=int, default=10, help="FARM-1 sliding window width")
        parser.add_argument("--no-randomize", action="store_true",
                            help="the uplink carries TC frames without the TC randomizer")
        parser.add_argument("--fc-link-outage", action="append", default=[], type=_outage,
                            metavar="START:END",
                            help="cut the link to the flight computer from START to END, emulated TAI "
                            "seconds (fault injection; repeatable)")

    @classmethod
    def options(cls, args: argparse.Namespace) -> dict:
        return {"cltu_url": args.cltu_url, "scid": args.scid, "vcid": args.vcid, "key_file": args.key_file,
                "sdls_state": args.sdls_state, "farm_window": args.farm_window,
                "derandomize": not args.no_randomize, "fc_link_outages": args.fc_link_outage}


def _outage(text: str) -> tuple[float, float]:
    start, sep, end = text.partition(":")
    try:
        window = (float(start), float(end))
    except ValueError:
        window = None
    if not sep or window is None or not all(map(math.isfinite, window)) or window[1] < window[0]:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:END with finite START <= END")
    return window


MODULE = Uplink

if __name__ == "__main__":
    raise SystemExit(Uplink.main())
