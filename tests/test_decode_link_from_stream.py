"""`lunarelay decode` without --scid (and --ocf) takes the spacecraft ID and OCF presence of the first
frames, so the CADU file of another spacecraft decodes with no flags; a --scid given is kept."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from onboard.core.spp import build_packet


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_decode_reads_the_spacecraft_id_and_ocf_of_the_frames_unless_given(tmp_path, rng):
    packets = b"".join(build_packet(0x64, rng.integers(0, 256, 120, dtype=np.uint8).tobytes(), seq_count=i)
                       for i in range(80))
    src, stream, back = tmp_path / "p.bin", tmp_path / "s.cadu", tmp_path / "back.bin"
    src.write_bytes(packets)
    r = lunarelay("encode", str(src), "-o", str(stream), "--scid", "0x2a1", "--ocf")
    assert r.returncode == 0, r.stderr
    r = lunarelay("decode", str(stream), "-o", str(back), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["link"]["scid"] == 0x2A1 and summary["frames"]["bad_headers"] == 0
    assert back.read_bytes() == packets
    r = lunarelay("decode", str(stream), "--json", "--scid", "0xab", "--ocf")
    summary = json.loads(r.stdout)
    assert summary["link"]["scid"] == 0xAB
    assert summary["frames"]["bad_headers"] == summary["frames"]["frames"] > 0
