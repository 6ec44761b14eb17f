"""The SDR's IQ stream across the ZeroMQ fault proxy: after the peer restarts, the consumer
(``IqSource``) keeps receiving by itself and reports the gap from the gr-zeromq headers' item
offsets, so every sample produced is either received or counted in a gap."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hil.faults import Fault, FaultSchedule, open_proxy
from onboard.links.zmq_iq import IqSink, IqSource

BLOCK = 1000


def _stream(role: str, faults, run_s: float = 1.6):
    """Produce numbered samples through the proxy for ``run_s``; what the consumer took."""
    sink = IqSink("tcp://127.0.0.1:*", role, "cf32", pass_tags=True, rx_time=100.0, sample_rate_sps=1e6,
                  linger_ms=0)
    proxy = open_proxy(f"zmq-{role}", sink.endpoint, "tcp://127.0.0.1:*", FaultSchedule(faults, seed=4))
    source = IqSource(proxy.url, "pull" if role == "push" else "sub", "cf32", pass_tags=True)
    proxy.start()
    done = threading.Event()

    def produce():
        n = 0
        while not done.is_set():
            # each sample holds its own item number, so what arrives can be checked in place
            sink.send(np.arange(n, n + BLOCK, dtype=np.float32).astype(np.complex64))
            n += BLOCK
            time.sleep(0.003)

    producer = threading.Thread(target=produce, daemon=True)
    received = []
    try:
        if role == "pub":
            assert sink.wait_for_subscriber(5.0)
        producer.start()
        start = time.monotonic()
        while time.monotonic() - start < run_s:
            got = source.receive(50)
            if got is not None:
                received.append((time.monotonic() - start, source.stream_offset - len(got[0]), got[0]))
        done.set()
        producer.join()
        while (got := source.receive(300)) is not None:          # what is still on its way
            received.append((time.monotonic() - start, source.stream_offset - len(got[0]), got[0]))
        assert proxy.error is None
        return sink.offset, source, proxy.counters(), received, proxy
    finally:
        done.set()
        source.close()
        proxy.stop()
        sink.close()


@pytest.mark.parametrize("role", ["push", "pub"])
def test_consumer_keeps_receiving_after_the_sdr_peer_restarts_and_reports_the_gap(role):
    produced, source, counts, received, _ = _stream(role, [Fault("peer_restart", start_s=0.5, down_s=0.4)])
    assert counts["restarts"] == 1 and counts["comebacks"] == 1 and counts["messages_lost"] > 0
    # blocks keep coming after the peer came back (0.9 s), each sample where its offset says
    assert any(t > 1.0 for t, _, _ in received)
    for _, offset, block in received:
        assert block.real[0] == offset and block.real[-1] == offset + len(block) - 1
    assert source.gaps == 1 and source.gap_items > 0
    start, end = source.last_gap
    assert end - start == source.gap_items
    # every sample produced was either received or is in the reported gap
    assert source.offset + source.gap_items == produced
    assert source.stream_offset == produced


def test_a_peer_that_comes_back_holding_its_samples_delivers_what_it_held():
    produced, source, counts, _, proxy = _stream("push", [Fault("peer_restart", start_s=0.5, down_s=0.4,
                                                                 lose_samples=False)])
    assert counts["restarts"] == 1 and counts["messages_lost"] == 0 and counts["backlog_max"] > 10
    # what the proxy held while down reached the consumer; only what was in flight in the socket
    # that closed (normally nothing) can be missing, and then it is reported
    assert source.gap_items < counts["backlog_max"] * BLOCK // 4
    assert source.offset + source.gap_items == produced
    assert proxy.recovery_s and proxy.recovery_s[0] < 0.9


def test_an_outage_window_cuts_the_stream_without_restarting_the_peer():
    produced, source, counts, received, _ = _stream("push", [Fault("outage", start_s=0.5, duration_s=0.3)])
    assert counts["restarts"] == 0 and counts["outage.dropped"] > 0 and counts["outage.outages"] == 1
    assert source.gaps == 1 and source.offset + source.gap_items == produced
    assert any(t > 0.9 for t, _, _ in received)


def test_pull_proxy_stands_in_a_hop_whose_consumer_binds_and_cuts_only_its_link(tmp_path):
    import zmq

    # the uplink's hop: the ground's PUSH connects, the uplink module's PULL binds
    ctx = zmq.Context()
    consumer = ctx.socket(zmq.PULL)
    consumer.bind(f"ipc://{tmp_path}/module")
    plan = FaultSchedule([Fault("outage", start_s=0.3, duration_s=0.3, link="uplink"),
                          Fault("outage", start_s=0.0, duration_s=5.0, link="downlink")], seed=1)
    proxy = open_proxy("outage-zmq-pull", f"ipc://{tmp_path}/hop", f"ipc://{tmp_path}/module", plan,
                       link="uplink")
    producer = ctx.socket(zmq.PUSH)
    producer.setsockopt(zmq.LINGER, 0)
    producer.connect(proxy.url)
    proxy.start()
    sent, got = 0, []
    start = time.monotonic()
    try:
        while time.monotonic() - start < 1.0:
            producer.send(sent.to_bytes(4, "big"))
            sent += 1
            while consumer.poll(0):
                got.append((time.monotonic() - start, int.from_bytes(consumer.recv(), "big")))
            time.sleep(0.005)
        while consumer.poll(300):
            got.append((time.monotonic() - start, int.from_bytes(consumer.recv(), "big")))
        counts = proxy.counters()
        assert proxy.error is None
    finally:
        proxy.stop()
        producer.close(0)
        consumer.close(0)
        ctx.term()
    assert counts["outage.outages"] == 1 and counts["outage.dropped"] > 0     # the downlink's stays out
    assert counts["messages_in"] == sent and len(got) == sent - counts["outage.dropped"]
    numbers = [n for _, n in got]
    assert numbers == sorted(numbers)                       # in order, each once; a gap for the cut
    assert any(t > 0.6 for t, _ in got)                     # and the hop carries again after it
