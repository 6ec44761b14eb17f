"""AFS frame content: AFS time, SB2 fields (the LANS-AFS-SIM / PocketSDR-AFS layout), SB3/SB4 types."""

import json
import math

import numpy as np
import pytest
from conftest import VECTORS

from onboard.nav import afs_frame as af
from onboard.nav import afs_message as am

INTEROP = VECTORS / "lsis" / "interop"
PARSED = sorted((INTEROP / "parsed").glob("parsed_*.json"))


def interop_input(frame_id: str) -> np.ndarray:
    return np.frombuffer((INTEROP / "inputs" / f"{frame_id}_input.bin").read_bytes(), np.uint8)


def random_sb2(rng) -> am.Subframe2:
    return am.Subframe2(
        wn=int(rng.integers(0, 8192)), itow=int(rng.integers(0, 504)),
        toe_s=16.0 * int(rng.integers(0, 37800)), e=float(rng.uniform(0, 0.99)),
        sqrt_a=float(rng.uniform(1300, 8000)), i0_rad=float(rng.uniform(0, math.pi)),
        omega0_rad=float(rng.uniform(-math.pi, math.pi)), argp_rad=float(rng.uniform(-math.pi, math.pi)),
        m0_rad=float(rng.uniform(-math.pi, math.pi)), toc_s=16.0 * int(rng.integers(0, 37800)),
        af0_s=float(rng.uniform(-9e-4, 9e-4)), af1_s_s=float(rng.uniform(-3e-9, 3e-9)))


def test_sb2_round_trips_random_fields_within_half_an_lsb(rng):
    half = {f.name: f.scale * (math.pi if f.semicircles else 1.0) / 2 for f in am.SB2_FIELDS}
    for _ in range(200):
        sb2 = random_sb2(rng)
        bits = am.pack_sb2(sb2)
        assert bits.shape == (1176,) and am.sb2_spare_ok(bits)
        back = am.parse_sb2(bits)
        assert (back.wn, back.itow) == (sb2.wn, sb2.itow)
        for name, lsb in half.items():
            assert abs(getattr(back, name) - getattr(sb2, name)) <= lsb * (1 + 1e-9), name
        np.testing.assert_array_equal(am.pack_sb2(back), bits)


def test_sb2_fields_sit_where_lans_afs_sim_puts_them():
    """afs_sim.c: WN<<9 | ITOW in bits 0..21, then toe (16), e, sqrtA, i0, OMEGA0, omega, M0 (32 each),
    toc (16), af0 (22), af1 (16); the rest is the j mod 2 fill."""
    sb2 = am.Subframe2(wn=5, itow=3, toe_s=16.0 * 7, e=2.0 ** -32 * 9, sqrt_a=2.0 ** -19 * 11,
                       i0_rad=-math.pi * 2.0 ** -31, toc_s=16.0 * 13, af0_s=-(2.0 ** -31),
                       af1_s_s=2.0 ** -43 * 3)
    bits = am.pack_sb2(sb2)

    def word(start, n):
        return int("".join(map(str, bits[start:start + n])), 2)
    assert word(0, 22) == (5 << 9) | 3
    assert (word(22, 16), word(38, 32), word(70, 32), word(102, 32)) == (7, 9, 11, 2 ** 32 - 1)
    assert (word(230, 16), word(246, 22), word(268, 16)) == (13, 2 ** 22 - 1, 3)
    assert am.SB2_USED_BITS == 284
    np.testing.assert_array_equal(bits[284:], np.arange(284, 1176) % 2)


