"""A fault-injecting proxy in the middle of a ZeroMQ IQ stream (``onboard.links.zmq_iq``): it plays
the SDR peer to the consumer and can restart it.

The proxy connects to the producer's socket (``upstream``: the address a PUSH or PUB sink binds,
as ``IqSink`` and gr-zeromq's sinks do) and binds the address the consumer connects to
(``downstream``), with the same pattern on both sides: PULL in, PUSH out (``role="push"``), or
SUB in, XPUB out (``role="pub"``; the XPUB sees the consumer's subscription, so after a restart
nothing is sent into the void before the consumer is back).  A hop whose consumer binds, as the
uplink module's CLTU input does, takes the proxy the other way round (``role="pull"``): it binds
a PULL where the producer's PUSH connects (``upstream``) and connects a PUSH to the consumer's
bound PULL (``downstream``).  Messages go through unchanged,
every part of them, gr-zeromq tag headers included.

``peer_restart`` closes the consumer-facing socket (what was queued in it is gone, as when an SDR
process dies) and binds (or connects) it again ``down_s`` later; the consumer's socket finds it
by itself.  The samples that arrive meanwhile are lost (``lose_samples``, the default: the radio
kept sampling and nobody took them) or held and delivered when the peer is back.  ``outage``
windows drop the messages that arrive within them, the sockets staying up.  A consumer that
reads tag headers sees the gap in the stream's item offsets (``IqSource.gaps``).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

import zmq

from hil.faults.outage import OutageGate
from hil.faults.schedule import OUTAGE_KINDS, ZMQ_KINDS, FaultSchedule
from onboard.errors import UsageError

BACKLOG_MESSAGES = 4096
ROLES = {"push": (zmq.PULL, zmq.PUSH), "pub": (zmq.SUB, zmq.XPUB), "pull": (zmq.PULL, zmq.PUSH)}


class ZmqFaultProxy:
    """Relays one IQ stream from ``upstream`` to ``downstream``, restarting the peer and cutting
    the stream as the plan says (its faults for ``link``, and those for every link)."""

    def __init__(self, upstream: str, downstream: str, schedule: FaultSchedule, *, role: str = "push",
                 clock: Callable[[], float] = time.monotonic, link: str | None = None):
        if role not in ROLES:
            raise UsageError(f"zmq fault proxy: role {role!r} is not push, pub or pull")
        self.upstream, self.downstream, self.role = upstream, downstream, role
        self.schedule = schedule.select(ZMQ_KINDS + OUTAGE_KINDS, link)
        self.gate = OutageGate(self.schedule, clock, link)
        self.clock = clock
        self.context = zmq.Context(1)
        self.inbound = self.context.socket(ROLES[role][0])
        self.inbound.setsockopt(zmq.LINGER, 0)
        if role == "pub":
            self.inbound.setsockopt(zmq.SUBSCRIBE, b"")
        if role == "pull":
            self.inbound.bind(upstream)
        else:
            self.inbound.connect(upstream)
        self.outbound: zmq.Socket | None = None
        self.subscribed = False
        self._bind()
        self.backlog: collections.deque[list[bytes]] = collections.deque()
        self.counts = dict.fromkeys(("messages_in", "messages_out", "octets_out", "restarts", "comebacks",
                                     "messages_lost", "octets_lost", "backlog_dropped", "backlog_max"), 0)
        self.recovery_s: list[float] = []   # from each comeback to the first message the consumer took
        self._pending = list(self.schedule.occurrences(ZMQ_KINDS))
        self._back_at: float | None = None
        self._lose = False
        self._came_back_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = clock()
        self.error: str | None = None

    @property
    def url(self) -> str:
        """The address the near end connects to (``tcp://...:*`` resolved): the consumer's, or
        for ``role="pull"`` the producer's."""
        if self.role == "pull":
            return self.inbound.getsockopt_string(zmq.LAST_ENDPOINT)
        return self._endpoint

    def _bind(self) -> None:
        sock = self.context.socket(ROLES[self.role][1])
        sock.setsockopt(zmq.LINGER, 0)
        if self.role == "pull":       # the consumer binds: the peer's side connects to it
            sock.connect(self.downstream)
            self._endpoint = self.downstream
            self.outbound, self.subscribed = sock, True
            return
        address = getattr(self, "_endpoint", self.downstream)
        for _ in range(50):
            try:
                sock.bind(address)
                break
            except zmq.ZMQError:        # the port of the socket just closed: a moment, then again
                time.sleep(0.02)
        else:
            sock.close(0)
            raise UsageError(f"zmq fault proxy: cannot bind {address!r}")
        self._endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.outbound, self.subscribed = sock, self.role == "push"

    def start(self) -> ZmqFaultProxy:
        self._t0 = self.clock()
        self.gate.start()
        self._thread = threading.Thread(target=self._run, name="zmq-fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.inbound.close(0)
        if self.outbound is not None:
            self.outbound.close(0)
        self.context.term()

    def counters(self) -> dict[str, int]:
        out = dict(self.counts)
        out.update({f"outage.{k}": v for k, v in self.gate.stats().items()})
        return out

    @property
    def peer_up(self) -> bool:
        return self.outbound is not None

    # ---- the relay -------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            poller = zmq.Poller()
            poller.register(self.inbound, zmq.POLLIN)
            while not self._stop.is_set():
                self._due(self.clock() - self._t0)
                if self.role == "pub" and self.outbound is not None:
                    self._read_subscriptions()
                self._flush()
                if dict(poller.poll(5)).get(self.inbound):
                    while True:
                        try:
                            parts = self.inbound.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._take(parts)
        except Exception as exc:        # noqa: BLE001 - kept for the owner, who reads .error
            self.error = f"{type(exc).__name__}: {exc}"
            raise

    def _due(self, t: float) -> None:
        if self._back_at is not None and t >= self._back_at:
            self._bind()
            self._back_at = None
            self._came_back_at = self.clock()
            self.counts["comebacks"] += 1
        while self._pending and self._pending[0].at_s <= t:
            occ = self._pending.pop(0)
            if self.outbound is not None:
                self.outbound.close(0)
                self.outbound = None
                self.counts["restarts"] += 1
            self._lose = occ.fault.lose_samples
            self._back_at = max(self._back_at or 0.0, occ.until_s)

    def _read_subscriptions(self) -> None:
        while True:
            try:
                event = self.outbound.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if event[:1] == b"\x01":
                self.subscribed = True

    def _take(self, parts: list[bytes]) -> None:
        self.counts["messages_in"] += 1
        size = sum(len(p) for p in parts)
        if self.gate(parts[-1]) is None:
            return
        if self.outbound is None and self._lose:
            self.counts["messages_lost"] += 1
            self.counts["octets_lost"] += size
            return
        self.backlog.append(parts)
        if len(self.backlog) > BACKLOG_MESSAGES:
            dropped = self.backlog.popleft()
            self.counts["backlog_dropped"] += 1
            self.counts["octets_lost"] += sum(len(p) for p in dropped)
        self.counts["backlog_max"] = max(self.counts["backlog_max"], len(self.backlog))
        self._flush()

    def _flush(self) -> None:
        if self.outbound is None or not self.subscribed:
            return
        while self.backlog:
            try:
                self.outbound.send_multipart(self.backlog[0], zmq.NOBLOCK)
            except zmq.Again:           # PUSH with no consumer connected yet: keep it
                return
            parts = self.backlog.popleft()
            self.counts["messages_out"] += 1
            self.counts["octets_out"] += sum(len(p) for p in parts)
            if self._came_back_at is not None:
                self.recovery_s.append(self.clock() - self._came_back_at)
                self._came_back_at = None
