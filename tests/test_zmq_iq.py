"""ZeroMQ IQ sinks against pyzmq consumers: wire format, roles, pacing, drops and shutdown; the IQ
source against the sink and against raw peers.

The layouts checked here are gr-zeromq 3.10's (tag_headers.cc, rep_sink_impl.cc,
req_source_impl.cc) and pmt_serialize.cc's; tests/test_gnuradio_interop.py checks the same
streams against GNU Radio itself.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest
import zmq

from onboard.links.zmq_iq import (
    GR_HEADER_MAGIC,
    U64,
    IqSink,
    IqSource,
    RealTimePacer,
    StreamStats,
    Tag,
    TagHeaderError,
    ZmqIqError,
    iq_blocks,
    parse_tag_header,
    pmt_deserialize,
    pmt_serialize,
    rx_time_tag,
    tag_header,
)


def cf32_stream(rng, n):
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)


def ci16_stream(rng, n):
    return rng.integers(-32768, 32768, (n, 2), dtype=np.int16)


class FakeClock:
    """A monotonic clock that moves only when told: pacing without real waiting."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.term()


def pull_all(sock, n_messages):
    return [sock.recv() for _ in range(n_messages)]


# ---- PMT and the tag header -------------------------------------------------------------

def test_pmt_symbol_uint64_double_and_tuple_follow_pmt_serial_layout():
    # pmt_serial_tags.h: SYMBOL 0x02 (u16 length), UINT64 0x0b, DOUBLE 0x04, TUPLE 0x0c (u32 count),
    # every field big-endian.
    assert pmt_serialize("rx_time") == b"\x02" + struct.pack(">H", 7) + b"rx_time"
    assert pmt_serialize(U64(2**40 + 3)) == b"\x0b" + struct.pack(">Q", 2**40 + 3)
    assert pmt_serialize(0.375) == b"\x04" + struct.pack(">d", 0.375)
    assert pmt_serialize((U64(9), 0.5)) == (b"\x0c" + struct.pack(">I", 2) + b"\x0b" + struct.pack(">Q", 9)
                                            + b"\x04" + struct.pack(">d", 0.5))
    assert pmt_serialize(False) == b"\x01"
    assert pmt_serialize(True) == b"\x00"
    assert pmt_serialize(None) == b"\x06"


def test_pmt_long_is_int32_when_it_fits_and_int64_otherwise():
    assert pmt_serialize(-3) == b"\x03" + struct.pack(">i", -3)
    assert pmt_serialize(1 << 40) == b"\x0d" + struct.pack(">q", 1 << 40)


@pytest.mark.parametrize("value", ["rx_time", U64(7), -12, 1 << 50, 2.5e-7, 1 - 2j, True, False, None,
                                   (U64(1_700_000_000), 0.123456789), ("a", ("b", 3))])
def test_pmt_deserialize_inverts_serialize(value):
    data = pmt_serialize(value) + b"tail"
    got, end = pmt_deserialize(data)
    assert got == value and type(got) is type(value)
    assert data[end:] == b"tail"


def test_pmt_unknown_type_and_truncation_are_clear_errors():
    with pytest.raises(TagHeaderError, match="PMT type 0x09"):
        pmt_deserialize(b"\x09\x00")
    with pytest.raises(TagHeaderError, match="past the end"):
        pmt_deserialize(pmt_serialize("rx_time")[:-1])
    with pytest.raises(ValueError, match="does not fit a uint64"):
        U64(-1)


def test_deeply_nested_pmt_tuples_are_refused_not_recursed():
    nested = b"\x0c\x00\x00\x00\x01" * 5000 + b"\x06"
    with pytest.raises(TagHeaderError, match="nested deeper"):
        pmt_deserialize(nested)


def test_random_and_mutated_tag_headers_fail_only_with_tag_header_errors(rng):
    good = tag_header(77, [rx_time_tag(77, (5, 0.5)), Tag(80, "prn", (1, "x", 2.0), "src")])
    cases = [rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8).tobytes() for _ in range(2000)]
    for _ in range(2000):
        mutated = bytearray(good)
        for _ in range(int(rng.integers(1, 4))):
            mutated[int(rng.integers(2, len(mutated)))] = int(rng.integers(0, 256))
        cases.append(bytes(mutated[:int(rng.integers(0, len(mutated) + 1))]))
    parsed = 0
    for case in cases:
        try:
            parse_tag_header(case)
            parsed += 1
        except TagHeaderError:
            pass
    assert parsed < len(cases)


