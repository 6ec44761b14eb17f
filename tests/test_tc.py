"""TC Space Data Link Protocol (CCSDS 232.0-B-4): headers, segment headers, FECF, limits, control commands."""

import numpy as np
import pytest

from lunarelay_tools.inspect.headers import TcPrimaryHeader, TcSegmentHeader
from onboard.core import tc
from onboard.core.crc import crc16_ccitt


def test_header_construct_and_c_agree_both_ways(rng):
    for _ in range(300):
        raw = bytes([int(rng.integers(0, 256)) & 0x33]) + rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        c_view = tc.TcHeader.unpack(raw)
        k_view = TcPrimaryHeader.parse(raw)
        assert (c_view.bypass_flag, c_view.ctrl_cmd_flag, c_view.scid, c_view.vcid, c_view.frame_len,
                c_view.frame_seq_num) == (k_view.bypass_flag, k_view.control_command_flag, k_view.scid,
                                          k_view.vcid, k_view.frame_length + 1, k_view.frame_seq_num)
        assert c_view.pack() == TcPrimaryHeader.build(k_view) == raw


def test_frame_carries_segment_header_data_and_fecf(rng):
    cfg = tc.TcConfig(scid=0x2F0, vcid=17)
    data = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    frame = tc.build_frame(cfg, data, frame_seq_num=200, map_id=33, seq_flags=tc.SegFlags.FIRST)
    assert len(frame) == 5 + 1 + 300 + 2
    seg = TcSegmentHeader.parse(frame[5:6])
    assert (seg.seq_flags, seg.map_id) == (1, 33)
    assert int.from_bytes(frame[-2:], "big") == crc16_ccitt(frame[:-2])
    parsed, n = tc.parse_frame(frame + b"\xff" * 7, cfg)
    assert n == len(frame) and parsed.data == data and parsed.crc_ok
    assert parsed.header.frame_seq_num == 200 and parsed.map_id == 33
    assert parsed.seq_flags == tc.SegFlags.FIRST
    bad = bytearray(frame)
    bad[100] ^= 0x80
    assert tc.parse_frame(bytes(bad), cfg)[0].crc_ok is False


def test_frame_without_segment_header_or_fecf():
    cfg = tc.TcConfig(scid=1, vcid=2, fecf=False, segment_header=False)
    frame = tc.build_frame(cfg, b"abc")
    assert frame == tc.TcHeader(1, 2, frame_len=8).pack() + b"abc"
    parsed, _ = tc.parse_frame(frame, cfg)
    assert parsed.map_id is None and parsed.data == b"abc"


def test_frame_length_limit_is_1024_octets():
    cfg = tc.TcConfig(scid=1, vcid=2)
    assert len(tc.build_frame(cfg, bytes(cfg.max_data_len))) == 1024
    with pytest.raises(tc.FrameError, match=r"1..1016 octets fit"):
        tc.build_frame(cfg, bytes(cfg.max_data_len + 1))
    with pytest.raises(tc.FrameError):
        tc.build_frame(cfg, b"")


def test_segmentation_spreads_a_large_unit_over_frames():
    cfg = tc.TcConfig(scid=9, vcid=1)
    data = bytes(range(256)) * 10
    frames = tc.segment_frames(cfg, data, map_id=5, first_seq_num=254, max_data_len=1000)
    parsed = [tc.parse_frame(f, cfg)[0] for f in frames]
    assert [p.seq_flags for p in parsed] == [tc.SegFlags.FIRST, tc.SegFlags.CONTINUATION, tc.SegFlags.LAST]
    assert [p.header.frame_seq_num for p in parsed] == [254, 255, 0]
    assert b"".join(p.data for p in parsed) == data and {p.map_id for p in parsed} == {5}


def test_control_command_frames_are_bypass_without_segment_header():
    cfg = tc.TcConfig(scid=3, vcid=4)
    unlock, _ = tc.parse_frame(tc.unlock_frame(cfg), cfg)
    assert unlock.header.bypass_flag and unlock.header.ctrl_cmd_flag and unlock.map_id is None
    assert unlock.data == b"\x00"
    set_vr, _ = tc.parse_frame(tc.set_vr_frame(cfg, 77), cfg)
    assert set_vr.data == bytes([0x82, 0x00, 77])


def test_malformed_frames_are_refused():
    cfg = tc.TcConfig(scid=3, vcid=4)
    frame = tc.build_frame(cfg, b"hello")
    with pytest.raises(tc.FrameError, match="well-formed TC frame"):
        tc.parse_frame(frame[:-1], cfg)
    with pytest.raises(tc.FrameError, match="well-formed TC frame"):
        tc.parse_frame(bytes([0x40]) + frame[1:], cfg)  # version 1
    with pytest.raises(tc.FrameError, match="cannot hold"):
        tc.TcHeader.unpack(b"\x00\x01")


@pytest.mark.sanitize
def test_random_bytes_parse_or_fail_cleanly(rng):
    cfg = tc.TcConfig(scid=3, vcid=4)
    ok = 0
    for _ in range(3000):
        data = rng.integers(0, 256, int(rng.integers(0, 1100)), dtype=np.uint8)
        data[:1] &= 0x03
        try:
            frame, n = tc.parse_frame(data.tobytes(), cfg)
        except tc.FrameError:
            continue
        ok += 1
        assert n <= len(data) and len(frame.data) == n - 8
    assert ok > 0
