"""The emulated flight-computer board as its own process, driven through the serial link the
uplink opens by name (``serial:URL``): commands run once and are answered, housekeeping comes at
its rate, console text costs nothing, and a board that dies and comes back is waited for and
reopened, with an event, its journal holding each command once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from hil.devices.board import decode_board_hk
from hil.devices.flight_computer import STATE_FILE, executed_commands
from onboard.bus.packet import PacketType, pack, unpack
from onboard.bus.registry import default_registry
from onboard.commands import default_dictionary
from onboard.errors import UsageError
from onboard.events import Event
from onboard.executive import stop_process
from onboard.links.flight_computer import open_flight_computer
from onboard.links.serial import SerialLink, parse_serial_spec
from onboard.modules.base import response_to
from onboard.modules.uplink import fc_link_counts

R, D = default_registry(), default_dictionary()
FC = R.module("flight_computer")


def command(name: str, seq: int, t: float = 1.0, **args) -> bytes:
    return pack(FC.apid, D.encode("flight_computer", name, **args), seq, t, PacketType.TC)


def start_board(tmp_path, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "hil.devices.board", "--state-dir", str(tmp_path), *extra],
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def collect(link, want, timeout: float = 5.0) -> list[bytes]:
    """Packets from the link until ``want(packets)`` or the timeout."""
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not want(got):
        got += link.receive()
        time.sleep(0.005)
    return got


def answers(packets: list[bytes]) -> dict[int, str]:
    out = {}
    for raw in packets:
        pkt = unpack(raw)
        if pkt.apid == FC.event_apid:
            event = Event.from_bytes(pkt.data)
            resp = response_to(event)
            if resp:
                out[resp[1]] = event.text
    return out


def test_serial_spec_names_url_baud_framing_and_refuses_bad_tokens():
    c = parse_serial_spec("socket://127.0.0.1:5000,baud=921600,framing=kiss,crc=no")
    assert (c.url, c.baudrate, c.framing.name, c.crc) == ("socket://127.0.0.1:5000", 921600, "KISS", False)
    for bad, why in [("", "needs a port"), ("/dev/ttyUSB0,baud=fast", "baud='fast'"),
                     ("/dev/ttyUSB0,framing=hdlc", "framing='hdlc'"), ("/dev/ttyUSB0,parity=E", "'parity'"),
                     ("/dev/ttyUSB0,baud", "KEY=VALUE")]:
        with pytest.raises(UsageError, match=why):
            parse_serial_spec(bad)


def test_board_on_a_pty_runs_commands_once_and_sends_housekeeping_and_console_text(tmp_path):
    proc, path = start_board(tmp_path, "--pty", "--hk-period", "0.2", "--console-period", "0.3")
    events = []
    try:
        link = open_flight_computer(f"serial:{path},baud=921600", registry=R, dictionary=D, state_dir=None,
                                    on_event=lambda kind, text: events.append(kind))
        assert isinstance(link, SerialLink) and events == ["up"]
        for seq in range(1, 6):
            link.send(command("SET_COUNTER", seq, value=seq * 10))
        link.send(command("SET_COUNTER", 3, value=30))          # the same packet again: answered, not run
        got = collect(link, lambda p: len(answers(p)) == 5 and sum(unpack(x).apid == FC.apid for x in p) >= 3)
        said = answers(got)
        assert sorted(said) == [1, 2, 3, 4, 5] and said[5] == "SET_COUNTER seq 5: accepted: counter 50"
        hk = [decode_board_hk(unpack(x).data) for x in got if unpack(x).apid == FC.apid]
        assert hk[-1]["counter"] == 50 and hk[-1]["executed"] == 5
        assert link.counters()["garbage_octets"] > 0          # the console text, passed over
        assert link.counters()["crc_errors"] == 0
        link.close()
    finally:
        stop_process(proc)
    journal = executed_commands(tmp_path / STATE_FILE)
    assert [(e.seq, e.args["value"]) for e in journal] == [(s, s * 10) for s in range(1, 6)]


def test_link_waits_for_a_board_that_dies_and_reopens_it_with_events(tmp_path):
    port_link = str(tmp_path / "board.tty")
    events: list[tuple[str, str]] = []
    link = open_flight_computer(f"serial:{port_link}", registry=R, dictionary=D, state_dir=None,
                                on_event=lambda kind, text: events.append((kind, text)))
    assert events[-1][0] == "down" and "cannot open" in events[-1][1]    # not there yet: no crash
    assert link.receive() == [] and fc_link_counts(link.counters())[0] == 0
    link.send(command("SET_COUNTER", 1, value=1))                        # queued while the port is away
    proc, _ = start_board(tmp_path, "--pty", "--link", port_link, "--console-period", "0")
    try:
        got = collect(link, lambda p: 1 in answers(p))
        assert 1 in answers(got) and events[-1][0] == "up"
        os.kill(proc.pid, 9)                                            # the cable pulled
        proc.wait()
        collect(link, lambda p: events[-1][0] == "down", timeout=3.0)
        assert events[-1][0] == "down"
        link.send(command("SET_COUNTER", 2, value=2))
        link.send(command("SET_COUNTER", 1, value=1))                    # sent again: from the log
        proc, _ = start_board(tmp_path, "--pty", "--link", port_link, "--console-period", "0")
        got = collect(link, lambda p: {1, 2} <= set(answers(p)))
        assert {1, 2} <= set(answers(got)) and events[-1][0] == "up"
        up, opens, disconnects = fc_link_counts(link.counters())[:3]
        assert (up, opens) == (1, 2) and disconnects >= 1
        link.close()
    finally:
        stop_process(proc)
    assert [e.seq for e in executed_commands(tmp_path / STATE_FILE)] == [1, 2]


def test_board_on_a_tcp_port_speaks_kiss_through_socket_url(tmp_path):
    proc, url = start_board(tmp_path, "--tcp", "0", "--framing", "kiss", "--console-period", "0")
    try:
        assert url.startswith("socket://127.0.0.1:")
        link = open_flight_computer(f"serial:{url},framing=kiss", registry=R, dictionary=D, state_dir=None)
        link.send(command("SET_MODE", 9, mode=2))
        got = collect(link, lambda p: 9 in answers(p))
        assert answers(got)[9] == "SET_MODE seq 9: accepted: mode 2"
        link.close()
    finally:
        stop_process(proc)


def test_bench_hil_suite_gives_each_figure_with_a_same_run_baseline():
    from lunarelay_tools.bench import hil, suites

    assert hil in suites()["hil"]
    figures = {m.name: m for m in hil.run(quick=True)}
    through = "command round trip through the uplink (CLTU, FARM, SDLS, bus) to the board over a pty"
    assert {"command round trip over a pty, p99", f"{through}, p50", f"{through}, p99",
            "cable pull: port back -> first good frame, worst",
            "payload + framing over a pty at 921600 baud, median of 3"} <= set(figures)
    assert all(m.value > 0 and m.baseline_value > 0 for m in figures.values())
    assert figures["payload + framing over a pty at 921600 baud, median of 3"].baseline_value == 92.16
