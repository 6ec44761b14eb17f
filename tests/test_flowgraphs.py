"""The bench's GNU Radio flowgraphs (hil/flowgraphs/) run headless in GNU Radio 3.10 with the
radio replaced by a file: what the emulator streams over ZeroMQ reaches the "radio" sample for
sample, and what the "radio" receives reaches the emulator."""

from __future__ import annotations

import pathlib
import socket
import subprocess
import threading

import numpy as np
import pytest
from conftest import require_system_modules

from hil.bench.file import FLOWGRAPH_DIR
from onboard.links.zmq_iq import IqSink, IqSource, iq_blocks

ITEMS = 100_000
pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def gr_python():
    return require_system_modules(("gnuradio.zeromq", "gnuradio.soapy"), "gnuradio",
                                  "Debian package gnuradio (gr-zeromq, gr-soapy)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("flowgraph", "fmt"), [("nav_tx.py", "cf32"), ("comm_tx.py", "ci16")])
def test_transmit_flowgraph_carries_the_zmq_stream_to_the_radio_sample_for_sample(gr_python, tmp_path,
                                                                                   flowgraph, fmt):
    rng = np.random.default_rng(5)
    if fmt == "cf32":
        n = ITEMS + 20_000
        data = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
        want = data[:ITEMS]
    else:
        data = rng.integers(-20000, 20000, (ITEMS + 20_000, 2), dtype=np.int16)
        want = (data[:ITEMS, 0] + 1j * data[:ITEMS, 1]).astype(np.complex64) / 32768
    address = f"tcp://127.0.0.1:{free_port()}"
    sink = IqSink(address.replace("127.0.0.1", "*"), "push", fmt, linger_ms=0)
    out = tmp_path / "radio.cf32"
    proc = subprocess.Popen([gr_python, str(pathlib.Path(FLOWGRAPH_DIR) / flowgraph), "--address", address,
                             "--format", fmt, "--device", f"file:{out}", "--items", str(ITEMS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    feeder = threading.Thread(target=sink.stream, args=(iq_blocks(data, 4096, fmt),), daemon=True)
    feeder.start()
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        sink.stop()
        feeder.join(10)
        sink.close()
    assert proc.returncode == 0, err[-2000:]
    got = np.fromfile(out, np.complex64)
    assert len(got) == ITEMS
    np.testing.assert_array_equal(got, want)


def test_receive_flowgraph_carries_the_radio_to_the_zmq_stream(gr_python, tmp_path):
    rng = np.random.default_rng(6)
    radio = (rng.standard_normal(ITEMS) + 1j * rng.standard_normal(ITEMS)).astype(np.complex64)
    recording = tmp_path / "air.cf32"
    radio.tofile(recording)
    port = free_port()
    source = IqSource(f"tcp://127.0.0.1:{port}", "pull", "cf32")
    proc = subprocess.Popen([gr_python, str(pathlib.Path(FLOWGRAPH_DIR) / "comm_rx.py"), "--address",
                             f"tcp://*:{port}", "--device", f"file:{recording}", "--items", str(ITEMS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = []
    try:
        n = 0
        while n < ITEMS:
            block = source.receive(timeout_ms=20_000)
            assert block is not None, "the flowgraph sent nothing for 20 s"
            items = block[0] if isinstance(block, tuple) else block
            got.append(np.array(items))
            n += len(items)
        _, err = proc.communicate(timeout=60)
    finally:
        source.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    np.testing.assert_array_equal(np.concatenate(got)[:ITEMS], radio)


def test_flowgraph_with_the_soapy_radio_loads_and_refuses_a_missing_device_with_a_message(gr_python):
    proc = subprocess.run([gr_python, str(pathlib.Path(FLOWGRAPH_DIR) / "nav_tx.py"), "--device",
                           "driver=nosuchradio", "--items", "10"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "nosuchradio" in proc.stderr or "device" in proc.stderr.lower()
