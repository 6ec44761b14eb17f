"""The software bus: packet format, topic subscriptions, bounded pipes, proxy counters, CURVE."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time

import pytest
import zmq
import zmq.auth
from spacepackets.ccsds.spacepacket import PacketType as SpPacketType
from spacepackets.ccsds.spacepacket import SpacePacket, SpacePacketHeader

from onboard.bus import packet
from onboard.bus.client import BusClient, Pipe, wait_for
from onboard.bus.endpoints import BusConfigError, BusEndpoints, CurveClientKeys, CurveServerKeys
from onboard.bus.packet import PacketError, PacketType, block_topic, pack, topic, unpack
from onboard.bus.proxy import Proxy
from onboard.bus.registry import EVENTS_TOPIC, RegistryError, default_registry, parse_registry


@pytest.fixture
def bus():
    """A proxy on a private ipc:// bus, and a way to make clients on it."""
    directory = tempfile.mkdtemp(prefix="lrbus")
    endpoints = BusEndpoints.from_url(f"ipc://{directory}/bus")
    context = zmq.Context()
    proxy = Proxy(endpoints, context)
    proxy.start()
    clients: list[BusClient] = []

    def client() -> BusClient:
        c = BusClient(endpoints, context=context)
        clients.append(c)
        return c

    yield proxy, client
    for c in clients:
        c.close()
    proxy.stop()
    context.term()
    shutil.rmtree(directory, ignore_errors=True)


def connected(client: BusClient, pipe: Pipe, apid: int, packet_type: PacketType = PacketType.TM) -> None:
    """Wait until a subscription has reached the proxy, by probing until a probe comes back."""
    probe = wait_for(pipe, lambda p: p.apid == apid, 5.0,
                     resend=lambda: client.publish_raw(pack(apid, b"probe", 0, 0.0, packet_type)))
    assert probe is not None, "the subscription never reached the proxy"
    time.sleep(0.05)
    while pipe.get_raw() is not None:
        pass
    pipe.stats.__init__()
    pipe._next_seq.clear()


def test_packet_header_fields_read_back_by_spacepackets():
    raw = pack(0x123, b"\x01\x02\x03", seq_count=0x2ABC, time_tai=100.5)
    header = SpacePacketHeader.unpack(raw)
    assert header.apid == 0x123
    assert header.packet_type == SpPacketType.TM
    assert header.seq_count == 0x2ABC
    assert header.sec_header_flag
    assert header.data_len == 6 + 3 - 1
    assert raw[6:12] == bytes.fromhex("00000064 8000".replace(" ", ""))   # CUC 100 s + 0.5 s


def test_packet_built_by_spacepackets_parses_with_its_time_and_data():
    header = SpacePacketHeader(SpPacketType.TC, apid=0x011, seq_count=7, data_len=6 + 2 - 1,
                               sec_header_flag=True)
    raw = SpacePacket(header, bytes.fromhex("8000000140 00"), b"\x05\x06").pack()
    pkt = unpack(raw)
    assert (pkt.apid, pkt.packet_type, pkt.seq_count) == (0x011, PacketType.TC, 7)
    assert pkt.time_tai == pytest.approx(0x80000001 + 0x4000 / 65536)
    assert pkt.data == b"\x05\x06"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\x08\x01\xc0\x00", "shorter than"),
    (pack(1, b"abc", 0, 0.0)[:-1], "data length field says"),
    (b"\x28" + pack(1, b"", 0, 0.0)[1:], "version 1"),
    (b"\x00" + pack(1, b"", 0, 0.0)[1:], "no secondary header"),
])
def test_malformed_packet_is_rejected_with_reason(raw, reason):
    with pytest.raises(PacketError, match=reason):
        unpack(raw)


def test_topic_is_the_first_two_header_octets_and_block_the_first():
    raw = pack(0x1A5, b"", 0, 0.0, PacketType.TC)
    assert topic(0x1A5, PacketType.TC) == raw[:2]
    assert block_topic(1, PacketType.TC) == raw[:1]
    with pytest.raises(ValueError):
        topic(0x800)


def test_exact_subscription_gets_only_its_message_and_type(bus):
    _, client = bus
    pub, sub = client(), client()
    pipe = sub.pipe("t", [topic(0x101)])
    connected(pub, pipe, 0x101)
    pub.publish(0x102, b"other apid")
    pub.publish(0x101, b"a command", PacketType.TC)
    pub.publish(0x101, b"mine")
    got = pipe.receive(5.0)
    assert got is not None and got.data == b"mine"
    assert pipe.receive(0.2) is None


