"""The link to the flight computer: the interface the uplink module talks through, the factory
that opens the one the configuration names, and a link that is cut for windows of time.

The uplink module hands the flight computer every telecommand packet addressed to its APID
(``flight_computer`` in ``onboard/bus/msgids.toml``) and forwards whatever packets come back
(its command answers, as events on its event APID) to the bus.  Both directions carry whole
CCSDS space packets in the bus format (``onboard.bus.packet``), so any board, emulated or real,
implements the same methods and nobody else changes.

``open_flight_computer("NAME[:ARGUMENT]", ...)`` opens the link installed under NAME in the entry
point group ``lunarelay.flight_computers`` (``onboard.plugins``): ``emulated`` is the emulated
board of ``hil.devices.flight_computer`` in the same process, ``serial`` a board on any pyserial
URL (``onboard.links.serial``).  It is the one place where the kind of board is chosen.  A link
whose state changes (a port that vanishes and comes back) reports it through ``on_event(kind,
text)``, and every link keeps counters the uplink puts in its housekeeping.  A link may offer
``fileno()``, the descriptor that turns readable when answers wait (``readable_fd``): the uplink
then waits on it and forwards an answer the moment it is there.

``LinkOutages`` cuts a link for windows of emulated time, as a pulled cable does on the bench:
packets in either direction are lost while it is cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from onboard import plugins
from onboard.bus.registry import Registry
from onboard.commands import CommandDictionary


class FlightComputerLink(Protocol):
    """Packets to and from the flight computer."""

    def send(self, packet: bytes) -> None:
        """Deliver one telecommand packet."""

    def receive(self) -> list[bytes]:
        """Packets the flight computer sent since the last call (never blocks)."""

    def close(self) -> None:
        """Release the link."""

    def counters(self) -> dict[str, int]:
        """The link's counters (names are the link's own; the uplink reads the ones it knows)."""


EventSink = Callable[[str, str], None]   # (kind: "up" | "down", text)


def readable_fd(link: FlightComputerLink) -> int | None:
    """The file descriptor that becomes readable when ``link`` has something to ``receive``
    (a link's optional ``fileno()``: a serial port while it is open), else None: the link is
    polled."""
    fileno = getattr(link, "fileno", None)
    return fileno() if fileno is not None else None


def open_flight_computer(spec: str, *, registry: Registry, dictionary: CommandDictionary,
                         state_dir: str | None, on_event: EventSink | None = None,
                         clock: Callable[[], float] | None = None) -> FlightComputerLink:
    """The link ``spec`` names: ``NAME`` or ``NAME:ARGUMENT`` (e.g. ``emulated``,
    ``serial:/dev/ttyUSB0,baud=921600``).  The factory installed as NAME gets ARGUMENT ("" when
    absent), the registry and dictionary, the directory of durable state (None: in memory), the
    sink of the link's state changes and the spacecraft's clock (TAI seconds since 1958), which a
    board that takes its time from the spacecraft stamps its packets with."""
    name, _, argument = spec.partition(":")
    factory = plugins.load(plugins.FLIGHT_COMPUTERS, name, "flight computer")
    return factory(argument, registry=registry, dictionary=dictionary, state_dir=state_dir,
                   on_event=on_event or (lambda kind, text: None), clock=clock)


class LinkOutages:
    """``link`` cut during the windows ``(start, end)`` of ``now()`` (emulated TAI seconds):
    what is sent either way while it is cut is lost, and counted."""

    def __init__(self, link: FlightComputerLink, windows: Sequence[tuple[float, float]],
                 now: Callable[[], float]):
        self.link, self.windows, self.now = link, sorted(windows), now
        self.lost_to = self.lost_from = 0

    @property
    def cut(self) -> bool:
        t = self.now()
        return any(start <= t < end for start, end in self.windows)

    def send(self, packet: bytes) -> None:
        if self.cut:
            self.lost_to += 1
            return
        self.link.send(packet)

    def receive(self) -> list[bytes]:
        packets = self.link.receive()
        if packets and self.cut:
            self.lost_from += len(packets)
            return []
        return packets

    def close(self) -> None:
        self.link.close()

    def fileno(self) -> int | None:
        return readable_fd(self.link)

    def counters(self) -> dict[str, int]:
        return {**self.link.counters(), "outage_lost_to": self.lost_to, "outage_lost_from": self.lost_from}
