"""The AFS signal carries the geometry: a receiver on the Moon gets every node in view with code
phase from the light-time-corrected range and the node's clock, Doppler from the range rate,
C/N0 from the link budget and SB2 frames with that node's own ephemeris."""

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from hil import scenario_signal as ss
from hil.world import frames
from hil.world.constellation import SPEED_OF_LIGHT_M_S as C
from hil.world.lunar_sky import LunarReceiver, LunarSky, SkyError, build_lunar_synthesizer
from lunarelay_tools.cli import main
from onboard.core import codes
from onboard.core.siggen import SampleFormat
from onboard.nav import afs_frame as af
from onboard.nav import afs_message as am

START = (2400, 388800.0)  # 12 h after the constellation's epoch: all four nodes in view, two pairs
RX = LunarReceiver.from_week(-89.66, 129.20, 100.0, *START)


@pytest.fixture(scope="module")
def sky():
    return LunarSky(RX, duration_s=2.0)


def test_the_south_pole_receiver_sees_the_four_nodes_around_it(sky):
    views = sky.visible()
    assert [v.prn for v in views] == [1, 2, 3, 4]
    azimuths = sorted(v.azimuth_deg for v in views)
    assert np.diff(azimuths) == pytest.approx([90.0] * 3, abs=20.0)  # one node per quadrant
    # LCNS-1 and -2 near apolune on opposite sides of the pole, LCNS-3 and -4 coming up to theirs
    for v in views[:2]:
        assert 40 < v.elevation_deg < 55 and 12000e3 < v.range_m < 14000e3
        assert 44.0 < v.cn0_dbhz < 46.0  # EIRP 24 dBW at 13000 km
    for v in views[2:]:
        assert 15 < v.elevation_deg < 30 and 8500e3 < v.range_m < 10500e3
        assert 46.5 < v.cn0_dbhz < 48.5


def test_range_is_light_time_corrected_and_the_offset_holds_range_and_clock(sky):
    """Independent of the sky's receiver model: the receiver rotated with frames directly, the
    node at t - range/c from the truth orbit."""
    for prn in (1, 3):
        offset, rng, _, _ = sky.transmission(prn, np.array([0.7]))
        t_rx = RX.start_s + 0.7
        rx = frames.fixed_to_mci(t_rx, RX.fixed_m, frame="me")
        orbit = sky.orbit(prn)
        t_tx = t_rx - rng[0] / C
        assert np.linalg.norm(orbit.positions([t_tx])[0] - rx) == pytest.approx(rng[0], abs=1e-3)
        clock = sky.node(prn).clock.offset_s(t_tx)
        assert offset[0] == pytest.approx(clock - rng[0] / C, abs=1e-12)


def test_doppler_follows_the_range_rate_and_the_clock_drift(sky):
    for v in sky.visible():
        drift = sky.node(v.prn).clock.drift_s_s
        want = (-v.range_rate_m_s / C + drift) * 2492.028e6
        assert v.doppler_hz == pytest.approx(want, abs=0.05)


def test_code_phase_and_symbols_follow_the_node_clock_time_of_transmission(sky):
    gen, truths = build_lunar_synthesizer(sky, [1, 2, 3, 4], fs_hz=12e6, if_hz=0.0, seed=1, noise_sigma=1.0,
                                          scale=1.0)
    gen.generate(int(0.53 * 12e6), SampleFormat.CF32)
    t = 0.53
    for k, tc in enumerate(gen.tracked):
        prn = truths[k].prn
        offset = float(sky.offset_s(prn, np.array([t]))[0])
        node_time = RX.start_s + t + offset
        index = math.floor((RX.start_s + float(sky.offset_s(prn, np.array([0.0]))[0])) * 500)
        # chips since the start of the node-clock epoch in progress at the first sample: 2046
        # (AFS-I) or 10230 (AFS-Q) per 2 ms of node time
        c = gen.channel(tc.channel)
        chips = c.epochs * c.n_chips + c.code_phase_chips
        since_first = float(Fraction(RX.start_s) - Fraction(index, 500)) + t + offset
        assert chips == pytest.approx(since_first * 500 * tc.n_chips, abs=2e-3)
        epoch = math.floor(node_time * 500)
        if truths[k].signal == "afs-i":
            frame_start = epoch - epoch % 6000
            symbols = sky.nav_node(prn).frame_symbols(frame_start / 500)
            signs = np.frombuffer(gen._keep[tc.channel][1], np.int8)
            assert signs[c.sign_index] == 1 - 2 * int(symbols[epoch % 6000])
        else:
            assert c.sign_index == epoch % 6000  # the 12 s tiered pilot is aligned to node time


