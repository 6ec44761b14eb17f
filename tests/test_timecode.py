"""CCSDS time codes (301.0-B-4): CUC and CDS, P-fields, both directions from TAI seconds since 1958."""

from fractions import Fraction

import pytest

from lunarelay_tools.inspect import timecode as tc


@pytest.mark.parametrize("coarse,fine", [(1, 0), (4, 2), (4, 3), (5, 0), (6, 5), (7, 7), (2, 4)])
def test_cuc_round_trips_at_its_resolution(coarse, fine):
    cuc = tc.Cuc(coarse, fine)
    t = Fraction(200, 1) + Fraction(12345, 65536)
    back, layout = tc.decode(cuc.encode(t, with_pfield=True))
    assert layout == cuc
    assert t - Fraction(1, 1 << (8 * fine)) < back <= t


def test_cuc_pfield_bits_follow_section_3_2_2():
    assert tc.Cuc(4, 2).pfield() == bytes([0b0_001_11_10])
    assert tc.Cuc(2, 1, agency_epoch=True).pfield() == bytes([0b0_010_01_01])
    # Six coarse and five fine octets need the extension octet: 2 more coarse, 2 more fine.
    assert tc.Cuc(6, 5).pfield() == bytes([0b1_001_11_11, 0b0_10_010_00])
    parsed = tc.CucPField.parse(tc.Cuc(6, 5).pfield())
    assert parsed.extension and parsed.ext.coarse_octets_add == 2 and parsed.ext.fine_octets_add == 2


def test_cuc_tfield_is_big_endian_seconds_and_binary_fraction():
    assert tc.Cuc(4, 2).encode(Fraction(0x01020304) + Fraction(1, 2)) == bytes.fromhex("010203048000")
    assert tc.cuc_construct(4, 2).parse(bytes.fromhex("010203048000")) == {"coarse": 0x01020304,
                                                                             "fine": 0x8000}


def test_cds_pfield_and_fields_with_24_bit_day_and_picoseconds():
    cds = tc.Cds(day_octets=3, sub_ms_octets=4)
    assert cds.pfield() == bytes([0b0_100_0_1_10])
    t = 70000 * 86400 + Fraction(3723_456, 1000) + Fraction(789, 10**9)
    code = cds.encode(t, with_pfield=True)
    fields = tc.cds_construct(3, 4).parse(code[1:])
    assert fields.day == 70000 and fields.ms_of_day == 3723_456 and fields.sub_ms == 789_000
    assert tc.decode(code) == (t, cds)
    pf = tc.CdsPField.parse(code[:1])
    assert pf.time_code_id == tc.CDS_ID and pf.day_24bit and pf.sub_ms_resolution == 2


def test_cds_microseconds_round_trip_to_the_microsecond():
    cds = tc.Cds(2, 2)
    t = 21000 * 86400 + Fraction(86_399_999_999, 1_000_000)
    assert tc.decode(cds.encode(t, True))[0] == t


def test_out_of_range_codes_are_refused():
    with pytest.raises(tc.TimeCodeError, match="does not fit 1 coarse octets"):
        tc.Cuc(1, 0).encode(256)
    with pytest.raises(tc.TimeCodeError, match="before the 1958 TAI epoch"):
        tc.Cds().encode(-1)
    with pytest.raises(tc.TimeCodeError, match="day 65536 does not fit"):
        tc.Cds(2).encode(65536 * 86400)
    with pytest.raises(tc.TimeCodeError, match="microsecond of ms 1000"):
        tc.decode(tc.Cds(2, 2).pfield() + bytes(6) + (1000).to_bytes(2, "big"))
    with pytest.raises(tc.TimeCodeError, match="not CUC or CDS"):
        tc.decode(bytes([0b0_101_0000]))
    with pytest.raises(tc.TimeCodeError, match="needs 6 octets, got 3"):
        tc.decode(tc.Cuc(4, 2).pfield() + b"abc")


def test_random_garbage_gives_a_time_or_a_clear_error(rng):
    for _ in range(2000):
        data = rng.integers(0, 256, int(rng.integers(0, 16)), dtype="u1").tobytes()
        try:
            t, _ = tc.decode(data)
        except tc.TimeCodeError:
            continue
        assert t >= 0


def test_construct_pfield_views_agree_with_the_decoder(rng):
    for _ in range(500):
        coarse, fine = int(rng.integers(1, 8)), int(rng.integers(0, 8))
        pfield = tc.Cuc(coarse, fine, agency_epoch=bool(rng.integers(0, 2))).pfield()
        k = tc.CucPField.parse(pfield)
        ext = k.ext if k.extension else None
        assert (k.coarse_octets_m1 + 1 + (ext.coarse_octets_add if ext else 0),
                k.fine_octets + (ext.fine_octets_add if ext else 0)) == (coarse, fine)
        layout, n = tc.layout_from_pfield(pfield)
        assert (layout.coarse_octets, layout.fine_octets, n) == (coarse, fine, len(pfield))
        assert tc.CucPField.build(k) == pfield
    for day_octets in (2, 3):
        for sub in (0, 2, 4):
            pf = tc.Cds(day_octets, sub).pfield()
            k = tc.CdsPField.parse(pf)
            assert (k.day_24bit, k.sub_ms_resolution) == (day_octets == 3, {0: 0, 2: 1, 4: 2}[sub])
