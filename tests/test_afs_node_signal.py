"""An AFS node broadcasts frames built from its own orbit and clock; siggen's nav_data "lsis"."""

import numpy as np
import pytest

from hil import scenario_signal as ss
from onboard.core import codes
from onboard.core.siggen import SampleFormat
from onboard.nav import afs_ephemeris as ae
from onboard.nav import afs_frame as af
from onboard.nav import afs_message as am
from onboard.nav import afs_node
from onboard.scenario import load_scenario

FS = 2.046e6  # 2 samples per AFS-I chip
SAMPLES_PER_SYMBOL = 4092


def test_prns_of_the_default_constellation_are_its_nodes_with_their_orbits_and_clocks():
    constellation = load_scenario().tables["world"].constellation
    for node in constellation.nodes:
        nav = ss.node_for_prn(node.afs_prn)
        assert (nav.prn, nav.elements, nav.clock) == (node.afs_prn, node.elements, node.clock)
    assert ss.DEFAULT_EPOCH_S == constellation.epoch_s


def test_frames_advance_toi_and_itow_every_12_s_and_carry_the_interval_ephemeris():
    node = ss.node_for_prn(1)
    t0 = node.first_frame_s
    last_itow_frame = t0 + 1200 - 12  # the node's epoch starts an ITOW interval
    seen = []
    for t in (t0, t0 + 12, last_itow_frame, last_itow_frame + 12):
        content = am.decode_frame_content(node.frame_symbols(t))
        want = am.afs_time(t)
        got = (content.fid, content.toi, content.sb2.wn, content.sb2.itow)
        assert got == (0, want.toi, want.wn, want.itow)
        assert ae.BroadcastEphemeris.from_subframe2(content.sb2) == node.ephemeris_fit(t).ephemeris
        assert (content.sb3.msg_type, content.sb4.msg_type) == (am.TYPE_SPARE, am.TYPE_SPARE)
        seen.append((content.toi, content.sb2.itow, content.sb2.toe_s))
    assert [s[0] for s in seen] == [0, 1, 99, 0]
    assert seen[3][1] == seen[2][1] + 1 and seen[3][2] == seen[2][2] + 1200
    with pytest.raises(ValueError, match="12 s grid"):
        node.frame_content(t0 + 5)


def test_prns_beyond_the_constellation_get_its_first_orbit_spread_in_mean_anomaly():
    first = ss.node_for_prn(1).elements
    a, b = ss.node_for_prn(6), ss.node_for_prn(7)
    assert (b.elements.m0_rad - a.elements.m0_rad) % (2 * np.pi) == pytest.approx(np.pi / 2)
    assert a.elements.a_m == first.a_m and a.clock.bias_s == 0.0


def wipe_off_afs_i(prn: int, fs: float, n_symbols: int, plan: ss.SignalPlan) -> np.ndarray:
    """Symbols (0/1) of a zero-Doppler AFS-I channel whose code epoch starts at sample 0."""
    synth, _ = ss.build_synthesizer(plan)
    replica = np.repeat(1.0 - 2.0 * codes.afs_i(prn), 2).astype(np.float32)
    out = []
    block = 100
    for start in range(0, n_symbols, block):
        k = min(block, n_symbols - start)
        x = synth.generate(k * SAMPLES_PER_SYMBOL, SampleFormat.CF32)
        corr = (x.real.reshape(k, SAMPLES_PER_SYMBOL) * replica).sum(axis=1)
        out.append((corr < 0).astype(np.uint8))
    return np.concatenate(out)


def afs_plan(duration_s: float, prn: int = 1) -> ss.SignalPlan:
    return ss.SignalPlan(FS, SampleFormat.CF32, duration_s, 7,
                         (ss.Transmitter("afs", prn, 0.0, 60.0, code_phase_chips=0.0),), nav_data="lsis")


def test_lsis_nav_data_starts_with_the_sync_pattern_and_sb1_of_the_first_frame():
    node = ss.node_for_prn(1)
    got = wipe_off_afs_i(1, FS, 200, afs_plan(0.4))
    np.testing.assert_array_equal(got, node.frame_symbols(node.first_frame_s)[:200])
    np.testing.assert_array_equal(got[:68], af.SYNC_PATTERN)
    fid, toi, _ = af.bch51_decode(got[68:120])
    assert (fid, toi) == (0, am.afs_time(node.first_frame_s).toi)


def test_a_generated_12_s_signal_wipes_off_and_decodes_to_the_node_time_and_ephemeris():
    node = ss.node_for_prn(1)
    symbols = wipe_off_afs_i(1, FS, 6000, afs_plan(12.004))
    content = am.decode_frame_content(symbols)
    t0 = node.first_frame_s
    want = am.afs_time(t0)
    assert (content.fid, content.toi, content.sb2.wn, content.sb2.itow) == (0, want.toi, want.wn, want.itow)
    eph = ae.BroadcastEphemeris.from_subframe2(content.sb2)
    fit = node.ephemeris_fit(t0)
    assert eph == fit.ephemeris
    for t in (t0, t0 + 600.0, t0 + 1199.0):
        assert np.linalg.norm(eph.position(t) - node.orbit.state(t)[0]) <= fit.max_position_error_m + 0.5
        assert abs(eph.clock_offset_s(t) - node.clock.offset_s(t)) < 3e-10


def test_a_bad_relay_orbit_is_reported_with_file_line_and_field():
    from onboard.scenario import ScenarioError, parse_scenario

    text = ('[scenario]\nname = "x"\nduration_s = 1.0\n[[relay]]\nname = "r"\nscid = 1\n'
            'frame_length = 223\n[relay.orbit]\nepoch_wn = 1\nepoch_tow_s = 0.0\na_km = 6541.4\ne = 1.5\n'
            'i_deg = 56.2\nraan_deg = 0.0\nargp_deg = 90.0\nm0_deg = 0.0\n[ground_station]\nname = "g"\n')
    with pytest.raises(ScenarioError, match=r"bad.toml:12: relay\[0\]\.orbit\.e: 1.5 is outside"):
        parse_scenario(text, "bad.toml")


def test_a_shorter_fit_window_changes_sb2_every_window_and_must_divide_the_interval():
    base = ss.node_for_prn(1)
    node = afs_node.NavNode(1, base.elements, base.clock, fit_window_s=300.0, fit_margin_s=60.0)
    t0 = node.first_frame_s
    fits = [node.ephemeris_fit(t0 + 12.0 * k) for k in (0, 24, 25, 99)]
    assert fits[0] is fits[1] and fits[1] is not fits[2]
    assert (fits[2].start_s, fits[2].end_s) == (t0 + 300.0, t0 + 660.0)  # window and margin
    content = am.decode_frame_content(node.frame_symbols(t0 + 12.0 * 25))
    assert content.toi == 25 and ae.BroadcastEphemeris.from_subframe2(content.sb2) == fits[2].ephemeris
    for bad in (250.0, 360.0, 0.0):
        with pytest.raises(ValueError, match="whole 12 s frames that divide"):
            afs_node.NavNode(1, base.elements, fit_window_s=bad)
