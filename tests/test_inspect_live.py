"""`lunarelay inspect` on live links: UDP at ten times the default scenario's downlink with no frame
missed, TCP (client and server), a serial URL, a ZeroMQ PUB of CADUs, the --follow dashboard, and a
tap on the onboard bus that sees every message while the bus's own subscribers see what they saw
without it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
import zmq

from onboard.bus.client import BusClient
from onboard.bus.endpoints import BusEndpoints
from onboard.bus.proxy import Proxy
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.core.spp import build_packet

CADU = 1279
DEFAULT_FPS = 10.0                 # onboard/scenarios/default.toml [downlink] frame_rate_hz


@pytest.fixture(scope="module")
def cadus():
    rng = np.random.default_rng(12)
    sizes = rng.integers(40, 500, 1200)
    bodies = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in sizes]
    packets = b"".join(build_packet(0x100 + i % 3, body, seq_count=(i // 3) & 0x3FFF)
                       for i, body in enumerate(bodies))
    tx = TmSendChain(TmLinkConfig(scid=0x2A1, ocf=True))
    return np.concatenate([tx.packets_to_cadus(packets), tx.flush()]).tobytes()


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(spec: str, tmp_path, *extra: str, duration: float = 6.0) -> tuple[subprocess.Popen, object]:
    out = tmp_path / f"summary-{abs(hash(spec))}.json"
    p = subprocess.Popen([sys.executable, "-m", "lunarelay_tools.cli", "inspect", spec, "--duration",
                          str(duration), "--summary", str(out), *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p, out


def finish(p: subprocess.Popen, out) -> tuple[dict, str]:
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    return json.loads(out.read_text()), stdout


READY_S = 5.0                      # generous: interpreters start slowly on a loaded machine


def wait_ready(seconds: float = READY_S) -> None:
    time.sleep(seconds)            # the command's interpreter starts and binds or connects


def test_udp_at_ten_times_the_default_downlink_misses_no_frame(tmp_path, cadus):
    port = free_port()
    n = 300
    p, out = start(f"udp://127.0.0.1:{port}", tmp_path, duration=READY_S + n / (10 * DEFAULT_FPS) + 2)
    wait_ready()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.perf_counter()
    for k in range(n):
        s.sendto(cadus[k * CADU:(k + 1) * CADU], ("127.0.0.1", port))
        delay = t0 + (k + 1) / (10 * DEFAULT_FPS) - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    summary, _ = finish(p, out)
    st = summary["streams"][0]["layers"]
    assert st["cadu"]["cadus"] == n and st["master_channel"]["mc_gaps"] == 0
    assert summary["live"]["messages"] == n and summary["accounting"]["unaccounted"] == 0


def test_tcp_client_and_server_and_a_serial_url(tmp_path, cadus):
    data = cadus[:200 * CADU]
    # inspect listens, we connect
    port = free_port(socket.SOCK_STREAM)
    p, out = start(f"tcp-listen://127.0.0.1:{port}", tmp_path, duration=READY_S + 4)
    wait_ready()
    with socket.create_connection(("127.0.0.1", port)) as c:
        for at in range(0, len(data), 3000):        # pieces that cut CADUs anywhere
            c.sendall(data[at:at + 3000])
    summary, _ = finish(p, out)
    assert summary["streams"][0]["layers"]["cadu"]["cadus"] == 200
    # we listen; inspect connects, over TCP and through pyserial's socket:// URL
    for spec in ("tcp://127.0.0.1:{}", "serial:socket://127.0.0.1:{}"):
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]

        def serve(srv=server):
            conn, _ = srv.accept()
            with conn:
                time.sleep(0.5)         # pyserial's socket:// open() discards what is already waiting
                conn.sendall(data)
                time.sleep(1.5)
            srv.close()

        threading.Thread(target=serve, daemon=True).start()
        p, out = start(spec.format(port), tmp_path, duration=5)
        summary, _ = finish(p, out)
        assert summary["streams"][0]["layers"]["cadu"]["cadus"] == 200, spec


def test_a_zeromq_pub_of_cadus_and_the_follow_dashboard(tmp_path, cadus):
    from onboard.links.cadu import ZmqSink

    endpoint = f"ipc://{tmp_path}/downlink"
    sink = ZmqSink(endpoint)
    p, out = start(f"zmq+sub://{endpoint}", tmp_path, "--follow", duration=5)
    wait_ready(3.0)
    for k in range(100):
        sink.write(cadus[k * CADU:(k + 1) * CADU], CADU)
        time.sleep(0.005)
    summary, stdout = finish(p, out)
    sink.close()
    assert summary["streams"][0]["layers"]["cadu"]["cadus"] == 100
    for text in ("sync lock", "packets by APID", "frames/s", "RS(255,223)"):
        assert text in stdout


def test_the_bus_tap_sees_every_message_and_changes_nothing_for_the_others(tmp_path):
    directory = tempfile.mkdtemp(prefix="lrtap")
    url = f"ipc://{directory}/bus"
    endpoints = BusEndpoints.from_url(url)
    context = zmq.Context()
    proxy = Proxy(endpoints, context)
    proxy.start()
    publisher = BusClient(endpoints, context=context)
    listener = BusClient(endpoints, context=context)
    pipe = listener.pipe("hk", [bytes([0x08, 0x12])])            # a module's subscription: store HK only
    time.sleep(0.5)

    def round_of(n: int) -> int:
        for i in range(n):
            publisher.publish(0x012, i.to_bytes(4, "big"))        # store HK topic
            publisher.publish(0x101, bytes(20))                   # user data: not the listener's
        got, deadline = 0, time.monotonic() + 5
        while got < n and time.monotonic() < deadline:
            if pipe.receive(0.1) is not None:
                got += 1
        return got

    try:
        assert round_of(50) == 50
        p, out = start(f"bus:{url}", tmp_path, duration=6)
        wait_ready(3.0)
        assert round_of(200) == 200                                # the module still gets exactly its own
        summary, _ = finish(p, out)
        apids = {a["apid"]: a for a in summary["streams"][0]["apids"]}
        assert apids[0x012]["packets"] == 200 and apids[0x101]["packets"] == 200
        assert summary["streams"][0]["link"]["format"] == "packets"
        assert pipe.snapshot().lost == 0 and pipe.snapshot().dropped == 0
    finally:
        publisher.close()
        listener.close()
        proxy.stop()
        context.term()
