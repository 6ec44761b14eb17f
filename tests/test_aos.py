"""AOS Space Data Link Protocol (CCSDS 732.0-B-4): header, RS(10,6) FHEC, insert zone, M_PDU, B_PDU."""

import numpy as np
import pytest

from lunarelay_tools.inspect.headers import AosBpduHeader, AosMpduHeader, AosPrimaryHeader
from onboard.core import aos
from onboard.core.crc import crc16_ccitt
from onboard.core.spp import APID_IDLE, build_packet, index_packets


def test_header_construct_and_c_agree_both_ways(rng):
    for _ in range(300):
        raw = bytes([0x40 | int(rng.integers(0, 64))]) + rng.integers(0, 256, 5, dtype=np.uint8).tobytes()
        c_view = aos.AosHeader.unpack(raw)
        k_view = AosPrimaryHeader.parse(raw)
        assert (c_view.scid, c_view.vcid, c_view.vc_count, c_view.replay_flag, c_view.vc_count_usage_flag,
                c_view.vc_count_cycle) == (k_view.scid, k_view.vcid, k_view.vc_count, k_view.replay_flag,
                                           k_view.vc_count_usage_flag, k_view.vc_count_cycle)
        assert c_view.pack() == AosPrimaryHeader.build(k_view) == raw


def gf16_mul(a, b):
    r = 0
    for _ in range(4):
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 16:
            a ^= 0x13
    return r


def test_fhec_is_the_rs_10_6_code_with_roots_a6_to_a9(rng):
    """§4.1.2.6: a codeword evaluates to zero at a^6..a^9 of GF(16) (x^4 + x + 1)."""
    roots = []
    x = 1
    for i in range(10):
        if i >= 6:
            roots.append(x)
        x = gf16_mul(x, 2)
    for _ in range(200):
        hdr = rng.integers(0, 256, 6, dtype=np.uint8).tobytes()
        word = hdr + aos.fhec(hdr).to_bytes(2, "big")
        symbols = [n for o in (word[0], word[1], word[5], word[6], word[7]) for n in (o >> 4, o & 15)]
        for r in roots:
            acc = 0
            for s in symbols:
                acc = gf16_mul(acc, r) ^ s
            assert acc == 0


def test_fhec_corrects_two_nibbles_and_refuses_more(rng):
    hdr = aos.AosHeader(0x5A, 9, 1234, vc_count_usage_flag=True, vc_count_cycle=3).pack()
    word = hdr + aos.fhec(hdr).to_bytes(2, "big")
    bad = bytearray(word)
    bad[0] ^= 0x30
    bad[7] ^= 0x01
    fixed, n = aos.fhec_correct(bytes(bad))
    assert fixed == word and n == 2
    refused = 0
    for _ in range(300):
        b = bytearray(word)
        for octet in rng.choice([0, 1, 5, 6, 7], 3, replace=False):
            b[octet] ^= int(rng.integers(1, 16)) << 4
        try:
            fixed, n = aos.fhec_correct(bytes(b))
        except aos.FrameError:
            refused += 1
            continue
        assert fixed != word  # three errors are never "corrected" back to the sent header
    assert refused > 0


def test_frame_carries_insert_zone_ocf_fecf_and_fhec():
    cfg = aos.AosConfig(scid=0x42, frame_len=300, fhec=True, insert_zone_len=6, ocf=True, fecf=True)
    h = aos.AosHeader(0x42, 12, 0xFFFFFE, replay_flag=True)
    data = bytes(i & 0xFF for i in range(cfg.data_len))
    frame = aos.build_frame(cfg, h, data, insert_zone=b"INSERT", ocf=0x11223344)
    assert len(frame) == 300 and int.from_bytes(frame[-2:], "big") == crc16_ccitt(frame[:-2])
    assert int.from_bytes(frame[6:8], "big") == aos.fhec(frame[:6])
    parsed = aos.parse_frame(frame, cfg)
    assert parsed.header == h and parsed.insert_zone == b"INSERT" and parsed.data == data
    assert parsed.ocf == 0x11223344 and parsed.crc_ok
    with pytest.raises(ValueError, match="insert zone must be 6"):
        aos.build_frame(cfg, h, data)