def test_tag_header_starts_with_magic_version_offset_and_count():
    tags = [rx_time_tag(4096, (1234, 0.5)), Tag(4100, "prn", 7, "lunarelay")]
    header = tag_header(4096, tags)
    magic, version, offset, ntags = struct.unpack_from("=HBQQ", header)
    assert (magic, version, offset, ntags) == (GR_HEADER_MAGIC, 1, 4096, 2)
    (first_tag_offset,) = struct.unpack_from("=Q", header, 19)
    assert first_tag_offset == 4096
    assert header[27:27 + 10] == pmt_serialize("rx_time")
    assert parse_tag_header(header + b"\x00" * 8) == (4096, tags, len(header))


def test_tag_header_with_wrong_magic_or_missing_tags_is_rejected():
    header = tag_header(0, [Tag(0, "k", 1)])
    with pytest.raises(TagHeaderError, match="magic"):
        parse_tag_header(b"\x00\x00" + header[2:])
    with pytest.raises(TagHeaderError, match="announces 1 tags"):
        parse_tag_header(header[:19])
    with pytest.raises(TagHeaderError, match="cannot hold"):
        parse_tag_header(header[:10])


# ---- PUSH ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["cf32", "ci16"])
def test_push_sends_one_message_per_block_with_the_raw_items(ctx, rng, fmt):
    data = cf32_stream(rng, 10_000) if fmt == "cf32" else ci16_stream(rng, 10_000)
    blocks = list(iq_blocks(data, 3000, fmt))
    pull = ctx.socket(zmq.PULL)
    with IqSink("inproc://push-raw", "push", fmt, context=ctx) as sink:
        pull.connect("inproc://push-raw")
        stats = sink.stream(blocks)
        messages = pull_all(pull, len(blocks))
    pull.close()
    assert [len(m) for m in messages] == [b.nbytes for b in blocks]
    assert b"".join(messages) == data.tobytes()
    assert stats == StreamStats(blocks=4, items=10_000, bytes=data.nbytes)


def test_push_can_connect_to_a_consumer_that_binds(ctx, rng):
    data = cf32_stream(rng, 2000)
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://bound-consumer")
    with IqSink("inproc://bound-consumer", "push", "cf32", bind=False, context=ctx) as sink:
        sink.stream(iq_blocks(data, 1000))
        messages = pull_all(pull, 2)
    pull.close()
    assert b"".join(messages) == data.tobytes()


def test_producer_may_overwrite_its_buffer_as_soon_as_send_returns(rng):
    data = cf32_stream(rng, 4 * 65536)
    buffer = np.empty(65536, np.complex64)
    sink = IqSink("tcp://127.0.0.1:*", "push", "cf32")
    consumer_ctx = zmq.Context()
    pull = consumer_ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 60_000)
    pull.connect(sink.endpoint)
    for block in iq_blocks(data, 65536):
        buffer[:] = block  # one reused output buffer, as the synthesiser's generate(out=...) does
        sink.send(buffer)
    buffer[:] = 0
    received = [pull.recv() for _ in range(4)]
    sink.close()
    pull.close(0)
    consumer_ctx.term()
    assert b"".join(received) == data.tobytes()


def test_ci16_pairs_and_interleaved_shorts_give_the_same_bytes(ctx, rng):
    pairs = ci16_stream(rng, 500)
    pull = ctx.socket(zmq.PULL)
    with IqSink("inproc://ci16-shapes", "push", "ci16", context=ctx) as sink:
        pull.connect("inproc://ci16-shapes")
        sink.send(pairs)
        sink.send(pairs.reshape(-1))
        first, second = pull_all(pull, 2)
    pull.close()
    assert first == second == pairs.tobytes()