def test_block_subscription_gets_every_apid_of_the_block(bus):
    _, client = bus
    pub, sub = client(), client()
    pipe = sub.pipe("users", [block_topic(1)])
    connected(pub, pipe, 0x1FF)
    for apid in (0x100, 0x17F, 0x201, 0x1FF, 0x0FF):
        pub.publish(apid, apid.to_bytes(2, "big"))
    got = [pipe.receive(5.0).apid for _ in range(3)]
    assert got == [0x100, 0x17F, 0x1FF]
    assert pipe.receive(0.2) is None


def test_sequence_gap_is_counted_as_lost(bus):
    _, client = bus
    pub, sub = client(), client()
    pipe = sub.pipe("t", [topic(0x120)])
    connected(pub, pipe, 0x120)
    for seq in (10, 11, 15, 16):
        pub.publish_raw(pack(0x120, b"", seq, 0.0))
    assert [pipe.receive(5.0).seq_count for _ in range(4)] == [10, 11, 15, 16]
    assert pipe.stats.lost == 3


def test_publisher_restart_is_not_counted_as_loss(bus):
    _, client = bus
    pub, sub = client(), client()
    pipe = sub.pipe("t", [topic(0x121)])
    connected(pub, pipe, 0x121)
    for seq in (5000, 5001, 0, 1):
        pub.publish_raw(pack(0x121, b"", seq, 0.0))
    assert [pipe.receive(5.0).seq_count for _ in range(4)] == [5000, 5001, 0, 1]
    assert pipe.stats.lost == 0


def test_full_queue_drops_are_counted_and_high_water_recorded(bus):
    _, client = bus
    pub, sub = client(), client()
    pipe = sub.pipe("small", [topic(0x122)], depth=10)
    connected(pub, pipe, 0x122)
    for i in range(50):
        pub.publish(0x122, i.to_bytes(1, "big"))
    deadline = time.monotonic() + 10
    while pipe.stats.received < 50 and time.monotonic() < deadline:
        pipe.socket.poll(100)
        pipe.drain(budget=1000)
    assert pipe.stats.received == 50
    assert pipe.stats.dropped == 40
    assert pipe.stats.high_water == 10
    assert [pipe.get().data[0] for _ in range(5)] == list(range(5))
    for i in range(50, 52):                       # after the drops, the stream goes on
        pub.publish(0x122, i.to_bytes(1, "big"))
    while pipe.stats.received < 52 and time.monotonic() < deadline:
        pipe.socket.poll(100)
        pipe.drain(budget=1000)
    assert [pipe.get().data[0] for _ in range(7)] == [5, 6, 7, 8, 9, 50, 51]
    assert pipe.get() is None
    assert (pipe.stats.dropped, pipe.stats.lost) == (40, 0)      # a dropped packet is not also lost


def test_garbage_on_the_bus_is_counted_as_malformed(bus):
    _, client = bus
    pub, sub = client(), client()
    pipe = sub.pipe("t", [b"\x09"])
    connected(pub, pipe, 0x123)
    pub.publish_raw(b"\x09\x23 short")
    pub.publish_raw(b"\x09\x23\xc0\x00\xff\xff" + bytes(8))
    pub.publish(0x123, b"good")
    got = pipe.receive(5.0)
    assert got is not None and got.data == b"good"
    assert pipe.stats.malformed == 2


def test_proxy_statistics_count_forwarded_messages(bus):
    proxy, client = bus
    pub, sub = client(), client()
    pipe = sub.pipe("t", [topic(0x124)])
    connected(pub, pipe, 0x124)
    before = proxy.statistics()
    for _ in range(20):
        pub.publish(0x124, bytes(100))
    for _ in range(20):
        assert pipe.receive(5.0) is not None
    after = proxy.statistics()
    assert after.front_msgs_in - before.front_msgs_in == 20
    assert after.back_msgs_out - before.back_msgs_out == 20
    assert after.front_bytes_in - before.front_bytes_in == 20 * 112


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        with socket.socket() as b:
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


