"""The fast paths of `lunarelay inspect`'s exports give what the plain paths give: Parquet row groups
written while decoding goes on hold the same rows as a directory written whole at the end."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from lunarelay_tools.bench.inspect import hk_packet_file
from lunarelay_tools.inspect import command
from lunarelay_tools.inspect import outputs as out_mod
from lunarelay_tools.inspect.dictionaries import project_dictionary
from lunarelay_tools.inspect.outputs import Outputs, ParquetWriter
from lunarelay_tools.inspect.session import Options


@pytest.fixture(scope="module")
def hk_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("hk") / "hk.pkt")
    hk_packet_file(path, 20_000)
    return path


def _inspect(path: str, writer) -> None:
    outputs = Outputs(project_dictionary())
    outputs.add(writer)
    try:
        _, ok, _ = command.inspect_file(path, Options(), outputs, outputs.dictionary)
    finally:
        outputs.close()
    assert ok


def test_parquet_row_groups_written_during_decoding_hold_the_rows_of_a_whole_write(hk_file, tmp_path,
                                                                                   monkeypatch):
    whole, streamed = str(tmp_path / "whole"), str(tmp_path / "streamed")
    _inspect(hk_file, ParquetWriter(whole))
    # the file read in small pieces (after detection's first 512 KiB): many batches, the flush
    # threshold crossed again and again
    monkeypatch.setattr(command, "PIECE", 50_000)
    monkeypatch.setattr(out_mod, "FLUSH_ROWS", 500)
    _inspect(hk_file, ParquetWriter(streamed))
    names = sorted(os.listdir(whole))
    assert names == sorted(os.listdir(streamed)) and len(names) > 3
    groups = 0
    for name in names:
        a, b = pq.read_table(os.path.join(whole, name)), pq.read_table(os.path.join(streamed, name))
        assert a.schema == b.schema
        assert a.num_rows > 0 and a.equals(b), name
        groups += pq.ParquetFile(os.path.join(streamed, name)).metadata.num_row_groups
    assert groups > 2 * len(names)          # the streamed files were written in several row groups


# --- JSON lines ------------------------------------------------------------------------------------
HOSTILE_F64 = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1e300, 5e-324, 0.1, -2.5, 1e20, 1e-7,
               123456789.123456789, 2.0 ** 53 + 1]
HOSTILE_F32 = [float("nan"), float("inf"), 0.1, 3.4028234663852886e38, 1.4e-45, -1.0]
HOSTILE_U64 = [0, 1, 9, 10, 2 ** 63, 2 ** 64 - 1, 2 ** 53 + 1]
HOSTILE_I64 = [-(2 ** 63), 2 ** 63 - 1, -1, 0, -10, 10 ** 18]
HOSTILE_TEXT = [b'quote " backslash \\ end', b"new\nline\rtab\t", b"\x00\x01\x07\x1b\x1f\x7f",
                b"\xff\xfe bad utf-8", "ünïcödé ✓ \u2028".encode(), b"</script>", b""]


def _hostile_dictionary():
    from lunarelay_tools.inspect.dictionaries import Dictionary, Field, PacketType

    fields = (Field("f64", 96, 64, "float"), Field("f32", 160, 32, "float"), Field("u64", 192, 64),
              Field("i64", 256, 64, "int"), Field("i8", 320, 8, "int"), Field("flag", 328, 8, "bool"),
              Field("mode", 336, 8, enum={0: "OFF", 1: 'ON "quoted"\n', 2: "ctl\x01"}),
              Field("volts", 344, 16, calibration=(0.5, 0.1)), Field("label", 360, 128, "str"),
              Field("odd \"name\"\n\\", 488, 4), Field("tail", 496, None, "str"))
    return Dictionary([PacketType("hostile", (0x123,), 0, fields)])


def _hostile_file(path: str, n: int) -> None:
    import struct

    from onboard.bus.packet import pack
    from onboard.core.spp import build_packet

    out = bytearray()
    for i in range(n):
        text = HOSTILE_TEXT[i % len(HOSTILE_TEXT)]
        user = (struct.pack(">dfQqb?BH", HOSTILE_F64[i % len(HOSTILE_F64)],
                            HOSTILE_F32[i % len(HOSTILE_F32)], HOSTILE_U64[i % len(HOSTILE_U64)],
                            HOSTILE_I64[i % len(HOSTILE_I64)], -128 + i % 256, bool(i % 2), i % 4,
                            (i * 977) & 0xFFFF)
                + text[:16].ljust(16, b"\0") + bytes([i % 16 << 4]) + text)
        if i % 5 == 4:
            out += build_packet(0x3F0, user, seq_count=i & 0x3FFF)         # no type: the undecoded part
        else:
            out += pack(0x123, user, i & 0x3FFF, 2_100_000_000.0 + i * 0.37)
    with open(path, "wb") as f:
        f.write(out)


def test_json_lines_fast_path_writes_the_reference_octets_on_hostile_values(tmp_path, monkeypatch):
    from lunarelay_tools.inspect.outputs import JsonLinesWriter

    src = str(tmp_path / "hostile.pkt")
    _hostile_file(src, 700)
    dictionary = _hostile_dictionary()
    monkeypatch.setattr(command, "PIECE", 9000)        # several batches, each with both parts
    got = {}
    for fast in (True, False):
        dest = str(tmp_path / f"lines-{fast}.jsonl")
        outputs = Outputs(dictionary)
        outputs.add(JsonLinesWriter(dest, fast=fast))
        try:
            _, ok, _ = command.inspect_file(src, Options(pinned={"format": "packets"}), outputs, dictionary)
        finally:
            outputs.close()
        assert ok
        with open(dest, "rb") as f:
            got[fast] = f.read()
    lines = got[False].splitlines()
    assert len(lines) == 700
    # the file does hold what it is meant to: nulls for non-finite floats, the extreme integers
    text = got[False].decode()
    assert '"f64":null' in text and str(2 ** 64 - 1) in text and str(-(2 ** 63)) in text
    assert got[True] == got[False]


def test_json_lines_fast_path_writes_the_reference_text_to_a_text_stream(tmp_path):
    import io

    from lunarelay_tools.inspect.outputs import JsonLinesWriter

    src = str(tmp_path / "hostile.pkt")
    _hostile_file(src, 60)
    dictionary = _hostile_dictionary()
    got = {}
    for fast in (True, False):
        stream = io.StringIO()
        outputs = Outputs(dictionary)
        outputs.add(JsonLinesWriter(stream, fast=fast))
        try:
            command.inspect_file(src, Options(pinned={"format": "packets"}), outputs, dictionary)
        finally:
            outputs.close()
        got[fast] = stream.getvalue()
    assert got[False].count("\n") == 60
    assert got[True] == got[False]


def test_json_lines_of_every_housekeeping_type_interleaved_are_the_reference_octets(hk_file, tmp_path,
                                                                                   monkeypatch):
    from lunarelay_tools.inspect.outputs import JsonLinesWriter

    # eight packet types mixed in each batch, many batches: the two buffers are taken in turn
    monkeypatch.setattr(command, "PIECE", 60_000)
    got = {}
    for fast in (True, False):
        dest = str(tmp_path / f"hk-{fast}.jsonl")
        _inspect(hk_file, JsonLinesWriter(dest, fast=fast))
        with open(dest, "rb") as f:
            got[fast] = f.read()
    lines = got[False].splitlines()
    assert len(lines) == 20_000 and len({line.split(b'"name":')[1][:12] for line in lines}) == 8
    assert got[True] == got[False]


def test_a_json_lines_file_that_cannot_be_written_fails_the_inspection(hk_file):
    from lunarelay_tools.inspect.outputs import JsonLinesWriter

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with pytest.raises(OSError, match="No space left"):
        _inspect(hk_file, JsonLinesWriter("/dev/full"))
