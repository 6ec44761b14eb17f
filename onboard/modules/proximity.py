"""Proximity: the relay's end of the surface link (CCSDS Proximity-1).

    PLTUs from surface users (211.2-B-3 §3.3: ASM, version-3 frame, CRC-32) -> frame checks
    (211.0-B-6 §3.2: version, spacecraft id, user-data PDU) -> the space packets in the frame's
    data field (one or more, back to back) -> PROXIMITY_PACKET on the bus, one packet each,
    for the store -> STORE_COMMITTED from the store -> acknowledgements back to the users

Messages in:   PLTUs as ZeroMQ messages on a PULL socket the module binds (``--pltu-url``); a
               message may hold any octets: the module searches them for PLTUs.
               STORE_COMMITTED; its commands, PING, SCHED_TICK.
Messages out:  PROXIMITY_PACKET: one surface-user packet, as it arrived.
               Acknowledgements on a PUB socket the module binds (``--ack-url``): each message is
               the STORE_COMMITTED user data, (APID u16, sequence count u16) per committed packet.
               A user takes a packet as delivered only when it is acknowledged, that is when the
               store has committed it; anything else it sends again, and the store drops the
               duplicates.
Commands:      the common ones.
Events:        PLTU_REJECTED (WARNING_LO: CRC-32, header or length), PACKET_REJECTED (WARNING_LO:
               not a space packet, or an APID outside the surface-user block 0x100-0x1FF), at most
               ``REJECT_EVENTS_MAX`` of each between housekeeping ticks; the counters always count.
Housekeeping:  pltus u32, pltus_rejected u32, frames_foreign u32, packets_relayed u32,
               packets_rejected u32, acks_sent u32.
"""

from __future__ import annotations

import argparse
import enum

import zmq

from onboard.bus.endpoints import beside_bus
from onboard.bus.packet import BusPacket, PacketError, unpack
from onboard.core import spp
from onboard.core.prox1 import ASM as PLTU_ASM
from onboard.core.prox1 import FrameError, parse_pltu
from onboard.events import Severity
from onboard.modules.base import Module

USER_BLOCK = 1                      # APIDs 0x100-0x1FF (onboard/bus/msgids.toml)
USER_DATA_PDU = 0                   # 211.0-B-6 §3.2.2.4: PDU type ID 0, user data
REJECT_EVENTS_MAX = 4
MAX_PENDING = 1 << 16               # octets kept while waiting for the rest of a cut PLTU


class ProximityEvent(enum.IntEnum):
    PLTU_REJECTED = 100
    PACKET_REJECTED = 101


class ProximityReceiver:
    """Octets from the link in, surface-user packets out; no bus, so it is testable alone."""

    def __init__(self, scid: int):
        self.scid = scid
        self.counts = dict.fromkeys(("pltus", "pltus_rejected", "frames_foreign", "packets_relayed",
                                     "packets_rejected"), 0)
        self.rejections: list[str] = []

    def receive(self, octets: bytes) -> list[bytes]:
        """The good surface-user packets of every PLTU in ``octets`` (one ZeroMQ message: a
        PLTU is never split across messages, so no state is kept between calls)."""
        packets: list[bytes] = []
        pos = 0
        view = memoryview(octets)
        while (pos := octets.find(PLTU_ASM, pos)) >= 0:
            try:
                pltu, length = parse_pltu(view[pos:])
            except FrameError as exc:
                self._reject_pltu(f"at octet {pos}: {exc}")
                pos += 1
                continue
            if not pltu.crc_ok:
                self._reject_pltu(f"at octet {pos}: CRC-32 does not check")
                pos += 1
                continue
            pos += length
            self.counts["pltus"] += 1
            h = pltu.header
            if h.scid != self.scid or h.pdu_type != USER_DATA_PDU:
                self.counts["frames_foreign"] += 1
                continue
            packets += self._packets(pltu.data)
        return packets

    def _packets(self, data: bytes) -> list[bytes]:
        out = []
        index = spp.index_packets(data)
        view = memoryview(data)
        for at, n in zip(index.entries["offset"].tolist(), index.entries["length"].tolist(), strict=True):
            raw = bytes(view[at:at + n])
            try:
                pkt = unpack(raw)
            except PacketError as exc:
                self._reject_packet(str(exc))
                continue
            if pkt.apid >> 8 != USER_BLOCK:
                self._reject_packet(f"APID {pkt.apid:#05x} is outside the surface-user block 0x100-0x1FF")
                continue
            self.counts["packets_relayed"] += 1
            out.append(raw)
        if index.stop == spp.IndexStop.TRUNCATED:
            self._reject_packet(f"{len(data) - index.consumed} octets left in the frame cannot hold the "
                                f"packet they start ({index.missing} octets missing)")
        elif index.stop == spp.IndexStop.VERSION:
            self._reject_packet(f"the packet at octet {index.consumed} of the frame has version "
                                f"{data[index.consumed] >> 5}, not 0: the rest of the frame cannot be "
                                "delimited")
        return out

    def _reject_pltu(self, why: str) -> None:
        self.counts["pltus_rejected"] += 1
        self.rejections.append(f"PLTU rejected {why}")

    def _reject_packet(self, why: str) -> None:
        self.counts["packets_rejected"] += 1
        self.rejections.append(f"packet rejected: {why}")


