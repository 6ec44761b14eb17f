"""Comm-link outage windows: the gate shuts on the plan's windows, and a real CADU stream sent as
UDP datagrams through the outage proxy loses exactly the CADUs of the window: the ground's
receive chain counts them as lost frames and decodes the packets on both sides of it."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np

from hil.faults import Fault, FaultSchedule, open_proxy
from hil.faults.outage import OutageGate
from hil.ground.chain import TmReceiveChain
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.core.spp import build_packet


def test_gate_shuts_inside_each_window_and_counts_what_it_dropped():
    now = [0.0]
    plan = FaultSchedule([Fault("outage", start_s=1.0, duration_s=2.0),
                          Fault("outage", start_s=10.0, duration_s=20.0, every_s=5.0, down_s=1.0)], seed=9)
    gate = OutageGate(plan, clock=lambda: now[0])
    assert len(gate.windows) >= 2 and gate.windows[0] == (1.0, 3.0)
    passed = []
    for t in np.arange(0.0, 30.0, 0.05):
        now[0] = float(t)
        passed.append(gate(b"cadu") is not None)
    inside = [any(a <= t < b for a, b in gate.windows) for t in np.arange(0.0, 30.0, 0.05)]
    assert passed == [not x for x in inside]
    assert gate.stats()["dropped"] == sum(inside) and gate.stats()["outages"] == len(gate.windows)


def test_cadus_lost_to_an_outage_are_counted_by_the_ground_and_the_stream_goes_on():
    cfg = TmLinkConfig()
    send = TmSendChain(cfg)
    packets = [build_packet(0x100, bytes([i % 256]) * 1000, seq_count=i) for i in range(120)]
    cadus = np.concatenate([send.packets_to_cadus(b"".join(packets)), send.flush()])
    cadus = cadus.reshape(-1, cfg.cadu_length)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    proxy = open_proxy("outage-udp", "udp://127.0.0.1:0", f"udp://127.0.0.1:{receiver.getsockname()[1]}",
                       FaultSchedule([Fault("outage", start_s=0.3, duration_s=0.3)], seed=1)).start()
    host, port = proxy.url[6:].rsplit(":", 1)
    chain = TmReceiveChain(cfg)
    got = []

    def receive():
        while True:
            try:
                got.append(chain.push_bytes(receiver.recv(65536)).packets)
            except TimeoutError:
                return

    reader = threading.Thread(target=receive)
    reader.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for cadu in cadus:                      # about one CADU every 10 ms: the window holds ~30
        sender.sendto(cadu.tobytes(), (host, int(port)))
        time.sleep(0.01)
    reader.join()
    proxy.stop()
    dropped = proxy.counters()["dropped"]
    stats = chain.stats()
    assert proxy.counters()["units"] == len(cadus) and 10 < dropped < len(cadus) - 10
    assert stats["frames"] == len(cadus) - dropped
    assert stats["frames_lost"] == dropped          # the master channel frame count's gap
    delivered = b"".join(got)
    assert delivered.startswith(packets[0]) and delivered.endswith(packets[-1])
