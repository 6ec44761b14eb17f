"""A fault-injecting proxy in the middle of a serial link, between the host's link and the board.

The proxy opens the board's end like any host would, by pyserial URL (``upstream``: a device
path, the slave of the board's pseudo-terminal, ``socket://`` to a board that listens on TCP),
and offers the host a port of its own (``downstream``):

* ``pty`` or ``pty:PATH``: a new pseudo-terminal (``os.openpty``) in raw mode, reached through a
  symbolic link (``PATH``, or one in a private directory) that stays the same across
  disconnects, as a udev name does across USB re-enumerations;
* ``tcp://HOST:PORT``: a TCP listener the host opens as ``socket://HOST:PORT`` (port 0: any).

Bytes are passed on unchanged unless a fault of the plan (``hil.faults.schedule``) is active.
Frame boundaries are found with the C core's resynchronising deframer (``onboard.core.serial``),
so drops and duplicates are whole frames; the octets between frames (noise, console text, cut
frames) pass through as they came.  The faults, per direction (``to_board``, ``to_host``):

``ber``            each bit of what goes out flipped with the given probability;
``drop``           a whole frame lost; ``duplicate``: a whole frame sent twice in a row;
``garbage``        random octets put between two frames; ``console``: a line of text, as a boot
                   log or a debug print interleaved with the framed traffic;
``disconnect``     the host's port goes away (the pty's master and the symbolic link, or the TCP
                   connection and its listener) and comes back ``down_s`` later; what the board
                   sends meanwhile is lost, as on a pulled cable;
``baud_mismatch``  the receiving UART's bit clock runs ``ratio`` times the sender's.  Modelled
                   bit by bit (:func:`uart_receive`): 8N1 characters, the receiver starting on
                   each falling edge of the idle-high line and sampling each bit in the middle
                   of its own bit period; a stop bit sampled low is a framing error, which a
                   Linux tty in raw mode delivers as a NUL octet (termios: neither IGNPAR nor
                   PARMRK).  A read's octets count as sent back to back and reads as separated
                   by idle line, so the receiver regains character sync between bursts.  Within
                   about 4 % of the sender's rate the octets survive; beyond, they are mangled.

Everything random comes from the plan's seed.  ``counters()`` tells what was injected.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import select
import socket
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Callable

import numpy as np
import serial

from hil.faults.schedule import SERIAL_KINDS, FaultSchedule, Occurrence
from onboard.core.serial import Deframer, Framing, frame
from onboard.errors import UsageError

READ_CHUNK = 1 << 16
DIRECTIONS = ("to_board", "to_host")


# ---- a UART at the wrong rate --------------------------------------------------------------------
def uart_receive(data: bytes, ratio: float) -> tuple[bytes, int]:
    """What a UART whose bit clock runs ``ratio`` times the sender's reads from ``data`` sent back
    to back as 8N1 characters, and how many framing errors it saw (each read as NUL)."""
    if not data:
        return b"", 0
    chars = np.frombuffer(data, dtype=np.uint8)
    frames = np.ones((len(chars), 10), dtype=np.uint8)      # start 0, 8 data bits LSB first, stop 1
    frames[:, 0] = 0
    frames[:, 1:9] = np.unpackbits(chars[:, None], axis=1, bitorder="little")
    line = frames.reshape(-1)
    n = len(line)
    before = np.concatenate(([1], line[:-1]))                # the line idles high before the burst
    falling = np.flatnonzero((line == 0) & (before == 1)).tolist()
    level = line.tolist()
    rx_bit = 1.0 / ratio                                     # the receiver's bit in sender bit periods
    out = bytearray()
    errors = 0
    t = 0.0
    while True:
        k = bisect.bisect_left(falling, t)
        if k == len(falling):
            break
        edge = falling[k]
        samples = [level[i] if i < n else 1 for i in (int(edge + (j + 0.5) * rx_bit) for j in range(10))]
        if samples[0]:
            t = edge + 1e-9                  # a glitch, not a start bit: wait for another edge
            continue
        value = sum(bit << j for j, bit in enumerate(samples[1:9]))
        if samples[9]:
            out.append(value)
        else:
            out.append(0)
            errors += 1
        t = edge + 9.5 * rx_bit                              # after the stop bit's sample
    return bytes(out), errors


# ---- frame boundaries in the raw stream ----------------------------------------------------------
class FrameCutter:
    """Cuts a byte stream into whole frames and the octets between them, both exactly as they
    came: the C deframer says which packets the stream holds, and each packet's frame is found
    in the octets the deframer has decided on."""

    def __init__(self, framing: Framing = Framing.ASM, crc: bool = True, max_packet: int = 4096):
        self.framing, self.crc = Framing(framing), crc
        self.deframer = Deframer(framing, crc, max_packet)
        self.buf = bytearray()
        self.unlocated = 0              # packets whose frame is not in the canonical encoding

    def push(self, chunk: bytes) -> list[tuple[bool, bytes]]:
        """(is_frame, octets) pieces of the stream decided so far, in order."""
        self.buf += chunk
        pieces: list[tuple[bool, bytes]] = []
        pos = 0
        for packet in self.deframer.push(chunk):
            whole = frame(packet, self.framing, self.crc)
            at = self.buf.find(whole, pos)
            if at < 0:
                self.unlocated += 1     # passed on as octets between frames, unchanged
                continue
            if at > pos:
                pieces.append((False, bytes(self.buf[pos:at])))
            pieces.append((True, whole))
            pos = at + len(whole)
        decided = len(self.buf) - self.deframer.held
        if decided > pos:
            pieces.append((False, bytes(self.buf[pos:decided])))
            pos = decided
        del self.buf[:pos]
        return pieces


# ---- the host's end ------------------------------------------------------------------------------
class PtyEnd:
    """A pseudo-terminal the host opens by a stable path; it can vanish and come back."""

    def __init__(self, path: str | None = None):
        self._dir = None
        if path is None:
            self._dir = tempfile.mkdtemp(prefix="lunarelay-fault-")
            path = os.path.join(self._dir, "tty")
        self.path = path
        self.master = self.slave = -1
        self.up = False

    @property
    def url(self) -> str:
        return self.path

    def open(self) -> None:
        self.master, self.slave = os.openpty()
        # raw from the start: nothing echoed or translated before the host's pyserial sets it
        tty.setraw(self.slave, termios.TCSANOW)
        os.set_blocking(self.master, False)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.symlink(os.ttyname(self.slave), self.path)
        self.up = True

    def fileno(self) -> int | None:
        return self.master if self.up else None

    def wants_accept(self) -> bool:
        return False

    def read(self) -> bytes:
        try:
            return os.read(self.master, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:                 # EIO: no one holds the slave; the proxy does, so rare
            return b""

    def write(self, data: bytes) -> int:
        """Octets written; the rest is lost (the host is not reading: a full tty buffer)."""
        try:
            return os.write(self.master, data)
        except (BlockingIOError, OSError):
            return 0

    def close(self) -> None:
        if not self.up:
            return
        self.up = False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def remove(self) -> None:
        self.close()
        if self._dir:
            with contextlib.suppress(OSError):
                os.rmdir(self._dir)


class TcpEnd:
    """A TCP port the host opens as ``socket://HOST:PORT``; one connection at a time."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.up = False

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(1)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self.listener, self.up = listener, True

    def fileno(self) -> int | None:
        if not self.up:
            return None
        return self.conn.fileno() if self.conn else self.listener.fileno()

    def wants_accept(self) -> bool:
        return self.up and self.conn is None

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, OSError):
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn

    def read(self) -> bytes:
        if self.conn is None:
            return b""
        try:
            data = self.conn.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            data = b""
        if not data:                    # the host closed its end: wait for it to come again
            self.conn.close()
            self.conn = None
        return data

    def write(self, data: bytes) -> int:
        if self.conn is None:
            return 0
        try:
            return self.conn.send(data)
        except (BlockingIOError, OSError):
            return 0

    def close(self) -> None:
        if not self.up:
            return
        self.up = False
        for s in (self.conn, self.listener):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()
        self.conn = self.listener = None

    def remove(self) -> None:
        self.close()


