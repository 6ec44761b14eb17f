"""A bench brought up for tests: the flight computer of the bench file (the emulated board as
its own supervised process, a real board on its port, or a recording played back), the serial
tap in the middle of its line (and the line's fault proxy when the bench file schedules faults
on it), and a client that commands it and waits on decoded packets.  ``hil.bench.plugin``
builds its fixtures on this.

    with BenchSession(load_bench("emulated"), workdir) as s:
        s.flight_computer.command("SET_MODE", mode=1)      # the answer's text; exactly once
        s.expect_packet(apid=0x015, where=lambda p: p.data[0] == 1)

Record and replay: the session's capture (``serial.pcapng`` in its directory: every frame each
way with its time) is what ``--bench-record`` keeps; ``ReplayBoard`` serves such a capture on a
pty as the board did: after the k-th frame to the board arrives, it sends what the board sent
after the k-th frame of the recording, at the recorded delays, so a test that failed against a
board runs again on a laptop with the board's very answers.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from hil.bench.file import Bench
from hil.bench.runner import Supervised, board_command, open_fault_proxy
from hil.bench.taps import LinkCapture, LinkLog, SerialTap
from hil.capture import read_capture
from onboard.bus.packet import BusPacket, PacketError, PacketType, pack, tai_from_unix, unpack
from onboard.bus.registry import default_registry
from onboard.commands import default_dictionary
from onboard.core.serial import Framing
from onboard.errors import LunarelayError
from onboard.events import Event
from onboard.links.serial import SerialConfig, SerialLink
from onboard.modules.base import response_to

RESEND_AFTER_S = 1.0


class BenchTimeout(LunarelayError):
    pass


class PacketHub:
    """Every packet decoded from the bench's links, in arrival order, for ``expect_packet``."""

    def __init__(self):
        self.packets: list[tuple[str, float, BusPacket]] = []    # (link, arrival time, packet)
        self.cond = threading.Condition()

    def add(self, link: str, raw: bytes) -> None:
        try:
            pkt = unpack(raw)
        except PacketError:
            return
        with self.cond:
            self.packets.append((link, time.monotonic(), pkt))
            self.cond.notify_all()

    def expect(self, apid: int | None = None, where: Callable[[BusPacket], bool] | None = None,
               timeout: float = 5.0, after: float | None = None, poll: Callable[[], None] | None = None
               ) -> BusPacket:
        """The first packet (arrived after ``after``, monotonic) of ``apid`` for which ``where``
        holds; ``BenchTimeout`` naming what did arrive when none does within ``timeout``."""
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            with self.cond:
                for _, t, pkt in self.packets[start:]:
                    if (after is None or t >= after) and (apid is None or pkt.apid == apid) \
                            and (where is None or where(pkt)):
                        return pkt
                start = len(self.packets)
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({p.apid for _, _, p in self.packets})
                    raise BenchTimeout(f"no packet{f' of APID {apid:#05x}' if apid is not None else ''} "
                                       f"matching within {timeout:g} s; {len(self.packets)} packets arrived, "
                                       f"APIDs {', '.join(f'{a:#05x}' for a in seen) or 'none'}")
                if poll is None:
                    self.cond.wait(min(left, 0.05))
            if poll is not None:
                poll()
                time.sleep(0.001)


class FlightComputerClient:
    """Commands the bench's flight computer over the serial link, as the uplink does."""

    def __init__(self, link: SerialLink, hub: PacketHub):
        self.link, self.hub = link, hub
        self.registry, self.dictionary = default_registry(), default_dictionary()
        self.ident = self.registry.module("flight_computer")
        # the same from every session, so a recorded session replays; a board's command log keys
        # on the sequence count and the packet's time, so counts that come again are new commands
        self.seq = 0
        self.lock = threading.Lock()

    def pump(self) -> None:
        with self.lock:
            for raw in self.link.receive():
                self.hub.add("flight_computer", raw)

    def packet(self, name: str, **args) -> bytes:
        """The next command packet (its own sequence count and time)."""
        self.seq = (self.seq + 1) & 0x3FFF
        return pack(self.ident.apid, self.dictionary.encode("flight_computer", name, **args), self.seq,
                    tai_from_unix(time.time()), PacketType.TC)

    def send(self, packet: bytes) -> None:
        with self.lock:
            self.link.send(packet)

    def command(self, name: str, timeout: float = 10.0, **args) -> str:
        """Send ``name`` and wait for its answer (the same packet again after ``RESEND_AFTER_S``:
        the board answers a repeat from its log); the answer's text."""
        packet = self.packet(name, **args)
        seq = unpack(packet).seq_count
        deadline = time.monotonic() + timeout
        while True:
            self.send(packet)
            try:
                answer = self.hub.expect(self.ident.event_apid, lambda p: _answers(p, seq),
                                         min(RESEND_AFTER_S, max(0.0, deadline - time.monotonic())),
                                         poll=self.pump)
                return Event.from_bytes(answer.data).text
            except BenchTimeout:
                if time.monotonic() >= deadline:
                    raise BenchTimeout(f"flight_computer.{name} (seq {seq}) not answered within "
                                       f"{timeout:g} s") from None


def _answers(pkt: BusPacket, seq: int) -> bool:
    try:
        resp = response_to(Event.from_bytes(pkt.data))
    except ValueError:
        return False
    return resp is not None and resp[1] == seq


