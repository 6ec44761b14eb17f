"""The bench's serial link to the flight computer, measured as the uplink runs it: the uplink's
link driver (``onboard.links.serial.SerialLink``) to the emulated board as its own process
(``python -m hil.devices.board``) over a pseudo-terminal.

    command round trip   a SET_COUNTER packet handed to the link until its answer came back
                         (framing, the pty both ways, the board's deframer, its durable command
                         log commit, the answer's framing and deframing); p50 and p99 against the
                         same commands to the emulated flight computer in the same process (the
                         board without the line)
    through the uplink   the same command from the ground to its CMD_ACCEPTED on the bus: the
                         ground station's FOP-1, SDLS and CLTU, the uplink module as its own
                         process (CLTU decoding, FARM-1, SDLS, its serial link), the board on a
                         pty, the answer published on the bus by the uplink module through the
                         bus's proxy (``_UplinkPath``); p50 and p99 against the link driver's
                         figure above, from the same run
    recovery             the board killed (a cable pulled) and started again: from its port being
                         back to the first good frame the link delivers, against the first good
                         frame after the link's first open in the same run
    throughput           the board writing housekeeping back to back, paced at 921600 baud (10
                         bits an octet, as a UART): octets of good frames the link delivered per
                         second, against the line rate itself

The serial deframer's own figures (C against a byte-at-a-time Python loop) are ``lunarelay
bench serial``.
"""

from __future__ import annotations

import os
import select
import shutil
import statistics
import subprocess
import tempfile
import time

from lunarelay_tools.bench import Measurement
from onboard.bus.packet import PacketType, pack, tai_from_unix, unpack
from onboard.bus.registry import default_registry
from onboard.commands import default_dictionary
from onboard.executive import module_command, stop_process
from onboard.links.serial import SerialConfig, SerialLink

SUITE = "hil"
DESCRIPTION = ("serial link to the emulated board over a pty: command round trip (the link driver, and "
               "through the whole uplink), recovery, throughput")
BAUD = 921600
UART_BITS_PER_OCTET = 10


