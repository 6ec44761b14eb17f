"""Proximity-1 (CCSDS 211.0-B-6 / 211.2-B-3): version-3 header, PLTU with ASM FAF320 and CRC-32."""

import numpy as np
import pytest

from lunarelay_tools.inspect.headers import Prox1Header as Prox1HeaderConstruct
from onboard.core import prox1
from onboard.core.crc import crc32_prox1


def test_header_construct_and_c_agree_both_ways(rng):
    for _ in range(300):
        raw = rng.integers(0, 256, 5, dtype=np.uint8).tobytes()
        c_view = prox1.Prox1Header.unpack(raw)
        k = Prox1HeaderConstruct.parse(raw)
        assert (c_view.tfvn, c_view.qos, c_view.pdu_type, c_view.dfc_id, c_view.scid, c_view.pcid,
                c_view.port_id, c_view.src_dst_id, c_view.frame_len, c_view.frame_seq_num) == (
            k.tfvn, k.qos, int(k.pdu_type), k.dfc_id, k.scid, k.pcid, k.port_id, int(k.source_or_destination),
            k.frame_length + 1, k.frame_seq_num)
        assert Prox1HeaderConstruct.build(k) == raw


def test_pltu_is_asm_frame_and_crc32_over_the_frame():
    h = prox1.Prox1Header(scid=0x155, port_id=3, frame_seq_num=7)
    pltu = prox1.build_pltu(h, b"surface data")
    assert pltu[:3] == bytes.fromhex("FAF320")
    frame = pltu[3:-4]
    assert prox1.Prox1Header.unpack(frame).frame_len == len(frame) == 5 + 12
    assert int.from_bytes(pltu[-4:], "big") == crc32_prox1(frame)
    parsed, n = prox1.parse_pltu(pltu + b"\x00\x00")
    assert n == len(pltu) and parsed.data == b"surface data" and parsed.crc_ok
    assert parsed.header.tfvn == prox1.TFVN_VERSION_3 and parsed.header.port_id == 3


def test_scan_finds_pltus_in_noise_and_rejects_a_corrupted_one(rng):
    pltus = [prox1.build_pltu(prox1.Prox1Header(scid=5, frame_seq_num=i), bytes([i]) * (10 + i))
             for i in range(20)]
    bad = bytearray(pltus[7])
    bad[20] ^= 0x40
    stream = b""
    for i, p in enumerate(pltus):
        stream += rng.integers(0, 256, int(rng.integers(0, 30)), dtype=np.uint8).tobytes()
        stream += bytes(bad) if i == 7 else p
    found, rejected = prox1.scan_pltus(stream)
    assert [p.header.frame_seq_num for p in found] == [i for i in range(20) if i != 7]
    assert rejected >= 1


def test_limits_and_bad_input():
    with pytest.raises(prox1.FrameError, match="at most 2043"):
        prox1.build_pltu(prox1.Prox1Header(scid=1), bytes(2044))
    assert len(prox1.build_pltu(prox1.Prox1Header(scid=1), bytes(2043))) == 2048 + 7
    with pytest.raises(prox1.FrameError, match="ASM FAF320"):
        prox1.parse_pltu(b"\x00" * 20)
    with pytest.raises(ValueError, match="out of range"):
        prox1.Prox1Header(scid=1024).pack()


@pytest.mark.sanitize
def test_random_streams_scan_without_false_pltus(rng):
    for _ in range(200):
        noise = rng.integers(0, 256, 2000, dtype=np.uint8)
        for k in rng.integers(0, 1990, 8):
            noise[k:k + 3] = (0xFA, 0xF3, 0x20)
            noise[k + 3] = 0x80 | (noise[k + 3] & 0x3F)
        found, rejected = prox1.scan_pltus(noise.tobytes())
        assert found == [] and rejected >= 1
