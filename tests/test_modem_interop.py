"""The modem against real peers.

* gr-satellites 4.4, the real ``gr_satellites`` program with a SatYAML file describing the link
  (BPSK, NRZ-M as its ``precoding: differential``, CCSDS Reed-Solomon framing), demodulates a
  BPSK IQ file ``lunarelay encode --modulate`` wrote at Es/N0 9 dB with a 150 Hz offset and an
  arbitrary phase, and decodes every frame byte for byte.
* lunarelay's demodulator decodes BPSK IQ that GNU Radio's own Constellation Modulator made
  (RRC pulses) through GNU Radio's channel model (noise, frequency offset, phase, sample clock
  offset), from a file and from a gr-zeromq PUSH stream: every frame comes out.
"""

from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, require_command, require_peer

from hil.ground.rf import TmModemReceiver
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.ccsds.rf import ModemConfig
from onboard.core.modem import Scheme
from onboard.core.spp import build_packet

SYSTEM_PYTHON = "/usr/bin/python3"
RUN_GRSAT = ROOT / "tests" / "peers" / "grsat" / "run_gr_satellites.py"
GR_MODULATE = ROOT / "tests" / "peers" / "gnuradio" / "bpsk_modulate.py"

pytestmark = pytest.mark.interop

SATYAML = """\
name: LUNARELAY-MODEM-TEST
norad: 99999
data:
  &tlm Telemetry:
    unknown
transmitters:
  9k6 BPSK downlink:
    frequency: 2.2e+9
    modulation: BPSK
    baudrate: 9600
    framing: CCSDS Reed-Solomon
    frame size: 1115
    RS basis: dual
    RS interleaving: 5
    precoding: differential
    data:
    - *tlm
"""