class Proximity(Module):
    NAME = "proximity"
    HK_FIELDS = tuple((n, "I") for n in ("pltus", "pltus_rejected", "frames_foreign", "packets_relayed",
                                          "packets_rejected", "acks_sent"))

    def __init__(self, pltu_url: str | None = None, ack_url: str | None = None, scid: int = 0x2A1, **kwargs):
        super().__init__(**kwargs)
        self.receiver = ProximityReceiver(scid)
        self.packet_apid = self.registry.message("PROXIMITY_PACKET").apid
        self.committed_apid = self.registry.message("STORE_COMMITTED").apid
        bus_url = self.client.endpoints.url
        self.link_socket(zmq.PULL, pltu_url or beside_bus(bus_url, "proximity"), self._on_pltus)
        self.ack_out = self.link_socket(zmq.PUB, ack_url or beside_bus(bus_url, "proximity-ack"))
        self.acks_sent = 0
        self._events_left = {ProximityEvent.PLTU_REJECTED: REJECT_EVENTS_MAX,
                             ProximityEvent.PACKET_REJECTED: REJECT_EVENTS_MAX}

    def data_topics(self) -> list[bytes]:
        return [self.registry.message("STORE_COMMITTED").topic]

    def on_packet(self, pkt: BusPacket) -> None:
        if pkt.apid == self.committed_apid and pkt.data:
            self.ack_out.send(pkt.data)
            self.acks_sent += len(pkt.data) // 4

    def _on_pltus(self, octets: bytes) -> None:
        for raw in self.receiver.receive(octets):
            self.client.publish(self.packet_apid, raw)
        for text in self.receiver.rejections:
            kind = ProximityEvent.PLTU_REJECTED if text.startswith("PLTU") else ProximityEvent.PACKET_REJECTED
            if self._events_left[kind] > 0:
                self._events_left[kind] -= 1
                self.events(kind, Severity.WARNING_LO, text)
        self.receiver.rejections.clear()

    def on_tick(self, tick) -> None:
        self._events_left = dict.fromkeys(self._events_left, REJECT_EVENTS_MAX)

    def housekeeping(self) -> tuple:
        c, m = self.receiver.counts, 0xFFFFFFFF
        return (c["pltus"] & m, c["pltus_rejected"] & m, c["frames_foreign"] & m, c["packets_relayed"] & m,
                c["packets_rejected"] & m, self.acks_sent & m)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--pltu-url", help="where to bind the PLTU input (ZeroMQ PULL; default: ipc "
                            "socket 'proximity' beside the bus socket)")
        parser.add_argument("--ack-url", help="where to bind the acknowledgement output (ZeroMQ PUB; "
                            "default: ipc socket 'proximity-ack' beside the bus socket)")
        parser.add_argument("--scid", type=lambda s: int(s, 0), default=0x2A1,
                            help="spacecraft id the surface users address")

    @classmethod
    def options(cls, args: argparse.Namespace) -> dict:
        return {"pltu_url": args.pltu_url, "ack_url": args.ack_url, "scid": args.scid}


MODULE = Proximity

if __name__ == "__main__":
    raise SystemExit(Proximity.main())
