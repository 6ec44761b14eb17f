"""An emulated surface user: packets at a constant rate over Proximity-1 to the relay, each kept
until the relay acknowledges that its store has committed it.

    space packets (133.0-B-2, CUC time in the secondary header) -> as many as fit in one
    version-3 transfer frame (211.0-B-6 §3.2, user-data PDU, addressed to the relay's SCID)
    -> PLTU (211.2-B-3 §3.3: ASM, frame, CRC-32) -> optional impairments -> ZeroMQ PUSH to the
    relay's proximity module; acknowledgements ((APID, sequence count) pairs) on a SUB socket

A packet not acknowledged within ``resend_after_s`` (wall time) is sent again; the relay's store
keeps one copy.  The user data of packet ``n`` is ``payload(apid, n, length)``, so whoever
receives it (the ground, after the relay) can check every octet.
"""

from __future__ import annotations

import collections
import random
import struct
import time

import zmq

from hil.channel import Impairments
from onboard.bus.packet import MAX_SEQ, pack
from onboard.core.prox1 import HEADER_LEN, MAX_FRAME_LEN, Prox1Header, build_pltu

NUMBER = struct.Struct(">I")
ACK_ENTRY = struct.Struct(">HH")
FRAME_DATA_MAX = MAX_FRAME_LEN - HEADER_LEN
DESTINATION = 1                    # 211.0-B-6 §3.2.2.8: the SCID field names the receiver


def payload(apid: int, number: int, length: int) -> bytes:
    """The user data of a user's packet ``number``: the number (u32), then reproducible octets."""
    body = random.Random(apid << 32 | number).randbytes(max(0, length - NUMBER.size))
    return (NUMBER.pack(number) + body)[:length]


def check_payload(apid: int, data: bytes) -> int | None:
    """The packet number of user data made by ``payload``, or None when any octet differs."""
    if len(data) < NUMBER.size:
        return None
    (number,) = NUMBER.unpack_from(data)
    return number if payload(apid, number, len(data)) == data else None


class SurfaceUser:
    def __init__(self, name: str, apid: int, packet_length: int, packets_per_s: float, pltu_url: str,
                 ack_url: str, scid: int, context: zmq.Context | None = None,
                 impairments: Impairments | None = None, resend_after_s: float = 2.0,
                 max_unacknowledged: int = 8192):
        self.name, self.apid, self.packet_length, self.rate = name, apid, packet_length, packets_per_s
        self.scid = scid
        if packet_length + 10 > FRAME_DATA_MAX:          # 10: primary and CUC secondary header
            raise ValueError(f"{name}: {packet_length}-octet packets do not fit one Proximity-1 frame "
                             f"({FRAME_DATA_MAX - 10} octets of user data at most)")
        self.impairments = impairments or Impairments()
        self.resend_after_s = resend_after_s
        self.max_unacknowledged = min(max_unacknowledged, MAX_SEQ)  # a sequence count names one packet
        ctx = context or zmq.Context.instance()
        self.out = ctx.socket(zmq.PUSH)
        self.out.setsockopt(zmq.LINGER, 0)
        self.out.setsockopt(zmq.SNDHWM, 10000)
        self.out.connect(pltu_url)
        self.acks = ctx.socket(zmq.SUB)
        self.acks.setsockopt(zmq.LINGER, 0)
        self.acks.setsockopt(zmq.SUBSCRIBE, b"")
        self.acks.connect(ack_url)
        # sequence count -> (packet number, packet, wall time last sent); oldest first
        self.unacknowledged: dict[int, tuple[int, bytes, float]] = collections.OrderedDict()
        self.acknowledged: set[int] = set()            # packet numbers the relay holds
        self.generated = self.sent = self.resent = self.pltus = self.held_back = 0
        self._t0: float | None = None
        self._frame_seq = 0

    def step(self, now_tai: float, sees_relay: bool = True) -> None:
        """Make the packets due by emulated time ``now_tai``, take in acknowledgements, send; with
        the relay below the user's horizon (``sees_relay`` false) the packets wait on board."""
        if self._t0 is None:
            self._t0 = now_tai
        due = int((now_tai - self._t0) * self.rate) - self.generated - self.held_back
        for _ in range(max(0, due)):
            if len(self.unacknowledged) >= self.max_unacknowledged:
                self.held_back += 1                    # not made: the user's own buffer is full
                continue
            n = self.generated
            seq = n & MAX_SEQ
            self.unacknowledged[seq] = (n, pack(self.apid, payload(self.apid, n, self.packet_length), seq,
                                                now_tai), 0.0)
            self.generated += 1
        if sees_relay:
            self._take_acks()
            self._send()

    def _take_acks(self) -> None:
        while True:
            try:
                msg = self.acks.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            for apid, seq in ACK_ENTRY.iter_unpack(msg[:len(msg) // 4 * 4]):
                if apid == self.apid and (entry := self.unacknowledged.pop(seq, None)) is not None:
                    self.acknowledged.add(entry[0])

    def _send(self) -> None:
        now = time.monotonic()
        due = [(seq, entry) for seq, entry in self.unacknowledged.items()
               if not entry[2] or now - entry[2] >= self.resend_after_s]
        batch: list[bytes] = []
        size = 0
        for seq, (n, packet, last) in due:
            if size + len(packet) > FRAME_DATA_MAX:
                self._frame(batch)
                batch, size = [], 0
            batch.append(packet)
            size += len(packet)
            self.unacknowledged[seq] = (n, packet, now)
            self.sent += 1
            self.resent += last != 0.0
        if batch:
            self._frame(batch)

    def _frame(self, packets: list[bytes]) -> None:
        header = Prox1Header(scid=self.scid, frame_seq_num=self._frame_seq, src_dst_id=DESTINATION)
        self._frame_seq = (self._frame_seq + 1) & 0xFF
        pltu = self.impairments(build_pltu(header, b"".join(packets)))
        self.pltus += 1
        if pltu is not None:
            self.out.send(pltu)

    def close(self) -> None:
        self.out.close()
        self.acks.close()
