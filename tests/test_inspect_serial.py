"""`lunarelay inspect` on serial streams through the C core's deframer (onboard.core.serial): the
serial link's ASM + CRC-16 framing, KISS and SLIP with or without the CRC, detected with no flags,
with console text, a damaged frame and a frame cut by the end filed by the deframer's counters,
and the serial-frame records of a pcapng capture."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hil import capture as cap
from lunarelay_tools.inspect.session import Options, StreamInspection
from onboard.bus.packet import pack
from onboard.core.serial import Framing, frame


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    rng = np.random.default_rng(12)
    return [pack(0x101 + i % 3, rng.integers(0, 256, int(rng.integers(10, 400)), dtype=np.uint8).tobytes(),
                 i // 3, 2.1e9 + i) for i in range(90)]


def inspect(data: bytes, pinned: dict | None = None) -> tuple[StreamInspection, list[bytes]]:
    got: list[bytes] = []
    s = StreamInspection("serial", Options(pinned=pinned or {}),
                         [lambda st, b, t: got.extend(b.packet(i) for i in range(len(b)))])
    for k in range(0, len(data), 1000):                 # in pieces, as a serial port reads it
        s.push(data[k:k + 1000])
    s.finish()
    return s, got


def test_asm_frames_with_console_text_a_bad_crc_and_a_cut_frame_are_deframed_and_every_octet_filed(packets):
    framed = [frame(p, Framing.ASM) for p in packets]
    bad = bytearray(framed[40])
    bad[20] ^= 0x10                                     # the CRC no longer holds
    text = b"flight computer booting...\r\n"
    data = text + b"".join(framed[:40]) + bytes(bad) + b"".join(framed[41:]) + framed[0][:30]
    s, got = inspect(data)
    assert s.detection.container == "asm" and s.detection.serial_crc
    assert got == packets[:40] + packets[41:]
    st = s.layer_stats()["serial"]
    assert st["packets"] == 89 and st["crc_errors"] >= 1
    assert s.ledger.balance(len(data)) == 0
    # the deframer's garbage is the text and the damaged frame; the cut frame is truncated, with its range
    assert s.ledger.totals["serial_garbage"] == st["garbage_octets"] == len(text) + len(bad)
    cut = [r for _, r in s.ledger.all_ranges() if r.reason == "truncated"]
    assert [(r.start, r.end) for r in cut] == [(len(data) - 30, len(data))]
    assert s.ledger.totals["capture"] == 89 * 6            # ASM and CRC of each good frame


@pytest.mark.parametrize("framing, crc", [("kiss", True), ("kiss", False), ("slip", True), ("slip", False)])
def test_kiss_and_slip_with_or_without_crc_are_detected_and_printed_as_flags(tmp_path, packets, framing,
                                                                             crc):
    data = b"".join(frame(p, Framing[framing.upper()], crc=crc) for p in packets)
    s, got = inspect(data)
    assert (s.detection.container, s.detection.serial_crc) == (framing, crc)
    assert got == packets and s.ledger.balance(len(data)) == 0
    assert s.ledger.totals.get("serial_garbage", 0) == 0
    path, out = tmp_path / "line.bin", tmp_path / "s.json"
    path.write_bytes(data)
    r = lunarelay("inspect", str(path), "--summary", str(out))
    assert r.returncode == 0, r.stderr
    stream = json.loads(out.read_text())["streams"][0]
    assert stream["flags"] == ["--format", framing, "--serial-crc" if crc else "--no-serial-crc"]
    again = lunarelay("inspect", str(path), "--summary", str(out), *stream["flags"])
    assert again.returncode == 0 and json.loads(out.read_text())["streams"][0]["packets"]["packets"] == 90


def test_serial_frame_records_of_a_capture_are_deframed_by_their_named_framing(tmp_path, packets):
    path, out = tmp_path / "bench.pcapng", tmp_path / "s.json"
    with cap.PcapngWriter(open(path, "wb")) as w:
        desc = cap.format_description("serial", framing="asm", crc=1)
        itf = w.add_interface(cap.LINKTYPE_SERIAL, "fc", desc)
        for i, p in enumerate(packets):
            w.write(itf, 1_000_000_000 * i, frame(p, Framing.ASM))
    r = lunarelay("inspect", str(path), "--summary", str(out))
    assert r.returncode == 0, r.stderr
    s = json.loads(out.read_text())
    assert s["streams"][0]["packets"]["packets"] == 90 and s["accounting"]["unaccounted"] == 0
    assert s["streams"][0]["layers"]["serial"]["framing"] == "asm"
