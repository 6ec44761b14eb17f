"""lunarelay's ZeroMQ IQ streams read by real GNU Radio 3.10 flowgraphs (Debian gnuradio).

GNU Radio's own zeromq.sub_source, pull_source and req_source receive the stream
(tests/peers/gnuradio/zmq_receive.py, run with the system interpreter); what they write to a
file must equal what lunarelay sent, bit for bit, and the tags they see must be the ones sent.
The other way round, a GNU Radio push_sink's tag header must parse here, and GNU Radio's PMT
serialiser must agree with lunarelay's byte for byte.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import zmq
from conftest import SYSTEM_PYTHON, require_system_modules

from onboard.links.zmq_iq import (
    U64,
    IqSink,
    Tag,
    iq_blocks,
    parse_tag_header,
    pmt_serialize,
)

PEERS = pathlib.Path(__file__).resolve().parent / "peers" / "gnuradio"
ITEMS = 200_000       # items the flowgraph keeps (blocks.head)
EXTRA = 50_000        # sent beyond that, so head always fills however the last message splits
BLOCK = 4096
RX_TIME = (1_800_000_000, 0.25)
SAMPLE_RATE = 4e6
USER_TAG = Tag(123_457, "prn", 12)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def gnuradio():
    require_system_modules(("gnuradio.zeromq", "pmt"), "gnuradio", "Debian package gnuradio (gr-zeromq)")


def _stream(fmt: str, rng) -> np.ndarray:
    n = ITEMS + EXTRA
    if fmt == "cf32":
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64) * 1000
    return rng.integers(-32768, 32768, (n, 2), dtype=np.int16)


def _receive(role: str, fmt: str, pass_tags: bool, data: np.ndarray, tmp_path: pathlib.Path,
             complex_out: bool = False, key: str | None = None) -> tuple[bytes, dict, IqSink, pathlib.Path]:
    """Stream ``data`` from a lunarelay sink into GNU Radio's ``role`` source; what it wrote."""
    sink_role = {"sub": "pub", "pull": "push", "req": "rep"}[role]
    sink = IqSink("tcp://127.0.0.1:*", sink_role, fmt, pass_tags=pass_tags,
                  sample_rate_sps=SAMPLE_RATE, rx_time=RX_TIME, linger_ms=0, key=key)
    out = tmp_path / "received.bin"
    complex_path = tmp_path / "received_cf32.bin"
    cmd = [SYSTEM_PYTHON, str(PEERS / "zmq_receive.py"), "--role", role, "--address", sink.endpoint,
           "--format", fmt, "--items", str(ITEMS), "--out", str(out)]
    if pass_tags:
        cmd.append("--pass-tags")
    if complex_out:
        cmd += ["--complex-out", str(complex_path)]
    if key:
        cmd += ["--key", key]
    flowgraph = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def send_all():
        # PUB: start once GNU Radio's SUB has subscribed, so the slow-joiner race loses nothing
        if sink_role == "pub" and not sink.wait_for_subscriber(timeout_s=120):
            return
        for block in iq_blocks(data, BLOCK, fmt):
            if not sink.send(block, tags=[USER_TAG]) and sink.stopped:
                return

    sender = threading.Thread(target=send_all)
    sender.start()
    try:
        stdout, stderr = flowgraph.communicate(timeout=300)
    finally:
        flowgraph.kill()
        sink.stop()
        sender.join(timeout=60)
        sink.close(0)
    assert flowgraph.returncode == 0, stderr[-2000:]
    return out.read_bytes(), json.loads(stdout.strip().splitlines()[-1]), sink, complex_path