def test_afs_i_symbols_wiped_off_at_the_truth_code_phase_are_the_node_frames(sky):
    """A strong single node, correlated with its code at the phase the geometry predicts: the
    symbols are those of the node's frame on the air at that node time (sync pattern included)."""
    prn, fs = 2, 4.092e6
    gen, _ = build_lunar_synthesizer(sky, [prn], fs_hz=fs, if_hz=0.0, seed=3, noise_sigma=1.0, scale=1.0,
                                     cn0_override_dbhz=75.0)
    n = int(0.6 * fs)
    x = gen.generate(n, SampleFormat.CF32)
    t = np.arange(n) / fs
    node_time_chips = gen.chips(0, t)
    code = 1.0 - 2.0 * codes.afs_i(prn).astype(np.float64)
    replica = code[np.floor(node_time_chips).astype(np.int64) % 2046]
    doppler = np.cumsum(np.gradient(sky.offset_s(prn, t))) * 2492.028e6
    base = x * np.exp(-2j * np.pi * doppler)
    epoch = np.floor(node_time_chips / 2046).astype(np.int64)
    sums = np.bincount(epoch - epoch[0], weights=(base * replica).real)[1:-1]  # whole epochs only
    # the first whole epoch, counted on the node's clock since its time 0
    e0 = math.floor((RX.start_s + float(sky.offset_s(prn, np.array([0.0]))[0])) * 500) + 1
    got = (sums < 0).astype(np.uint8)
    frame_start = e0 - e0 % 6000
    want = sky.nav_node(prn).symbols(frame_start / 500, 12000)[e0 - frame_start:e0 - frame_start + got.size]
    np.testing.assert_array_equal(got, want)


def test_sb2_carries_the_nodes_own_ephemeris_whose_sise_is_reported():
    truth_sky = LunarSky(RX, duration_s=2.0, ephemeris="truth")
    own_sky = LunarSky(RX, duration_s=2.0, ephemeris="broadcast")
    frame_t = 12.0 * math.floor(RX.start_s / 12.0)
    for prn in (1, 2):
        content = am.decode_frame_content(own_sky.nav_node(prn).frame_symbols(frame_t))
        assert content.sb2.itow == am.afs_time(frame_t).itow
        eph = own_sky.broadcast(prn, frame_t)
        assert content.sb2.sqrt_a == pytest.approx(eph.sqrt_a)
        # Forty minutes: two uploads, eight fit windows.
        times = np.arange(0.0, 2400.0, 20.0)
        own, truth = np.abs(own_sky.sise(prn, times)), np.abs(truth_sky.sise(prn, times))
        assert truth.max() < 1.5  # the Keplerian arc over 360 s
        # The onboard model restarted every 20 min adds little to it: it has the Earth's pull, which
        # bends the orbit by tens of metres in 20 min.
        assert own.max() < 1.5 and np.sqrt(np.mean(own ** 2)) < 0.6