def test_push_with_pass_tags_stamps_rx_time_on_the_first_block_only(ctx, rng):
    data = cf32_stream(rng, 6000)
    pull = ctx.socket(zmq.PULL)
    with IqSink("inproc://push-tags", "push", "cf32", pass_tags=True, sample_rate_sps=2e6,
                rx_time=(1_800_000_000, 0.25), context=ctx) as sink:
        pull.connect("inproc://push-tags")
        sink.send(data[:2000])
        sink.send(data[2000:4000], tags=[Tag(2500, "prn", 12), Tag(4000, "outside", 1)])
        sink.send(data[4000:])
        messages = pull_all(pull, 3)
    pull.close()
    parsed = [parse_tag_header(m) for m in messages]
    assert [p[0] for p in parsed] == [0, 2000, 4000]
    assert parsed[0][1] == [Tag(0, "rx_time", (U64(1_800_000_000), 0.25), False)]
    assert parsed[1][1] == [Tag(2500, "prn", 12)]
    assert parsed[2][1] == []
    assert b"".join(m[p[2]:] for m, p in zip(messages, parsed, strict=True)) == data.tobytes()


def test_rx_time_is_restamped_on_the_first_block_past_each_interval(ctx, rng):
    pull = ctx.socket(zmq.PULL)
    with IqSink("inproc://periodic", "push", "ci16", pass_tags=True, sample_rate_sps=1e6, rx_time=(9, 0.0),
                rx_time_interval_s=0.001, context=ctx) as sink:
        pull.connect("inproc://periodic")
        sink.stream(iq_blocks(ci16_stream(rng, 4000), 400, "ci16"))
        headers = [parse_tag_header(m) for m in pull_all(pull, 10)]
    pull.close()
    stamped = {offset: tags for offset, tags, _ in headers if tags}
    # 1000-item interval: stamped at 0, then the first block start at or past 0+1000, 1200+1000, ...
    assert sorted(stamped) == [0, 1200, 2400, 3600]
    assert stamped[2400] == [Tag(2400, "rx_time", (U64(9), 0.0024), False)]


def test_push_waits_for_a_consumer_and_stop_releases_it(ctx, rng):
    sink = IqSink("inproc://nobody", "push", "cf32", hwm=1, context=ctx)
    result = {}
    worker = threading.Thread(target=lambda: result.update(sent=sink.send(cf32_stream(rng, 10))))
    worker.start()
    sink.stop()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert result["sent"] is False and sink.stats.blocks == 0 and sink.offset == 0
    sink.close(0)


def test_push_close_delivers_every_queued_block_before_returning(rng):
    data = cf32_stream(rng, 64 * 65536)  # 32 MiB: more than loopback TCP buffers hold
    sink = IqSink("tcp://127.0.0.1:*", "push", "cf32")
    consumer_ctx = zmq.Context()
    pull = consumer_ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 60_000)
    pull.connect(sink.endpoint)
    sink.stream(iq_blocks(data, 65536))  # all 64 queue at once: the consumer has read nothing yet
    received = []
    reader = threading.Thread(target=lambda: received.extend(pull.recv() for _ in range(64)))
    reader.start()
    sink.close()
    reader.join(timeout=60)
    pull.close(0)
    consumer_ctx.term()
    assert b"".join(received) == data.tobytes()


def test_rep_waiting_for_requests_returns_on_stop(ctx, rng):
    sink = IqSink("inproc://rep-idle", "rep", "cf32", context=ctx)
    result = {}
    worker = threading.Thread(target=lambda: result.update(sent=sink.send(cf32_stream(rng, 10))))
    worker.start()
    sink.stop()
    worker.join(timeout=30)
    assert result["sent"] is False and sink.stats.requests == 0
    sink.close(0)


def test_stream_stops_at_max_items_inside_a_block(ctx, rng):
    data = cf32_stream(rng, 1000)
    pull = ctx.socket(zmq.PULL)
    with IqSink("inproc://max-items", "push", "cf32", context=ctx) as sink:
        pull.connect("inproc://max-items")
        stats = sink.stream(iq_blocks(data, 300), max_items=700)
        messages = pull_all(pull, 3)
    pull.close()
    assert stats.items == 700
    assert b"".join(messages) == data[:700].tobytes()


# ---- PUB -----------------------------------------------------------------------------------

