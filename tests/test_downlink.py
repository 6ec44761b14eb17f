"""The downlink's frame scheduling (virtual-channel priorities, idle frames), the CLCW in the OCF,
and the coded CADU stream decoded back by the receive chain."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from onboard.bus.packet import PacketType, pack, unpack
from onboard.ccsds.chain import TmReceiveChain, TmSendChain
from onboard.core.crc import crc16_ccitt
from onboard.core.tm import parse_frame
from onboard.links.cadu import open_sink
from onboard.modules.downlink import IDLE_VC, VC_DATA, VC_EVENTS, VC_HK, FrameScheduler, link_config

SCID = 0x2A1


def packet(apid: int, n: int, seq: int = 0) -> bytes:
    return pack(apid, bytes([seq & 0xFF]) * n, seq, 1000.0, PacketType.TM)


def split(packets: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(packets):
        n = 7 + int.from_bytes(packets[at + 4:at + 6], "big")
        out.append(packets[at:at + n])
        at += n
    return out


def test_higher_priority_channel_goes_first_and_partial_frames_are_closed():
    sched = FrameScheduler(link_config(SCID))
    cfg = sched.cfg.frame_config
    for i in range(3):
        sched.put(VC_DATA, packet(0x101, 1000, i))        # more than two full frames on VC 2
    sched.put(VC_EVENTS, packet(0x414, 40))               # a short event on VC 0
    frames = sched.next_frames(6)
    vcids = [parse_frame(f, cfg).header.vcid for f in frames]
    assert vcids[:2] == [VC_DATA, VC_DATA]                # complete frames first
    assert vcids[2] == VC_EVENTS                          # then the partial VC 0 frame, closed
    assert vcids[-1] == IDLE_VC and sched.idle_frames >= 1


def test_empty_channels_give_idle_frames_with_consecutive_frame_counts():
    sched = FrameScheduler(link_config(SCID))
    cfg = sched.cfg.frame_config
    heads = [parse_frame(f, cfg).header for f in sched.next_frames(5)]
    assert all(h.vcid == IDLE_VC for h in heads)
    assert [h.mc_count for h in heads] == [0, 1, 2, 3, 4]


def test_ocf_carries_the_clcw_and_fecf_still_checks():
    sched = FrameScheduler(link_config(SCID))
    sched.put(VC_HK, packet(0x013, 30))
    frames = sched.next_frames(3, 0x0100_0507)
    for f in frames:
        parsed = parse_frame(f.tobytes(), sched.cfg.frame_config)
        assert parsed.ocf == 0x0100_0507 and parsed.crc_ok
        assert crc16_ccitt(f.tobytes()) == 0


@pytest.mark.parametrize("conv", [None, "1/2"])
def test_cadus_decode_back_to_the_packets_and_clcws(conv, tmp_path):
    cfg = link_config(SCID, conv=conv)
    sched, tx = FrameScheduler(cfg), TmSendChain(cfg)
    sent = [packet(0x414, 50, i) for i in range(5)] + [packet(0x011, 200, 0)]
    for p in sent[:5]:
        sched.put(VC_EVENTS, p)
    sched.put(VC_HK, sent[5])
    sink = open_sink(f"file:{tmp_path / 'cadus.bin'}")
    for clcw in (0x0100_0001, 0x0100_0002, 0x0100_0003):
        cadus = tx.frames_to_cadus(sched.next_frames(2, clcw))
        data = np.packbits(tx.cadus_to_symbols(cadus) >= 128) if conv else cadus
        sink.write(data.tobytes(), data.size)
    if conv:
        last = tx.frames_to_cadus(sched.next_frames(2))
        tail = np.packbits(tx.cadus_to_symbols(last, final=True) >= 128)
        sink.write(tail.tobytes(), tail.size)
    sink.close()
    rx = TmReceiveChain(cfg)
    out = rx.push_bytes((tmp_path / "cadus.bin").read_bytes())
    more = rx.flush()
    frames = np.concatenate([out.frames, more.frames])
    assert frames.shape[0] >= 6
    ocfs = [parse_frame(f.tobytes(), cfg.frame_config).ocf for f in frames[:6]]
    assert ocfs == [0x0100_0001] * 2 + [0x0100_0002] * 2 + [0x0100_0003] * 2
    got = [p for p in split(out.packets + more.packets) if unpack(p).apid != 0x7FF]
    assert got == sent
    assert rx.stats()["rs_uncorrectable_codewords"] == 0


def test_udp_output_sends_one_datagram_per_cadu():
    import socket

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(30)
    sink = open_sink(f"udp://127.0.0.1:{rx.getsockname()[1]}")
    cfg = link_config(SCID)
    cadus = TmSendChain(cfg).frames_to_cadus(FrameScheduler(cfg).next_frames(3)).tobytes()
    sink.write(cadus, cfg.cadu_length)
    got = [rx.recv(4096) for _ in range(3)]
    sink.close()
    rx.close()
    assert got == [cadus[i * cfg.cadu_length:(i + 1) * cfg.cadu_length] for i in range(3)]
    assert sink.octets == len(cadus)


def test_zeromq_output_reaches_a_subscribed_ground_input(tmp_path):
    import time

    from onboard.links.cadu import CaduInput

    url = f"ipc://{tmp_path}/cadus"
    sink = open_sink(url)
    ground = CaduInput(url)
    got = b""
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:      # a PUB drops until the SUB has joined
        sink.write(b"\x1a\xcf\xfc\x1d" * 4, 16)
        got = ground.receive(0.1)
    ground.close()
    sink.close()
    assert got and set(got.split(b"\x1a\xcf\xfc\x1d")) == {b""}


def test_bad_output_url_is_refused_with_the_forms_it_takes():
    with pytest.raises(ValueError, match="file:PATH, udp://HOST:PORT"):
        open_sink("serial:/dev/ttyS0")


def test_emulated_downlink_numbers_frames_in_the_order_they_go_out(tmp_path):
    """132.0-B-3 §4.1.2.4: the MC frame count follows the order of transmission (idle frames
    included), each VC count its channel's order, while higher-priority channels overtake."""
    from onboard.bus.packet import unpack as unpack_bus
    from onboard.modules.downlink import Downlink

    path = tmp_path / "downlink.cadu"
    dl = Downlink(outputs=[f"file:{path}"], bus=f"ipc://{tmp_path}/bus", scid=SCID)
    try:
        for i in range(40):
            dl.on_packet(unpack_bus(packet(0x101, 1000, i)))           # relay data: a frame a time on VC 2
            for k in range(3):
                dl.on_packet(unpack_bus(packet(0x414, 400, 3 * i + k)))   # events overtake on VC 0
            if i % 4 == 0:
                dl.on_packet(unpack_bus(packet(0x013, 200, i)))       # housekeeping on VC 1
            dl.emit(2)
        dl.emit(120)                                                  # drain, then idle frames
    finally:
        dl.teardown()
        dl.client.close()
    cfg = link_config(SCID)
    rx = TmReceiveChain(cfg)
    frames = rx.push_bytes(path.read_bytes()).frames
    assert len(frames) == 200
    heads = [parse_frame(f.tobytes(), cfg.frame_config) for f in frames]
    assert all(h.crc_ok for h in heads)
    mc = [h.header.mc_count for h in heads]
    assert all((b - a) % 256 == 1 for a, b in itertools.pairwise(mc)), mc
    by_vc: dict[int, list[int]] = {}
    for h in heads:
        by_vc.setdefault(h.header.vcid, []).append(h.header.vc_count)
    assert sorted(by_vc) == [VC_EVENTS, VC_HK, VC_DATA, IDLE_VC]
    for vc, counts in by_vc.items():
        assert all((b - a) % 256 == 1 for a, b in itertools.pairwise(counts)), (vc, counts)
    vcs = [h.header.vcid for h in heads]
    last_event = max(i for i, vc in enumerate(vcs) if vc == VC_EVENTS)
    assert VC_DATA in vcs[last_event:]          # relay data still waited: the events overtook it
    stats = rx.stats()
    assert stats["mc_gaps"] == stats["vc_gaps"] == stats["frames_lost"] == 0
