"""TM Space Data Link Protocol (CCSDS 132.0-B-3): headers, frames, VC multiplexing and demultiplexing."""

import numpy as np
import pytest

from lunarelay_tools.inspect.headers import Clcw, TmPrimaryHeader, TmSecondaryHeader
from onboard.core import simd, tm
from onboard.core.crc import crc16_ccitt
from onboard.core.spp import APID_IDLE, PrimaryHeader, build_packet, index_packets


def random_packets(rng, n, max_data=600, apid_base=0):
    return [build_packet(apid_base + i % 100, rng.integers(0, 256, int(rng.integers(1, max_data)),
                                                           dtype=np.uint8).tobytes(), seq_count=i)
            for i in range(n)]


def test_header_construct_and_c_agree_both_ways(rng):
    for _ in range(300):
        raw = bytes([int(rng.integers(0, 64))]) + rng.integers(0, 256, 5, dtype=np.uint8).tobytes()
        c_view = tm.TmHeader.unpack(raw)
        k_view = TmPrimaryHeader.parse(raw)
        assert (c_view.scid, c_view.vcid, c_view.ocf_flag, c_view.mc_count, c_view.vc_count,
                c_view.sec_hdr_flag, c_view.sync_flag, c_view.packet_order_flag, c_view.segment_length_id,
                c_view.first_header_pointer) == (
            k_view.scid, k_view.vcid, k_view.ocf_flag, k_view.mc_count, k_view.vc_count, k_view.sec_hdr_flag,
            k_view.sync_flag, k_view.packet_order_flag, k_view.segment_length_id,
            k_view.first_header_pointer)
        assert c_view.pack() == TmPrimaryHeader.build(k_view) == raw


def test_header_fields_out_of_range_are_rejected():
    with pytest.raises(ValueError, match="out of range"):
        tm.TmHeader(scid=1024, vcid=0).pack()
    with pytest.raises(ValueError, match="out of range"):
        tm.TmHeader(scid=1, vcid=8).pack()


def expected_fhps(packets, data_len):
    """Oracle: FHP of each frame from the packet start offsets in the concatenated data fields."""
    starts = np.cumsum([0] + [len(p) for p in packets[:-1]])
    n_frames = sum(len(p) for p in packets) // data_len
    fhps = []
    for k in range(n_frames):
        inside = starts[(starts >= k * data_len) & (starts < (k + 1) * data_len)]
        fhps.append(int(inside[0] - k * data_len) if len(inside) else tm.FHP_NO_PACKET)
    return fhps


def test_mux_sets_counts_fhp_ocf_and_fecf(rng):
    cfg = tm.TmConfig(scid=0x2C1, frame_len=1115, ocf=True, fecf=True)
    clcw = Clcw.build(dict(clcw_version=0, status_field=0, cop_in_effect=1, vcid=3, no_rf_available=False,
                           no_bit_lock=False, lockout=False, wait=False, retransmit=True, farm_b_counter=2,
                           report_value=0x42))
    mux = tm.TmMux(cfg, ocf=int.from_bytes(clcw, "big"))
    packets = random_packets(rng, 300, max_data=3000)
    frames = mux.pack(2, b"".join(packets))
    arr = tm.frames_array(frames, cfg)
    assert [tm.parse_frame(f, cfg).header.first_header_pointer for f in arr] == expected_fhps(packets,
                                                                                            cfg.data_len)
    for i, f in enumerate(arr):
        parsed = tm.parse_frame(f.tobytes(), cfg)
        assert parsed.crc_ok and parsed.header.mc_count == i % 256 and parsed.header.vc_count == i % 256
        assert parsed.header.scid == 0x2C1 and parsed.header.vcid == 2 and parsed.header.ocf_flag
        assert parsed.ocf.to_bytes(4, "big") == clcw
        assert int.from_bytes(f[-2:].tobytes(), "big") == crc16_ccitt(f[:-2].tobytes())
    assert Clcw.parse(parsed.ocf.to_bytes(4, "big")).report_value == 0x42


def test_round_trip_over_interleaved_virtual_channels(rng):
    cfg = tm.TmConfig(scid=77, frame_len=256, ocf=False, fecf=True, sec_hdr_len=4)
    mux = tm.TmMux(cfg, secondary_header=b"abc")
    streams = {v: random_packets(rng, 60, 400, apid_base=100 * v) for v in (0, 3, 5)}
    frames = b""
    for i in range(0, 60, 10):
        for v, pk in streams.items():
            frames += mux.pack(v, b"".join(pk[i:i + 10]))
        frames += mux.idle_frame(7)
    for v in streams:
        frames += mux.flush(v)
    first = tm.parse_frame(frames[:256], cfg)
    assert TmSecondaryHeader.parse(first.secondary_header).data == b"abc"
    for v, pk in streams.items():
        demux = tm.TmDemux(cfg, vcids=[v])
        assert demux.feed(frames) == b"".join(pk)
        s = demux.stats()
        assert s["packets"] == 60 and s["vc_gaps"] == s["mc_gaps"] == s["fhp_mismatches"] == 0
        assert s["idle_frames"] == 0 and s["idle_packets"] == 1
    everything = tm.TmDemux(cfg, vcids=range(8), drop_idle=False)
    out = everything.feed(frames)
    assert everything.stats()["idle_frames"] == 6
    apids = index_packets(out).entries["apid"]
    assert int((apids == APID_IDLE).sum()) == 3 and len(apids) == 183


