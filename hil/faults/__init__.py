"""Fault injection on the bench's links: a proxy in the middle of each link, so the same faults hit
an emulated board and a real one.

``schedule`` holds the plan (the bench file's ``[[fault]]`` tables, seeded); ``serial_proxy`` sits
between the host and the flight computer's serial port (bit errors, dropped and duplicated
frames, garbage and console text, disconnect and reconnect, baud mismatch); ``zmq_proxy`` between
an SDR's IQ stream and its consumer (peer restart); ``outage`` gates the comm links' CADU and
CLTU streams (outage windows); ``harness`` runs a board and a commanding host to exercise a link
across a proxy.  The bench opens each proxy through :func:`open_proxy`.
"""

from __future__ import annotations

from typing import Protocol

from hil.faults.schedule import Fault, FaultSchedule, FaultScheduleError

__all__ = ["KINDS", "Fault", "FaultProxy", "FaultSchedule", "FaultScheduleError", "open_proxy"]

KINDS = ("serial", "zmq-push", "zmq-pub", "zmq-pull", "outage-udp", "outage-zmq-push", "outage-zmq-pub",
         "outage-zmq-pull")


class FaultProxy(Protocol):
    url: str

    def start(self) -> FaultProxy:
        """Start relaying; the plan's times count from here."""

    def stop(self) -> None:
        """Stop relaying and release both ends."""

    def counters(self) -> dict[str, int]:
        """What was carried and what was injected."""


def open_proxy(kind: str, upstream: str, downstream: str, schedule: FaultSchedule | None = None,
               seed: int | None = None, **options) -> FaultProxy:
    """A proxy of ``kind`` between ``upstream`` and ``downstream``, not started yet; ``url`` is
    the address the near end (the host, the consumer) opens instead of ``upstream``.

    ``serial``          upstream: the board's pyserial URL; downstream: ``pty``, ``pty:PATH`` or
                        ``tcp://HOST:PORT`` (opened as ``socket://``); options: ``framing``,
                        ``crc``, ``max_packet``, ``baudrate``
    ``zmq-push``,       upstream: the address the SDR's PUSH or PUB sink binds; downstream: the
    ``zmq-pub``         address the proxy binds for the consumer
    ``zmq-pull``        upstream: the address the proxy binds a PULL at, for the producer's PUSH
                        to connect to; downstream: the address the consumer's PULL binds
    ``outage-udp``      upstream: ``udp://HOST:PORT`` the proxy binds; downstream: where the
                        datagrams go
    ``outage-zmq-*``    the ZeroMQ proxy with outage windows only

    ``seed``, when given, replaces the plan's seed; the option ``link`` names the link, so the
    proxy takes the plan's faults for it (``link = "..."`` in a ``[[fault]]``) besides those for
    every link.
    """
    plan = schedule or FaultSchedule()
    if seed is not None:
        plan = FaultSchedule(plan.faults, seed, plan.indices)
    if kind == "serial":
        from hil.faults.serial_proxy import SerialFaultProxy

        return SerialFaultProxy(upstream, downstream, plan, **options)
    if kind in ("zmq-push", "zmq-pub", "zmq-pull", "outage-zmq-push", "outage-zmq-pub", "outage-zmq-pull"):
        from hil.faults.schedule import OUTAGE_KINDS
        from hil.faults.zmq_proxy import ZmqFaultProxy

        if kind.startswith("outage-"):
            plan = plan.select(OUTAGE_KINDS, options.get("link"))
        return ZmqFaultProxy(upstream, downstream, plan, role=kind.rpartition("-")[2], **options)
    if kind == "outage-udp":
        from hil.faults.outage import UdpOutageProxy

        return UdpOutageProxy(upstream, downstream, plan, **options)
    from onboard.errors import UsageError

    raise UsageError(f"unknown fault proxy kind {kind!r}; known: {', '.join(KINDS)}")
