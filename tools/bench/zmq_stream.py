"""CPU share of one core to stream 12 AFS nodes at 12 Msps, ci16, in real time over ZeroMQ.

Twelve AFS nodes are 24 synthesiser channels (AFS-I and AFS-Q each), summed into one complex
baseband stream at 12 Msps and sent as ci16 by a real-time-paced PUSH IqSink over tcp loopback
to a consumer process (a PULL reader standing in for the SDR side).  The figure is the producer
process's CPU time (every thread, libzmq's I/O thread included) per second of signal streamed:
100 % is one core.  The consumer's CPU is not counted; it is the radio's.

Same-run baselines:

* synthesis + streaming: the same stream whose samples come from the synthesiser's
  gps-sdr-sim-style scalar per-sample loop (``generate_baseline``) instead of the vector kernel;
* streaming alone: precomputed blocks through the IqSink, against a bare pyzmq loop that sends
  the same blocks with the same pacing (what the sink's framing and counters cost).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from hil.scenario_signal import build_synthesizer, plan_from_flags
from lunarelay_tools.bench import Measurement
from onboard.core.siggen import SampleFormat
from onboard.links.zmq_iq import IqSink

SUITE = "siggen"
DESCRIPTION = "CPU share of one core to stream 12 AFS nodes at 12 Msps ci16 over ZeroMQ in real time"
FS_HZ = 12e6
NODES = 12
BLOCK = 1 << 16  # 5.5 ms of signal, 256 KiB of ci16 per message

# Reads exactly the bytes it is told to expect, then exits: the SDR end of the stream.
_CONSUMER = """
import sys, zmq
ctx = zmq.Context(); sock = ctx.socket(zmq.PULL); sock.connect(sys.argv[1])
want = int(sys.argv[2]); got = 0
while got < want:
    got += len(sock.recv(copy=False))
sock.close(); ctx.term()
"""


def _synthesizer(seconds: float):
    prns = list(range(1, NODES + 1))
    dopplers = [float(d) for d in np.linspace(-4000, 4000, NODES)]
    plan = plan_from_flags("afs", prns, dopplers, [45.0], FS_HZ, "ci16", seconds, 7)
    synth, truths = build_synthesizer(plan)
    assert len(truths) == 2 * NODES
    return synth


def _consumer(address: str, n_bytes: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _CONSUMER, address, str(n_bytes)])


def _share_with_sink(next_block: Callable[[], np.ndarray], seconds: float) -> float:
    """CPU seconds per signal second to stream ``seconds`` of blocks through a real-time PUSH sink."""
    n_blocks = int(seconds * FS_HZ) // BLOCK
    with IqSink("tcp://127.0.0.1:*", "push", "ci16", pacing="realtime", sample_rate_sps=FS_HZ,
                burst_items=BLOCK) as sink:
        consumer = _consumer(sink.endpoint, (n_blocks + 1) * BLOCK * 4)
        sink.send(next_block())  # waits for the consumer to connect; starts the sample clock
        cpu0 = time.process_time()
        for _ in range(n_blocks):
            sink.send(next_block())
        cpu = time.process_time() - cpu0
    consumer.wait(timeout=120)
    return cpu / (n_blocks * BLOCK / FS_HZ)


def _share_bare_pyzmq(blocks: list[np.ndarray], seconds: float) -> float:
    """The same paced stream from a bare pyzmq PUSH loop: sleep until due, send the bytes."""
    import zmq

    n_blocks = int(seconds * FS_HZ) // BLOCK
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.bind("tcp://127.0.0.1:*")
    consumer = _consumer(sock.getsockopt_string(zmq.LAST_ENDPOINT), (n_blocks + 1) * BLOCK * 4)
    sock.send(blocks[0].tobytes())
    t0 = time.monotonic()
    cpu0 = time.process_time()
    for i in range(n_blocks):
        due = t0 + i * BLOCK / FS_HZ
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sock.send(blocks[(i + 1) % len(blocks)].tobytes())
    cpu = time.process_time() - cpu0
    sock.close(10_000)
    ctx.term()
    consumer.wait(timeout=120)
    return cpu / (n_blocks * BLOCK / FS_HZ)


def run(quick: bool = False) -> list[Measurement]:
    seconds = 1.0 if quick else 2.0
    repeat = 1 if quick else 3
    kernel_synth = _synthesizer(repeat * seconds + 1)
    scalar_synth = _synthesizer(repeat * seconds + 1)
    out = np.empty((BLOCK, 2), np.int16)
    precomputed = [kernel_synth.generate(BLOCK, SampleFormat.CI16).copy() for _ in range(16)]
    cycle = iter(range(1 << 62))

    def kernel_block() -> np.ndarray:
        return kernel_synth.generate(BLOCK, SampleFormat.CI16, out)

    runs: dict[str, Callable[[], float]] = {
        "kernel": lambda: _share_with_sink(kernel_block, seconds),
        "scalar": lambda: _share_with_sink(lambda: scalar_synth.generate_baseline(BLOCK, out), seconds),
        "sink": lambda: _share_with_sink(lambda: precomputed[next(cycle) % 16], seconds),
        "bare": lambda: _share_bare_pyzmq(precomputed, seconds),
    }
    shares: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeat):  # alternate, so load spikes hit every configuration alike
        for key, fn in runs.items():
            shares[key].append(100 * fn())
    med = {k: statistics.median(v) for k, v in shares.items()}
    what = f"{NODES} AFS nodes ({2 * NODES} ch) @ {FS_HZ / 1e6:g} Msps ci16, ZeroMQ PUSH tcp, real time"
    return [
        Measurement(SUITE, f"stream CPU share, synthesis + ZeroMQ: {what}", med["kernel"], "% of a core",
                    "same stream, scalar per-sample synthesis loop (gps-sdr-sim style)", med["scalar"]),
        Measurement(SUITE, f"stream CPU share, ZeroMQ transport only (precomputed blocks): {what}",
                    med["sink"], "% of a core", "bare pyzmq send loop, same pacing", med["bare"]),
    ]
