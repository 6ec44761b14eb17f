"""Position fix from AFS pseudoranges (hil/receiver/pvt.py) on geometry computed here: nodes in
24 h elliptical lunar frozen orbits with broadcast ephemerides and clocks, a receiver near the lunar
south pole at (-89.66 deg, 129.20 deg, 100 m), light time and the Moon's rotation included."""

import math

import numpy as np
import pytest

from hil.receiver import moon_frame, pvt
from hil.scenario_signal import DEFAULT_EPOCH_S
from hil.world import frames
from onboard.nav import afs_message as am
from onboard.nav.afs_ephemeris import BroadcastEphemeris
from onboard.nav.lunar_orbit import KeplerElements, semi_major_axis_for_period

C = 299792458.0
SITE = (-89.66, 129.20, 100.0)
T_RX = DEFAULT_EPOCH_S + 3 * 3600.0  # system time of reception
REF = float(math.floor(T_RX))  # whole-second time reference
WAVELENGTH = C / 2492.028e6


def constellation() -> list[tuple[int, BroadcastEphemeris]]:
    """Six nodes in 24 h ELFOs (apolune over the south pole), planes 60 deg apart, with clocks."""
    a = semi_major_axis_for_period(86400.0)
    nodes = []
    for k in range(6):
        el = KeplerElements(a, 0.6, math.radians(56.2), math.radians(60.0 * k), math.radians(90.0),
                            math.radians(170.0 + 12.0 * k), DEFAULT_EPOCH_S)
        eph = BroadcastEphemeris(am.time_of_week(el.epoch_s), math.sqrt(el.a_m), el.e, el.i_rad, el.raan_rad,
                                 el.argp_rad, el.m0_rad, am.time_of_week(el.epoch_s), 1e-5 * (k - 2.5),
                                 1e-11 * (3 - k))
        nodes.append((k + 1, eph))
    return nodes


def receiver_mci(t: float) -> np.ndarray:
    return moon_frame.moon_fixed_rotation(t).T @ moon_frame.llh_to_fixed(*SITE)


def light_time(eph: BroadcastEphemeris, t_rx: float) -> float:
    """Seconds the signal received at t_rx travelled (in MCI).  Kept apart from the ~1.5e9 s
    absolute times, where a double resolves only 0.24 us."""
    delay = 0.0
    for _ in range(5):
        delay = np.linalg.norm(eph.position(t_rx - delay) - receiver_mci(t_rx)) / C
    return delay


def transmit_time(eph: BroadcastEphemeris, t_rx: float) -> float:
    return t_rx - light_time(eph, t_rx)


def visible(nodes, t_rx: float, mask_deg: float = 5.0):
    site = moon_frame.llh_to_fixed(*SITE)
    up = moon_frame.enu_basis(site)[2]
    out = []
    for prn, eph in nodes:
        los = moon_frame.moon_fixed_rotation(t_rx) @ eph.position(transmit_time(eph, t_rx)) - site
        if math.degrees(math.asin(los @ up / np.linalg.norm(los))) > mask_deg:
            out.append((prn, eph))
    return out


def measurements(nodes, t_rx: float, bias_m: float, noise_m=None) -> list[pvt.Measurement]:
    out = []
    for k, (prn, eph) in enumerate(nodes):
        delay = light_time(eph, t_rx)
        # The node's clock at transmission, after REF: t_rx - delay + its offset.
        tau = (t_rx - REF) - delay + eph.clock_offset_s(t_rx - delay)
        # Receiver clock time = t_rx + bias / c; pseudorange c (t_rx_clock - tau) + noise.
        extra = 0.0 if noise_m is None else float(noise_m[k]) / C
        ahead, behind = t_rx + 0.05, t_rx - 0.05
        rate = (np.linalg.norm(eph.position(transmit_time(eph, ahead)) - receiver_mci(ahead))
                - np.linalg.norm(eph.position(transmit_time(eph, behind)) - receiver_mci(behind))) / 0.1
        out.append(pvt.Measurement(prn, tau - extra, -rate / WAVELENGTH, 45.0, pvt.BroadcastSource(eph)))
    return out


@pytest.fixture(scope="module")
def sky():
    nodes = visible(constellation(), T_RX)
    assert len(nodes) >= 5  # the geometry gives an overdetermined fix
    return nodes


def test_noise_free_pseudoranges_give_the_site_to_a_millimetre(sky):
    bias = 1.234e-3 * C
    fix = pvt.solve(measurements(sky, T_RX, bias), T_RX - REF + bias / C, REF)
    site = moon_frame.llh_to_fixed(*SITE)
    assert np.linalg.norm(fix.position_fixed_m - site) < 1e-3
    assert fix.clock_bias_m == pytest.approx(bias, abs=1e-3)
    assert max(abs(n.residual_m) for n in fix.nodes) < 1e-3
    assert fix.receive_time_s == pytest.approx(T_RX, abs=1e-9)
    lat, lon, height = fix.llh
    assert (lat, lon) == pytest.approx(SITE[:2], abs=1e-5)  # near the pole longitude is loose
    assert height == pytest.approx(SITE[2], abs=1e-3)
    assert all(n.elevation_deg > 5.0 for n in fix.nodes)
    assert fix.iterations < 12


