"""The serial link: framing in the C core, the resynchronising deframer against a byte-at-a-time
oracle, and the pyserial driver over a pseudo-terminal and a TCP port that come and go."""

from __future__ import annotations

import os
import socket
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunarelay_tools.bench.serial import ReferenceDeframer, make_stream
from onboard.core.crc import crc16_ccitt
from onboard.core.serial import Deframer, Framing, frame
from onboard.core.spp import build_packet
from onboard.links.serial import SerialConfig, SerialLink

PACKET = build_packet(0x123, bytes([0xC0, 0xDB, 0x1A, 0xCF, 0xFC, 0x1D, 0x00, 0x55]), seq_count=7)


def test_asm_frame_is_marker_packet_and_big_endian_crc():
    f = frame(PACKET)
    assert f[:4] == bytes.fromhex("1ACFFC1D")
    assert f[4:-2] == PACKET
    assert int.from_bytes(f[-2:], "big") == crc16_ccitt(PACKET)


@pytest.mark.parametrize("framing", list(Framing))
@pytest.mark.parametrize("crc", [True, False])
def test_every_framing_round_trips_packets_holding_special_octets(framing, crc):
    stream = b"".join(frame(PACKET, framing, crc) for _ in range(3))
    d = Deframer(framing, crc)
    assert d.push(stream) == [PACKET] * 3
    assert d.counters["garbage_octets"] == 0


def test_kiss_escapes_fend_and_fesc_inside_the_packet():
    f = frame(PACKET, Framing.KISS, crc=False)
    assert f[0] == 0xC0 and f[1] == 0x00 and f[-1] == 0xC0
    assert 0xC0 not in f[1:-1]
    assert bytes([0xDB, 0xDC, 0xDB, 0xDD]) in f


def test_frame_refuses_a_packet_whose_length_field_lies():
    with pytest.raises(Exception, match="format"):
        frame(PACKET[:-1])


def test_c_deframer_agrees_with_byte_at_a_time_oracle_on_hostile_stream():
    rng = np.random.default_rng(3)
    good, _ = make_stream(300, 0.05, seed=3)
    # cut some frames short and corrupt others, then compare packets and every counter
    data = bytearray(good)
    for at in rng.integers(0, len(data) - 300, 40):
        data[at:at + int(rng.integers(1, 200))] = b""
    for at in rng.integers(0, len(data), 60):
        data[at] ^= 1 << int(rng.integers(0, 8))
    data = bytes(data) + b"\r\nboot: ok\r\n" + frame(PACKET)
    oracle = ReferenceDeframer()
    want = oracle.push(data)
    d = Deframer(Framing.ASM)
    got = []
    for at in range(0, len(data), 997):
        got += d.push(data[at:at + 997])
    assert got == want
    assert got[-1] == PACKET
    c = d.counters
    for name, value in oracle.counters.items():
        assert c[name] == value, name
    assert c["truncated"] > 0 and c["crc_errors"] > 0 and c["garbage_octets"] > 0
    assert c["frame_octets"] + c["garbage_octets"] + d.held == len(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), st.just(frame(PACKET)), st.just(frame(PACKET)[:9])),
                max_size=12),
       st.sampled_from(list(Framing)), st.integers(1, 50))
def test_packets_found_never_depend_on_how_the_stream_is_split(parts, framing, piece):
    data = b"".join(p if framing is Framing.ASM or not p.startswith(b"\x1a") else frame(PACKET, framing)
                    for p in parts)
    whole = Deframer(framing).push(data)
    d = Deframer(framing)
    split = []
    for at in range(0, len(data), piece):
        split += d.push(data[at:at + piece])
    assert split == whole
    assert all(p == PACKET for p in whole)


def test_lengths_beyond_max_packet_are_counted_and_the_next_frame_kept():
    big = build_packet(0x10, bytes(600))
    d = Deframer(Framing.ASM, max_packet=200)
    assert d.push(frame(big) + frame(PACKET)) == [PACKET]
    assert d.counters["length_errors"] >= 1


# ---- the pyserial driver -----------------------------------------------------------------------

def _wait(cond, timeout_s=3.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_link_over_a_pty_passes_packets_both_ways_through_console_noise():
    master, slave = os.openpty()
    try:
        link = SerialLink(SerialConfig(os.ttyname(slave), baudrate=921600))
        assert link.is_up
        os.write(master, b"U-Boot 2024.01\r\n" + frame(PACKET) + b"\x00\xff garbage" + frame(PACKET))
        got = []
        assert _wait(lambda: got.extend(link.receive()) or len(got) == 2)
        assert got == [PACKET, PACKET]
        assert link.counters()["garbage_octets"] == len(b"U-Boot 2024.01\r\n\x00\xff garbage")
        link.send(PACKET)
        echoed = Deframer(Framing.ASM)
        assert _wait(lambda: echoed.push(os.read(master, 4096)) == [PACKET])
        link.close()
    finally:
        os.close(master)
        os.close(slave)


def test_link_names_the_descriptor_to_wait_on_while_its_port_is_open():
    import select

    from onboard.links.flight_computer import readable_fd

    master, slave = os.openpty()
    try:
        link = SerialLink(SerialConfig(os.ttyname(slave), baudrate=921600))
        fd = readable_fd(link)
        assert fd is not None and select.select([fd], [], [], 0)[0] == []
        os.write(master, frame(PACKET))
        # the uplink's run loop waits on it: an answer wakes it at once
        assert select.select([fd], [], [], 5.0)[0] == [fd]
        assert link.receive() == [PACKET]
        link.close()
        assert readable_fd(link) is None             # a closed port: nothing to wait on, polled
    finally:
        os.close(master)
        os.close(slave)


class _FlakyBoard:
    """A TCP 'board' that is not there at first, then serves, drops the connection, and serves again."""

    def __init__(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.server: socket.socket | None = None
        self.conn: socket.socket | None = None

    def listen(self) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(1)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.conn, _ = self.server.accept()

    def pull_cable(self) -> None:
        self.conn.close()
        self.server.close()
        self.conn = None


def test_link_waits_for_a_missing_port_and_reopens_after_a_cable_pull():
    board = _FlakyBoard()
    events = []
    link = SerialLink(SerialConfig(f"socket://127.0.0.1:{board.port}", retry_s=0.05),
                      on_event=lambda kind, text: events.append(kind))
    assert not link.is_up and events == ["down"]
    link.send(PACKET)                                     # queued while the port is missing
    assert link.receive() == []
    board.listen()
    assert _wait(lambda: link.receive() is not None and link.is_up and board.conn is not None)
    assert _wait(lambda: link.receive() == [] and not link.queue)
    got = Deframer(Framing.ASM)
    assert _wait(lambda: got.push(board.conn.recv(4096)) == [PACKET])
    board.conn.sendall(frame(PACKET))
    received = []
    assert _wait(lambda: received.extend(link.receive()) or received == [PACKET])
    board.pull_cable()
    assert _wait(lambda: link.receive() == [] and not link.is_up)
    board.listen()
    assert _wait(lambda: (link.receive(), board.conn is not None)[1])
    board.conn.sendall(frame(PACKET))
    received = []
    assert _wait(lambda: received.extend(link.receive()) or received == [PACKET])
    assert events[:2] == ["down", "up"] and events.count("up") == 2
    assert link.counts["disconnects"] == 1
    link.close()
