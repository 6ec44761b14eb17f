"""Example bench tests: the same bodies run against the emulated bench (the default) and a real
board (``pytest --bench hil/benches/board-on-ttyUSB0.toml tests/bench``).  They speak to the
flight computer only through the plugin's fixtures, and wait on decoded packets, not on text."""

from __future__ import annotations

import struct
import time

import pytest

from onboard.events import Event

FC_APID = 0x015            # the flight computer's APID (onboard/bus/msgids.toml)
FC_EVENTS = 0x415          # its event APID


def test_flight_computer_accepts_a_mode_and_says_so(flight_computer):
    assert flight_computer.command("SET_MODE", mode=1).endswith("accepted: mode 1")


def test_counter_set_by_command_shows_in_housekeeping(flight_computer, expect_packet):
    flight_computer.command("SET_COUNTER", value=4242)
    # housekeeping user data: mode u8, counter u32, ... (hil/devices/board.py BOARD_HK)
    hk = expect_packet(apid=FC_APID, where=lambda p: struct.unpack_from(">BI", p.data)[1] == 4242, timeout=5)
    assert hk.packet_type.name == "TM"


def test_each_command_is_answered_once_with_its_sequence_count(flight_computer, expect_packet):
    packet = flight_computer.packet("SET_COUNTER", value=7)
    seq = packet[2] << 8 & 0x3F00 | packet[3]
    flight_computer.send(packet)
    answer = expect_packet(apid=FC_EVENTS, where=lambda p: f"seq {seq}:" in Event.from_bytes(p.data).text)
    assert Event.from_bytes(answer.data).text == f"SET_COUNTER seq {seq}: accepted: counter 7"


def test_a_repeated_command_is_answered_from_the_log_not_run_again(flight_computer, expect_packet):
    first = flight_computer.packet("SET_COUNTER", value=100)
    flight_computer.send(first)
    flight_computer.command("SET_COUNTER", value=200)
    flight_computer.send(first)                       # the same packet again, after a newer one
    seq = first[2] << 8 & 0x3F00 | first[3]
    texts = []
    expect_packet(apid=FC_EVENTS, where=lambda p: texts.append(Event.from_bytes(p.data).text) or
                  sum(f"seq {seq}:" in t for t in texts) >= 2)
    hk = expect_packet(apid=FC_APID, timeout=5)
    hk = expect_packet(apid=FC_APID, where=lambda p: p.time_tai > hk.time_tai, timeout=5)
    assert struct.unpack_from(">BI", hk.data)[1] == 200      # not set back to 100


def test_an_out_of_range_argument_is_refused_by_the_dictionary(flight_computer):
    from onboard.commands import CommandRejected

    with pytest.raises(CommandRejected, match="mode"):
        flight_computer.command("SET_MODE", mode=7)


@pytest.mark.needs("radio:navigation")
def test_navigation_radio_flowgraph_is_named(sdr):
    assert sdr["navigation"].flowgraph


@pytest.mark.needs("fault:disconnect")
def test_commands_through_a_disconnecting_line_each_run_once(flight_computer, expect_packet, faults):
    # on a bench whose serial line the fault proxy cuts now and then: every command is answered
    # (the client sends it again when the answer is lost, and the board answers a repeat from its
    # log without running it again) and the counter ends where it was set.
    # Commands go on until the plan's first cut is over (its times count from the bench's start,
    # which was before now), so at least one cut falls among them.
    first_cut = faults.select(("disconnect",), "flight_computer").occurrences(("disconnect",))[0]
    until = time.monotonic() + first_cut.until_s + 1.0
    before = struct.unpack_from(">BII", expect_packet(apid=FC_APID, timeout=10).data)[2]
    value = 0
    while value < 20 or time.monotonic() < until:
        value += 1
        answer = flight_computer.command("SET_COUNTER", value=value, timeout=30)
        assert f"accepted: counter {value}" in answer
        time.sleep(0.05)
    hk = expect_packet(apid=FC_APID, where=lambda p: struct.unpack_from(">BI", p.data)[1] == value,
                       timeout=10)
    assert struct.unpack_from(">BII", hk.data)[2] - before == value     # executions: each command once