def test_dop_is_that_of_the_true_geometry(sky):
    fix = pvt.solve(measurements(sky, T_RX, 0.0), T_RX - REF, REF)
    site = moon_frame.llh_to_fixed(*SITE)
    rot = moon_frame.moon_fixed_rotation(T_RX)
    g = []
    for _prn, eph in sky:
        los = rot @ eph.position(transmit_time(eph, T_RX)) - site
        g.append([*(-los / np.linalg.norm(los)), 1.0])
    q = np.linalg.inv(np.array(g).T @ np.array(g))
    enu = moon_frame.enu_basis(site)
    q_enu = enu @ q[:3, :3] @ enu.T
    assert fix.gdop == pytest.approx(math.sqrt(np.trace(q)), rel=1e-6)
    assert fix.pdop == pytest.approx(math.sqrt(np.trace(q[:3, :3])), rel=1e-6)
    assert fix.hdop == pytest.approx(math.sqrt(q_enu[0, 0] + q_enu[1, 1]), rel=1e-6)
    assert fix.vdop == pytest.approx(math.sqrt(q_enu[2, 2]), rel=1e-6)
    assert fix.tdop == pytest.approx(math.sqrt(q[3, 3]), rel=1e-6)
    assert fix.pdop ** 2 == pytest.approx(fix.hdop ** 2 + fix.vdop ** 2, rel=1e-9)


def test_a_static_receiver_has_zero_velocity_from_the_dopplers(sky):
    fix = pvt.solve(measurements(sky, T_RX, 0.0), T_RX - REF, REF)
    assert np.linalg.norm(fix.velocity_fixed_m_s) < 0.05
    assert abs(fix.clock_drift_m_s) < 0.05


def test_one_metre_noise_gives_residuals_and_errors_the_dop_predicts(sky, rng):
    site = moon_frame.llh_to_fixed(*SITE)
    errors, rms = [], []
    for _ in range(150):
        fix = pvt.solve(measurements(sky, T_RX, 0.0, rng.standard_normal(len(sky))), T_RX - REF, REF)
        errors.append(np.linalg.norm(fix.position_fixed_m - site))
        rms.append(fix.rms_residual_m)
    n = len(sky)
    # Post-fit residuals keep n - 4 of the n noise dimensions; the 3D error's RMS is PDOP sigma.
    assert np.sqrt(np.mean(np.square(rms))) == pytest.approx(math.sqrt((n - 4) / n), rel=0.25)
    assert np.sqrt(np.mean(np.square(errors))) == pytest.approx(fix.pdop, rel=0.25)


def test_too_few_or_repeated_nodes_are_refused(sky):
    ms = measurements(sky, T_RX, 0.0)
    with pytest.raises(pvt.PvtError, match="needs four"):
        pvt.solve(ms[:3], T_RX - REF, REF)
    with pytest.raises(pvt.PvtError, match="twice"):
        pvt.solve([ms[0], ms[0], ms[1], ms[2]], T_RX - REF, REF)


def test_moon_frame_is_the_truth_worlds_principal_axes_with_map_coordinates():
    xyz = moon_frame.llh_to_fixed(*SITE)
    assert np.linalg.norm(xyz) == pytest.approx(1737.4e3 + 100.0)
    assert moon_frame.fixed_to_llh(xyz) == pytest.approx(SITE)
    # Fixes are in PA; latitude and longitude are the maps' (ME), 0.3 km away from PA's at the pole.
    np.testing.assert_allclose(frames.PA_TO_ME @ xyz, frames.llh_to_fixed(*SITE), atol=1e-6)
    assert 200.0 < np.linalg.norm(xyz - frames.llh_to_fixed(*SITE)) < 2000.0
    r = moon_frame.moon_fixed_rotation(T_RX)
    np.testing.assert_array_equal(r, frames.moon_fixed_rotation(T_RX, "pa"))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(r) == pytest.approx(1.0)
    # The Moon turns once a sidereal month (27.32 d) about PA's z axis, give or take its librations.
    spin = moon_frame.angular_velocity_rad_s(T_RX)
    assert np.linalg.norm(spin) == pytest.approx(2 * math.pi / (27.321661 * 86400.0), rel=0.01)
    assert spin[2] / np.linalg.norm(spin) > 0.9999
    p = moon_frame.llh_to_fixed(0.0, 0.0, 0.0)
    v = (moon_frame.moon_fixed_rotation(T_RX + 1).T @ p - moon_frame.moon_fixed_rotation(T_RX).T @ p)
    assert np.linalg.norm(v) == pytest.approx(np.linalg.norm(spin) * 1737.4e3, rel=1e-3)
    east, north, up = moon_frame.enu_basis(xyz)
    assert up @ xyz > 0 and abs(east @ north) < 1e-12 and np.cross(east, north) @ up == pytest.approx(1.0)
