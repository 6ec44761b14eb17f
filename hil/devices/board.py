"""The emulated flight-computer board as its own process, on a pseudo-terminal or a TCP port.

    python -m hil.devices.board --pty [--link PATH]     prints the pty's path, then serves it
    python -m hil.devices.board --tcp PORT              serves socket://HOST:PORT, one client at a time

It is what a real board on a serial line looks like to the uplink: space packets in the framing
of the serial link (``onboard.core.serial``, the same C code the link uses: ASM + CRC-16, KISS or
SLIP), commands of the shared dictionary executed by ``EmulatedFlightComputer`` with its durable
command log and journal (``flight_computer.sqlite`` in ``--state-dir``: a command that comes
again, even after this process was killed, is answered from the log and not run twice),
housekeeping at a fixed rate on the flight computer's APID (``BOARD_HK``), and, now and then,
console text in the stream, as a board's boot loader and printf do.  The deframer on each side
passes over that text.

``--pace-baud N`` paces what the board writes at N baud (10 bits per octet: start, 8 data,
stop), as a UART does, so figures over a pty mean what they would on the wire; ``--flood`` keeps
the line full of housekeeping frames (throughput figures, ``lunarelay bench hil``).

The pty's path changes with each start; ``--link PATH`` keeps a symlink to it, so the uplink's
``serial:PATH`` names the board across restarts (a board that re-enumerates under udev's
stable name).  The first line on stdout is the path (the pty's, or ``socket://HOST:PORT``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import struct
import sys
import time
import tty

from hil.devices.flight_computer import STATE_FILE, EmulatedFlightComputer
from onboard.bus.packet import PacketType, pack, tai_from_unix
from onboard.bus.registry import default_registry
from onboard.core.serial import Deframer, Framing, frame

# Housekeeping user data of the board, big-endian: mode u8, then u32 each
BOARD_HK = struct.Struct(">BIIIIIII")
BOARD_HK_FIELDS = ("mode", "counter", "executed", "uptime_s", "packets_in", "frames_bad", "garbage_octets",
                   "malformed")
UART_BITS_PER_OCTET = 10
UART_BUFFER = 4096         # octets a UART driver takes ahead of the wire (a tty's transmit buffer)


def decode_board_hk(data: bytes) -> dict[str, int]:
    """The board's housekeeping user data -> {field: value}."""
    if len(data) < BOARD_HK.size:
        raise ValueError(f"board housekeeping of {len(data)} octets, expected {BOARD_HK.size}")
    return dict(zip(BOARD_HK_FIELDS, BOARD_HK.unpack_from(data), strict=True))


class Board:
    """One board: bytes in, bytes out; the transport (pty or TCP) is the caller's."""

    def __init__(self, state_dir: str | None, framing: Framing = Framing.ASM, crc: bool = True,
                 hk_period_s: float = 1.0, console_period_s: float = 7.0):
        self.registry = default_registry()
        path = os.path.join(state_dir, STATE_FILE) if state_dir else None
        self.fc = EmulatedFlightComputer(self.registry, state_path=path,
                                         clock=lambda: tai_from_unix(time.time()))
        self.framing, self.crc = framing, crc
        self.deframer = Deframer(framing, crc)
        self.hk_apid = self.registry.module(EmulatedFlightComputer.NAME).apid
        self.hk_period_s, self.console_period_s = hk_period_s, console_period_s
        self.started = time.monotonic()
        self._next_hk = self.started + hk_period_s
        self._next_console = self.started + console_period_s
        self._hk_seq = 0
        self._hk_data: bytes | None = None

    def receive(self, data: bytes) -> bytes:
        """Octets from the line -> the octets the board answers with."""
        for packet in self.deframer.push(data):
            self.fc.send(packet)
        return b"".join(frame(p, self.framing, self.crc) for p in self.fc.receive())

    def due(self, now: float) -> bytes:
        """What the board sends on its own by ``now``: housekeeping, console text."""
        out = b""
        if now >= self._next_hk:
            self._next_hk = max(self._next_hk + self.hk_period_s, now)
            out += frame(self.housekeeping(), self.framing, self.crc)
        if self.console_period_s > 0 and now >= self._next_console:
            self._next_console = now + self.console_period_s
            c = self.deframer.counters
            out += (f"\r\n[{now - self.started:9.3f}] fc: mode {self.fc.mode} counter {self.fc.counter}, "
                    f"{c['packets']} packets in\r\n").encode()
        return out

    def housekeeping(self, snapshot: bool = False) -> bytes:
        """One housekeeping packet; ``snapshot``: the last one's data again with the next
        sequence count and time (flooding the line without a query per packet)."""
        if snapshot and self._hk_data is not None:
            return self._hk_packet(self._hk_data)
        c = self.deframer.counters
        m = 0xFFFFFFFF
        bad = c["crc_errors"] + c["length_errors"] + c["truncated"] + c["escape_errors"]
        executed = self.fc.db.execute("SELECT count(*) FROM fc_journal").fetchone()[0]
        data = BOARD_HK.pack(self.fc.mode & 0xFF, self.fc.counter & m, executed & m,
                             int(time.monotonic() - self.started) & m, c["packets"] & m, bad & m,
                             c["garbage_octets"] & m, self.fc.malformed & m)
        self._hk_data = data
        return self._hk_packet(data)

    def _hk_packet(self, data: bytes) -> bytes:
        packet = pack(self.hk_apid, data, self._hk_seq, tai_from_unix(time.time()), PacketType.TM)
        self._hk_seq = (self._hk_seq + 1) & 0x3FFF
        return packet

    def next_deadline(self) -> float:
        return min(self._next_hk, self._next_console if self.console_period_s > 0 else self._next_hk)

    def close(self) -> None:
        self.fc.close()