class ReplayBoard(threading.Thread):
    """A recorded board (``serial.pcapng`` of a session) played back on a pty at ``link_path``."""

    def __init__(self, capture_path: str, link_path: str):
        super().__init__(name="replay-board", daemon=True)
        cap = read_capture(capture_path)
        self.link_path = link_path
        to_board = {i for i, itf in enumerate(cap.interfaces) if "direction=to_board" in itf.description}
        from_board = {i for i, itf in enumerate(cap.interfaces) if "direction=from_board" in itf.description}
        if not to_board or not from_board:
            raise LunarelayError(f"{capture_path}: not a recording of a serial link (no to_board and "
                                 "from_board interfaces)")
        # what the board sent after the k-th frame it got: (delay after that frame, octets)
        self.script: dict[int, list[tuple[float, bytes]]] = {}
        k, last_in = 0, None
        for r in sorted(cap.records, key=lambda r: r.timestamp_ns):
            if r.interface in to_board:
                k, last_in = k + 1, r.timestamp_ns
            elif r.interface in from_board:
                delay = 0.0 if last_in is None else (r.timestamp_ns - last_in) / 1e9
                self.script.setdefault(k, []).append((delay, bytes(r.data)))
        self.stopping = threading.Event()
        self.master = -1

    def run(self) -> None:
        import contextlib
        import select
        import tty

        from onboard.core.serial import Deframer

        master, slave = os.openpty()
        tty.setraw(slave)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.link_path)
        os.symlink(os.ttyname(slave), self.link_path)
        deframer, received = Deframer(Framing.ASM), 0
        pending = sorted((d, data) for d, data in self.script.get(0, []))
        due_from = time.monotonic()
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                while pending and due_from + pending[0][0] <= now:
                    os.write(master, pending.pop(0)[1])
                readable, _, _ = select.select([master], [], [], 0.005)
                if readable:
                    for _ in deframer.push(os.read(master, 1 << 16)):
                        received += 1
                        pending += self.script.get(received, [])
                        due_from = time.monotonic()
        finally:
            os.close(master)
            os.close(slave)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5.0)


class BenchSession:
    """The bench's flight computer up, behind a tap, with a client; see the module doc."""

    def __init__(self, bench: Bench, workdir: str, replay: str | None = None, log=lambda line: None):
        self.bench, self.workdir, self.replay, self.log = bench, workdir, replay, log
        self.hub = PacketHub()
        self.links = {"flight_computer": LinkLog("flight_computer")}
        self.board: Supervised | None = None
        self.replayer: ReplayBoard | None = None
        self.tap: SerialTap | None = None
        self.capture: LinkCapture | None = None
        self.flight_computer: FlightComputerClient | None = None
        self.link_events: list[tuple[float, str, str]] = []
        self.proxy = None            # the serial line's fault proxy, when the bench schedules faults

    def __enter__(self) -> BenchSession:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        fc = self.bench.flight_computer
        os.makedirs(self.workdir, exist_ok=True)
        board_tty = os.path.join(self.workdir, "board.tty")
        if self.replay:
            self.replayer = ReplayBoard(self.replay, board_tty)
            self.replayer.start()
            board_url = board_tty
        elif fc.emulated:
            board = board_command(self.bench, self.workdir, board_tty)
            self.board = Supervised("board", log=self.log, **board)
            self.board.launch()
            self.board.start()
            board_url = board_tty if fc.transport == "pty" else self.board.first_line
        else:
            board_url = fc.url
        faulted = os.path.join(self.workdir, "board-faults.tty")
        self.proxy = open_fault_proxy(self.bench, "flight_computer", "serial", board_url, faulted, self.log)
        board_url = faulted if self.proxy is not None else board_url
        self.capture = LinkCapture(os.path.join(self.workdir, "serial.pcapng"))
        framing = Framing[fc.framing.upper()]
        fc_tty = os.path.join(self.workdir, "fc.tty")
        self.tap = SerialTap(board_url, fc_tty, fc.baud, framing, fc.crc, self.capture,
                             self.links["flight_computer"])
        self.tap.start()
        link = SerialLink(SerialConfig(fc_tty, fc.baud, framing, fc.crc, retry_s=0.05),
                          lambda kind, text: self.link_events.append((time.monotonic(), kind, text)))
        self.flight_computer = FlightComputerClient(link, self.hub)

    def expect_packet(self, apid: int | None = None, where=None, timeout: float = 5.0,
                      after: float | None = None) -> BusPacket:
        return self.hub.expect(apid, where, timeout, after, poll=self.flight_computer.pump)

    def counters(self) -> dict[str, dict[str, int]]:
        out = {name: dict(log.counts) for name, log in self.links.items()}
        if self.flight_computer is not None:
            out["flight_computer link"] = self.flight_computer.link.counters()
        if self.tap is not None:
            for direction, c in self.tap.counters().items():
                out[f"flight_computer deframer {direction}"] = c
        if self.proxy is not None:
            out["flight_computer faults"] = self.proxy.counters()
        return out

    def report(self) -> str:
        """The last frames on each link and every counter, for a failing test."""
        lines = [log.report() for log in self.links.values()]
        for name, c in self.counters().items():
            lines.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
        return "\n".join(lines)

    def close(self) -> None:
        if self.flight_computer is not None:
            self.flight_computer.link.close()
        if self.tap is not None:
            self.tap.stop()
        if self.capture is not None:
            self.capture.close()
        if self.proxy is not None:
            self.proxy.stop()
        if self.board is not None:
            self.board.stop()
        if self.replayer is not None:
            self.replayer.stop()
