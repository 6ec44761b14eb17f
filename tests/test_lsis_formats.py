"""LSIS-AFS interop exchange formats: codes_prn{N}.hex, frame .bin, LSISIQ signal files."""

import re

import numpy as np
import pytest
from conftest import VECTORS

from onboard.core import codes
from onboard.nav import afs_frame as af
from onboard.nav import lsis_formats as lf

LSIS = VECTORS / "lsis"
INTEROP = LSIS / "interop"


def annex_hex(name: str, digits: int, prn: int) -> str:
    runs = [r for r in re.findall(r"\b[0-9A-Fa-f]+\b", (LSIS / name).read_text()) if len(r) == digits]
    return runs[prn - 1].upper()


@pytest.mark.parametrize("n", range(1, 6))
def test_our_frame_bin_equals_interop_frame_message_except_timestamp(tmp_path, n):
    """message_1..5 from the interop set; all are PRN 1, FID 0, TOI 0."""
    theirs = (INTEROP / "frames" / f"frame_message_{n}.bin").read_bytes()
    data = np.frombuffer((INTEROP / "inputs" / f"frame_message_{n}_input.bin").read_bytes(), np.uint8)
    ours_path = tmp_path / "frame.bin"
    lf.write_frame_bin(ours_path, af.encode_frame(data), prn=1)
    ours = ours_path.read_bytes()
    assert len(ours) == len(theirs) == 6064
    # The timestamp is the i64 at bytes 20..27 of the header.
    assert ours[:20] == theirs[:20]
    assert ours[28:] == theirs[28:]


def test_frame_bin_round_trips_header_fields(tmp_path, rng):
    symbols = rng.integers(0, 2, 6000, dtype=np.uint8)
    lf.write_frame_bin(tmp_path / "f.bin", symbols, prn=210, timestamp=1738108800)
    back = lf.read_frame_bin(tmp_path / "f.bin")
    assert (back.prn, back.timestamp, back.version) == (210, 1738108800, 1)
    np.testing.assert_array_equal(back.symbols, symbols)


def test_interop_frame_files_parse_with_their_prn():
    prns = {p.stem: lf.read_frame_bin(p).prn for p in (INTEROP / "frames").glob("*.bin")}
    assert prns["frame_boundary"] == 210 and prns["frame_message_3"] == 1


@pytest.mark.sanitize
@pytest.mark.parametrize("mutate, match", [
    (lambda b: b[:63], "shorter than the 64-byte"),
    (lambda b: b"LSISAFX\0" + b[8:], "magic"),
    (lambda b: b[:8] + (2).to_bytes(4, "little") + b[12:], "version 2"),
    (lambda b: b[:-1], "header says 6000 symbols"),
    (lambda b: b[:-1] + b"\x07", "0 or 1"),
])
def test_malformed_frame_files_are_rejected_naming_the_problem(tmp_path, mutate, match):
    good = (INTEROP / "frames" / "frame_message_1.bin").read_bytes()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(mutate(good))
    with pytest.raises(lf.FormatError, match=match):
        lf.read_frame_bin(bad)


@pytest.mark.parametrize("prn", [1, 2, 105, 210])
def test_codes_hex_sections_use_the_annex_3_encoding(tmp_path, prn):
    path = lf.write_codes_hex(tmp_path, prn)
    assert path.name == f"codes_prn{prn:03d}.hex"
    text = path.read_text()
    hexes = dict(re.findall(r"\[(\w+)\]\n(?:length: \d+\n)?hex: (\w+)", text))
    assert hexes["GOLD_CODE"] == annex_hex("006_GoldCode2046hex210prns.txt", 512, prn)
    assert hexes["WEIL_PRIMARY"] == annex_hex("007_l1cp_hex210prns.txt", 2558, prn)
    assert hexes["WEIL_TERTIARY"] == annex_hex("008_Weil1500hex210prns.txt", 375, prn)
    assert [hexes[f"SECONDARY_S{i}"] for i in range(4)] == ["E", "7", "B", "D"]
    assert "length: 2046" in text and "length: 10230" in text and "length: 1500" in text


