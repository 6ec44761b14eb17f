"""The serial link to the flight computer: space packets over any pyserial URL.

One URL names the port, as pyserial's ``serial_for_url`` reads it: a device (``/dev/ttyUSB0``),
``socket://host:port``, ``rfc2217://host:port``, ``loop://``, ``spy://...``.  Packets are framed
by the C core (``onboard.core.serial``: ASM + CRC-16 by default, or KISS or SLIP) and found again
by its resynchronising deframer, so noise, console text and cut frames cost only the frames they
hit, each kind counted.

A port that is missing when the link starts (a board that enumerates only after power-up) or
that vanishes under it (USB re-enumeration, a pulled cable, a peer that restarts) is waited
for and reopened every ``retry_s``; each change is reported through ``on_event`` (``"up"``,
``"down"`` with the reason) and counted.  Nothing here raises once the link is constructed:
the uplink module that owns it never crashes because of the cable.  Packets sent while the
port is down wait in a bounded queue (the oldest are dropped and counted beyond
``queue_depth``) and go out when it is back; the command protocol above (the ground sends a
command again when no answer comes, and the flight computer answers a repeated command from
its log) makes a dropped one cost only time.

``SerialLink`` implements :class:`onboard.links.flight_computer.FlightComputerLink`;
``open_serial`` is its factory, installed as ``serial`` in the entry point group
``lunarelay.flight_computers``, so the uplink's ``--flight-computer serial:URL[,baud=N]
[,framing=asm|kiss|slip][,crc=yes|no]`` drives a board on any port pyserial opens.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable

import serial

from onboard.core.serial import Deframer, Framing, frame
from onboard.errors import UsageError

READ_CHUNK = 1 << 16


@dataclasses.dataclass(frozen=True)
class SerialConfig:
    url: str
    baudrate: int = 115200
    framing: Framing = Framing.ASM
    crc: bool = True               # KISS and SLIP only: a CRC-16 after the packet (ASM always has it)
    max_packet: int = 4096
    retry_s: float = 0.2
    queue_depth: int = 256


class SerialLink:
    """Packets to and from a board on a serial line; reconnects by itself."""

    def __init__(self, config: SerialConfig, on_event: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.on_event = on_event or (lambda kind, text: None)
        self.clock = clock
        self.deframer = Deframer(config.framing, config.crc, config.max_packet)
        self.port: serial.SerialBase | None = None
        self.queue: collections.deque[bytes] = collections.deque()
        self.counts = dict.fromkeys(("opens", "disconnects", "packets_sent", "packets_received",
                                     "octets_sent", "queue_dropped", "write_errors"), 0)
        self.down_reason = "not opened yet"
        self._next_try = 0.0
        self._try_open()

    # ---- FlightComputerLink -----------------------------------------------------------------
    def send(self, packet: bytes) -> None:
        data = frame(packet, self.config.framing, self.config.crc)
        if self.port is None:
            self._try_open()
        if self.port is None:
            self._enqueue(data)
            return
        self._flush_queue()
        self._write(data)

    def receive(self) -> list[bytes]:
        if self.port is None:
            self._try_open()
            if self.port is None:
                return []
        self._flush_queue()
        packets: list[bytes] = []
        while self.port is not None:
            try:
                chunk = self.port.read(READ_CHUNK)        # timeout 0: what is there, never blocks
            except (serial.SerialException, OSError, ValueError) as exc:
                self._lost(f"read failed: {exc}")
                break
            if not chunk:
                break
            packets += self.deframer.push(chunk)
            if len(chunk) < READ_CHUNK:
                break
        self.counts["packets_received"] += len(packets)
        return packets

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except (serial.SerialException, OSError):
                pass
            self.port = None

    def fileno(self) -> int | None:
        """The open port's descriptor (a device or a pty; a socket:// URL's socket), else None."""
        if self.port is None:
            return None
        try:
            return self.port.fileno()
        except (AttributeError, OSError, ValueError, serial.SerialException):
            return None               # a URL handler without one (loop://): polled instead

    # ---- state ----------------------------------------------------------------------------------
    @property
    def is_up(self) -> bool:
        return self.port is not None

    def counters(self) -> dict[str, int]:
        """The link's counters and the deframer's, in one dict."""
        return {**self.counts, **self.deframer.counters, "queued": len(self.queue), "up": int(self.is_up)}

    def _try_open(self) -> None:
        now = self.clock()
        if now < self._next_try:
            return
        self._next_try = now + self.config.retry_s
        try:
            port = serial.serial_for_url(self.config.url, baudrate=self.config.baudrate, timeout=0,
                                         write_timeout=1.0, do_not_open=True)
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            reason = f"cannot open {self.config.url}: {exc}"
            if reason != self.down_reason:
                self.down_reason = reason
                self.on_event("down", reason)
            return
        self.port = port
        self.counts["opens"] += 1
        self.down_reason = ""
        self.on_event("up", f"{self.config.url} open at {self.config.baudrate} baud, "
                            f"{self.config.framing.name} framing")

    def _lost(self, reason: str) -> None:
        self.close()
        self.counts["disconnects"] += 1
        self.down_reason = reason
        self._next_try = self.clock() + self.config.retry_s
        self.on_event("down", f"{self.config.url}: {reason}; reopening every {self.config.retry_s:g} s")

    def _enqueue(self, data: bytes) -> None:
        self.queue.append(data)
        while len(self.queue) > self.config.queue_depth:
            self.queue.popleft()
            self.counts["queue_dropped"] += 1

    def _flush_queue(self) -> None:
        while self.queue and self.port is not None:
            if not self._write(self.queue[0], requeue=True):
                return
            self.queue.popleft()

    def _write(self, data: bytes, requeue: bool = False) -> bool:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError, ValueError) as exc:
            self.counts["write_errors"] += 1
            if not requeue:
                self._enqueue(data)
            self._lost(f"write failed: {exc}")
            return False
        self.counts["packets_sent"] += 1
        self.counts["octets_sent"] += len(data)
        return True


def parse_serial_spec(argument: str) -> SerialConfig:
    """``URL[,baud=N][,framing=asm|kiss|slip][,crc=yes|no]`` -> its configuration; a bad one is
    refused with one line naming the token."""
    url, *options = argument.split(",")
    if not url:
        raise UsageError("the serial flight computer needs a port: "
                         "serial:URL[,baud=N][,framing=asm|kiss|slip]")
    fields: dict = {"url": url}
    for token in options:
        key, sep, value = token.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise UsageError(f"serial link option {token!r} is not KEY=VALUE")
        if key == "baud":
            if not value.isdigit() or not 50 <= int(value) <= 20_000_000:
                raise UsageError(f"serial link baud={value!r} is not a rate from 50 to 20000000")
            fields["baudrate"] = int(value)
        elif key == "framing":
            try:
                fields["framing"] = Framing[value.upper()]
            except KeyError:
                raise UsageError(f"serial link framing={value!r} is not asm, kiss or slip") from None
        elif key == "crc":
            if value not in ("yes", "no"):
                raise UsageError(f"serial link crc={value!r} is not yes or no")
            fields["crc"] = value == "yes"
        else:
            raise UsageError(f"serial link option {key!r} is unknown (baud, framing, crc)")
    return SerialConfig(**fields)


def open_serial(argument: str, *, registry, dictionary, state_dir: str | None,
                on_event: Callable[[str, str], None] | None = None, clock=None) -> SerialLink:
    """The ``serial`` flight computer (``onboard.links.flight_computer.open_flight_computer``):
    the board keeps its own state and its own clock, so ``state_dir``, the dictionary and
    ``clock`` are not used here."""
    return SerialLink(parse_serial_spec(argument), on_event)
