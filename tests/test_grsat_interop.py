"""gr-satellites decodes the CADU streams `lunarelay encode --output-format soft` writes, with its
own CCSDS Reed-Solomon deframer (several interleave depths, both bases) and its concatenated
deframer (K=7 r=1/2, convolutional='CCSDS'): the same frames, in the same order, no more."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SYSTEM_PYTHON, require_system_modules

from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.core.spp import build_packet

HARNESS = ROOT / "tests" / "peers" / "grsat" / "decode_cadu.py"

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def grsat():
    require_system_modules(("satellites",), "gr-satellites", "Debian package gr-satellites")


def lunarelay(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr


def make_packets(rng, frame_len: int, frames: int) -> bytes:
    out, size, i = [], 0, 0
    while size < frames * frame_len:
        p = build_packet(0x123, rng.integers(0, 256, int(rng.integers(20, 600)), dtype=np.uint8).tobytes(),
                         seq_count=i)
        out.append(p)
        size += len(p)
        i += 1
    return b"".join(out)


def grsat_decode(tmp: pathlib.Path, soft_u8: pathlib.Path, frame_len: int, interleave: int, basis: str,
                 concatenated: bool, expect: int) -> list[bytes]:
    f32 = tmp / "symbols.f32"
    s = np.fromfile(soft_u8, dtype=np.uint8).astype(np.float32)
    ((s - 127.5) / 127.5).astype(np.float32).tofile(f32)  # BPSK soft symbols, positive = bit 1
    out = tmp / "grsat.jsonl"
    cmd = [SYSTEM_PYTHON, str(HARNESS), str(f32), str(out), "--frame-size", str(frame_len),
           "--interleave", str(interleave), "--basis", basis, "--expect", str(expect)]
    if concatenated:
        cmd.append("--concatenated")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return [bytes.fromhex(json.loads(line)["hex"]) for line in out.read_text().splitlines()]


def expected_frames(cfg: TmLinkConfig, packets: bytes) -> list[bytes]:
    tx = TmSendChain(cfg)
    frames = tx.packets_to_frames(packets) + tx.flush_frames()
    n = cfg.frame_length
    return [frames[i:i + n] for i in range(0, len(frames), n)]


@pytest.mark.parametrize("interleave, basis, conv", [
    (1, "dual", None), (1, "conventional", None),
    (2, "dual", None), (3, "conventional", None),
    (4, "dual", None), (4, "conventional", None),
    (5, "dual", None), (5, "conventional", None),
    (8, "dual", None), (8, "conventional", None),
    (5, "dual", "1/2"), (1, "conventional", "1/2"),
], ids=lambda v: str(v))
def test_grsat_deframer_decodes_lunarelay_cadus(grsat, interleave, basis, conv, tmp_path, rng):
    frame_len = 223 * interleave
    cfg = TmLinkConfig(frame_length=frame_len, rs_interleave=interleave, rs_dual_basis=basis == "dual",
                       conv=conv)
    packets = make_packets(rng, frame_len, 24 if interleave < 8 else 16)
    pkt_file, soft = tmp_path / "packets.bin", tmp_path / "cadus.sym"
    pkt_file.write_bytes(packets)
    lunarelay("encode", str(pkt_file), "-o", str(soft), "--output-format", "soft", "--interleave",
              str(interleave), "--basis", basis, "--scid", str(cfg.scid), *(["--conv", conv] if conv else []))
    want = expected_frames(cfg, packets)
    assert len(want) >= 16
    got = grsat_decode(tmp_path, soft, frame_len, interleave, basis, conv is not None, len(want))
    assert len(got) == len(want)
    assert got == want


def test_grsat_finds_nothing_when_told_the_other_basis(grsat, tmp_path, rng):
    # the comparison above can fail: the same stream read with the wrong basis yields no frame
    packets = make_packets(rng, 223, 8)
    pkt_file, soft = tmp_path / "packets.bin", tmp_path / "cadus.sym"
    pkt_file.write_bytes(packets)
    lunarelay("encode", str(pkt_file), "-o", str(soft), "--output-format", "soft", "--interleave", "1")
    assert grsat_decode(tmp_path, soft, 223, 1, "conventional", False, 8) == []


def test_grsat_reads_an_emulated_downlink_without_a_frame_count_discontinuity(grsat, tmp_path):
    """The downlink module's own output (priorities, idle frames, CLCW in the OCF): every frame
    gr-satellites decodes follows the one before it in MC count, and in VC count on its channel."""
    from onboard.bus.packet import pack, unpack
    from onboard.modules.downlink import Downlink, link_config

    path = tmp_path / "downlink.cadu"
    dl = Downlink(outputs=[f"file:{path}"], bus=f"ipc://{tmp_path}/bus", scid=0x2A1)
    try:
        for i in range(12):
            dl.on_packet(unpack(pack(0x101, bytes([i]) * 1000, i, 1000.0)))           # VC 2
            for k in range(3):
                dl.on_packet(unpack(pack(0x414, bytes([k]) * 400, 3 * i + k, 1000.0)))   # VC 0 overtakes
            dl.emit(2)
        dl.emit(10)
    finally:
        dl.teardown()
        dl.client.close()
    soft = tmp_path / "downlink.sym"
    (np.unpackbits(np.fromfile(path, dtype=np.uint8)) * 255).astype(np.uint8).tofile(soft)
    cfg = link_config(0x2A1)                       # what the module sends: RS(255,223) I=5, dual basis
    frames = grsat_decode(tmp_path, soft, cfg.frame_length, cfg.rs_interleave, "dual", False, 34)
    assert len(frames) == 34
    mc = [f[2] for f in frames]
    assert all((b - a) % 256 == 1 for a, b in zip(mc, mc[1:], strict=False)), mc
    per_vc: dict[int, list[int]] = {}
    for f in frames:
        per_vc.setdefault((f[1] >> 1) & 7, []).append(f[3])
    assert sorted(per_vc) == [0, 2, 7]
    for counts in per_vc.values():
        assert all((b - a) % 256 == 1 for a, b in zip(counts, counts[1:], strict=False)), per_vc