@pytest.mark.parametrize("path", PARSED, ids=lambda p: p.stem)
def test_interop_inputs_parse_to_the_luar_expectations(path):
    """parsed_*.json (luar-space/lsis-afs-test-vectors, LunaLink): WN, ITOW, the 6-bit SB3/SB4 types,
    tF, and the raw SB2 data, against our parse of the matching input bits."""
    want = json.loads(path.read_text())
    frame_id = want["frame_id"]
    bits = interop_input(frame_id)
    fid, toi = want["subframe1"]["fid"], want["subframe1"]["toi"]
    content = am.parse_data_bits(bits, fid, toi)
    assert (content.sb2.wn, content.sb2.itow) == (want["subframe2"]["wn"], want["subframe2"]["itow"])
    assert content.sb3.msg_type == want["subframe3"]["type"]
    assert content.sb4.msg_type == want["subframe4"]["type"]
    assert content.time.seconds == want["time_of_transmission"]
    assert np.packbits(bits[:1176]).tobytes().hex() == want["subframe2"]["_data_raw_hex"]
    assert am.sb2_spare_ok(bits[:1176])
    frame = np.frombuffer((INTEROP / "frames" / f"{frame_id}.bin").read_bytes()[64:], np.uint8)
    decoded = am.decode_frame_content(frame)
    assert (decoded.fid, decoded.toi, decoded.sb2.wn, decoded.sb2.itow) == (fid, toi, content.sb2.wn,
                                                                          content.sb2.itow)


def test_max_fields_input_has_itow_503_and_wn_8191_and_all_ones_has_an_invalid_itow():
    sb2 = am.parse_sb2(interop_input("frame_boundary_max_fields")[:1176])
    assert (sb2.wn, sb2.itow, sb2.itow_valid) == (8191, 503, True)
    ones = am.parse_sb2(interop_input("frame_message_2")[:1176])
    assert (ones.wn, ones.itow, ones.itow_valid) == (8191, 511, False)
    with pytest.raises(am.MessageError, match="ITOW 511"):
        am.pack_sb2(ones)


def test_afs_time_counts_weeks_20_min_intervals_and_12_s_frames():
    t = am.afs_time(2400 * 604800 + 503 * 1200 + 99 * 12 + 11.9)
    assert (t.wn, t.itow, t.toi) == (2400, 503, 99)
    assert t.seconds == 2400 * 604800 + 503 * 1200 + 99 * 12
    assert am.afs_time(2401 * 604800) == am.AfsTime(2401, 0, 0)
    assert (am.WN_MAX, am.ITOW_MAX, am.TOI_MAX) == (8191, 503, 99)


def test_sb34_messages_round_trip_their_type_and_payload(rng):
    for msg_type in (0, 1, 26, 63):
        payload = rng.integers(0, 2, 840, dtype=np.uint8)
        bits = am.pack_sb34(am.MessageSb34(msg_type, payload))
        assert bits.shape == (846,)
        back = am.parse_sb34(bits)
        assert back.msg_type == msg_type
        np.testing.assert_array_equal(back.payload, payload)
    spare = am.pack_sb34(am.spare_message())
    np.testing.assert_array_equal(spare, np.arange(846) % 2 * (np.arange(846) >= 6))


def test_a_whole_frame_round_trips_through_the_encoder(rng):
    content = am.FrameContent(0, 42, random_sb2(rng).quantised(), am.spare_message(),
                              am.MessageSb34(5, rng.integers(0, 2, 840, dtype=np.uint8)))
    symbols = content.symbols()
    assert symbols.shape == (af.FRAME_SYMBOLS,)
    back = am.decode_frame_content(symbols)
    assert (back.fid, back.toi, back.sb2, back.sb3.msg_type, back.sb4.msg_type) == (0, 42, content.sb2, 0, 5)
    symbols[500] ^= 1
    with pytest.raises(am.MessageError, match="does not decode"):
        am.decode_frame_content(symbols)


@pytest.mark.parametrize("call, match", [
    (lambda: am.pack_sb2(am.Subframe2(wn=8192, itow=0)), "wn = 8192"),
    (lambda: am.pack_sb2(am.Subframe2(wn=0, itow=0, e=1.5)), "e = 1.5"),
    (lambda: am.pack_sb2(am.Subframe2(wn=0, itow=0, af0_s=1e-3)), "af0_s"),
    (lambda: am.pack_sb2(am.Subframe2(wn=0, itow=0, toe_s=-16.0)), "toe_s"),
    (lambda: am.parse_sb2(np.zeros(1175, np.uint8)), "1176 bits"),
    (lambda: am.MessageSb34(64, np.zeros(840, np.uint8)), "6 bits"),
])
def test_out_of_range_fields_are_refused_with_the_field_named(call, match):
    with pytest.raises(am.MessageError, match=match):
        call()