def _board(state_dir: str, *extra: str) -> subprocess.Popen:
    board = module_command("hil.devices.board", "--pty", "--link", os.path.join(state_dir, "board.tty"),
                           "--state-dir", state_dir, "--console-period", "0", *extra)
    proc = subprocess.Popen(**board, stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    return proc


def _command(fc_apid: int, seq: int, value: int) -> bytes:
    return pack(fc_apid, default_dictionary().encode("flight_computer", "SET_COUNTER", value=value), seq,
                tai_from_unix(time.time()), PacketType.TC)


def _round_trips(link, n: int, answer_apid: int) -> list[float]:
    fc = default_registry().module("flight_computer")
    times = []
    for i in range(n):
        packet = _command(fc.apid, i & 0x3FFF, i)
        t0 = time.perf_counter()
        link.send(packet)
        port = getattr(link, "port", None)
        while True:
            got = [p for p in link.receive() if unpack(p).apid == answer_apid]
            if got:
                break
            if port is not None:
                select.select([port.fileno()], [], [], 0.01)   # wait for the line, do not spin
        times.append(time.perf_counter() - t0)
    return times


class _UplinkPath:
    """The whole uplink as it flies, one command at a time: the ground's station (FOP-1, SDLS,
    CLTU) -> the uplink module as its own process (CLTU decoding, FARM-1, SDLS, the bus) -> its
    serial link -> the board on a pty -> the answer published on the bus by the uplink module,
    where a subscriber takes the CMD_ACCEPTED event."""

    def __init__(self, work: str):
        import zmq

        from hil.ground.station import GroundStation
        from onboard.bus.endpoints import BusEndpoints
        from onboard.bus.packet import topic
        from onboard.bus.registry import EVENTS_TOPIC

        self.registry = default_registry()
        bus = f"ipc://{work}/bus"
        self.processes = [subprocess.Popen(**module_command("onboard.bus.proxy", "--bus", bus),
                                           stdout=subprocess.DEVNULL)]
        self.board = _board(work, "--hk-period", "3600")
        self.events = zmq.Context.instance().socket(zmq.SUB)
        self.events.setsockopt(zmq.LINGER, 0)
        self.clcw_apid = self.registry.message("UPLINK_CLCW").apid
        for t in (EVENTS_TOPIC, topic(self.clcw_apid)):
            self.events.setsockopt(zmq.SUBSCRIBE, t)
        self.events.connect(BusEndpoints.from_url(bus).subscribe)
        spec = f"serial:{os.path.join(work, 'board.tty')},baud={BAUD},framing=asm"
        self.processes.append(subprocess.Popen(
            **module_command("onboard.modules.uplink", "--bus", bus, "--state-dir", work,
                             "--cltu-url", f"ipc://{work}/cltu", f"--flight-computer={spec}"),
            stdout=subprocess.DEVNULL))
        # the ground sends as soon as it knows the FARM: a fresh one, V(R) = 0 (232.1-B-2 §6.1)
        self.station = GroundStation(f"ipc://{work}/cltu", f"ipc://{work}/no-downlink", window_k=10)
        self.station.receive_clcw(0)
        self.fc = self.registry.module("flight_computer")

    def round_trips(self, n: int, timeout_s: float = 10.0) -> list[float]:
        """Seconds from each SET_COUNTER handed to the station to its CMD_ACCEPTED on the bus."""
        from onboard.events import Event, EventId
        from onboard.modules.base import response_to

        times = []
        for i in range(n):
            t0 = time.perf_counter()
            seq = self.station.send("flight_computer", "SET_COUNTER", value=i)
            while True:
                if time.perf_counter() - t0 > timeout_s:
                    raise RuntimeError(f"no answer to SET_COUNTER seq {seq} on the bus in {timeout_s:g} s")
                if not self.events.poll(int(timeout_s * 1000)):
                    continue
                pkt = unpack(self.events.recv())
                if pkt.apid == self.clcw_apid:
                    self.station.receive_clcw(int.from_bytes(pkt.data[:4], "big"))
                    self.station.poll(0.0)          # FOP-1 sends what the CLCW let go
                    continue
                if pkt.apid != self.fc.event_apid:
                    continue
                event = Event.from_bytes(pkt.data)
                if event.event_id == EventId.CMD_ACCEPTED and response_to(event) == ("SET_COUNTER", seq):
                    times.append(time.perf_counter() - t0)
                    break
        return times

    def close(self) -> None:
        self.station.close()
        self.events.close(0)
        for proc in [*reversed(self.processes), self.board]:
            stop_process(proc)


def _first_good_frame(link, timeout: float = 10.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if link.receive():
            return time.perf_counter() - t0
        time.sleep(0.0005)
    return float("inf")


def _delivered_rate(link, duration_s: float) -> float:
    """Octets of good frames the link delivered per second over ``duration_s``."""
    start = link.counters()["frame_octets"]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < duration_s:
        link.receive()
        time.sleep(0.002)
    link.receive()
    return (link.counters()["frame_octets"] - start) / (time.perf_counter() - t0)


def _recovery(work: str, port: str, link) -> float:
    """Start the board again while the link goes on polling, as the uplink does: seconds from
    its port appearing to the first good frame delivered."""
    board = module_command("hil.devices.board", "--pty", "--link", port, "--state-dir", work,
                           "--console-period", "0", "--hk-period", "0.01")
    proc = subprocess.Popen(**board, stdout=subprocess.DEVNULL)
    back = None
    deadline = time.perf_counter() + 30.0
    try:
        while time.perf_counter() < deadline:
            got = link.receive()
            now = time.perf_counter()
            if back is None and os.path.exists(port):
                back = now
            if got and back is not None:
                return now - back
            time.sleep(0.0005)
        return float("inf")
    finally:
        stop_process(proc)


def run(quick: bool = False) -> list[Measurement]:
    from hil.devices.flight_computer import EmulatedFlightComputer

    fc = default_registry().module("flight_computer")
    n = 200 if quick else 1000
    work = tempfile.mkdtemp(prefix="lunarelay-bench-hil-")
    results = []
    try:
        # command round trip: the board over the pty against the board in this process
        board = _board(work, "--hk-period", "3600")
        link = SerialLink(SerialConfig(os.path.join(work, "board.tty"), BAUD, retry_s=0.01))
        _round_trips(link, 20, fc.event_apid)                        # warm-up
        serial_rt = sorted(_round_trips(link, n, fc.event_apid))
        link.close()
        stop_process(board)
        local = EmulatedFlightComputer(state_path=os.path.join(work, "local.sqlite"))
        local_rt = sorted(_round_trips(local, n, fc.event_apid))
        local.close()
        p99 = serial_rt[int(0.99 * (n - 1))] * 1e3
        base = "the same commands to the emulated flight computer in this process"
        results += [Measurement(SUITE, "command round trip over a pty, p50",
                                statistics.median(serial_rt) * 1e3, "ms", base,
                                statistics.median(local_rt) * 1e3),
                    Measurement(SUITE, "command round trip over a pty, p99", p99, "ms", base,
                                local_rt[int(0.99 * (n - 1))] * 1e3)]

        # the same command through the whole uplink, the link driver's figure beside it
        path = _UplinkPath(work)
        try:
            path.round_trips(20, 30.0)                                  # warm-up
            uplink_rt = sorted(path.round_trips(n))
        finally:
            path.close()
        driver = "the link driver alone to the board over the pty, in this run"
        through = "command round trip through the uplink (CLTU, FARM, SDLS, bus) to the board over a pty"
        results += [Measurement(SUITE, f"{through}, p50", statistics.median(uplink_rt) * 1e3, "ms", driver,
                                statistics.median(serial_rt) * 1e3),
                    Measurement(SUITE, f"{through}, p99", uplink_rt[int(0.99 * (n - 1))] * 1e3, "ms", driver,
                                p99)]

        # recovery after a cable pull: port back -> first good frame, against the first open
        port = os.path.join(work, "board.tty")
        first, again = [], []
        for _ in range(3 if quick else 7):
            board = _board(work, "--hk-period", "0.01")
            link = SerialLink(SerialConfig(port, BAUD, retry_s=0.2))
            first.append(_first_good_frame(link))
            os.kill(board.pid, 9)
            board.wait()
            while link.is_up:                    # the link notices on its next read
                link.receive()
                time.sleep(0.001)
            again.append(_recovery(work, port, link))
            link.close()
        opened = "first good frame after the link's first open"
        name = "cable pull: port back -> first good frame"
        results.append(Measurement(SUITE, f"{name}, median", statistics.median(again) * 1e3, "ms", opened,
                                   statistics.median(first) * 1e3))
        results.append(Measurement(SUITE, f"{name}, worst", max(again) * 1e3, "ms", opened, max(first) * 1e3))

        # throughput at 921600 baud: good frame octets delivered per second against the line rate
        board = _board(work, "--hk-period", "3600", "--flood", "--pace-baud", str(BAUD))
        link = SerialLink(SerialConfig(port, BAUD, retry_s=0.01))
        _first_good_frame(link)
        rates = [_delivered_rate(link, 0.5 if quick else 1.5) for _ in range(3)]
        link.close()
        stop_process(board)
        results.append(Measurement(SUITE, "payload + framing over a pty at 921600 baud, median of 3",
                                   statistics.median(rates) / 1e3, "kB/s",
                                   "the line rate (921600 baud, 10 bits an octet)",
                                   BAUD / UART_BITS_PER_OCTET / 1e3))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results