def test_tcp_bus_with_curve_accepts_authorized_clients_only(tmp_path):
    keys, allowed = tmp_path / "keys", tmp_path / "allowed"
    keys.mkdir()
    allowed.mkdir()
    _, server_secret = zmq.auth.create_certificates(keys, "server")
    good_public, good_secret = zmq.auth.create_certificates(keys, "good")
    zmq.auth.create_certificates(keys, "stranger")
    (allowed / "good.key").write_bytes(open(good_public, "rb").read())
    endpoints = BusEndpoints.from_url(f"tcp://127.0.0.1:{_free_port_pair()}")
    context = zmq.Context()
    proxy = Proxy(endpoints, context, curve=CurveServerKeys.from_files(server_secret, allowed))
    proxy.start()
    server_public = keys / "server.key"
    good = BusClient(endpoints, context=context, curve=CurveClientKeys.from_files(good_secret, server_public))
    stranger = BusClient(endpoints, context=context,
                         curve=CurveClientKeys.from_files(keys / "stranger.key_secret", server_public))
    try:
        good_pipe = good.pipe("g", [topic(0x130)])
        stranger_pipe = stranger.pipe("s", [topic(0x130)])
        connected(good, good_pipe, 0x130)
        stranger.publish(0x130, b"from a stranger")
        good.publish(0x130, b"from good")
        got = good_pipe.receive(5.0)
        assert got is not None and got.data == b"from good"
        assert good_pipe.receive(0.3) is None
        assert stranger_pipe.receive(0.3) is None
    finally:
        good.close()
        stranger.close()
        proxy.stop()
        context.term()


def test_bus_url_maps_to_two_endpoints():
    assert BusEndpoints.from_url("tcp://10.0.0.5:7100").subscribe == "tcp://10.0.0.5:7101"
    assert BusEndpoints.from_url("ipc:///run/x/bus").publish == "ipc:///run/x/bus.pub"
    with pytest.raises(BusConfigError, match="only ipc:// and tcp://"):
        BusEndpoints.from_url("udp://host:1")


def test_curve_secret_file_that_is_public_is_refused(tmp_path):
    public, _ = zmq.auth.create_certificates(tmp_path, "x")
    with pytest.raises(BusConfigError, match="secret certificate is needed"):
        CurveClientKeys.from_files(public, public)


def test_registry_gives_each_module_its_event_and_pong_apids():
    registry = default_registry()
    store = registry.module("store")
    assert store.event_apid == 0x400 | store.apid
    assert store.pong_apid == 0x300 | store.apid
    assert pack(store.event_apid, b"", 0, 0.0).startswith(EVENTS_TOPIC)
    assert registry.module_of_apid(store.event_apid) is store
    apids = [m.apid for m in registry.modules.values()] + [m.apid for m in registry.messages.values()]
    assert len(apids) == len(set(apids))


def test_registry_rejects_a_reused_apid_naming_the_line():
    text = '[[module]]\nname = "a"\napid = 0x20\n\n[[module]]\nname = "b"\napid = 0x20\n'
    with pytest.raises(RegistryError, match=r"ids.toml:7: module\[1\].apid: APID 0x020 .* module a"):
        parse_registry(text, "ids.toml")


def test_registry_message_from_unknown_module_is_rejected():
    text = '[[module]]\nname = "a"\napid = 0x20\n[[message]]\nname = "M"\napid = 0x220\nsource = "zz"\n'
    with pytest.raises(RegistryError, match="source 'zz' is not a registered module"):
        parse_registry(text, "ids.toml")


def test_registry_unknown_module_error_lists_known_ones():
    with pytest.raises(RegistryError, match="known: .*scheduler"):
        default_registry().module("nope")


def test_packet_module_rejects_oversized_user_data():
    with pytest.raises(ValueError, match="exceed"):
        packet.pack(1, bytes(packet.MAX_USER_DATA + 1), 0, 0.0)


def test_bus_packing_agrees_with_the_ccsds_construct_definitions():
    from lunarelay_tools.inspect.headers import SpacePacket
    from onboard.ccsds.timecode import Cuc, cuc_construct

    raw = pack(0x2F1, b"payload", seq_count=99, time_tai=2_000_000_000.25)
    parsed = SpacePacket(cuc_construct(4, 2)).parse(raw)
    assert parsed.primary_header.apid == 0x2F1 and parsed.primary_header.seq_count == 99
    assert parsed.primary_header.seq_flags == 0b11
    assert raw[6:12] == Cuc(4, 2).encode(2_000_000_000.25)
    assert parsed.data == b"payload"
