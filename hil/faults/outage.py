"""Comm-link outage windows: a gate on a CADU or CLTU stream, shut while the plan says the link is
out (``outage`` faults of ``hil.faults.schedule``: one window, or ``down_s`` every ``every_s``).

``OutageGate`` is a transfer-unit filter with the shape of ``hil.channel.Impairments`` (called
with a unit, it returns the unit or None, and counts), so it goes where the station's channel
impairments go.  ``UdpOutageProxy`` gates a stream of UDP datagrams (the downlink's ``udp://``
output, one CADU per datagram) between two ports; ZeroMQ streams are gated by
``hil.faults.zmq_proxy.ZmqFaultProxy``, which takes the same ``outage`` faults.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable

from hil.faults.schedule import OUTAGE_KINDS, FaultSchedule
from onboard.errors import UsageError


class OutageGate:
    """Shut during the plan's outage windows (those for ``link``, or for every link), on ``clock``
    seconds from ``start()`` (or from the gate's creation)."""

    def __init__(self, schedule: FaultSchedule, clock: Callable[[], float] = time.monotonic,
                 link: str | None = None):
        plan = schedule.select(OUTAGE_KINDS, link)
        self.windows = [(o.at_s, o.until_s) for o in plan.occurrences(OUTAGE_KINDS)]
        self.clock = clock
        self._t0 = clock()
        self.units = self.dropped = self.octets_dropped = 0
        self.outages_seen: set[int] = set()

    def start(self) -> None:
        self._t0 = self.clock()

    def window(self, t_s: float | None = None) -> int | None:
        """The index of the outage window holding at ``t_s`` (now when None), or None."""
        t = self.clock() - self._t0 if t_s is None else t_s
        for i, (start, end) in enumerate(self.windows):
            if start <= t < end:
                return i
        return None

    @property
    def shut(self) -> bool:
        return self.window() is not None

    def __call__(self, unit: bytes) -> bytes | None:
        self.units += 1
        window = self.window()
        if window is None:
            return unit
        self.outages_seen.add(window)
        self.dropped += 1
        self.octets_dropped += len(unit)
        return None

    def stats(self) -> dict[str, int]:
        """Units seen and dropped, octets dropped, outage windows that hit traffic."""
        return {"units": self.units, "dropped": self.dropped, "octets_dropped": self.octets_dropped,
                "outages": len(self.outages_seen)}


def _udp_address(url: str) -> tuple[str, int]:
    if not url.startswith("udp://"):
        raise UsageError(f"outage proxy: {url!r} is not udp://HOST:PORT")
    host, _, port = url[6:].rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"outage proxy: {url!r} is not udp://HOST:PORT")
    return host, int(port)


class UdpOutageProxy:
    """Datagrams to ``upstream`` (``udp://HOST:PORT``, bound here; port 0: any, see ``url``)
    passed on to ``downstream`` (``udp://HOST:PORT``) unless an outage holds."""

    def __init__(self, upstream: str, downstream: str, schedule: FaultSchedule,
                 clock: Callable[[], float] = time.monotonic, link: str | None = None):
        self.gate = OutageGate(schedule, clock, link)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(_udp_address(upstream))
        self.target = _udp_address(downstream)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()
        return f"udp://{host}:{port}"

    def start(self) -> UdpOutageProxy:
        self.gate.start()
        self._thread = threading.Thread(target=self._run, name="udp-outage-proxy", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.02)[0]:
                continue
            datagram = self.sock.recv(65536)
            if self.gate(datagram) is not None:
                with contextlib.suppress(OSError):      # nobody listening: lost, as on the air
                    self.sock.sendto(datagram, self.target)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.sock.close()

    def counters(self) -> dict[str, int]:
        return self.gate.stats()
