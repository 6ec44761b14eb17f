"""A process's connection to the bus: one publisher and any number of bounded pipes.

A *pipe* (the cFS word) is one SUB socket with its subscriptions and a bounded queue.
Messages are moved from the socket into the queue in batches; when the queue is full the
newest are dropped and counted.  Every TM message has one publisher, so a jump in its
CCSDS sequence count is a packet lost before it reached the pipe (ZeroMQ drops silently at
a high-water mark); that is counted too.  ``PipeStats`` goes into each module's
housekeeping: nothing is dropped without a counter moving.
"""

from __future__ import annotations

import collections
import dataclasses
import struct
import time
from collections.abc import Callable, Iterable

import zmq

from onboard.bus.endpoints import BusEndpoints, CurveClientKeys
from onboard.bus.packet import (
    MAX_SEQ,
    MAX_USER_DATA,
    BusPacket,
    PacketError,
    PacketType,
    pack,
    tai_from_unix,
    topic,
    unpack,
)

_WORDS = struct.Struct(">HH")
_pack_header = struct.Struct(">HHHIH").pack
_UNIX_TO_TAI_S = tai_from_unix(0.0)


def wall_tai() -> float:
    """TAI seconds since 1958 from the wall clock (the time source when no emulation clock is given)."""
    return time.time() + _UNIX_TO_TAI_S
# A sequence count that jumps back, or forward by more than half the 14-bit range, is a
# publisher that restarted (its count starts again at 0), not half the counter lost.
_RESTART_GAP = (MAX_SEQ + 1) // 2


@dataclasses.dataclass
class PipeStats:
    received: int = 0          # messages taken off the socket
    malformed: int = 0         # not a bus packet; discarded
    lost: int = 0              # sequence-count gaps: lost before reaching this pipe
    dropped: int = 0           # arrived while the queue was full; discarded
    high_water: int = 0        # deepest the queue has been
    depth: int = 0             # current queue depth

    HK_FORMAT = ">IIIIHH"

    def to_hk(self) -> bytes:
        return struct.pack(self.HK_FORMAT, self.received & 0xFFFFFFFF, self.malformed & 0xFFFFFFFF,
                           self.lost & 0xFFFFFFFF, self.dropped & 0xFFFFFFFF,
                           min(self.high_water, 0xFFFF), min(self.depth, 0xFFFF))

    @classmethod
    def from_hk(cls, data: bytes) -> PipeStats:
        return cls(*struct.unpack(cls.HK_FORMAT, data))


PIPE_HK_LEN = struct.calcsize(PipeStats.HK_FORMAT)


class Pipe:
    """One SUB socket with a bounded queue of raw packets."""

    def __init__(self, context: zmq.Context, endpoints: BusEndpoints, name: str, depth: int,
                 topics: Iterable[bytes] = (), curve: CurveClientKeys | None = None):
        if depth < 1:
            raise ValueError(f"pipe {name!r}: queue depth must be at least 1, not {depth}")
        self.name = name
        self.depth = depth
        self.socket = context.socket(zmq.SUB)
        if curve:
            curve.apply(self.socket)
        self.socket.rcvhwm = depth
        self.socket.linger = 0
        self.socket.connect(endpoints.subscribe)
        self.stats = PipeStats()
        self._queue: collections.deque[bytes] = collections.deque()
        self._next_seq: dict[int, int] = {}
        self._queued = 0            # packets ever put in the queue
        self._taken = 0             # packets ever taken out
        self._dropped: collections.deque[tuple[int, bytes]] = collections.deque()
        for t in topics:
            self.subscribe(t)

    def subscribe(self, topic: bytes) -> None:
        """Topic: two header octets for one message, one octet for a block of 256 APIDs."""
        self.socket.setsockopt(zmq.SUBSCRIBE, topic)

    def unsubscribe(self, topic: bytes) -> None:
        self.socket.setsockopt(zmq.UNSUBSCRIBE, topic)

    def drain(self, budget: int | None = None) -> int:
        """Move what the socket holds into the queue (at most ``budget`` messages); return the count."""
        budget = self.depth if budget is None else budget
        recv, queue, depth = self.socket.recv, self._queue, self.depth
        n = 0
        while n < budget:
            try:
                buf = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            n += 1
            if len(queue) < depth:
                queue.append(buf)
                self._queued += 1
            else:
                # Sequence counts are checked when a packet leaves the queue, in arrival order; a
                # dropped packet's header waits for its turn (it came after `_queued` packets), so
                # the gap it leaves is not also counted as lost.
                self.stats.dropped += 1
                if len(buf) >= 4:
                    self._dropped.append((self._queued, buf[:4]))
        self.stats.received += n
        if len(queue) > self.stats.high_water:
            self.stats.high_water = len(queue)
        return n

    def _check_seq(self, header: bytes) -> None:
        word0, word1 = _WORDS.unpack_from(header)
        if word0 & 0x1000:          # TC: many senders may share an APID; only TM has one publisher
            return
        apid, seq = word0 & 0x7FF, word1 & MAX_SEQ
        want = self._next_seq.get(apid, seq)
        if seq != want:
            gap = (seq - want) & MAX_SEQ
            if gap < _RESTART_GAP:
                self.stats.lost += gap
        self._next_seq[apid] = (seq + 1) & MAX_SEQ

    def _dropped_before(self, index: int) -> None:
        dropped = self._dropped
        while dropped and dropped[0][0] <= index:
            self._check_seq(dropped.popleft()[1])

    def pending(self) -> int:
        return len(self._queue)

    def snapshot(self) -> PipeStats:
        """The counters with the current queue depth, for housekeeping."""
        self.stats.depth = len(self._queue)
        return self.stats

    def get_raw(self) -> bytes | None:
        """The next raw message (sequence counts checked), or None."""
        if not self._queue and not self.drain():
            return None
        buf = self._queue.popleft()
        self._taken += 1
        if self._dropped:
            self._dropped_before(self._taken - 1)
        if len(buf) >= 4:
            self._check_seq(buf)
        return buf

    def get(self) -> BusPacket | None:
        """The next well-formed packet already received, or None."""
        queue, next_seq = self._queue, self._next_seq
        while True:
            if not queue and not self.drain():
                return None
            buf = queue.popleft()
            self._taken += 1
            if self._dropped:
                self._dropped_before(self._taken - 1)
            try:
                pkt = unpack(buf)
            except PacketError:
                self.stats.malformed += 1
                continue
            if not pkt[1]:                              # TM: check the sequence count
                apid, seq = pkt[0], pkt[2]
                want = next_seq.get(apid, seq)
                if seq != want:
                    gap = (seq - want) & MAX_SEQ
                    if gap < _RESTART_GAP:
                        self.stats.lost += gap
                next_seq[apid] = (seq + 1) & MAX_SEQ
            return pkt

    def receive(self, timeout_s: float) -> BusPacket | None:
        """The next packet, waiting up to ``timeout_s`` for one."""
        deadline = time.monotonic() + timeout_s
        while True:
            pkt = self.get()
            if pkt is not None:
                return pkt
            left = deadline - time.monotonic()
            if left <= 0 or not self.socket.poll(max(1, int(left * 1000))):
                return self.get()

    def close(self) -> None:
        self.socket.close(linger=0)