def test_vc_count_cycle_extends_the_count_to_28_bits():
    h = aos.AosHeader(1, 1, 0x000002, vc_count_usage_flag=True, vc_count_cycle=0xA)
    assert h.extended_vc_count == 0xA000002
    assert aos.AosHeader(1, 1, 5, vc_count_cycle=0xA).extended_vc_count == 5


def test_mpdu_packing_round_trip_with_first_header_pointer(rng):
    cfg = aos.AosConfig(scid=7, frame_len=256, fhec=True, ocf=False)
    packets = [build_packet(i % 50, rng.integers(0, 256, int(rng.integers(1, 700)), dtype=np.uint8).tobytes(),
                            seq_count=i) for i in range(80)]
    packer = aos.MpduPacker(cfg, vcid=4)
    frames = packer.pack(b"".join(packets)) + packer.flush()
    parsed = [aos.parse_frame(frames[i:i + 256], cfg) for i in range(0, len(frames), 256)]
    starts = np.cumsum([0] + [len(p) for p in packets])
    zone = cfg.data_len - 2
    for k, f in enumerate(parsed):
        fhp = AosMpduHeader.parse(f.data[:2]).first_header_pointer
        inside = starts[(starts >= k * zone) & (starts < (k + 1) * zone)]
        assert fhp == (int(inside[0]) - k * zone if len(inside) else aos.FHP_NO_PACKET)
        assert f.header.vc_count == k
    out, skipped = aos.mpdu_unpack(parsed)
    entries = index_packets(out).entries
    assert skipped == 0 and out[:int(starts[-1])] == b"".join(packets)
    assert set(entries["apid"][80:].tolist()) == {APID_IDLE}


def test_mpdu_unpack_resynchronises_after_a_lost_frame(rng):
    cfg = aos.AosConfig(scid=7, frame_len=200)
    packets = [build_packet(1, bytes([i]) * 90, seq_count=i) for i in range(40)]
    packer = aos.MpduPacker(cfg, vcid=2)
    frames = packer.pack(b"".join(packets)) + packer.flush()
    parsed = [aos.parse_frame(frames[i:i + 200], cfg) for i in range(0, len(frames), 200)]
    stats: dict[str, int] = {}
    out, _ = aos.mpdu_unpack(parsed[:5] + parsed[6:9] + parsed[12:], stats)
    assert stats == {"vc_gaps": 2, "frames_lost": 4}
    got = [out[e["offset"]:e["offset"] + e["length"]] for e in index_packets(out).entries]
    assert 30 < len(got) < 41 and all(g in packets or g[:2] == b"\x07\xff" for g in got)


def test_bpdu_header_fields():
    assert AosBpduHeader.parse(aos.bpdu_header(aos.BDP_ALL_DATA)).bitstream_data_pointer == 0x3FFF
    assert aos.bpdu_header(100) == bytes([0, 100])
    with pytest.raises(ValueError, match="outside 0..0x3FFF"):
        aos.bpdu_header(0x4000)


@pytest.mark.sanitize
def test_random_frames_parse_or_fail_cleanly(rng):
    cfg = aos.AosConfig(scid=7, frame_len=64, fhec=True, insert_zone_len=3, ocf=True, fecf=False)
    refused = 0
    for _ in range(2000):
        raw = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        try:
            f = aos.parse_frame(raw, cfg)
        except aos.FrameError:
            refused += 1
            continue
        assert f.header.tfvn == 1 and len(f.data) == cfg.data_len
    assert refused > 0
    with pytest.raises(aos.FrameError, match="not a version-2 AOS frame of 64"):
        aos.parse_frame(bytes(63), cfg)


def test_idle_frame_is_vc_63_with_idle_fill():
    cfg = aos.AosConfig(scid=9, frame_len=128, fhec=True)
    f = aos.parse_frame(aos.idle_frame(cfg, 17, fill=0xAA), cfg)
    assert f.header.vcid == aos.VCID_IDLE and f.header.vc_count == 17 and f.data == b"\xaa" * cfg.data_len
