"""Taps: the bench's hands in the middle of each link.  They pass every octet on unchanged,
record it in the run's capture (``hil.capture``, pcapng) and keep the last frames and the
counters of each link for a failing test's report.  A fault proxy (``hil.faults``), when the
bench file schedules faults on a link, is a hop of its own beside the tap (``hil.bench.runner``).

``SerialTap``   the flight computer's serial line: the board's port (any pyserial URL: the
                emulated board's pty, /dev/ttyUSB0) on one side, a pty of its own that the uplink
                opens on the other.  It mirrors the board's port: while that port is away, its
                own pty is gone too, so the uplink sees the cable pulled as it would without the
                tap.  Each direction is deframed by the C core's deframer and every frame is
                recorded whole (``LINKTYPE_SERIAL``); garbage and console text are counted.
``ZmqForward``  a ZeroMQ PULL -> PUSH hop (the ground's CLTUs to the uplink), recorded as CLTUs.
``ZmqRecorder`` a SUB on a PUB (the downlink's CADU blocks), recorded CADU by CADU.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
import tty
from collections.abc import Callable

import serial
import zmq

from hil.capture import LINKTYPE_CADU, LINKTYPE_CLTU, LINKTYPE_SERIAL, PcapngWriter, format_description
from onboard.core.serial import Deframer, Framing, frame

LAST_FRAMES = 16         # frames kept per link and direction for a failure's report


class LinkCapture:
    """One pcapng file that many taps write to, from their threads."""

    def __init__(self, path: str):
        self.path = path
        self.writer = PcapngWriter(open(path, "wb"))
        self.lock = threading.Lock()

    def interface(self, linktype: int, name: str, description: str) -> int:
        with self.lock:
            return self.writer.add_interface(linktype, name, description)

    def write(self, interface: int, data: bytes) -> None:
        with self.lock:
            if not self.writer.f.closed:
                self.writer.write(interface, time.time_ns(), data)

    def close(self) -> None:
        with self.lock:
            self.writer.close()


class LinkLog:
    """What a tap saw on one link: the last frames each way and its counters."""

    def __init__(self, name: str):
        self.name = name
        self.last: dict[str, collections.deque] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def saw(self, direction: str, data: bytes) -> None:
        with self.lock:
            self.last.setdefault(direction, collections.deque(maxlen=LAST_FRAMES)).append(
                (time.time(), bytes(data)))
            self.counts[f"frames_{direction}"] += 1
            self.counts[f"octets_{direction}"] += len(data)

    def report(self) -> str:
        """The counters and the last frames, as lines for a test report."""
        with self.lock:
            lines = [f"{self.name}: " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))]
            for direction, frames in self.last.items():
                lines.append(f"  last {len(frames)} frames {direction}:")
                for t, data in frames:
                    stamp = time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"
                    lines.append(f"    {stamp} {len(data):5d} octets  {data[:24].hex(' ')}"
                                 + (" ..." if len(data) > 24 else ""))
            return "\n".join(lines)


class SerialTap(threading.Thread):
    """Board port <-> a pty of the tap's own, linked at ``link_path``; see the module doc."""

    def __init__(self, board_url: str, link_path: str, baudrate: int, framing: Framing, crc: bool,
                 capture: LinkCapture | None, log: LinkLog, retry_s: float = 0.1):
        super().__init__(name="serial-tap", daemon=True)
        self.board_url, self.link_path, self.baudrate = board_url, link_path, baudrate
        self.framing, self.crc, self.retry_s = framing, crc, retry_s
        self.capture, self.log = capture, log
        self.deframers = {d: Deframer(framing, crc) for d in ("to_board", "from_board")}
        self.interfaces = {}
        if capture is not None:
            for d in self.deframers:
                self.interfaces[d] = capture.interface(
                    LINKTYPE_SERIAL, f"flight_computer {d.replace('_', ' ')}",
                    format_description("serial", framing=framing.name.lower(), crc=int(crc), direction=d))
        self.stopping = threading.Event()
        self.port: serial.SerialBase | None = None
        self.master = self.slave = -1
        self.opens = 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                if self.port is None and not self._open_board():
                    self.stopping.wait(self.retry_s)
                    continue
                if not self._pump():
                    self._board_lost()
        finally:
            self._board_lost()

    def stop(self) -> None:
        self.stopping.set()
        self.join(5.0)

    def _open_board(self) -> bool:
        try:
            port = serial.serial_for_url(self.board_url, baudrate=self.baudrate, timeout=0, do_not_open=True)
            port.open()
        except (serial.SerialException, OSError, ValueError):
            return False
        self.port = port
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.link_path)
        os.symlink(os.ttyname(self.slave), self.link_path)
        self.opens += 1
        self.log.counts["board_opens"] += 1
        return True

    def _board_lost(self) -> None:
        if self.port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self.port.close()
            self.port = None
            self.log.counts["board_lost"] += 1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.link_path)
        for fd in (self.master, self.slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = -1

    def _pump(self) -> bool:
        """Move what is waiting each way; False when the board's port is gone."""
        import select

        moved = False
        try:
            data = self.port.read(1 << 16)
        except (serial.SerialException, OSError, ValueError):
            return False
        if data:
            moved = True
            self._pass("from_board", data)
        try:
            data = os.read(self.master, 1 << 16)
        except BlockingIOError:
            data = b""
        except OSError:
            data = b""            # EIO: the uplink has the port closed for now; the board stays
        if data:
            moved = True
            self._pass("to_board", data)
        if not moved:
            fd = self.port.fileno() if hasattr(self.port, "fileno") else None
            fds = [self.master] + ([fd] if fd is not None else [])
            select.select(fds, [], [], 0.005 if fd is not None else 0.001)
        return True

    def _pass(self, direction: str, data: bytes) -> None:
        for packet in self.deframers[direction].push(data):
            wire = frame(packet, self.framing, self.crc)
            self.log.saw(direction, wire)
            if self.capture is not None:
                self.capture.write(self.interfaces[direction], wire)
        if direction == "from_board":
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self.master, view)
                except BlockingIOError:
                    time.sleep(0.0005)
                    continue
                view = view[n:]
        else:
            try:
                self.port.write(data)
            except (serial.SerialException, OSError):
                self.log.counts["board_write_errors"] += 1

    def counters(self) -> dict[str, dict[str, int]]:
        return {d: dict(x.counters) for d, x in self.deframers.items()}


