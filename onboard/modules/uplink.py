"""Uplink: the onboard end of the telecommand link.

    [PCM/PSK/PM samples -> demodulator -> CLTU start sequences (``onboard.ccsds.rf``), with
    ``--modulation``] -> CLTU stream -> BCH decoding (231.0-B-4 §3) -> derandomization (§6, unless the link is
    configured without the randomizer): ``onboard.ccsds.chain.TcReceiveChain`` -> TC transfer
    frame (232.0-B-4 §4.1: header, FECF, spacecraft and virtual channel ids: ``tc.parse_frame``)
    -> SDLS authentication (355.0-B-2) -> FARM-1 (232.1-B-2 §6), judging the parsed header and
    the authenticated data -> space packet -> the bus (to the module named by its APID) or the
    flight computer (through ``onboard.links.flight_computer``)

Messages in:   CLTUs as ZeroMQ messages on a PULL socket the module binds (``--cltu-url``;
               with ``--cltu-connect`` it connects, to a radio's gr-zeromq push_sink);
               a message may hold any octets: the CLTU decoder finds the CLTUs in them.  With
               ``--modulation pcm-psk-pm`` the messages are samples (``--iq-format``: cf32, or
               ci16 I/Q pairs) of the continuous PLOP-2 stream instead, and CLTUs may span
               messages.
               Its commands, PING, SCHED_TICK.
Messages out:  the delivered TC packets, unchanged (their sequence count is the ground's, so
               the module's answer names it); the flight computer's answers; UPLINK_CLCW
               (u32) on every change and every tick, for the downlink's OCF.
Commands:      SET_FARM_WINDOW(window), and the common ones.
Events:        SDLS_REJECTED (WARNING_HI: the reason: bad MAC or wrong key, replay, unknown
               SPI...), FRAME_REJECTED (WARNING_LO: FECF, ids, length), FARM_DISCARDED
               (ACTIVITY_LO: out of sequence, lockout), PACKET_REJECTED (WARNING_LO: not a bus
               packet, unknown APID).  A rejected frame is never executed.  FC_LINK_DOWN
               (WARNING_HI) and FC_LINK_UP (ACTIVITY_HI) when the flight computer's link is lost
               (a port that vanished, with the reason) and opened again.
Housekeeping:  cltus u32, cltus_truncated u32, octets_skipped u32, frames_bad u32,
               sdls_accepted u32, sdls_rejected u32, farm_accepted u32, farm_discarded u32,
               packets_to_bus u32, packets_to_fc u32, packets_rejected u32, clcw u32; the
               flight computer link's: fc_link_up u32 (1 while open), fc_link_opens u32,
               fc_link_disconnects u32, fc_frames_bad u32 (CRC, length, truncated, escape),
               fc_garbage_octets u32, fc_packets_from u32; the demodulator's (zero without a
               modulation): demod_locked u8, demod_acquisitions u32, demod_lock_changes u32,
               demod_cycle_slips u32 (polarity flips between CLTU start sequences),
               demod_esn0_db f32, demod_ebn0_db f32, demod_freq_offset_hz f32,
               cltu_realigned u32 (CLTU start sequences that moved the octet alignment).

Frames on the uplink carry the SDLS security header and trailer around the packet
(``hil.ground.protection.TcProtector`` builds them on the ground).  The FARM judges the frame's
header and the data SDLS authenticated, so a retransmitted frame, protected again with a fresh
sequence number, passes SDLS and is then judged by the FARM by its N(S) alone.

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

The flight computer is the one ``--flight-computer`` names (``open_flight_computer``; by default
``emulated``: the emulated board of ``hil.devices.flight_computer``, in this process, with its
state and execution log in ``flight_computer.sqlite`` in the state directory; or
``serial:URL[,baud=N][,framing=asm|kiss|slip]``: a board on a serial line, ``onboard.links.serial``,
which the link waits for and reopens when it vanishes, reporting each change as FC_LINK_DOWN/UP).
``--fc-link-outage START:END`` cuts its link during those emulated TAI seconds (bench fault
injection: a cable pulled).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import math
import os

import numpy as np
import zmq

from onboard.bus.endpoints import beside_bus, bus_directory
from onboard.bus.packet import PacketError, PacketType, unpack
from onboard.ccsds.chain import TcReceiveChain
from onboard.ccsds.sdls import Sdls
from onboard.commands.log import CommandLog, open_database
from onboard.core import tc
from onboard.core.farm import Farm, FarmRecord, FarmResult
from onboard.core.siggen import SampleFormat
from onboard.events import Severity
from onboard.links.flight_computer import FlightComputerLink, LinkOutages, open_flight_computer, readable_fd
from onboard.modules.base import CommandFailed, Module

DEFAULT_FLIGHT_COMPUTER = "emulated"


class UplinkEvent(enum.IntEnum):
    SDLS_REJECTED = 100
    FRAME_REJECTED = 101
    FARM_DISCARDED = 102
    PACKET_REJECTED = 103
    FC_LINK_DOWN = 104
    FC_LINK_UP = 105


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one frame: ``packet`` is set when it is to be executed."""

    kind: str              # "packet", "control", "frame", "sdls", "farm"
    reason: str = ""
    packet: bytes = b""
    farm: FarmRecord | None = None     # the FARM right after judging this frame (it judged it)