@pytest.mark.parametrize("pass_tags", [False, True], ids=["raw", "pass_tags"])
@pytest.mark.parametrize("fmt", ["cf32", "ci16"])
@pytest.mark.parametrize("role", ["pull", "req", "sub"])
def test_gnuradio_zmq_source_writes_lunarelays_samples_bit_for_bit(gnuradio, rng, tmp_path, role, fmt,
                                                                   pass_tags):
    data = _stream(fmt, rng)
    received, report, sink, _ = _receive(role, fmt, pass_tags, data, tmp_path)
    item_size = 8 if fmt == "cf32" else 4
    assert len(received) == ITEMS * item_size
    assert received == data[:ITEMS].tobytes()
    assert sink.stats.drops == 0
    if pass_tags:
        rx_time = [t for t in report["tags"] if t["key"] == "rx_time"]
        assert [(t["offset"], t["rx_time"]) for t in rx_time] == [(0, list(RX_TIME))]
        prn = [t for t in report["tags"] if t["key"] == "prn"]
        assert [(t["offset"], t["value"], t["srcid"]) for t in prn] == [(USER_TAG.offset, "12", "#f")]
    else:
        assert report["tags"] == []


def test_gnuradio_sub_source_with_a_key_reads_a_keyed_pub_stream(gnuradio, rng, tmp_path):
    data = _stream("cf32", rng)
    received, report, _, _ = _receive("sub", "cf32", True, data, tmp_path, key="afs-node-3")
    assert received == data[:ITEMS].tobytes()
    assert [t["offset"] for t in report["tags"] if t["key"] == "rx_time"] == [0]


def test_gnuradio_interleaved_short_to_complex_reads_ci16_as_the_same_integers(gnuradio, rng, tmp_path):
    data = _stream("ci16", rng)
    _, _, _, complex_path = _receive("pull", "ci16", False, data, tmp_path, complex_out=True)
    as_complex = np.fromfile(complex_path, dtype=np.complex64)
    expected = (data[:ITEMS, 0].astype(np.float32) + 1j * data[:ITEMS, 1].astype(np.float32))
    assert np.array_equal(as_complex, expected.astype(np.complex64))


def test_gnuradio_pmt_serialiser_agrees_with_lunarelays(gnuradio):
    result = subprocess.run([SYSTEM_PYTHON, str(PEERS / "pmt_vectors.py")], capture_output=True, text=True,
                            timeout=120, check=True)
    theirs = json.loads(result.stdout)
    ours = {
        "symbol_rx_time": "rx_time",
        "uint64_big": U64(2**63 + 5),
        "double": 0.123456789,
        "long_small": -42,
        "long_big": 1 << 40,
        "complex": 1.5 - 2.25j,
        "true": True,
        "false": False,
        "nil": None,
        "rx_time": (U64(1_800_000_000), 0.25),
    }
    assert set(theirs) == set(ours)
    for name, value in ours.items():
        assert pmt_serialize(value).hex() == theirs[name], name


