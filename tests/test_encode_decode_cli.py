"""`lunarelay encode` / `lunarelay decode`: round trips through files, exit codes, one-line errors
and the JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from onboard.core import tc
from onboard.core.spp import build_packet, index_packets


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def packet_file(tmp_path, rng):
    data = b"".join(build_packet(0x64 + i % 3, rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8)
                                 .tobytes(), seq_count=i // 3) for i in range(150))
    path = tmp_path / "packets.bin"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("opts", [
    [],
    ["--frame", "aos"],
    ["--rs", "8", "--interleave", "1", "--basis", "conventional"],
    ["--interleave", "8", "--virtual-fill", "10"],
    ["--rs", "0", "--frame-length", "400", "--no-randomize"],
    ["--conv", "1/2"],
    ["--conv", "5/6", "--interleave", "2"],
], ids=lambda o: " ".join(o) or "defaults")
@pytest.mark.parametrize("fmt", ["bytes", "soft"])
def test_encode_then_decode_returns_the_packet_file(opts, fmt, packet_file, tmp_path):
    stream, back = tmp_path / "stream", tmp_path / "back.bin"
    r = lunarelay("encode", str(packet_file), "-o", str(stream), "--output-format", fmt, *opts)
    assert r.returncode == 0, r.stderr
    r = lunarelay("decode", str(stream), "-o", str(back), "--input-format", fmt, "--json", *opts)
    assert r.returncode == 0, r.stderr
    assert back.read_bytes() == packet_file.read_bytes()
    summary = json.loads(r.stdout)
    assert summary["packets"]["packets"] == 150
    assert summary["frames"]["frames"] == summary["sync"]["cadus_found"] > 0


def test_decode_json_summary_has_every_layer(packet_file, tmp_path):
    stream = tmp_path / "cadus"
    assert lunarelay("encode", str(packet_file), "-o", str(stream)).returncode == 0
    r = lunarelay("decode", str(stream), "--json")
    summary = json.loads(r.stdout)
    assert set(summary) == {"input", "input_octets", "link", "sync", "rs", "frames", "packets"}
    assert set(summary["sync"]) == {"cadus_found", "sync_losses", "asm_bit_errors", "inverted_cadus"}
    assert set(summary["rs"]) == {"rs_corrected_symbols", "rs_uncorrectable_codewords", "frames_dropped"}
    assert {"crc_failures", "mc_gaps", "vc_gaps"} <= set(summary["frames"])
    assert {"packet_sequence_gaps", "packets_lost"} <= set(summary["packets"])
    assert summary["input_octets"] == stream.stat().st_size
    assert all(isinstance(v, int) for layer in ("sync", "rs", "frames", "packets")
               for v in summary[layer].values())


def test_encode_generates_traffic_at_the_asked_rates(tmp_path):
    stream, back = tmp_path / "cadus", tmp_path / "back"
    r = lunarelay("encode", "--traffic", "100:20", "--traffic", "0x200:5:1000", "--duration", "3",
                  "-o", str(stream))
    assert r.returncode == 0, r.stderr
    assert lunarelay("decode", str(stream), "-o", str(back)).returncode == 0
    e = index_packets(back.read_bytes()).entries
    assert (e["apid"] == 100).sum() == 60 and (e["apid"] == 0x200).sum() == 15
    assert set(e["length"][e["apid"] == 0x200].tolist()) == {1006}
    assert e["seq_count"][e["apid"] == 100].tolist() == list(range(60))


@pytest.mark.sanitize
def test_decode_counts_corrupted_and_garbage_input_and_resumes(packet_file, tmp_path, rng):
    stream, back = tmp_path / "cadus", tmp_path / "back"
    assert lunarelay("encode", str(packet_file), "-o", str(stream)).returncode == 0
    data = bytearray(stream.read_bytes())
    data[100:110] = bytes(10)  # a few symbol errors, correctable
    # longer than the synchroniser's two flywheel frames, so the next marker is searched for in time
    bad = bytearray(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    mixed = bytes(bad[:300]) + bytes(data[:3 * 1279]) + bytes(bad) + bytes(data[3 * 1279:]) + bytes(bad[:77])
    stream.write_bytes(mixed)
    r = lunarelay("decode", str(stream), "-o", str(back), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["rs"]["rs_corrected_symbols"] >= 9
    assert s["sync"]["sync_losses"] >= 1
    assert s["frames"]["frames"] == len(data) // 1279
    assert back.read_bytes() == packet_file.read_bytes()


@pytest.mark.sanitize
def test_decode_with_wrong_options_is_one_line_error_exit_1(packet_file, tmp_path):
    stream = tmp_path / "cadus"
    assert lunarelay("encode", str(packet_file), "-o", str(stream), "--interleave", "4").returncode == 0
    r = lunarelay("decode", str(stream), "--interleave", "5")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no transfer frames decoded" in lines[0]


@pytest.mark.sanitize
def test_decode_of_a_truncated_stream_keeps_the_whole_frames(packet_file, tmp_path):
    stream, back = tmp_path / "cadus", tmp_path / "back"
    assert lunarelay("encode", str(packet_file), "-o", str(stream)).returncode == 0
    data = stream.read_bytes()
    stream.write_bytes(data[:len(data) - 700])
    r = lunarelay("decode", str(stream), "-o", str(back), "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["frames"]["frames"] == len(data) // 1279 - 1
    assert packet_file.read_bytes().startswith(back.read_bytes())


@pytest.mark.parametrize("args, words", [
    (["encode", "--traffic", "1:1", "--rs", "16", "--frame-length", "1000", "-o", "x"], "frame must be 1115"),
    (["encode", "--traffic", "1:1", "--frame", "aos", "--scid", "0x300", "-o", "x"], "spacecraft ID"),
    (["encode", "--traffic", "1:1", "--rs", "0", "--virtual-fill", "4", "--frame-length", "99", "-o", "x"],
     "virtual fill"),
    (["encode", "-o", "x"], "input file"),
    (["encode", "--traffic", "1:1", "--tc", "--output-format", "soft", "-o", "x"], "--tc"),
    (["decode", "x", "--interleave", "6", "--frame-length", "1338"], "interleave"),
])
def test_impossible_option_combinations_are_usage_errors(args, words, tmp_path):
    r = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 2
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_bad_traffic_spec_is_a_usage_error():
    r = lunarelay("encode", "--traffic", "100", "-o", "x")
    assert r.returncode == 2 and "APID:RATE" in r.stderr


def test_missing_input_file_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "absent.bin"
    for cmd in (["decode", str(missing)], ["encode", str(missing), "-o", str(tmp_path / "o")]):
        r = lunarelay(*cmd)
        assert r.returncode == 1
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and str(missing) in lines[0] and "Traceback" not in r.stderr


def test_encode_refuses_a_file_that_is_not_whole_packets(packet_file, tmp_path):
    packet_file.write_bytes(packet_file.read_bytes()[:-5])
    r = lunarelay("encode", str(packet_file), "-o", str(tmp_path / "o"))
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "not whole" in r.stderr


@pytest.mark.parametrize("wrap", [False, True])
def test_tc_encode_decode_round_trip(wrap, packet_file, tmp_path):
    cfg = tc.TcConfig(scid=0x2F, vcid=3)
    if wrap:
        src = packet_file
        args = ["--wrap-packets", "--scid", "0x2F", "--vcid", "3"]
    else:
        src = tmp_path / "frames.bin"
        src.write_bytes(b"".join(tc.build_frame(cfg, bytes([i]) * (i + 1), frame_seq_num=i)
                                 for i in range(40)))
        args = []
    cltus, back = tmp_path / "cltus", tmp_path / "back"
    assert lunarelay("encode", "--tc", str(src), "-o", str(cltus), *args).returncode == 0
    r = lunarelay("decode", "--tc", str(cltus), "-o", str(back), "--json")
    assert r.returncode == 0, r.stderr
    frames = back.read_bytes()
    if wrap:
        pos, data = 0, []
        while pos < len(frames):
            f, n = tc.parse_frame(frames[pos:], cfg)
            assert f.crc_ok
            data.append(f.data)
            pos += n
        assert b"".join(data) == packet_file.read_bytes()
        assert json.loads(r.stdout)["tc"]["frames"] == 150
    else:
        assert frames == src.read_bytes()