class UplinkChain:
    """CLTUs in, verdicts out; no bus, so it is testable alone.  Counters accumulate."""

    def __init__(self, scid: int, vcid: int, sdls: Sdls, farm_window: int = 10, derandomize: bool = True,
                 stream: bool = False):
        self.scid, self.vcid, self.sdls = scid, vcid, sdls
        # every message of an octet link holds whole CLTUs: one cut short is counted at once; a
        # demodulated stream (``stream``) cuts CLTUs anywhere
        self.rx = TcReceiveChain(randomize=derandomize, stream=stream)
        # the frames of this virtual channel: the SDLS security header where a segment header
        # would be (355.0-B-2 §4.1), and a FECF
        self.layout = tc.TcConfig(scid, vcid, fecf=True, segment_header=False)
        self.farm = Farm(farm_window, vcid)
        self._counts = dict.fromkeys(("frames_bad", "farm_accepted", "farm_discarded"), 0)

    @property
    def decoder(self):
        """The link's CLTU decoder, whose counters accumulate (codeblocks, octets skipped ...)."""
        return self.rx.decoder

    @property
    def counts(self) -> dict[str, int]:
        rx = self.rx.stats()
        return {"cltus": rx["cltus"], "cltus_truncated": rx["truncated"],
                "frames_bad": rx["bad_frames"] + self._counts["frames_bad"],
                "farm_accepted": self._counts["farm_accepted"],
                "farm_discarded": self._counts["farm_discarded"]}

    def set_window(self, window: int) -> None:
        self.farm = Farm(window, self.vcid)

    def cltus(self, octets: bytes) -> list[Outcome]:
        """What became of every CLTU in ``octets`` (one message of the link)."""
        return [self.frame(r.frame) if r.frame is not None else Outcome("frame", r.problem)
                for r in self.rx.push(octets)]

    def frame(self, data: bytes) -> Outcome:
        """One TC frame (possibly followed by CLTU fill)."""
        try:
            f, _ = tc.parse_frame(data, self.layout)
        except tc.FrameError as exc:
            return self._bad(str(exc))
        if not f.crc_ok:
            return self._bad("FECF does not check")
        h = f.header
        if h.scid != self.scid or h.vcid != self.vcid:
            return self._bad(f"SCID {h.scid} VC {h.vcid} is not this spacecraft's SCID {self.scid} "
                             f"VC {self.vcid}")
        ns = h.frame_seq_num
        verified = self.sdls.process(data[:tc.HEADER_LEN], f.data)
        if not verified.ok:
            return Outcome("sdls", f"N(S) {ns}: {verified.reason}")
        try:
            result = self.farm.judge(h, verified.data)
        except tc.FrameError as exc:
            return self._bad(str(exc))
        if not result.delivers:
            if result in (FarmResult.UNLOCK, FarmResult.SET_VR):
                return Outcome("control", result.name, farm=self.farm.record())
            self._counts["farm_discarded"] += 1
            return Outcome("farm", f"N(S) {ns}: {result.name} (V(R) {self.farm.vr})", farm=self.farm.record())
        self._counts["farm_accepted"] += 1
        return Outcome("packet", packet=verified.data, farm=self.farm.record())

    def _bad(self, reason: str) -> Outcome:
        self._counts["frames_bad"] += 1
        return Outcome("frame", reason)