def test_pub_after_subscription_delivers_every_block_with_key(ctx, rng):
    data = ci16_stream(rng, 4000)
    sub = ctx.socket(zmq.SUB)
    with IqSink("inproc://pub-key", "pub", "ci16", key="afs", context=ctx) as sink:
        sub.setsockopt(zmq.SUBSCRIBE, b"afs")
        sub.connect("inproc://pub-key")
        assert sink.wait_for_subscriber(timeout_s=30)
        sink.stream(iq_blocks(data, 1000, "ci16"))
        parts = [sub.recv_multipart() for _ in range(4)]
    sub.close()
    assert all(p[0] == b"afs" and len(p) == 2 for p in parts)
    assert b"".join(p[1] for p in parts) == data.tobytes()


def test_realtime_pub_drops_blocks_a_full_subscriber_cannot_take_and_restamps_time(ctx, rng):
    clock = FakeClock()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1)
    sink = IqSink("inproc://pub-drop", "pub", "cf32", hwm=1, pass_tags=True, pacing="realtime",
                  sample_rate_sps=1000, rx_time=(50, 0.0), context=ctx, clock=clock)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect("inproc://pub-drop")
    assert sink.wait_for_subscriber(timeout_s=30)
    data = cf32_stream(rng, 1000)
    sent, received = [], []
    for i, block in enumerate(iq_blocks(data, 100)):
        clock.now += 0.1  # each 100-item block is due as it is offered: no waiting
        sent.append(sink.send(block))
        if i == 5:  # the subscriber wakes up once, mid-stream
            while sub.poll(0):
                received.append(sub.recv())
    while sub.poll(0):
        received.append(sub.recv())
    assert sink.stats.drops == sent.count(False) > 0
    assert sink.stats.blocks == sent.count(True) == len(received)
    assert sink.stats.dropped_items == 100 * sink.stats.drops
    assert sink.offset == 1000
    offsets = [parse_tag_header(m)[0] for m in received]
    assert offsets == [100 * i for i, ok in enumerate(sent) if ok]
    # rx_time on the first block and on every block that follows a gap, for its own first item
    previous = None
    gaps = 0
    for msg, off in zip(received, offsets, strict=True):
        tags = parse_tag_header(msg)[1]
        if previous is None or off != previous + 100:
            gaps += previous is not None
            assert tags == [Tag(off, "rx_time", (U64(50), off / 1000), False)]
        else:
            assert tags == []
        previous = off
    assert gaps >= 1
    sink.close(0)
    sub.close()


# ---- REP -----------------------------------------------------------------------------------