def test_sb2_changes_every_fit_window_inside_the_itow_interval():
    nav = LunarSky(RX, duration_s=2.0).nav_node(1)
    interval = am.ITOW_SECONDS * math.floor(RX.start_s / am.ITOW_SECONDS)
    toes = []
    for k in range(0, 100, 12):  # frames 0, 12, ... 96 of one interval
        t = interval + 12.0 * k
        content = am.decode_frame_content(nav.frame_symbols(t))
        assert (content.toi, content.sb2.itow) == (k, am.afs_time(interval).itow)
        toes.append(content.sb2.toe_s)
        # toe on its 16 s grid near the middle of the window and its minute of margin
        window_mid = 300.0 * math.floor(t / 300.0) + 180.0
        assert content.sb2.toe_s % 16 == 0 and abs(content.sb2.toe_s - am.time_of_week(window_mid)) <= 8
    assert len(set(toes)) == 4  # four ephemerides per interval, each in 25 frames


def test_siggen_cli_writes_every_node_in_view_with_truth_annotations(tmp_path):
    base = tmp_path / "afs"
    assert main(["siggen", "--signal", "afs", "--receiver-moon-llh", "-89.66,129.20,100", "--start",
                 "2400,388800", "--duration", "2.5", "--fs", "4.092e6", "--bits", "2", "--quiet",
                 "-o", str(base)]) == 0
    meta = json.loads((tmp_path / "afs.sigmf-meta").read_text())
    g = meta["global"]
    assert g["core:datatype"] == "ci8" and g["lunarelay:bits"] == 2
    assert g["lunarelay:receiver_moon_llh"] == [-89.66, 129.2, 100.0]
    assert np.linalg.norm(g["lunarelay:receiver_me_m"]) == pytest.approx(1737.5e3)
    assert (g["lunarelay:afs_wn"], g["lunarelay:afs_tow_s"]) == START
    assert [n["prn"] for n in g["lunarelay:afs_nodes"]] == [1, 2, 3, 4]
    assert all(1.5 > n["sise_m_max"] >= n["sise_m_rms"] > 0 for n in g["lunarelay:afs_nodes"])
    assert (g["lunarelay:ephemeris_window_s"], g["lunarelay:ephemeris_fit_margin_s"]) == (300.0, 60.0)
    per_second = [a for a in meta["annotations"] if a["core:label"].startswith("afs node PRN")]
    assert len(per_second) == 4 * 3
    for a in per_second:
        for key in ("range_m", "range_rate_m_s", "elevation_deg", "azimuth_deg", "clock_offset_s",
                    "cn0_dbhz"):
            assert f"lunarelay:{key}" in a
    channels = [a for a in meta["annotations"] if a["core:label"].startswith("afs-")]
    assert len(channels) == 8
    data = np.fromfile(tmp_path / "afs.sigmf-data", np.int8)
    assert set(np.unique(data).tolist()) == {-3, -1, 1, 3}
    # a 2-bit ADC at its best threshold for the noise: |x| > 0.996 sigma of the noise, which the four
    # nodes' signals (their C/N0 over the sample rate) raise by a few per cent
    signal_share = sum(10 ** (n["cn0_dbhz"] / 10) for n in g["lunarelay:afs_nodes"]) / 4.092e6
    above = math.erfc(0.9957 / math.sqrt(1.0 + signal_share) / math.sqrt(2.0))
    assert np.mean(np.abs(data) == 3) == pytest.approx(above, abs=0.02)


def test_code_doppler_carrier_moves_the_signal_to_l_band():
    s = LunarSky(RX, duration_s=1.0, carrier_hz=1575.42e6)
    for v_l, v_s in zip(s.visible(), LunarSky(RX, duration_s=1.0).visible(), strict=True):
        assert v_l.doppler_hz == pytest.approx(v_s.doppler_hz * 1575.42 / 2492.028, rel=1e-9)
    plan = ss.plan_from_flags("afs", [], [0.0], [45.0], 4.092e6, "ci8", 1.0, 0, moon_receiver=RX,
                              carrier_hz=1575.42e6)
    assert plan.center_frequency_hz == 1575.42e6
    gen, truths = ss.build_synthesizer(plan)
    # code Doppler follows the carrier's: rate = chip rate (1 + Doppler / carrier)
    for t in truths:
        nominal = codes.AFS_I_CHIP_RATE_HZ if t.signal == "afs-i" else codes.AFS_Q_CHIP_RATE_HZ
        assert t.code_rate_cps == pytest.approx(nominal * (1 + t.doppler_hz / 1575.42e6), rel=1e-12)


