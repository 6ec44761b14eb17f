"""Numeric options of `lunarelay encode`, `decode` and `siggen`: a bad number (nan, inf, negative, zero,
out of range) is one line naming the option, exit code 2; and a run that fails never destroys an earlier
output: every output is written to a temporary file beside it and renamed only on success."""

from __future__ import annotations

import subprocess
import sys

import pytest

from onboard.core.spp import build_packet


def lunarelay(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def one_line_usage_error(result: subprocess.CompletedProcess, option: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert option in lines[0] and "Traceback" not in result.stderr and "internal error" not in lines[0]
    return lines[0]


ENCODE = ["encode", "--traffic", "0x100:10", "-o", "out.bin"]
SIGGEN = ["siggen", "--prn", "1", "--duration", "0.001", "-o", "sig"]
MODULATE = ["encode", "--traffic", "0x100:10", "-o", "sig", "--modulate", "bpsk"]
DEMODULATE = ["decode", "sig", "--demodulate", "bpsk"]
EMULATE = ["emulate", "--quiet"]


@pytest.mark.parametrize("base, option, value", [
    (ENCODE, "--duration", "inf"), (ENCODE, "--duration", "nan"), (ENCODE, "--duration", "-1"),
    (ENCODE, "--duration", "0"), (ENCODE, "--duration", "1e400"),
    (ENCODE, "--traffic", "0x100:inf"), (ENCODE, "--traffic", "0x100:nan"), (ENCODE, "--traffic", "0x100:0"),
    (ENCODE, "--traffic", "0x100:10:-5"), (ENCODE, "--seed", "-1"), (ENCODE, "--frame-length", "0"),
    (ENCODE, "--frame-length", "-100"), (ENCODE, "--vcid", "-1"), (ENCODE, "--interleave", "-5"),
    (ENCODE, "--virtual-fill", "-1"), (ENCODE, "--scid", "-1"), (ENCODE, "--scid", "nan"),
    (SIGGEN, "--duration", "inf"), (SIGGEN, "--duration", "nan"), (SIGGEN, "--duration", "0"),
    (SIGGEN, "--duration", "-2"), (SIGGEN, "--fs", "nan"), (SIGGEN, "--fs", "inf"), (SIGGEN, "--if", "nan"),
    (SIGGEN, "--doppler", "nan"), (SIGGEN, "--doppler", "0,inf"), (SIGGEN, "--cn0", "-inf"),
    (SIGGEN, "--prn", "1.5"), (SIGGEN, "--prn", "-3"), (SIGGEN, "--seed", "-1"),
    (SIGGEN, "--gps-time", "nan,5"), (SIGGEN, "--gps-time", "2360,inf"), (SIGGEN, "--gps-time", "2360"),
    (SIGGEN, "--gps-time", "2360.5,100"), (SIGGEN, "--gps-time", "2360,604800"),
    (SIGGEN, "--receiver-llh", "nan,1,2"), (SIGGEN, "--receiver-llh", "91,1,2"),
    (SIGGEN, "--receiver-llh", "1,2"), (SIGGEN, "--zmq-hwm", "-1"),
    (MODULATE, "--ebn0", "nan"), (MODULATE, "--sps", "inf"), (MODULATE, "--symbol-rate", "0"),
    (MODULATE, "--cfo", "inf"), (MODULATE, "--phase-noise", "-1"), (MODULATE, "--preamble-bits", "-1"),
    (MODULATE, "--zmq-hwm", "-1"), (DEMODULATE, "--carrier-bw", "0"), (DEMODULATE, "--acq-range", "nan"),
    (EMULATE, "--time-scale", "nan"), (EMULATE, "--duration", "inf"), (EMULATE, "--chaos-drop", "1.5"),
    (EMULATE, "--chaos-cuts", "-1"), (EMULATE, "--restart-budget", "0"),
], ids=lambda v: v if isinstance(v, str) else v[0])
def test_a_bad_number_is_one_line_naming_its_option(tmp_path, monkeypatch, capsys, base, option, value):
    from lunarelay_tools.cli import main

    args = list(base)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args[1:1] = [f"{option}={value}"]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:          # argparse refuses it before any work starts
        main(args)
    err = capsys.readouterr().err
    one_line_usage_error(subprocess.CompletedProcess(args, info.value.code, "", err), option)
    assert not list(tmp_path.iterdir())              # nothing written


def test_decode_leaves_its_output_alone_when_the_input_is_missing(tmp_path):
    out = tmp_path / "packets.bin"
    out.write_bytes(b"an earlier result")
    r = lunarelay("decode", str(tmp_path / "absent.cadu"), "-o", str(out))
    assert r.returncode == 1 and "absent.cadu" in r.stderr
    assert out.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packets.bin"]


def test_a_failed_encode_keeps_the_earlier_output_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "cadus.bin"
    assert lunarelay("encode", "--traffic", "0x100:50", "-o", str(out)).returncode == 0
    earlier = out.read_bytes()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(build_packet(0x100, bytes(40))[:-3])       # not whole packets: fails after reading
    r = lunarelay("encode", str(bad), "-o", str(out))
    assert r.returncode == 1
    assert out.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin", "cadus.bin"]


def test_a_successful_decode_replaces_the_output_whole(tmp_path):
    cadus, out = tmp_path / "cadus.bin", tmp_path / "packets.bin"
    assert lunarelay("encode", "--traffic", "0x100:50", "-o", str(cadus)).returncode == 0
    out.write_bytes(b"x" * 10_000_000)
    r = lunarelay("decode", str(cadus), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert 0 < out.stat().st_size < 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cadus.bin", "packets.bin"]


def test_a_siggen_run_that_fails_midway_keeps_the_earlier_recording(tmp_path, monkeypatch):
    import argparse

    from lunarelay_tools.cli import build_parser
    from lunarelay_tools.commands import siggen

    base = str(tmp_path / "sky")
    args = build_parser().parse_args(["siggen", "--prn", "3", "--duration", "0.2", "-o", base, "--quiet"])
    assert siggen.run(args) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["sky.sigmf-data", "sky.sigmf-meta"]

    real = siggen.build_synthesizer

    def failing(plan):
        synth, truths = real(plan)
        calls = {"n": 0}
        generate = synth.generate

        def generate_then_fail(n, fmt, out=None):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(28, "No space left on device")
            return generate(n, fmt, out)

        synth.generate = generate_then_fail
        return synth, truths

    monkeypatch.setattr(siggen, "build_synthesizer", failing)
    again = argparse.Namespace(**{**vars(args), "duration": 2.0, "prn": [7]})
    with pytest.raises(OSError):
        siggen.run(again)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_decode_that_finds_no_frames_keeps_the_earlier_output(tmp_path):
    cadus, out = tmp_path / "cadus.bin", tmp_path / "packets.bin"
    assert lunarelay("encode", "--traffic", "0x100:50", "-o", str(cadus)).returncode == 0
    out.write_bytes(b"an earlier result")
    r = lunarelay("decode", str(cadus), "--rs", "8", "--interleave", "1", "-o", str(out))
    assert r.returncode == 1 and "no transfer frames decoded" in r.stderr
    assert out.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cadus.bin", "packets.bin"]


@pytest.mark.parametrize("args, option", [(["encode", "--traffic", "0x100:inf", "-o", "x"], "--traffic"),
                                          (["siggen", "--duration", "inf", "-o", "x"], "--duration")])
def test_the_command_line_process_exits_2_with_one_line(tmp_path, args, option):
    assert "usage error: argument " + option in one_line_usage_error(lunarelay(*args, cwd=tmp_path), option)
    assert not list(tmp_path.iterdir())