def test_rep_answers_gnuradio_requests_with_at_most_the_items_asked(ctx, rng):
    data = ci16_stream(rng, 5000)
    req = ctx.socket(zmq.REQ)
    sink = IqSink("inproc://rep-gr", "rep", "ci16", pass_tags=True, context=ctx)
    req.connect("inproc://rep-gr")
    worker = threading.Thread(target=sink.stream, args=(iq_blocks(data, 2048, "ci16"),))
    worker.start()
    asks = [1000, 4096, 7, 3000, 8192]
    replies = []
    for ask in asks:
        req.send(struct.pack("=I", ask))
        replies.append(req.recv())
    worker.join(timeout=30)
    sink.close()
    req.close()
    parsed = [parse_tag_header(r) for r in replies]
    counts = [(len(r) - p[2]) // 4 for r, p in zip(replies, parsed, strict=True)]
    assert all(c <= a for c, a in zip(counts, asks, strict=True))
    assert sum(counts) == 5000 and sink.stats.requests == len(asks)
    assert [p[0] for p in parsed] == list(np.cumsum([0] + counts[:-1]))
    assert b"".join(r[p[2]:] for r, p in zip(replies, parsed, strict=True)) == data.tobytes()


def test_rep_gives_srsran_one_byte_requests_the_rest_of_the_block(ctx, rng):
    data = cf32_stream(rng, 3000)
    req = ctx.socket(zmq.REQ)
    sink = IqSink("inproc://rep-srsran", "rep", "cf32", context=ctx)
    req.connect("inproc://rep-srsran")
    worker = threading.Thread(target=sink.stream, args=([data[:1920], data[1920:]],))
    worker.start()
    replies = []
    for _ in range(2):
        req.send(b"\xff")  # rf_zmq_imp_rx.c: one dummy byte per request
        replies.append(req.recv())
    worker.join(timeout=30)
    sink.close()
    req.close()
    assert [len(r) for r in replies] == [1920 * 8, 1080 * 8]
    assert b"".join(replies) == data.tobytes()


# ---- pacing and configuration ----------------------------------------------------------------

def test_realtime_pacer_releases_blocks_at_the_sample_rate_with_the_burst_ahead():
    clock = FakeClock()
    pacer = RealTimePacer(sample_rate_sps=1e6, burst_items=500, clock=clock)
    t0 = clock.now
    assert pacer.delay(0, 1000) == pytest.approx(500e-6)
    clock.now = t0 + 500e-6
    assert pacer.delay(1000, 1000) == pytest.approx(1000e-6)
    clock.now = t0 + 0.010  # far behind: no wait, and the block counts as late
    assert pacer.delay(2000, 1000) == 0.0
    assert pacer.late_blocks == 1


def test_stream_time_of_an_item_counts_whole_seconds_exactly():
    sink = IqSink("inproc://time", "push", sample_rate_sps=12_000_000, rx_time=(100, 0.5))
    try:
        assert sink.time_of(0) == (100, 0.5)
        assert sink.time_of(12_000_000 * 3600 + 6_000_000) == (3701, 0.0)
        assert sink.time_of(3_000_000) == (100, 0.75)
    finally:
        sink.close(0)


@pytest.mark.parametrize("block, message", [
    (np.zeros(4, np.complex128), "cf32 blocks must be complex64"),
])
def test_cf32_sink_rejects_other_dtypes(block, message):
    with IqSink("inproc://bad-cf32", "push", "cf32") as sink, pytest.raises(ValueError, match=message):
        sink.send(block)


def test_ci16_sink_rejects_floats_and_half_pairs():
    with IqSink("inproc://bad-ci16", "push", "ci16") as sink:
        with pytest.raises(ValueError, match="int16 I/Q pairs"):
            sink.send(np.zeros(4, np.float32))
        with pytest.raises(ValueError, match="not whole I/Q pairs"):
            sink.send(np.zeros(5, np.int16))


def test_impossible_configurations_are_clear_errors():
    with pytest.raises(ZmqIqError, match="key only applies to a PUB"):
        IqSink("inproc://k", "push", key="x")
    with pytest.raises(ZmqIqError, match="real-time pacing needs a positive sample rate"):
        IqSink("inproc://r", "push", pacing="realtime")
    with pytest.raises(ZmqIqError, match="cannot bind push socket to 'nonsense://x'"):
        IqSink("nonsense://x", "push")
    with pytest.raises(ValueError):
        IqSink("inproc://f", "push", "ci8")


# ---- lunarelay siggen --zmq -----------------------------------------------------------------

def _free_tcp_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def test_siggen_zmq_push_streams_exactly_the_synthesisers_samples(ctx):
    from hil.scenario_signal import build_synthesizer, plan_from_flags

    endpoint = _free_tcp_endpoint()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 120_000)
    pull.connect(endpoint)
    flags = ["--prn", "3,17", "--doppler=-1200,2500", "--cn0", "45", "--fs", "2e6", "--duration", "0.05",
             "--format", "ci16", "--seed", "5"]
    command = subprocess.Popen([sys.executable, "-m", "lunarelay_tools.cli", "siggen", *flags,
                                "--zmq", endpoint, "--zmq-pace", "consumer", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        received = []
        while sum(len(m) for m in received) < 100_000 * 4:
            received.append(pull.recv())
        stdout, stderr = command.communicate(timeout=120)
    finally:
        command.kill()
        pull.close(0)
    assert command.returncode == 0, stderr
    assert "1 messages, 0 dropped" in stdout
    plan = plan_from_flags("gps-l1ca", [3, 17], [-1200.0, 2500.0], [45.0], 2e6, "ci16", 0.05, 5)
    synth, _ = build_synthesizer(plan)
    expected = synth.generate(plan.n_samples, plan.fmt)
    assert b"".join(received) == expected.tobytes()


def test_siggen_zmq_rep_serves_an_srsran_style_req_client(ctx):
    from hil.scenario_signal import build_synthesizer, plan_from_flags

    endpoint = _free_tcp_endpoint()
    flags = ["--signal", "afs", "--prn", "6", "--fs", "2e6", "--duration", "0.2", "--format", "cf32",
             "--seed", "2"]
    command = subprocess.Popen([sys.executable, "-m", "lunarelay_tools.cli", "siggen", *flags,
                                "--zmq", endpoint, "--zmq-role", "rep", "--zmq-pace", "consumer", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 120_000)
    req.connect(endpoint)
    try:
        replies = []
        while sum(len(r) for r in replies) < 400_000 * 8:
            req.send(b"\xff")  # srsRAN rf_zmq_imp_rx.c: one dummy byte asks for the next samples
            replies.append(req.recv())
        stdout, stderr = command.communicate(timeout=120)
    finally:
        command.kill()
        req.close(0)
    assert command.returncode == 0, stderr
    plan = plan_from_flags("afs", [6], [0.0], [45.0], 2e6, "cf32", 0.2, 2)
    synth, _ = build_synthesizer(plan)
    # siggen makes 2**18-sample blocks; srsRAN's one-byte request takes a whole block per reply
    assert [len(r) // 8 for r in replies] == [2**18, 400_000 - 2**18]
    assert b"".join(replies) == synth.generate(plan.n_samples, plan.fmt).tobytes()


def test_siggen_zmq_refuses_ci8_as_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "siggen", "--format", "ci8",
                             "--duration", "0.01", "--zmq", "tcp://127.0.0.1:*"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--zmq streams cf32 or ci16 items" in result.stderr


# ---- the source -------------------------------------------------------------------------

@pytest.mark.parametrize("sink_role, source_role", [("push", "pull"), ("pub", "sub"), ("rep", "req")])
def test_source_receives_each_sink_role_block_for_block_with_its_tags(ctx, rng, sink_role, source_role):
    endpoint = _free_tcp_endpoint()
    sink = IqSink(endpoint, sink_role, "ci16", pass_tags=True, rx_time=12.5, sample_rate_sps=1e6, context=ctx)
    source = IqSource(endpoint, source_role, "ci16", pass_tags=True, request_items=300, context=ctx)
    try:
        if sink_role == "pub":
            source.receive(10)
            assert sink.wait_for_subscriber(5.0)
        block = ci16_stream(rng, 1000)
        sender = threading.Thread(target=sink.send, args=(block,))
        sender.start()
        got, tags = [], []
        while sum(b.size for b in got) < block.size:
            item = source.receive(5000)
            assert item is not None
            got.append(item[0])
            tags += item[1]
        sender.join(10)
    finally:
        source.close()
        sink.close(0)
    assert np.concatenate(got).tobytes() == block.tobytes()
    assert source.offset == 1000
    assert [t.key for t in tags] == ["rx_time"] and tags[0].offset == 0
    if sink_role == "rep":
        assert [b.size // 2 for b in got] == [300, 300, 300, 100]  # req_source's item counts


def test_source_reads_raw_cf32_from_a_plain_push_socket_and_times_out_quietly(ctx, rng):
    endpoint = _free_tcp_endpoint()
    push = ctx.socket(zmq.PUSH)
    push.bind(endpoint)
    source = IqSource(endpoint, "pull", "cf32", context=ctx)
    try:
        x = cf32_stream(rng, 64)
        push.send(x.tobytes())
        block, tags = source.receive(5000)
        assert block.dtype == np.complex64 and np.array_equal(block, x) and tags == []
        assert source.receive(50) is None
    finally:
        source.close()
        push.close(0)


def test_source_refuses_partial_items_bad_headers_and_unknown_roles(ctx):
    for fmt, tags, payload, message in (("cf32", False, b"\0" * 12, "not whole cf32 items"),
                                        ("ci16", True, b"\x01\x02" * 20, "magic")):
        endpoint = _free_tcp_endpoint()
        push = ctx.socket(zmq.PUSH)
        push.bind(endpoint)
        try:
            with IqSource(endpoint, "pull", fmt, pass_tags=tags, context=ctx) as source:
                push.send(payload)
                with pytest.raises(ZmqIqError, match=message):
                    source.receive(5000)
        finally:
            push.close(0)
    with pytest.raises(ZmqIqError, match="unknown IQ source role"):
        IqSource(_free_tcp_endpoint(), "push", "cf32", context=ctx)