@functools.cache
def python_has(module: str) -> bool:
    try:
        r = subprocess.run([SYSTEM_PYTHON, "-c", f"import {module}"], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def make_packets(rng, frames: int, frame_len: int = 1115) -> bytes:
    out, size, i = [], 0, 0
    while size < frames * frame_len:
        p = build_packet(0x123, rng.integers(0, 256, int(rng.integers(20, 600)), dtype=np.uint8).tobytes(),
                         seq_count=i)
        out.append(p)
        size += len(p)
        i += 1
    return b"".join(out)


def expected_frames(cfg: TmLinkConfig, packets: bytes) -> list[bytes]:
    tx = TmSendChain(cfg)
    frames = tx.packets_to_frames(packets) + tx.flush_frames()
    n = cfg.frame_length
    return [frames[i:i + n] for i in range(0, len(frames), n)]


def kiss_frames(data: bytes) -> list[bytes]:
    """Data frames of a KISS file (FEND-delimited, escaped, a command octet first: 0 for data;
    gr_satellites also writes its timestamps, command 9)."""
    frames = []
    for chunk in data.split(b"\xc0"):
        if not chunk or chunk[0] != 0:
            continue
        body = chunk[1:].replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
        frames.append(body)
    return frames


def lunarelay(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr


def test_gr_satellites_decodes_our_bpsk_iq_at_9_db_with_offset_and_any_phase(tmp_path, rng):
    require_command("gr_satellites", "gr-satellites")
    require_peer("gr-satellites", python_has("satellites"), "Debian package gr-satellites")
    cfg = TmLinkConfig(scid=0xAB)  # lunarelay encode's default spacecraft
    packets = make_packets(rng, 12)
    (tmp_path / "p.bin").write_bytes(packets)
    phase = float(rng.random())
    lunarelay("encode", str(tmp_path / "p.bin"), "-o", str(tmp_path / "sig"), "--modulate", "bpsk",
              "--coding", "nrz-m", "--symbol-rate", "9600", "--fs", "48000", "--format", "cf32",
              "--esn0", "9", "--cfo", "150", "--phase", f"{phase:.6f}", "--preamble-bits", "4000",
              "--channel-seed", str(int(rng.integers(1, 1 << 30))))
    # a few seconds of the channel after the last frame, so the flowgraph drains its frames
    iq = np.fromfile(tmp_path / "sig.sigmf-data", dtype=np.complex64)
    tail = (rng.standard_normal(3 * 48000) + 1j * rng.standard_normal(3 * 48000)).astype(np.complex64)
    tail *= np.sqrt(np.mean(np.abs(iq[:48000]) ** 2) / 2 / 10 ** 0.9 * 5)
    np.concatenate([iq, tail]).tofile(tmp_path / "sig.c64")
    (tmp_path / "sat.yml").write_text(SATYAML)
    r = subprocess.run([SYSTEM_PYTHON, str(RUN_GRSAT), str(tmp_path / "sat.yml"), "--rawfile",
                        str(tmp_path / "sig.c64"), "--iq", "--samp_rate", "48000", "--kiss_out",
                        str(tmp_path / "frames.kiss")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = kiss_frames((tmp_path / "frames.kiss").read_bytes())
    want = expected_frames(cfg, packets)
    assert len(want) >= 12
    assert got == want


def gnuradio_iq(tmp_path, octets: bytes, *extra: str) -> None:
    require_peer("GNU Radio", python_has("gnuradio.digital"), "Debian package gnuradio")
    (tmp_path / "octets.bin").write_bytes(octets)
    r = subprocess.run([SYSTEM_PYTHON, str(GR_MODULATE), str(tmp_path / "octets.bin"),
                        str(tmp_path / "gr.c64"), *extra], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


def link_octets(rng, cfg: TmLinkConfig, packets: bytes) -> bytes:
    tx = TmSendChain(cfg)
    cadus = np.concatenate([tx.packets_to_cadus(packets), tx.flush()]).tobytes()
    pad = rng.integers(0, 256, 1000, dtype=np.uint8).tobytes()  # what the radio sends around the frames
    return pad + cadus + pad[:200]


def test_our_demodulator_decodes_gnuradio_constellation_modulator_iq_from_a_file(tmp_path, rng):
    cfg = TmLinkConfig()
    packets = make_packets(rng, 16)
    gnuradio_iq(tmp_path, link_octets(rng, cfg, packets), "--sps", "4", "--excess-bw", "0.35", "--esn0", "9",
                "--freq-offset", "0.0009", "--phase", f"{rng.random() * 6.28:.4f}", "--epsilon", "1.00003")
    iq = np.fromfile(tmp_path / "gr.c64", dtype=np.complex64)
    modem = ModemConfig(Scheme.BPSK, 4.0, rolloff=0.35, symbol_rate=250e3)  # 0.0009 * 1 Msps = 900 Hz
    rx = TmModemReceiver(cfg, modem)
    got = b"".join(rx.push_samples(iq[i:i + 65536]).packets for i in range(0, iq.size, 65536))
    got += rx.flush().packets
    assert got == packets
    assert rx.stats()["frames"] == len(expected_frames(cfg, packets))
    assert abs(rx.status().freq_offset_hz - 0.0009 * modem.fs_hz) < 20.0


def test_our_demodulator_decodes_gnuradio_iq_from_a_zeromq_push_stream(tmp_path, rng):
    import zmq

    cfg = TmLinkConfig()
    packets = make_packets(rng, 8)
    octets = link_octets(rng, cfg, packets)
    context = zmq.Context()
    probe = context.socket(zmq.PULL)  # a free port for GNU Radio's push_sink, which binds
    port = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close(0)
    pull = context.socket(zmq.PULL)
    pull.connect(f"tcp://127.0.0.1:{port}")
    (tmp_path / "octets.bin").write_bytes(octets)
    require_peer("GNU Radio", python_has("gnuradio.zeromq"), "Debian package gnuradio")
    proc = subprocess.Popen([SYSTEM_PYTHON, str(GR_MODULATE), str(tmp_path / "octets.bin"), "unused",
                             "--zmq", f"tcp://127.0.0.1:{port}", "--esn0", "10", "--freq-offset", "-0.0004",
                             "--phase", "2.0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    modem = ModemConfig(Scheme.BPSK, 4.0, rolloff=0.35, symbol_rate=250e3)
    rx = TmModemReceiver(cfg, modem)
    got = b""
    pull.setsockopt(zmq.RCVTIMEO, 20_000)
    samples = 0
    try:
        while samples < len(octets) * 8 * 4:
            try:
                msg = pull.recv()
            except zmq.Again:
                break
            block = np.frombuffer(msg, dtype=np.complex64)
            samples += block.size
            got += rx.push_samples(block).packets
    finally:
        proc.wait(timeout=120)
        pull.close(0)
        context.term()
    got += rx.flush().packets
    assert got == packets
