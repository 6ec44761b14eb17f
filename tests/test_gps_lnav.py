"""GPS LNAV (IS-GPS-200 §20.3): parity, subframe encode/decode, the user algorithm, and the sky.

The real subframes come from Orekit's test suite (tests/vectors/gps_lnav/orekit_subframes.json,
which says how they are stored).  GNSS-SDR decoding these messages off the air is
tests/test_gnss_sdr_pvt.py.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from conftest import VECTORS

from onboard.nav import gps_ephemeris as ge
from onboard.nav import gps_lnav as lnav
from onboard.nav import gps_sky
from onboard.nav.scenario_signal import build_synthesizer, plan_from_flags

RECEIVER = gps_sky.GpsReceiver.from_llh(41.275, 1.987, 80.0, 2360, 345625.0)


def _on_air(words: list[int]) -> list[int]:
    """Receiver-delivered words (data already corrected for D30*) back to the transmitted form."""
    out, prev = [], 0
    for word in words:
        out.append(word ^ (0xFFFFFF << 6) if prev & 1 else word)
        prev = word
    return out


def _vectors():
    doc = json.loads((VECTORS / "gps_lnav" / "orekit_subframes.json").read_text())
    return doc["subframes"]


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: f"sf{v['expected']['subframe_id']}")
def test_real_subframe_passes_parity_and_decodes_to_the_published_fields(vector):
    raw = np.unpackbits(np.frombuffer(bytes.fromhex(vector["hex"]), np.uint8))[:300]
    bits = lnav.words_to_bits(_on_air(lnav.bits_to_words(raw)))
    fields = lnav.decode_subframe(bits)
    assert fields["preamble"] == lnav.PREAMBLE
    for name, value in vector["expected"].items():
        assert fields[name] == pytest.approx(value, rel=1e-12, abs=1e-20), name


def test_real_subframe_with_one_flipped_bit_fails_parity():
    raw = np.unpackbits(np.frombuffer(bytes.fromhex(_vectors()[1]["hex"]), np.uint8))[:300]
    bits = lnav.words_to_bits(_on_air(lnav.bits_to_words(raw)))
    for position in (5, 77, 150, 299):
        bad = bits.copy()
        bad[position] ^= 1
        with pytest.raises(lnav.LnavError, match=f"word {position // 30 + 1}: parity"):
            lnav.decode_subframe(bad)


def test_parity_inverts_data_after_a_word_ending_in_one():
    data = 0b101100111000111100001111
    plain = lnav.encode_word(data, 0b00)
    inverted = lnav.encode_word(data, 0b01)
    assert plain >> 6 == data and inverted >> 6 == data ^ 0xFFFFFF
    assert lnav.decode_word(inverted, 0b01) == (data, True)
    assert lnav.decode_word(inverted, 0b00)[1] is False


def test_words_2_and_10_end_in_zero_zero_whatever_the_data(rng):
    for _ in range(200):
        d = int(rng.integers(0, 1 << 24))
        prev = int(rng.integers(0, 1 << 30))
        word = lnav.encode_word(lnav.solve_last_bits(d, prev), prev)
        assert word & 0b11 == 0
        assert lnav.decode_word(word, prev)[1]


def _random_ephemeris(rng) -> lnav.Ephemeris:
    u = rng.uniform
    return lnav.Ephemeris(
        prn=int(rng.integers(1, 33)), week_number=int(rng.integers(1024, 4096)),
        t_oc=16.0 * int(rng.integers(0, 37800)),
        a_f0=u(-9e-4, 9e-4), a_f1=u(-3e-9, 3e-9), a_f2=u(-3e-15, 3e-15), t_gd=u(-5e-8, 5e-8),
        iodc=int(rng.integers(0, 1024)), t_oe=16.0 * int(rng.integers(0, 37800)), sqrt_a=u(5000, 5200),
        e=u(0, 0.05),
        m_0=u(-math.pi, math.pi), delta_n=u(-1e-8, 1e-8), omega_0=u(-math.pi, math.pi), i_0=u(0.8, 1.1),
        omega=u(-math.pi, math.pi), omega_dot=u(-1e-8, 0), idot=u(-1e-9, 1e-9), c_uc=u(-1e-5, 1e-5),
        c_us=u(-1e-5, 1e-5), c_rc=u(-500, 500), c_rs=u(-500, 500), c_ic=u(-1e-6, 1e-6), c_is=u(-1e-6, 1e-6),
        ura_index=int(rng.integers(0, 16)), sv_health=int(rng.integers(0, 64)),
        code_on_l2=int(rng.integers(0, 4)),
        l2p_data_flag=int(rng.integers(0, 2)), fit_interval_flag=int(rng.integers(0, 2)),
        aodo=int(rng.integers(0, 32)))


def test_random_ephemeris_round_trips_at_broadcast_resolution(rng):
    for _ in range(30):
        eph = _random_ephemeris(rng)
        q = eph.quantized()
        assert q.quantized() == q
        # Each field is within half a step of its scale factor (Tables 20-I, 20-III).
        for field in lnav.SUBFRAME1 + lnav.SUBFRAME2 + lnav.SUBFRAME3:
            if not hasattr(eph, field.name) or field.name == "week_number":
                continue
            step = field.scale * (lnav.GPS_PI if field.semicircles else 1.0)
            a, b = getattr(eph, field.name), getattr(q, field.name)
            if field.name in ("m_0", "omega_0", "omega"):
                a = math.remainder(a, 2 * lnav.GPS_PI)
            assert abs(a - b) <= step / 2 * (1 + 1e-9), field.name
        assert q.week_number == eph.week_number and q.iodc == eph.iodc


def test_frame_of_subframes_decodes_with_tow_subframe_ids_and_pages():
    sky = gps_sky.GpsSky(RECEIVER)
    source = sky.lnav_source(3)
    first = 11520 * 5  # subframe 1 of the frame that starts at 345600 s
    bits = source.bits(first, 25)
    decoded, prev = [], 0
    for k in range(25):
        chunk = bits[300 * k:300 * (k + 1)]
        decoded.append(lnav.decode_subframe(chunk, prev))
        prev = lnav.bits_to_words(chunk[-30:])[0]
    assert [d["subframe_id"] for d in decoded] == [1, 2, 3, 4, 5] * 5
    assert [lnav.how_tow_s(d["tow_count"]) for d in decoded] == [6.0 * (first + k + 1) for k in range(25)]
    eph = lnav.Ephemeris.from_subframes(3, *decoded[:3], week_number=2360)
    assert eph == sky.by_prn[3]
    # Frame 11520 is page (11520 mod 25) + 1 = 21 of subframes 4 and 5: SV 21's almanac in subframe 5.
    assert decoded[4]["sv_id"] == 21
    assert decoded[4]["sqrt_a"] == pytest.approx(sky.by_prn[21].sqrt_a, abs=1e-3)
    assert decoded[3]["sv_id"] == lnav.DUMMY_SV_ID


def test_subframe4_page18_and_subframe5_page25_encode_and_decode():
    source = gps_sky.GpsSky(RECEIVER).lnav_source(3)
    page18 = 5 * (17 + 25 * 460) + 3  # subframe 4 of a frame whose page is 18
    page25 = 5 * (24 + 25 * 460) + 4
    sf4 = lnav.decode_subframe(source.subframe(page18))
    sf5 = lnav.decode_subframe(source.subframe(page25))
    assert sf4["sv_id"] == lnav.SF4_PAGE18_SV_ID and sf4["delta_t_ls"] == 18 and sf4["wn_t"] == 2360 % 256
    assert sf5["sv_id"] == lnav.SF5_PAGE25_SV_ID and sf5["health_1"] == 0 and sf5["wn_a"] == 2360 % 256


def test_user_algorithm_gives_a_gps_orbit_and_matches_a_keplerian_orbit_without_perturbations():
    eph = gps_sky.synthetic_constellation(2360, 345616.0)[0]
    t = eph.t_oe + np.linspace(-7200, 7200, 13)
    r = np.linalg.norm(ge.satellite_position(eph, t), axis=-1)
    a = eph.sqrt_a ** 2
    assert np.all((r > a * (1 - eph.e) - 400) & (r < a * (1 + eph.e) + 400))
    # Without harmonics, drift and node motion the ECI radius is exactly a (1 - e cos E).
    bare = dataclasses.replace(eph, c_uc=0.0, c_us=0.0, c_rc=0.0, c_rs=0.0, c_ic=0.0, c_is=0.0, idot=0.0,
                               delta_n=0.0)
    e_k = ge.eccentric_anomaly(bare, t)
    radius = np.linalg.norm(ge.satellite_position(bare, t), axis=-1)
    assert np.allclose(radius, a * (1 - bare.e * np.cos(e_k)), rtol=0, atol=1e-6)
    # Kepler's equation holds.
    m = bare.m_0 + math.sqrt(ge.MU_M3_S2 / a ** 3) * (t - bare.t_oe)
    assert np.allclose(e_k - bare.e * np.sin(e_k), m, atol=1e-12)


def test_clock_offset_has_the_relativistic_term_and_l1_group_delay():
    eph = gps_sky.synthetic_constellation(2360, 345616.0)[4]
    t = np.array([eph.t_oc + 100.0])
    e_k = ge.eccentric_anomaly(eph, t)
    relativistic = ge.F_RELATIVISTIC_S_M05 * eph.e * eph.sqrt_a * np.sin(e_k)
    expected = eph.a_f0 + eph.a_f1 * 100 + eph.a_f2 * 1e4 + relativistic - eph.t_gd
    assert ge.satellite_clock_offset(eph, t) == pytest.approx(expected, abs=1e-18)


def test_llh_and_ecef_round_trip():
    xyz = ge.llh_to_ecef(41.275, 1.987, 80.0)
    assert ge.ecef_to_llh(xyz) == pytest.approx((41.275, 1.987, 80.0), abs=1e-9)


def test_sky_pseudorange_is_range_plus_satellite_clock_and_sagnac():
    sky = gps_sky.GpsSky(RECEIVER)
    visible = sky.visible()
    assert len(visible) >= 6
    for view in visible:
        eph = sky.by_prn[view.prn]
        offset, rng, sat = sky.offset_s(view.prn, np.array([0.0]))
        t_tx = RECEIVER.gps_tow_s - rng[0] / ge.C_M_S
        clock = float(ge.satellite_clock_offset(eph, np.array([t_tx]))[0])
        assert view.pseudorange_m == pytest.approx(view.range_m - ge.C_M_S * clock, abs=1e-3)
        # Sagnac: the range differs from the non-rotated one by (omega_e / c) (x_s y_r - y_s x_r).
        raw = ge.satellite_position(eph, np.array([t_tx]))[0]
        rx = np.array(RECEIVER.ecef_m)
        sagnac = ge.OMEGA_E_DOT_RAD_S / ge.C_M_S * (raw[0] * rx[1] - raw[1] * rx[0])
        assert rng[0] - np.linalg.norm(raw - rx) == pytest.approx(sagnac, abs=0.05)
        assert abs(view.doppler_hz) < 5000 and 10 <= view.elevation_deg <= 90


def test_synthesised_code_phase_and_nav_bits_follow_transmit_time():
    plan = plan_from_flags("gps-l1ca", [], [0.0], [45.0], 4e6, "cf32", 0.35, 1, nav_data="lnav",
                           receiver=RECEIVER)
    synth, truths = build_synthesizer(plan)
    assert len(truths) >= 6
    fs = plan.fs_hz
    synth.generate(int(0.3 * fs), plan.fmt)
    t_end = 0.3
    for k, truth in enumerate(truths):
        ch = synth.channel(k)
        offset = synth.sky.offset_s(truth.prn, np.array([t_end]))[0][0]
        sv_time_ms = (RECEIVER.gps_tow_s + t_end + offset) * 1000
        chips = (synth.first_ms[k] + ch.epochs) * 1023 + ch.code_phase_chips
        # The code phase is the SV time: 1023 chips per ms since the week start (IS-GPS-200 §3.3.2.3).
        assert chips == pytest.approx(sv_time_ms * 1023, abs=1e-4)
        # Sign j is the LNAV bit of SV ms first_ms + j, so the current sign is that of the SV time.
        assert ch.sign_index == int(sv_time_ms) - synth.first_ms[k]
        assert truth.doppler_hz == pytest.approx(synth.sky.view(truth.prn).doppler_hz)


def test_preamble_starts_every_subframe_on_the_sv_time_grid():
    sky = gps_sky.GpsSky(RECEIVER)
    first_ms = 345624 * 1000  # a subframe start (345624 = 6 * 57604)
    signs = sky.epoch_signs(7, first_ms, 12000)
    preamble = np.repeat(1 - 2 * np.array([1, 0, 0, 0, 1, 0, 1, 1], np.int8), 20)
    for start in (0, 6000):
        assert np.array_equal(signs[start:start + 160], preamble)


def test_lnav_plan_rejects_a_satellite_below_the_mask():
    sky = gps_sky.GpsSky(RECEIVER)
    low = next(e.prn for e in sky.constellation if sky.view(e.prn).elevation_deg < 0)
    with pytest.raises(ValueError, match="below the 10 deg mask"):
        plan_from_flags("gps-l1ca", [low], [0.0], [45.0], 4e6, "ci16", 1.0, 1, nav_data="lnav",
                        receiver=RECEIVER)
    with pytest.raises(ValueError, match="needs a receiver"):
        plan_from_flags("gps-l1ca", [], [0.0], [45.0], 4e6, "ci16", 1.0, 1, nav_data="lnav")


def test_toml_plan_with_a_receiver_lists_every_satellite_in_view(tmp_path):
    from onboard.nav.scenario_signal import load_plan
    from onboard.scenario import ScenarioError

    path = tmp_path / "gps.toml"
    path.write_text('[siggen]\nfs_hz = 4e6\nduration_s = 1.0\nnav_data = "lnav"\n'
                    '[siggen.receiver]\nllh = [41.275, 1.987, 80.0]\ngps_week = 2360\ngps_tow_s = 345625.0\n'
                    'cn0_dbhz = 42.0\n')
    plan = load_plan(path)
    assert [t.prn for t in plan.transmitters] == [v.prn for v in gps_sky.GpsSky(RECEIVER).visible()]
    assert {t.cn0_dbhz for t in plan.transmitters} == {42.0}
    assert plan.receiver.ecef_m == pytest.approx(RECEIVER.ecef_m)
    path.write_text('[siggen]\nfs_hz = 4e6\nduration_s = 1.0\nnav_data = "lnav"\n'
                    '[siggen.receiver]\nllh = [41.275, 1.987]\ngps_week = 2360\ngps_tow_s = 345625.0\n')
    with pytest.raises(ScenarioError, match=r"gps.toml:6: siggen.receiver.llh: expected 3 finite numbers"):
        load_plan(path)