class Uplink(Module):
    NAME = "uplink"
    HK_FIELDS = tuple((name, "I") for name in (
        "cltus", "cltus_truncated", "octets_skipped", "frames_bad", "sdls_accepted", "sdls_rejected",
        "farm_accepted", "farm_discarded", "packets_to_bus", "packets_to_fc", "packets_rejected", "clcw",
        "fc_link_up", "fc_link_opens", "fc_link_disconnects", "fc_frames_bad", "fc_garbage_octets",
        "fc_packets_from")) + (
        ("demod_locked", "B"), ("demod_acquisitions", "I"), ("demod_lock_changes", "I"),
        ("demod_cycle_slips", "I"), ("demod_esn0_db", "f"), ("demod_ebn0_db", "f"),
        ("demod_freq_offset_hz", "f"), ("cltu_realigned", "I"))
    DURABLE_COMMANDS = frozenset({"SET_FARM_WINDOW"})

    def __init__(self, cltu_url: str | None = None, scid: int = 0x2A1, vcid: int = 0,
                 key_file: str | None = None, sdls_state: str | None = None, farm_window: int = 10,
                 derandomize: bool = True,
                 flight_computer: FlightComputerLink | str = DEFAULT_FLIGHT_COMPUTER,
                 fc_link_outages: list[tuple[float, float]] | None = None, modem=None,
                 cltu_connect: bool = False, iq_format: str = "cf32", **kwargs):
        super().__init__(**kwargs)
        self.iq_format = SampleFormat.parse(iq_format)
        if key_file is None:
            from onboard.scenario import default_key_file

            key_file = default_key_file()
        bus_url = self.client.endpoints.url
        run_dir = bus_directory(bus_url)
        if sdls_state is None and run_dir is not None:
            # the anti-replay counters outlive a restart of this process (kept in the run directory)
            sdls_state = os.path.join(run_dir, "uplink-sdls.json")
        # the last ARSN is as durable as the FARM's state and the command log beside it: against
        # a process kill, without a disk sync in every command's path
        sdls = Sdls.from_key_file(key_file, state_path=sdls_state, sync_rx_state=False)
        self.chain = UplinkChain(scid, vcid, sdls, farm_window, derandomize, stream=modem is not None)
        self.modem_rx = None
        if modem is not None:
            from onboard.ccsds.rf import UplinkModemReceiver

            self.modem_rx = UplinkModemReceiver(modem, derandomize)
        self.state_db = open_database(os.path.join(self.state_dir, "uplink.sqlite") if self.state_dir
                                      else None)
        self.state_db.execute("CREATE TABLE IF NOT EXISTS farm (vcid INTEGER PRIMARY KEY, window INTEGER, "
                              "state INTEGER, vr INTEGER, lockout INTEGER, wait INTEGER, retransmit INTEGER, "
                              "buffer_full INTEGER, farm_b INTEGER)")
        row = self.state_db.execute("SELECT window, state, vr, lockout, wait, retransmit, buffer_full, "
                                    "farm_b FROM farm WHERE vcid = ?", (vcid,)).fetchone()
        if row is not None:
            self.chain.farm.restore(FarmRecord(*row))
        self._saved_farm = self.chain.farm.record()
        if isinstance(flight_computer, str):
            flight_computer = open_flight_computer(flight_computer, registry=self.registry,
                                                   dictionary=self.dictionary, state_dir=self.state_dir,
                                                   on_event=self._on_fc_link, clock=self.clock.now_tai)
        self.fc = flight_computer
        if fc_link_outages:
            self.fc = LinkOutages(self.fc, fc_link_outages, self.clock.now_tai)
        self.fc_apid = self.registry.module("flight_computer").apid
        self.clcw_apid = self.registry.message("UPLINK_CLCW").apid
        self.cltu_url = cltu_url or beside_bus(bus_url, "uplink")
        self.link_socket(zmq.PULL, self.cltu_url, self._on_cltus, connect=cltu_connect)
        self.packets_to_bus = self.packets_to_fc = self.packets_rejected = 0
        self._last_clcw: int | None = None

    def _on_fc_link(self, kind: str, text: str) -> None:
        if kind == "down":
            self.events(UplinkEvent.FC_LINK_DOWN, Severity.WARNING_HI, f"flight computer link down: {text}")
        else:
            self.events(UplinkEvent.FC_LINK_UP, Severity.ACTIVITY_HI, f"flight computer link up: {text}")

    def _on_cltus(self, octets: bytes) -> None:
        if self.modem_rx is not None:
            if self.iq_format is SampleFormat.CF32:
                samples = np.frombuffer(octets, dtype=np.complex64)[: len(octets) // 8]
            else:                                       # I, Q int16 pairs, gr-zeromq's short vlen 2
                samples = np.frombuffer(octets, dtype=np.int16)[: len(octets) // 4 * 2].reshape(-1, 2)
            octets = self.modem_rx.octets(samples, self.iq_format)
        for outcome in self.chain.cltus(octets):
            self._handle(outcome)
            if outcome.farm is not None:
                self._save_farm(outcome.farm)    # its data went on: now V(R) may say so

    def wait_fds(self) -> tuple[int, ...]:
        fd = readable_fd(self.fc)          # a board's answer goes up the moment it is there
        return () if fd is None else (fd,)

    def on_idle(self) -> None:
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
        c, rx, s = self.chain.counts, self.chain.rx.stats(), self.chain.sdls
        m = 0xFFFFFFFF
        return (c["cltus"] & m, c["cltus_truncated"] & m, rx["octets_skipped"] & m, c["frames_bad"] & m,
                s.accepted & m, sum(s.rejected.values()) & m, c["farm_accepted"] & m, c["farm_discarded"] & m,
                self.packets_to_bus & m, self.packets_to_fc & m, self.packets_rejected & m,
                self.chain.farm.clcw, *(v & m for v in fc_link_counts(self.fc.counters())),
                *self._demod_housekeeping())

    def _demod_housekeeping(self) -> tuple:
        if self.modem_rx is None:
            return (0, 0, 0, 0, 0.0, 0.0, 0.0, 0)
        st, m = self.modem_rx.status(), 0xFFFFFFFF
        # Eb/N0 of the information bits: PCM/PSK/PM carries one bit per symbol, uncoded (BCH aside)
        # cycle slips as the CLTU start sequences show them (a polarity flipped between two)
        return (int(st.locked), st.acquisitions & m, st.lock_changes & m, self.modem_rx.slips & m, st.esn0_db,
                st.ebn0_db(1), st.freq_offset_hz, self.modem_rx.realigned & m)

    def cmd_set_farm_window(self, window: int) -> str:
        if window % 2:
            raise CommandFailed(f"FARM window {window} must be even")
        self.chain.set_window(window)
        self._save_farm(self.chain.farm.record())    # in the command's transaction (DURABLE_COMMANDS)
        return f"FARM-1 window {window}, state Open, V(R) 0"

    def teardown(self) -> None:
        self.fc.close()
        self.state_db.close()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cltu-url", help="where to bind the CLTU input (ZeroMQ PULL; default: "
                            "ipc socket 'uplink' beside the bus socket)")
        parser.add_argument("--cltu-connect", action="store_true",
                            help="connect the CLTU input to --cltu-url instead of binding it (a radio's "
                            "gr-zeromq push_sink binds)")
        parser.add_argument("--scid", type=lambda s: int(s, 0), default=0x2A1, help="spacecraft id")
        parser.add_argument("--vcid", type=int, default=0, help="TC virtual channel")
        parser.add_argument("--key-file", help="SDLS key file (default: the built-in emulation keys)")
        parser.add_argument("--sdls-state", help="file keeping the anti-replay counters across restarts "
                            "(default: in the run directory of an ipc:// bus)")
        parser.add_argument("--farm-window", type=int, default=10, help="FARM-1 sliding window width")
        parser.add_argument("--no-randomize", action="store_true",
                            help="the uplink carries TC frames without the TC randomizer")
        parser.add_argument("--flight-computer", default=DEFAULT_FLIGHT_COMPUTER, metavar="NAME[:ARGUMENT]",
                            help="the flight computer's link: the name an installed link is registered "
                            f"under (entry point group lunarelay.flight_computers; default "
                            f"{DEFAULT_FLIGHT_COMPUTER}, the emulated board)")
        parser.add_argument("--fc-link-outage", action="append", default=[], type=_outage,
                            metavar="START:END",
                            help="cut the link to the flight computer from START to END, emulated TAI "
                            "seconds (fault injection; repeatable)")
        from onboard.ccsds.rf import add_modem_arguments

        rf = parser.add_argument_group("RF", "the CLTU input as PCM/PSK/PM samples (onboard.ccsds.rf)")
        add_modem_arguments(rf, default_sps=64.0)
        rf.add_argument("--iq-format", choices=("cf32", "ci16"), default="cf32",
                        help="the samples' items (default cf32)")

    @classmethod
    def options(cls, args: argparse.Namespace) -> dict:
        return {"cltu_url": args.cltu_url, "cltu_connect": args.cltu_connect, "iq_format": args.iq_format,
                "scid": args.scid, "vcid": args.vcid, "key_file": args.key_file,
                "sdls_state": args.sdls_state, "farm_window": args.farm_window,
                "derandomize": not args.no_randomize, "flight_computer": args.flight_computer,
                "fc_link_outages": args.fc_link_outage, "modem": _uplink_modem(args)}


def fc_link_counts(c: dict[str, int]) -> tuple[int, ...]:
    """The housekeeping's flight computer link fields from the link's counters (a link without
    a port to lose is always up)."""
    bad = sum(c.get(k, 0) for k in ("crc_errors", "length_errors", "truncated", "escape_errors"))
    return (c.get("up", 1), c.get("opens", 0), c.get("disconnects", 0), bad, c.get("garbage_octets", 0),
            c.get("packets_received", 0))


def _outage(text: str) -> tuple[float, float]:
    start, sep, end = text.partition(":")
    try:
        window = (float(start), float(end))
    except ValueError:
        window = None
    if not sep or window is None or not all(map(math.isfinite, window)) or window[1] < window[0]:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:END with finite START <= END")
    return window


def _uplink_modem(args: argparse.Namespace):
    from onboard.ccsds.rf import modem_of
    from onboard.core.modem import Scheme

    modem = modem_of(args)
    if modem is not None and modem.scheme is not Scheme.PCM_PSK_PM:
        raise ValueError(f"the uplink is PCM/PSK/PM (CCSDS 401.0-B §2.2), not {args.modulation}")
    return modem


MODULE = Uplink

if __name__ == "__main__":
    raise SystemExit(Uplink.main())
