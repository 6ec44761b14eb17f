"""The command dictionary shared by onboard and ground, and event filtering."""

from __future__ import annotations

import pytest

from onboard.bus.registry import default_registry
from onboard.commands import CommandRejected, DictionaryError, default_dictionary, parse_dictionary
from onboard.events import Event, EventFilter, EventSender, Severity

D = default_dictionary()


def test_every_module_with_commands_is_in_the_message_registry():
    assert set(D.modules) <= set(default_registry().modules)
    assert {"NOOP", "RESET_COUNTERS"} <= set(D.commands("store"))


def test_command_encodes_opcode_then_big_endian_arguments():
    assert D.encode("store", "PLAYBACK", max_packets=0x0102) == bytes([16, 0x01, 0x02])
    assert D.encode("executive", "RESTART_MODULE", module="store") == b"\x12store" + bytes(11)
    assert D.encode("scheduler", "NOOP") == b"\x00"


def test_ground_encoding_decodes_onboard_to_the_same_arguments():
    for module, name, args in [("store", "ACKNOWLEDGE", {"up_to_id": 123456}),
                               ("executive", "STEP_CLOCK", {"seconds": 2.5}),
                               ("scheduler", "SET_EVENT_FILTER", {"event_id": 7, "max_count": 3}),
                               ("executive", "RESTART_MODULE", {"module": "scheduler"})]:
        cmd, decoded = D.decode(module, D.encode(module, name, **args))
        assert (cmd.name, decoded) == (name, args)


@pytest.mark.parametrize(("data", "why"), [
    (b"", "no opcode"),
    (bytes([99]), "opcode 99 is not a command of module 'store'"),
    (bytes([16, 0]), "PLAYBACK: 2 octets, the dictionary says 3"),
    (bytes([16, 0x10, 0x00]), r"max_packets: 4096 is outside \[1, 1000\]"),
    (bytes([3, 9]), r"SET_MIN_SEVERITY.severity: 9 is outside \[0, 6\]"),
    (bytes([16, 0, 1]) + b"x", "4 octets"),
])
def test_onboard_rejects_command_that_does_not_match_the_dictionary(data, why):
    with pytest.raises(CommandRejected, match=why):
        D.decode("store", data)


def test_opcode_of_another_module_is_rejected():
    restart = D.encode("executive", "RESTART_MODULE", module="store")
    with pytest.raises(CommandRejected, match="opcode 18 is not a command of module 'scheduler'"):
        D.decode("scheduler", restart)


@pytest.mark.parametrize(("call", "why"), [
    (lambda: D.encode("store", "PLAYBACK"), "missing max_packets"),
    (lambda: D.encode("store", "PLAYBACK", max_packets=5, speed=2), "no argument speed"),
    (lambda: D.encode("store", "PLAYBACK", max_packets=5.5), "expected an integer"),
    (lambda: D.encode("store", "DANCE"), "has no command 'DANCE'"),
    (lambda: D.encode("executive", "STEP_CLOCK", seconds=float("nan")), "finite number"),
    (lambda: D.encode("executive", "RESTART_MODULE", module="x" * 17), "exceed the 16-octet"),
])
def test_ground_cannot_encode_a_command_the_dictionary_refuses(call, why):
    with pytest.raises(CommandRejected, match=why):
        call()


def test_command_line_parses_module_name_and_typed_arguments():
    assert D.parse_line("store.playback max_packets=0x10") == ("store", "PLAYBACK", {"max_packets": 16})
    assert D.parse_line("executive.SET_CLOCK_SCALE scale=10") == ("executive", "SET_CLOCK_SCALE",
                                                                  {"scale": 10.0})
    with pytest.raises(CommandRejected, match="is not a u16"):
        D.parse_line("store.PLAYBACK max_packets=ten")
    with pytest.raises(CommandRejected, match="MODULE.COMMAND"):
        D.parse_line("PLAYBACK")


@pytest.mark.parametrize(("text", "why"), [
    ('[[command]]\nmodule = "store"\nname = "X"\nopcode = 3\n',
     r"d.toml:4: command\[0\].opcode: 3 is reserved"),
    ('[[command]]\nmodule = "mars"\nname = "X"\nopcode = 30\n', r"command\[0\].module: 'mars'"),
    ('[[command]]\nmodule = "store"\nname = "lower"\nopcode = 30\n', "not an UPPER_CASE name"),
    ('[[command]]\nmodule = "store"\nname = "X"\nopcode = 30\nargs = [{ name = "a", type = "u64" }]\n',
     r"args\[0\].type: 'u64'"),
    ('[[command]]\nmodule = "store"\nname = "X"\nopcode = 30\n\n'
     '[[command]]\nmodule = "store"\nname = "Y"\nopcode = 30\n', "store already has opcode 30"),
])
def test_bad_dictionary_names_file_line_and_field(text, why):
    with pytest.raises(DictionaryError, match=why):
        parse_dictionary(text, "d.toml", {"store"})


def test_event_round_trips_through_its_packet_layout():
    event = Event(0x012, 105, Severity.WARNING_HI, "store full: 98 %")
    assert Event.from_bytes(event.to_bytes()) == event
    assert event.to_bytes()[:5] == bytes([0x00, 0x12, 0x00, 105, 5])


def test_event_filter_drops_below_min_severity_and_counts_it():
    f = EventFilter(Severity.WARNING_LO)
    assert not f.admit(1, Severity.ACTIVITY_HI)
    assert f.admit(1, Severity.WARNING_LO)
    assert f.suppressed == 1


def test_event_filter_limit_lets_n_through_then_suppresses_until_reset():
    sent = []
    events = EventSender(0x012, 0x412, lambda apid, data: sent.append(Event.from_bytes(data)))
    events.filter.set_limit(9, 2)
    for i in range(5):
        events(9, Severity.WARNING_LO, f"flood {i}")
    events(10, Severity.ACTIVITY_LO, "other")
    assert [e.text for e in sent] == ["flood 0", "flood 1", "other"]
    assert events.filter.suppressed == 3
    events.filter.set_limit(9, 0xFFFF)
    events(9, Severity.WARNING_LO, "flood again")
    assert sent[-1].text == "flood again"