def test_demux_counts_gaps_crc_errors_and_recovers(rng):
    cfg = tm.TmConfig(scid=5, frame_len=300)
    mux = tm.TmMux(cfg)
    packets = random_packets(rng, 400, 200)
    arr = tm.frames_array(mux.pack(1, b"".join(packets)), cfg).copy()
    keep = np.ones(len(arr), bool)
    keep[[10, 11, 40]] = False        # two gaps, three frames lost
    arr[70, 100] ^= 0x10              # one CRC failure
    demux = tm.TmDemux(cfg, vcids=[1])
    out = demux.feed(arr[keep].tobytes())
    s = demux.stats()
    assert s["crc_errors"] == 1 and s["mc_gaps"] == 3 and s["vc_gaps"] == 3
    assert s["vc_frames_lost"] == 4 and s["mc_frames_lost"] == 4
    got = [out[e["offset"]:e["offset"] + e["length"]] for e in index_packets(out).entries]
    assert 300 < len(got) < 400 and set(got) <= set(packets)


def test_demux_resynchronises_on_a_wrong_first_header_pointer(rng):
    cfg = tm.TmConfig(scid=5, frame_len=200, fecf=False)
    mux = tm.TmMux(cfg)
    packets = random_packets(rng, 100, 150)
    arr = tm.frames_array(mux.pack(0, b"".join(packets)) + mux.flush(0), cfg).copy()
    h = tm.TmHeader.unpack(arr[5].tobytes())
    lie = (h.first_header_pointer + 3) % 190 if h.first_header_pointer != tm.FHP_NO_PACKET else 1
    arr[5, :6] = np.frombuffer(tm.TmHeader(**{**h.__dict__, "first_header_pointer": lie}).pack(), np.uint8)
    demux = tm.TmDemux(cfg, vcids=[0])
    out = demux.feed(arr.tobytes())
    assert demux.stats()["fhp_mismatches"] >= 1
    got = [bytes(out[e["offset"]:e["offset"] + e["length"]]) for e in index_packets(out).entries]
    assert len(got) < len(packets) and got[-10:] == packets[-10:]


def test_idle_frame_on_an_open_virtual_channel_is_refused():
    cfg = tm.TmConfig(scid=1, frame_len=100)
    mux = tm.TmMux(cfg)
    mux.pack(1, build_packet(1, b"x" * 10))
    with pytest.raises(tm.FrameError, match="flush it before"):
        mux.idle_frame(1)
    assert len(mux.flush(1)) == 100 and mux.flush(1) == b""


def test_bad_input_is_refused_with_clear_errors():
    cfg = tm.TmConfig(scid=1, frame_len=100)
    with pytest.raises(tm.FrameError, match="not whole version-1 space packets"):
        tm.TmMux(cfg).pack(0, build_packet(1, b"abc")[:-1])
    with pytest.raises(tm.FrameError, match="whole number of 100-octet"):
        tm.TmDemux(cfg).feed(bytes(150))
    with pytest.raises(ValueError, match="leaves no room"):
        tm.TmConfig(scid=1, frame_len=12).to_c()
    with pytest.raises(ValueError, match="outside 0..7"):
        tm.TmMux(cfg).pack(8, b"")


@pytest.mark.sanitize
def test_demux_survives_random_and_mutated_frames(rng):
    cfg = tm.TmConfig(scid=9, frame_len=128, ocf=True, fecf=False)
    mux = tm.TmMux(cfg)
    good = tm.frames_array(mux.pack(2, b"".join(random_packets(rng, 200, 300))), cfg)
    demux = tm.TmDemux(cfg, drop_idle=False)
    for _ in range(200):
        arr = good.copy()
        idx = rng.integers(0, arr.size, 20)
        arr.reshape(-1)[idx] = rng.integers(0, 256, 20)
        out = demux.feed(arr.tobytes())
        assert index_packets(out).consumed == len(out)
        noise = rng.integers(0, 256, 128 * 10, dtype=np.uint8)
        noise[::128] &= 0x3F
        demux.feed(noise.tobytes())
    assert demux.stats()["frames"] == 200 * (len(good) + 10)


def test_idle_packets_fill_a_short_gap_across_two_frames():
    cfg = tm.TmConfig(scid=1, frame_len=100, fecf=False)  # 94-octet data field
    mux = tm.TmMux(cfg)
    assert mux.pack(0, build_packet(3, bytes(84))) == b""  # 90 octets placed, 4 left
    frames = mux.flush(0)
    assert len(frames) == 200
    second = tm.parse_frame(frames[100:], cfg)
    assert second.header.first_header_pointer == tm.FHP_NO_PACKET
    idle = frames[6 + 90:100] + second.data
    assert PrimaryHeader.unpack(idle).apid == APID_IDLE and PrimaryHeader.unpack(idle).packet_length == 98


@pytest.mark.parametrize("level", [simd.SimdLevel.PORTABLE, simd.supported()])
def test_mux_and_demux_agree_on_each_simd_path(rng, level):
    cfg = tm.TmConfig(scid=33, frame_len=1115, ocf=True, fecf=True)
    packets = b"".join(random_packets(rng, 150, 900))
    with simd.forced(level):
        mux = tm.TmMux(cfg)
        frames = mux.pack(6, packets) + mux.flush(6)
        demux = tm.TmDemux(cfg, vcids=[6])
        assert demux.feed(frames) == packets
        assert demux.stats()["crc_errors"] == 0
    with simd.forced(simd.SimdLevel.PORTABLE):
        again = tm.TmMux(cfg)
        assert again.pack(6, packets) + again.flush(6) == frames
