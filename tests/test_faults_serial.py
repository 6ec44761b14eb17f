"""The flight computer's serial link across the fault proxy, one fault per test: after each the
link recovers by itself, no acknowledged command is lost, every command runs exactly once and in
order (the board's durable journal), and the link's counters saw the fault."""

from __future__ import annotations

import numpy as np
import pytest

from hil.faults.harness import exercise
from hil.faults.schedule import Fault, FaultSchedule
from hil.faults.serial_proxy import FrameCutter, uart_receive
from onboard.core.serial import Framing, frame
from onboard.core.spp import build_packet

WINDOW = {"start_s": 0.4, "duration_s": 1.0}       # the fault holds from 0.4 s to 1.4 s
END_S = 1.4


def _run(tmp_path, *faults, seed=5, **kwargs):
    run = exercise(FaultSchedule(faults, seed), tmp_path / "fc.sqlite", **kwargs)
    assert run.problems() == []
    assert run.executed_values == list(range(len(run.records)))
    assert run.answered_after(END_S) > 0, "no command sent after the fault was answered"
    return run


def test_bit_errors_cost_crc_errors_on_both_ends_and_no_command_twice(tmp_path):
    run = _run(tmp_path, Fault("ber", ber=3e-3, **WINDOW))
    assert run.proxy["to_board.bits_flipped"] > 0 and run.proxy["to_host.bits_flipped"] > 0
    assert run.link["crc_errors"] + run.link["length_errors"] > 0
    assert run.board["crc_errors"] + run.board["length_errors"] > 0
    assert sum(r.attempts for r in run.records) > len(run.records)        # commands were sent again


def test_dropped_frames_are_sent_again_and_answered_from_the_log_not_run_twice(tmp_path):
    run = _run(tmp_path, Fault("drop", probability=0.3, **WINDOW))
    assert run.proxy["to_board.frames_dropped"] > 0 and run.proxy["to_host.frames_dropped"] > 0
    assert run.link["packets_sent"] > len(run.records)
    # an answer lost on the way back: the command came again and the board answered from its log
    assert any(r.repeated for r in run.records)


def test_duplicated_frames_run_a_command_once_and_the_copy_is_answered_from_the_log(tmp_path):
    run = _run(tmp_path, Fault("duplicate", probability=0.5, **WINDOW))
    assert run.proxy["to_board.frames_duplicated"] > 0 and run.proxy["to_host.frames_duplicated"] > 0
    assert run.link["packets_received"] > len(run.records)
    assert run.stray_answers > 0


def test_garbage_and_console_text_between_frames_are_passed_over_by_both_deframers(tmp_path):
    text = "\r\nU-Boot 2024.01 (Jan 01 2024)\r\nboot: ok\r\n"
    run = _run(tmp_path, Fault("garbage", octets=200, every_s=0.1, **WINDOW),
               Fault("console", text=text, every_s=0.1, **WINDOW))
    injected = run.proxy["to_host.garbage_octets"] + run.proxy["to_host.console_lines"] * len(text)
    assert run.proxy["to_host.garbage_octets"] > 0 and run.proxy["to_host.console_lines"] > 0
    # every injected octet is filed as garbage (a random burst may also eat a frame's first octets)
    assert run.link["garbage_octets"] >= injected
    assert run.board["garbage_octets"] >= run.proxy["to_board.garbage_octets"] > 0


@pytest.mark.parametrize(("transport", "downstream"),
                         [("pty", "pty"), ("pty", "pty:PATH"), ("tcp", "tcp://127.0.0.1:0")])
def test_a_port_that_vanishes_and_comes_back_is_reopened_and_queued_commands_go_out(tmp_path, transport,
                                                                                     downstream):
    downstream = downstream.replace("PATH", str(tmp_path / "ttyFC0"))
    run = _run(tmp_path, Fault("disconnect", start_s=0.4, down_s=1.0), transport=transport,
               downstream=downstream)
    assert run.proxy["disconnects"] == 1 and run.proxy["reconnects"] == 1
    assert run.link["disconnects"] >= 1 and run.link["opens"] >= 2
    assert [kind for kind, _ in run.link_events].count("up") >= 2
    (down, back), = run.host_down
    assert 0.4 <= down < 1.4 <= back and run.recovery_s(back) is not None
    # the command sent while the port was gone waited for it: answered after the port came back
    waited = [r for r in run.records if r.answered_s - r.sent_s > 0.5]
    assert waited


@pytest.mark.parametrize("direction", ["to_board", "to_host"])
def test_a_uart_at_the_wrong_rate_garbles_the_line_until_the_rates_agree_again(tmp_path, direction):
    run = _run(tmp_path, Fault("baud_mismatch", ratio=1.25, direction=direction, **WINDOW))
    assert run.proxy[f"{direction}.uart_framing_errors"] > 0
    # the end that receives at the wrong rate files what it got as garbage
    receiver = run.board if direction == "to_board" else run.link
    assert receiver["garbage_octets"] > 0
    assert sum(r.attempts for r in run.records) > len(run.records)
    if direction == "to_host":
        # the board ran the command, its answer was garbled: the copy was answered from its log
        assert any(r.repeated for r in run.records)


# ---- the models under the proxy --------------------------------------------------------------------

def test_uart_model_keeps_octets_within_the_tolerance_and_mangles_them_beyond():
    data = np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    assert uart_receive(data, 1.0) == (data, 0)
    # half a bit over the ten bits of a character: about 5 % either way still reads right
    assert uart_receive(data, 1.03) == (data, 0)
    assert uart_receive(data, 0.97) == (data, 0)
    mangled, errors = uart_receive(data, 1.12)
    assert mangled != data and errors > 0
    # a receiver at twice the rate samples every sender bit twice: 0xF0 (line 0 0000 1111 1) reads
    # its low nibble's zeros as the data and its stop bit on data bit 3, a framing error: NUL
    assert uart_receive(b"\xf0", 2.0) == (b"\x00", 1)
    # 0x0F (line 0 1111 0000 1) reads as 0xFE, then the falling edge at data bit 4 starts a
    # second character: one octet sent, two received
    assert uart_receive(b"\x0f", 2.0) == (b"\xfe\x80", 0)


@pytest.mark.parametrize("framing", list(Framing))
def test_frame_cutter_gives_the_stream_back_exactly_cut_at_frame_boundaries(framing):
    packet = build_packet(0x55, bytes(range(40)) + b"\xc0\xdb\x1a\xcf\xfc\x1d")
    whole = frame(packet, framing)
    stream = b"boot\r\n" + whole + b"\x1a\xcf" + whole[:20] + whole + b"tail"
    cutter = FrameCutter(framing)
    pieces = []
    for at in range(0, len(stream), 7):
        pieces += cutter.push(stream[at:at + 7])
    assert b"".join(p for _, p in pieces) + bytes(cutter.buf) == stream
    assert [p for is_frame, p in pieces if is_frame] == [whole, whole]
    assert cutter.unlocated == 0