class PacedWriter:
    """Writes to a file descriptor no faster than ``baud`` (0: as fast as it takes them), as a
    UART driver does: the process may run ahead of the wire by the driver's buffer
    (``UART_BUFFER`` octets), and the wire drains it at the line rate whether or not the process
    is awake; a line with nothing to send is idle."""

    def __init__(self, fd: int, baud: int = 0):
        self.fd, self.baud = fd, baud
        self.pending = bytearray()
        self.line_free_at = time.monotonic()      # when what was written so far has left the wire
        self.ahead_s = UART_BUFFER * UART_BITS_PER_OCTET / baud if baud else 0.0

    def add(self, data: bytes) -> None:
        self.pending += data

    def flush(self) -> float | None:
        """Write what the line rate allows now; the time at which more may go (None: all gone)."""
        while self.pending:
            now = time.monotonic()
            if self.baud:
                room_s = self.ahead_s - max(0.0, self.line_free_at - now)
                chunk = int(room_s * self.baud / UART_BITS_PER_OCTET)
                if chunk <= 0:
                    return now + min(0.001, self.ahead_s / 4)
            else:
                chunk = len(self.pending)
            try:
                n = os.write(self.fd, self.pending[:chunk])
            except BlockingIOError:
                return time.monotonic() + 0.001
            del self.pending[:n]
            if self.baud:
                self.line_free_at = max(self.line_free_at, now) + n * UART_BITS_PER_OCTET / self.baud
        return None


def serve_fd(board: Board, fd: int, stop, pace_baud: int = 0, flood: bool = False) -> str:
    """Serve the line on ``fd`` until it closes or ``stop()``; the reason it ended."""
    os.set_blocking(fd, False)
    writer = PacedWriter(fd, pace_baud)
    while not stop():
        now = time.monotonic()
        writer.add(board.due(now))
        if flood:
            snapshot = False                 # fresh counters once a round, then copies of them
            while len(writer.pending) < UART_BUFFER:
                writer.add(frame(board.housekeeping(snapshot), board.framing, board.crc))
                snapshot = True
        again = writer.flush()
        wait = max(0.0, min(board.next_deadline(), again or float("inf")) - time.monotonic())
        readable, _, _ = select.select([fd], [fd] if writer.pending and again is None else [], [],
                                       min(wait, 0.1))
        if readable:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError as exc:              # EIO: a pty whose other end closed
                return f"read failed: {exc}"
            if not data:
                return "closed by the peer"
            writer.add(board.receive(data))
    return "stopped"


def serve_pty(board: Board, link: str | None, stop, pace_baud: int = 0, announce=print,
              flood: bool = False) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)                  # no line discipline: octets pass as they are
    path = os.ttyname(slave)
    if link:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(link)
        os.symlink(path, link)
    announce(path)
    # the board keeps its own handle on the slave side, so the master never reads EIO while no
    # client holds the port: a port with nobody on it is a quiet line, not a dead board
    try:
        serve_fd(board, master, stop, pace_baud, flood)
    finally:
        os.close(master)
        os.close(slave)
        if link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)


def serve_tcp(board: Board, host: str, port: int, stop, pace_baud: int = 0, announce=print,
              flood: bool = False) -> None:
    with socket.create_server((host, port), reuse_port=False) as server:
        announce(f"socket://{host}:{server.getsockname()[1]}")
        server.settimeout(0.2)
        while not stop():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                serve_fd(board, conn.fileno(), stop, pace_baud, flood)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hil.devices.board", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve a new pseudo-terminal; print its path")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve socket://HOST:PORT (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address --tcp listens on (default 127.0.0.1)")
    parser.add_argument("--link", help="keep a symlink to the pty here")
    parser.add_argument("--state-dir", help="directory of flight_computer.sqlite (default: in memory)")
    parser.add_argument("--framing", choices=[f.name.lower() for f in Framing], default="asm")
    parser.add_argument("--no-crc", action="store_true", help="KISS and SLIP frames without the CRC-16")
    parser.add_argument("--hk-period", type=float, default=1.0, metavar="S", help="housekeeping period (s)")
    parser.add_argument("--console-period", type=float, default=7.0, metavar="S",
                        help="seconds between console lines (0: none)")
    parser.add_argument("--pace-baud", type=int, default=0, metavar="N",
                        help="write no faster than N baud (0: unpaced)")
    parser.add_argument("--flood", action="store_true", help="keep the line full of housekeeping frames")
    args = parser.parse_args(argv)
    if args.hk_period <= 0 or args.console_period < 0 or args.pace_baud < 0:
        parser.error("--hk-period must be > 0, --console-period and --pace-baud >= 0")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))

    def announce(text: str) -> None:
        print(text, flush=True)

    board = Board(args.state_dir, Framing[args.framing.upper()], not args.no_crc, args.hk_period,
                  args.console_period)
    try:
        if args.pty:
            serve_pty(board, args.link, lambda: bool(stopping), args.pace_baud, announce, args.flood)
        else:
            serve_tcp(board, args.host, args.tcp, lambda: bool(stopping), args.pace_baud, announce,
                      args.flood)
    finally:
        board.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