class CltuRecord:
    """The uplink's CLTUs into the capture and the link's log (called with each CLTU)."""

    def __init__(self, capture: LinkCapture | None, log: LinkLog, description: str = ""):
        self.capture, self.log = capture, log
        self.interface = None if capture is None else capture.interface(
            LINKTYPE_CLTU, "uplink", description or format_description("cltu"))

    def __call__(self, cltu: bytes) -> None:
        self.log.saw("to_spacecraft", cltu)
        if self.capture is not None:
            self.capture.write(self.interface, cltu)


class ZmqForward(threading.Thread):
    """PULL bound at ``listen`` -> PUSH connected to ``onward``; each message given to ``record``
    (a ``CltuRecord``: the ground sends one CLTU per message), when there is one."""

    def __init__(self, listen: str, onward: str, record: Callable[[bytes], None] | None = None):
        super().__init__(name="cltu-tap", daemon=True)
        self.context = zmq.Context.instance()
        self.pull = self.context.socket(zmq.PULL)
        self.pull.bind(listen)
        self.push = self.context.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.connect(onward)
        self.record = record
        self.stopping = threading.Event()

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.pull, zmq.POLLIN)
        try:
            while not self.stopping.is_set():
                if not poller.poll(50):
                    continue
                data = self.pull.recv()
                if self.record is not None:
                    self.record(data)
                self.push.send(data)
        finally:
            self.pull.close(0)
            self.push.close(0)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5.0)


class ZmqRecorder(threading.Thread):
    """SUB connected to the downlink's PUB at ``url``: its CADU blocks cut into CADUs of
    ``cadu_length`` octets (0: each message as one record) and recorded."""

    def __init__(self, url: str, cadu_length: int, capture: LinkCapture, log: LinkLog, description: str):
        super().__init__(name="cadu-tap", daemon=True)
        self.sub = zmq.Context.instance().socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(url)
        self.cadu_length, self.capture, self.log = cadu_length, capture, log
        self.interface = capture.interface(LINKTYPE_CADU, "downlink", description)
        self.stopping = threading.Event()

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sub, zmq.POLLIN)
        try:
            while not self.stopping.is_set():
                if not poller.poll(50):
                    continue
                data = self.sub.recv()
                step = self.cadu_length or len(data)
                for at in range(0, len(data) - step + 1, step):
                    unit = data[at:at + step]
                    self.log.saw("from_spacecraft", unit)
                    self.capture.write(self.interface, unit)
        finally:
            self.sub.close(0)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5.0)