def test_bad_lunar_requests_are_refused_with_clear_errors(tmp_path, capsys):
    with pytest.raises(SkyError, match="before the constellation's epoch"):
        LunarSky(LunarReceiver.from_week(-89.0, 0.0, 0.0, 2399, 0.0))
    with pytest.raises(SkyError, match="latitude"):
        LunarSky(LunarReceiver.from_week(-91.0, 0.0, 0.0, *START))
    with pytest.raises(ValueError, match="below the 5 deg mask"):
        ss.plan_from_flags("afs", [3], [0.0], [45.0], 4e6, "ci8", 1.0, 0,
                           moon_receiver=LunarReceiver.from_week(-89.66, 129.2, 100.0, 2400, 374400.0))
    with pytest.raises(SystemExit) as exit_info:
        main(["siggen", "--start", "2400,1", "-o", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "--start needs --receiver-moon-llh" in capsys.readouterr().err


def test_a_toml_moon_receiver_makes_the_same_plan_as_the_flags(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text('[siggen]\nfs_hz = 4.092e6\nformat = "ci8"\nduration_s = 1.0\nnav_data = "lsis"\n'
                    '[siggen.moon_receiver]\nllh = [-89.66, 129.20, 100.0]\nwn = 2400\ntow_s = 388800.0\n'
                    'ephemeris = "truth"\n')
    plan = ss.load_plan(path)
    flags = ss.plan_from_flags("afs", [], [0.0], [45.0], 4.092e6, "ci8", 1.0, 0, moon_receiver=RX,
                               ephemeris="truth")
    assert plan == flags
    path.write_text(path.read_text().replace('ephemeris = "truth"', 'ephemeris = "psychic"'))
    with pytest.raises(ss.ScenarioError, match=r"siggen.moon_receiver.ephemeris: 'psychic'"):
        ss.load_plan(path)


def test_one_cn0_for_every_node_replaces_the_link_budget_from_flags_and_toml(tmp_path):
    flags = ss.plan_from_flags("afs", [], [0.0], [45.0], 4.092e6, "ci8", 1.0, 0, moon_receiver=RX,
                               cn0_dbhz=41.5)
    assert [t.cn0_dbhz for t in flags.transmitters] == [41.5] * 4
    _synth, truths = ss.build_synthesizer(flags)
    assert [t.cn0_dbhz for t in truths] == pytest.approx([41.5 - 10 * math.log10(2.0)] * 8)  # I and Q halves
    glob, annotations = ss.signal_metadata(flags)
    assert {n["cn0_dbhz"] for n in glob["lunarelay:afs_nodes"]} == {41.5}
    assert {a["lunarelay:cn0_dbhz"] for a in annotations} == {41.5}
    path = tmp_path / "plan.toml"
    path.write_text('[siggen]\nfs_hz = 4.092e6\nformat = "ci8"\nduration_s = 1.0\nnav_data = "lsis"\n'
                    '[siggen.moon_receiver]\nllh = [-89.66, 129.20, 100.0]\nwn = 2400\ntow_s = 388800.0\n'
                    'cn0_dbhz = 41.5\n')
    assert ss.load_plan(path) == flags
    path.write_text(path.read_text().replace("41.5", "141.5"))
    with pytest.raises(ss.ScenarioError, match="cn0_dbhz"):
        ss.load_plan(path)
    with pytest.raises(SystemExit) as exit_info:
        main(["siggen", "--signal", "afs", "--receiver-moon-llh", "-89.66,129.20,100", "--cn0", "45,46",
              "-o", str(tmp_path / "x")])
    assert exit_info.value.code == 2


def test_sync_pattern_leads_every_frame_on_the_node_clock(sky):
    symbols = sky.nav_node(1).frame_symbols(12.0 * math.floor(RX.start_s / 12.0))
    np.testing.assert_array_equal(symbols[:68], af.SYNC_PATTERN)