class BusClient:
    """Publishes packets (sequence count per APID, CUC time from the clock) and owns the pipes."""

    def __init__(self, endpoints: BusEndpoints | str | None = None,
                 time_source: Callable[[], float] | None = None, context: zmq.Context | None = None,
                 curve: CurveClientKeys | None = None, sndhwm: int = 10000):
        if not isinstance(endpoints, BusEndpoints):
            endpoints = BusEndpoints.from_url(endpoints)
        self.endpoints = endpoints
        self.context = context or zmq.Context.instance()
        self.curve = curve
        self.time_source = time_source or wall_tai
        self.pub = self.context.socket(zmq.PUB)
        if curve:
            curve.apply(self.pub)
        self.pub.sndhwm = sndhwm
        self.pub.linger = 1000
        self.pub.connect(self.endpoints.publish)
        self._send = self.pub.send
        self.pipes: list[Pipe] = []
        self._seq: dict[int, int] = {}

    def pipe(self, name: str, topics: Iterable[bytes] = (), depth: int = 1000) -> Pipe:
        p = Pipe(self.context, self.endpoints, name, depth, topics, self.curve)
        self.pipes.append(p)
        return p

    def publish(self, apid: int, data: bytes = b"", packet_type: PacketType = PacketType.TM) -> int:
        """Send one packet; return the sequence count it carried."""
        key = packet_type << 12 | apid          # the first header word without the flag
        seq = self._seq.get(key)
        if seq is None:
            pack(apid, data, 0, 0.0, packet_type)        # checks the APID once
            seq = 0
        n = len(data)
        if n > MAX_USER_DATA:
            raise ValueError(f"{n} octets of user data exceed the {MAX_USER_DATA}-octet maximum")
        self._seq[key] = (seq + 1) & MAX_SEQ
        ticks = int(self.time_source() * 65536.0)        # CUC: 2**-16 s
        # the header of packet.pack, inlined: this is the bus's hot path
        self._send(_pack_header(0x0800 | key, 0xC000 | seq, 5 + n, ticks >> 16, ticks & 0xFFFF) + data)
        return seq

    def publish_raw(self, packet: bytes) -> None:
        self.pub.send(packet)

    def await_connection(self, probe_apid: int, timeout_s: float = 10.0) -> bool:
        """Wait until this client's publisher is connected to the proxy and knows the bus's
        subscriptions (before that, a PUB socket drops what it sends).  Empty probes go out on
        ``probe_apid`` (the caller's own pong APID: an empty pong is a probe) until one comes back."""
        probe = self.pipe("probe", [topic(probe_apid)], depth=16)
        try:
            return wait_for(probe, lambda p: p.apid == probe_apid, timeout_s,
                            resend=lambda: self.publish(probe_apid, b""), resend_every_s=0.05) is not None
        finally:
            self.pipes.remove(probe)
            probe.close()

    def close(self) -> None:
        for p in self.pipes:
            p.close()
        self.pipes.clear()
        self.pub.close()


def wait_for(pipe: Pipe, match: Callable[[BusPacket], bool], timeout_s: float,
             resend: Callable[[], object] | None = None, resend_every_s: float = 0.25) -> BusPacket | None:
    """The first packet on ``pipe`` that ``match``es within ``timeout_s``, calling ``resend()``
    first and then every ``resend_every_s`` until then (a subscription takes a moment to reach
    the publishers, so the first sends of a fresh connection can be lost)."""
    deadline = time.monotonic() + timeout_s
    next_send = 0.0
    while (now := time.monotonic()) < deadline:
        if resend is not None and now >= next_send:
            resend()
            next_send = now + resend_every_s
        pkt = pipe.receive(min(deadline - now, resend_every_s))
        if pkt is not None and match(pkt):
            return pkt
    return None