def test_codes_hex_round_trips_through_the_reader(tmp_path):
    back = lf.read_codes_hex(lf.write_codes_hex(tmp_path, 77))
    assert set(back) == set(lf.CODE_SECTIONS)
    np.testing.assert_array_equal(back["GOLD_CODE"], codes.afs_i(77))
    np.testing.assert_array_equal(back["WEIL_PRIMARY"], codes.afs_q_primary(77))
    np.testing.assert_array_equal(back["WEIL_TERTIARY"], codes.afs_q_tertiary(77))
    np.testing.assert_array_equal(back["SECONDARY_S2"], codes.afs_q_secondary(2))


def test_codes_hex_reader_accepts_a_hand_written_file(tmp_path):
    gold = annex_hex("006_GoldCode2046hex210prns.txt", 512, 9)
    (tmp_path / "c.hex").write_text(
        "# other implementation\r\n\r\n[GOLD_CODE]\r\nlength: 2046\r\nhex: " + gold.lower() +
        "\r\n\r\n[SECONDARY_S1]\r\nhex: 7\r\n")
    back = lf.read_codes_hex(tmp_path / "c.hex")
    np.testing.assert_array_equal(back["GOLD_CODE"], codes.afs_i(9))
    assert back["SECONDARY_S1"].tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("body, match", [
    ("[GOLD_CODE]\nlength: 2046\n", "no hex line"),
    ("[GOLD_CODE]\nlength: 2046\nhex: 7FF\n", "cannot hold exactly 2046"),
    ("[GOLD_CODE]\nlength: 2\nhex: F\n", "pad bits"),
    ("hex: F\n", "outside a section"),
    ("[X]\nhex: XYZ\n", "not a hex string"),
    ("garbage here\n", "cannot parse"),
])
def test_malformed_codes_hex_is_rejected_naming_the_section(tmp_path, body, match):
    (tmp_path / "c.hex").write_text(body)
    with pytest.raises(lf.FormatError, match=match):
        lf.read_codes_hex(tmp_path / "c.hex")


def test_lsisiq_round_trips_samples_and_header(tmp_path, rng):
    x = (rng.standard_normal(5000) + 1j * rng.standard_normal(5000)).astype(np.complex64)
    path = tmp_path / lf.signal_file_name(3, 12)
    assert path.name == "signal_3_12s.iq"
    lf.write_iq(path, x, 10.23e6, prn=3)
    raw = path.read_bytes()
    assert len(raw) == 128 + 8 * 5000
    assert raw[:8] == b"LSISIQ\0\0" and raw[32:48] == b"float32".ljust(16, b"\0")
    header, back = lf.read_iq(path)
    assert (header.sample_rate_hz, header.prn, header.sample_format) == (10.23e6, 3, "float32")
    assert header.duration_s == pytest.approx(5000 / 10.23e6)
    np.testing.assert_array_equal(back, x)
    _, part = lf.read_iq(path, offset_samples=4000, count=10)
    np.testing.assert_array_equal(part, x[4000:4010])
    # I and Q interleaved as float32 pairs
    np.testing.assert_array_equal(np.frombuffer(raw[128:136], "<f4"), [x[0].real, x[0].imag])


def test_lsisiq_writer_appends_blocks(tmp_path):
    header = lf.IqHeader(2e6, 0.001, 7)
    with lf.IqWriter(tmp_path / "s.iq", header) as w:
        w.write(np.ones(1000, np.complex64))
        w.write(1j * np.ones(1000, np.complex128))
    _, back = lf.read_iq(tmp_path / "s.iq")
    assert back.size == 2000 and back[0] == 1 and back[1999] == 1j


@pytest.mark.sanitize
@pytest.mark.parametrize("mutate, match", [
    (lambda b: b[:100], "shorter than the 128-byte"),
    (lambda b: b"LSISAFS\0" + b[8:], "magic"),
    (lambda b: b[:32] + b"int16".ljust(16, b"\0") + b[48:], "sample format 'int16'"),
    (lambda b: b + b"\0\0\0", "whole number of float32"),
])
def test_malformed_lsisiq_files_are_rejected(tmp_path, mutate, match):
    good = tmp_path / "g.iq"
    lf.write_iq(good, np.zeros(10, np.complex64), 1e6, 1)
    bad = tmp_path / "b.iq"
    bad.write_bytes(mutate(good.read_bytes()))
    with pytest.raises(lf.FormatError, match=match):
        lf.read_iq(bad)