def test_gnuradio_push_sink_tag_header_parses_here(gnuradio):
    items = 20_000
    with socket.socket() as probe:  # a free port for GNU Radio's push_sink, which binds
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 120_000)
    flowgraph = subprocess.Popen([SYSTEM_PYTHON, str(PEERS / "zmq_send.py"), "--address", address,
                                  "--items", str(items)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
    try:
        pull.connect(address)
        payload = []
        tags = []
        got = 0
        while got < items:
            message = pull.recv()
            offset, message_tags, header_len = parse_tag_header(message)
            assert offset == got
            tags += message_tags
            payload.append(message[header_len:])
            got += (len(message) - header_len) // 8
        flowgraph.communicate(timeout=120)
    finally:
        flowgraph.kill()
        pull.close(0)
        context.term()
    assert np.array_equal(np.frombuffer(b"".join(payload), np.complex64),
                          np.arange(items, dtype=np.float32).astype(np.complex64))
    assert tags == [Tag(0, "rx_time", (U64(7), 0.5), False), Tag(items // 2, "prn", 12, False)]


def test_gnuradio_pull_source_receives_lunarelay_siggen_afs_stream_in_real_time(gnuradio, tmp_path):
    from onboard.core.siggen import SampleFormat
    from onboard.nav.scenario_signal import build_synthesizer, plan_from_flags

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    flags = ["--signal", "afs", "--prn", "4,9", "--doppler=-900,3100", "--cn0", "48", "--fs", "4e6",
             "--duration", "0.1", "--format", "cf32", "--seed", "11"]
    keep = 390_000  # of the 400 000 samples sent: head must never wait for a sample that does not come
    siggen = subprocess.Popen([sys.executable, "-m", "lunarelay_tools.cli", "siggen", *flags,
                               "--zmq", endpoint, "--zmq-role", "push", "--zmq-pass-tags", "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tmp_path / "afs.cf32"
    try:
        flowgraph = subprocess.run([SYSTEM_PYTHON, str(PEERS / "zmq_receive.py"), "--role", "pull",
                                    "--address", endpoint, "--format", "cf32", "--items", str(keep),
                                    "--out", str(out), "--pass-tags"],
                                   capture_output=True, text=True, timeout=300)
        stdout, stderr = siggen.communicate(timeout=120)
    finally:
        siggen.kill()
    assert flowgraph.returncode == 0, flowgraph.stderr[-2000:]
    assert siggen.returncode == 0, stderr
    plan = plan_from_flags("afs", [4, 9], [-900.0, 3100.0], [48.0], 4e6, "cf32", 0.1, 11)
    synth, _ = build_synthesizer(plan)
    assert plan.fmt == SampleFormat.CF32
    expected = synth.generate(plan.n_samples, plan.fmt)
    assert out.read_bytes() == expected[:keep].tobytes()
    tags = json.loads(flowgraph.stdout.strip().splitlines()[-1])["tags"]
    rx_time = [t for t in tags if t["key"] == "rx_time"]
    assert len(rx_time) == 1 and rx_time[0]["offset"] == 0
    assert rx_time[0]["rx_time"][0] > 1_600_000_000  # wall-clock seconds of the stream's first sample


def test_gnuradio_sub_joining_a_running_pub_stream_gets_a_contiguous_run_placed_by_rx_time(gnuradio, rng,
                                                                                          tmp_path):
    # No waiting for the subscriber: the stream runs in real time before GNU Radio starts, so
    # SUB sees a run from the middle; the periodic rx_time tags say where it sits in the stream.
    rate = 1e6
    period = 1024 * BLOCK  # the stream repeats every 4.2 s, for as long as GNU Radio takes to start
    data = rng.standard_normal(2 * period, dtype=np.float32).view(np.complex64)
    blocks = list(iq_blocks(data, BLOCK))
    sink = IqSink("tcp://127.0.0.1:*", "pub", "cf32", pass_tags=True, pacing="realtime", sample_rate_sps=rate,
                  rx_time=RX_TIME, rx_time_interval_s=0.02, hwm=10_000, linger_ms=0)
    endless = (blocks[i % len(blocks)] for i in itertools.count())
    sender = threading.Thread(target=sink.stream, args=(endless,))
    sender.start()
    out = tmp_path / "late.bin"
    try:
        flowgraph = subprocess.run([SYSTEM_PYTHON, str(PEERS / "zmq_receive.py"), "--role", "sub",
                                    "--address", sink.endpoint, "--format", "cf32", "--items", str(ITEMS),
                                    "--out", str(out), "--pass-tags"],
                                   capture_output=True, text=True, timeout=300)
    finally:
        sink.stop()
        sender.join(timeout=60)
        sink.close(0)
    assert flowgraph.returncode == 0, flowgraph.stderr[-2000:]
    tags = [t for t in json.loads(flowgraph.stdout.strip().splitlines()[-1])["tags"] if t["key"] == "rx_time"]
    assert len(tags) >= 2
    received = np.fromfile(out, np.complex64)
    assert sink.stats.drops == 0 and len(received) == ITEMS
    for tag in tags:
        secs, frac = tag["rx_time"]
        sent_index = round(((secs - RX_TIME[0]) + (frac - RX_TIME[1])) * rate)
        start = sent_index - tag["offset"]
        assert start > 0  # joined after the stream began
        assert np.array_equal(received, np.take(data, np.arange(start, start + ITEMS), mode="wrap"))
