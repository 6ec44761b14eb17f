"""The software bus between two processes over ipc://: throughput, and latency at 10k packets/s.

Figures: packets/s delivered from a publishing process through the XPUB/XSUB proxy to a
subscribing process, each side using the bus API (a full CCSDS packet with CUC time packed
on one side, parsed on the other); and the 99th percentile of the one-way latency at
10 000 packets/s, sent in bursts of ten every millisecond.  Baseline, in the same run: raw
pyzmq PUSH/PULL between two processes with no proxy and no packing, the same payload size
and pacing.  Packets lost on the way (a publisher outrunning a subscriber) are reported in
the measurement name.

The proxy runs in its own process, as the executive runs it; the publisher and the
subscriber are the two processes measured.  Latency uses CLOCK_MONOTONIC, one clock for
both processes on Linux.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import time

import zmq

from lunarelay_tools.bench import Measurement
from onboard.bus.client import BusClient
from onboard.bus.packet import topic
from onboard.executive import module_command

SUITE = "bus"
DESCRIPTION = "software bus over ipc://, two processes: throughput and p99 latency at 10k packets/s"
APID = 0x1B0
PAYLOAD = 64                       # octets of user data; a 76-octet packet on the bus
RATE = 10_000
STAMP = struct.Struct(">Q")
HWM = 200_000


BURST = 10


def _pace(i: int, t0: float, period: float) -> None:
    """Hold packet ``i`` until its time; packets go in bursts of BURST (10 per ms at 10k/s), so the
    sender sleeps between bursts instead of spinning on a core the receiver needs."""
    if i % BURST:
        return
    due = t0 + i * period
    while (left := due - time.perf_counter()) > 0:
        time.sleep(left if left > 2e-4 else 0)


def _bus_publisher(url: str, n: int, rate: float, ready) -> None:
    client = BusClient(url, sndhwm=HWM)
    client.await_connection(0x3B0)
    ready.wait()
    time.sleep(0.2)
    filler = bytes(PAYLOAD - STAMP.size)
    t0 = time.perf_counter()
    for i in range(n):
        if rate:
            _pace(i, t0, 1.0 / rate)
        client.publish(APID, STAMP.pack(time.monotonic_ns()) + filler)
    time.sleep(0.5)
    client.close()


def _raw_pusher(addr: str, n: int, rate: float, ready) -> None:
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = HWM
    push.connect(addr)
    ready.wait()
    time.sleep(0.2)
    filler = bytes(PAYLOAD + 12 - STAMP.size)
    t0 = time.perf_counter()
    for i in range(n):
        if rate:
            _pace(i, t0, 1.0 / rate)
        push.send(STAMP.pack(time.monotonic_ns()) + filler)
    time.sleep(0.5)
    push.close(linger=1000)
    ctx.term()


def _bus_run(n: int, rate: float) -> tuple[int, float, list[float], int]:
    """(delivered, seconds from first to last packet, latencies in s, lost) through the bus."""
    url = f"ipc://{tempfile.mkdtemp(prefix='lrbench')}/bus"
    ctx = zmq.Context()
    proxy = subprocess.Popen(**module_command("onboard.bus.proxy", "--bus", url, "--hwm", str(HWM)))
    client = BusClient(url, context=ctx)
    pipe = client.pipe("bench", [topic(APID)], depth=HWM)
    mp = multiprocessing.get_context("spawn")
    ready = mp.Event()
    proc = mp.Process(target=_bus_publisher, args=(url, n, rate, ready))
    proc.start()
    ready.set()
    latencies, got, first, last = [], 0, 0.0, 0.0
    try:
        while got < n:
            pkt = pipe.get()
            if pkt is None:
                if not pipe.socket.poll(3000):
                    break
                continue
            got += 1
            if rate:
                latencies.append((time.monotonic_ns() - STAMP.unpack_from(pkt.data)[0]) * 1e-9)
            else:
                last = time.perf_counter()
                if got == 1:
                    first = last
    finally:
        proc.join(30)
        client.close()
        proxy.terminate()
        proxy.wait(30)
        ctx.term()
        shutil.rmtree(url[len("ipc://"):-len("/bus")], ignore_errors=True)
    return got, last - first, latencies, n - got


def _raw_run(n: int, rate: float) -> tuple[int, float, list[float], int]:
    addr = f"ipc://{tempfile.mkdtemp(prefix='lrbench')}/raw"
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = HWM
    pull.bind(addr)
    mp = multiprocessing.get_context("spawn")
    ready = mp.Event()
    proc = mp.Process(target=_raw_pusher, args=(addr, n, rate, ready))
    proc.start()
    ready.set()
    latencies, got, first, last = [], 0, 0.0, 0.0
    try:
        while got < n:
            try:
                buf = pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                if not pull.poll(3000):
                    break
                continue
            got += 1
            if rate:
                latencies.append((time.monotonic_ns() - STAMP.unpack_from(buf)[0]) * 1e-9)
            else:
                last = time.perf_counter()
                if got == 1:
                    first = last
    finally:
        proc.join(30)
        pull.close(linger=0)
        ctx.term()
        shutil.rmtree(addr[len("ipc://"):-len("/raw")], ignore_errors=True)
    return got, last - first, latencies, n - got


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else float("nan")


def run(quick: bool = False) -> list[Measurement]:
    n_tp = 100_000 if quick else 400_000
    n_lat = 10_000 if quick else 30_000
    repeats = 1 if quick else 3
    tp_bus, tp_raw, lat_bus, lat_raw, lost_bus = [], [], [], [], 0
    for _ in range(repeats):                # alternate, so load on the machine hits both alike
        got, secs, _, lost = _bus_run(n_tp, 0)
        tp_bus.append((got - 1) / secs if secs else 0.0)
        lost_bus += lost
        got, secs, _, _ = _raw_run(n_tp, 0)
        tp_raw.append((got - 1) / secs if secs else 0.0)
    for _ in range(repeats):
        lat_bus.append(_p99(_bus_run(n_lat, RATE)[2]) * 1e3)
        lat_raw.append(_p99(_raw_run(n_lat, RATE)[2]) * 1e3)
    lost_pct = 100.0 * lost_bus / (n_tp * repeats)
    return [
        Measurement(SUITE, f"bus throughput, 2 processes, ipc ({lost_pct:.1f} % lost)",
                    statistics.median(tp_bus), "packets/s", "raw pyzmq PUSH/PULL, no proxy",
                    statistics.median(tp_raw)),
        Measurement(SUITE, f"bus latency p99 at {RATE // 1000}k packets/s", statistics.median(lat_bus), "ms",
                    "raw pyzmq PUSH/PULL, no proxy", statistics.median(lat_raw)),
    ]


if __name__ == "__main__":
    for m in run(quick=bool(os.environ.get("QUICK"))):
        print(m)