def host_end(spec: str) -> PtyEnd | TcpEnd:
    """The host's end a ``downstream`` spec names: ``pty``, ``pty:PATH`` or ``tcp://HOST:PORT``."""
    if spec == "pty":
        return PtyEnd()
    if spec.startswith("pty:"):
        return PtyEnd(spec[4:])
    if spec.startswith("tcp://"):
        host, _, port = spec[6:].rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"serial fault proxy: {spec!r} is not tcp://HOST:PORT")
        return TcpEnd(host, int(port))
    raise UsageError(f"serial fault proxy: the host's end {spec!r} is not pty, pty:PATH or tcp://HOST:PORT")


# ---- one direction -----------------------------------------------------------------------------
class Direction:
    """The faults of one direction of the link, applied to what it carries."""

    def __init__(self, name: str, schedule: FaultSchedule, framing: Framing, crc: bool, max_packet: int):
        self.name, self.schedule = name, schedule
        self.cutter = FrameCutter(framing, crc, max_packet)
        self.rng = schedule.rng(f"serial/{name}")
        self.counts = dict.fromkeys(("octets_in", "octets_out", "frames", "frames_dropped",
                                     "frames_duplicated", "bits_flipped", "garbage_octets", "console_lines",
                                     "uart_framing_errors", "lost_while_down"), 0)

    def _probability(self, kind: str, t_s: float) -> float:
        keep = 1.0
        for f in self.schedule.active(kind, t_s, self.name):
            keep *= 1.0 - f.probability
        return 1.0 - keep

    def carry(self, chunk: bytes, t_s: float) -> bytes:
        """What goes out for ``chunk`` read at ``t_s``."""
        self.counts["octets_in"] += len(chunk)
        p_drop, p_dup = self._probability("drop", t_s), self._probability("duplicate", t_s)
        out = bytearray()
        for is_frame, octets in self.cutter.push(chunk):
            if not is_frame:
                out += octets
                continue
            self.counts["frames"] += 1
            if p_drop and self.rng.random() < p_drop:
                self.counts["frames_dropped"] += 1
                continue
            out += octets
            if p_dup and self.rng.random() < p_dup:
                self.counts["frames_duplicated"] += 1
                out += octets
        return self.line(bytes(out), t_s)

    def inject(self, occurrence: Occurrence, t_s: float) -> bytes:
        """Garbage or console text put between frames (what the cutter passed on ends a frame)."""
        fault = occurrence.fault
        if fault.kind == "garbage":
            self.counts["garbage_octets"] += fault.octets
            octets = self.rng.integers(0, 256, fault.octets, dtype=np.uint8).tobytes()
        else:
            self.counts["console_lines"] += 1
            octets = fault.text.encode()
        return self.line(octets, t_s)

    def line(self, data: bytes, t_s: float) -> bytes:
        """Bit errors, then the receiving UART, on octets about to go out."""
        if not data:
            return data
        ber = 1.0 - math.prod(1.0 - f.ber for f in self.schedule.active("ber", t_s, self.name))
        if ber:
            n_bits = 8 * len(data)
            flips = int(self.rng.binomial(n_bits, ber))
            if flips:
                at = self.rng.choice(n_bits, flips, replace=False)
                buf = np.frombuffer(data, dtype=np.uint8).copy()
                np.bitwise_xor.at(buf, at // 8, (1 << (at % 8)).astype(np.uint8))
                data = buf.tobytes()
                self.counts["bits_flipped"] += flips
        for f in self.schedule.active("baud_mismatch", t_s, self.name):
            data, errors = uart_receive(data, f.ratio)
            self.counts["uart_framing_errors"] += errors
        self.counts["octets_out"] += len(data)
        return data


# ---- the proxy ---------------------------------------------------------------------------------
class SerialFaultProxy:
    """Relays a serial link between the board (``upstream``, a pyserial URL) and the host's port
    (``downstream``: ``pty``, ``pty:PATH`` or ``tcp://HOST:PORT``), injecting the plan's serial
    faults (those for ``link``, and those for every link).  ``url`` is what the host opens."""

    def __init__(self, upstream: str, downstream: str, schedule: FaultSchedule, *,
                 framing: Framing = Framing.ASM, crc: bool = True, max_packet: int = 4096,
                 baudrate: int = 115200, clock: Callable[[], float] = time.monotonic,
                 link: str | None = None):
        self.upstream_url, self.baudrate = upstream, baudrate
        self.schedule = schedule.select(SERIAL_KINDS, link)
        self.clock = clock
        self.host = host_end(downstream)
        self.directions = {name: Direction(name, self.schedule, framing, crc, max_packet)
                           for name in DIRECTIONS}
        self.board: serial.SerialBase | None = None
        self.counts = dict.fromkeys(("disconnects", "reconnects", "board_opens", "board_losses"), 0)
        self.host_down: list[tuple[float, float]] = []     # (start, end) of each disconnect, proxy seconds
        self._pending = list(self.schedule.occurrences())
        self._reconnect_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._next_board_try = 0.0
        self.error: str | None = None

    @property
    def url(self) -> str:
        """The pyserial URL the host's link opens."""
        return self.host.url

    def start(self) -> SerialFaultProxy:
        self.host.open()
        self._open_board()
        self._t0 = self.clock()
        self._thread = threading.Thread(target=self._run, name="serial-fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.host.remove()
        if self.board is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self.board.close()
            self.board = None

    @property
    def started_at(self) -> float:
        """When ``start`` ran, on the proxy's clock."""
        return self._t0

    def elapsed(self) -> float:
        """Seconds since ``start``: the clock the plan's times are on."""
        return self.clock() - self._t0

    def counters(self) -> dict[str, int]:
        """What the proxy injected and carried: per direction (``to_board.frames_dropped``) and
        for the link (``disconnects``, ``reconnects``)."""
        out = dict(self.counts)
        for name, d in self.directions.items():
            out.update({f"{name}.{k}": v for k, v in d.counts.items()})
            out[f"{name}.unlocated_frames"] = d.cutter.unlocated
        return out

    # ---- the relay -------------------------------------------------------------------------------
    def _open_board(self) -> None:
        now = self.clock()
        if now < self._next_board_try:
            return
        self._next_board_try = now + 0.1
        try:
            port = serial.serial_for_url(self.upstream_url, baudrate=self.baudrate, timeout=0,
                                         write_timeout=1.0, do_not_open=True)
            port.open()
        except (serial.SerialException, OSError, ValueError):
            return
        self.board = port
        self.counts["board_opens"] += 1

    def _lose_board(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self.board.close()
        self.board = None
        self.counts["board_losses"] += 1

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._step()
        except Exception as exc:        # noqa: BLE001 - kept for the owner, who reads .error
            self.error = f"{type(exc).__name__}: {exc}"
            raise

    def _due(self, t: float) -> None:
        if self._reconnect_at is not None and t >= self._reconnect_at:
            self.host.open()
            self.host_down[-1] = (self.host_down[-1][0], t)
            self._reconnect_at = None
            self.counts["reconnects"] += 1
        while self._pending and self._pending[0].at_s <= t:
            occ = self._pending.pop(0)
            if occ.kind == "disconnect":
                if self._reconnect_at is None:
                    self.host.close()
                    self.host_down.append((t, math.inf))
                    self.counts["disconnects"] += 1
                self._reconnect_at = max(self._reconnect_at or 0.0, occ.until_s)
                continue
            for name, d in self.directions.items():
                if occ.fault.hits(name):
                    data = d.inject(occ, t)
                    if name == "to_host":
                        self._to_host(data)
                    else:
                        self._to_board(data)

    def _to_host(self, data: bytes) -> None:
        if data:
            sent = self.host.write(data) if self.host.up else 0
            self.directions["to_host"].counts["lost_while_down"] += len(data) - sent

    def _to_board(self, data: bytes) -> None:
        if data and self.board is not None:
            try:
                self.board.write(data)
            except (serial.SerialException, OSError):
                self._lose_board()

    def _step(self) -> None:
        t = self.elapsed()
        self._due(t)
        if self.board is None:
            self._open_board()
        fds = []
        host_fd = self.host.fileno()
        if host_fd is not None:
            fds.append(host_fd)
        board_fd = None
        if self.board is not None:
            board_fd = self.board.fileno()
            fds.append(board_fd)
        wait = 0.005
        if self._pending:
            wait = max(0.0, min(wait, self._pending[0].at_s - t))
        readable = select.select(fds, [], [], wait)[0] if fds else (time.sleep(wait) or [])
        t = self.elapsed()
        if host_fd in readable:
            if self.host.wants_accept():
                self.host.accept()
            else:
                data = self.host.read()
                if data:
                    self._to_board(self.directions["to_board"].carry(data, t))
        if board_fd is not None and board_fd in readable:
            try:
                data = self.board.read(READ_CHUNK)
            except (serial.SerialException, OSError):
                self._lose_board()
                return
            if data:
                self._to_host(self.directions["to_host"].carry(data, t))
