"""The truth world's ephemerides and lunar frames, against DE421 read by jplephem and geometry."""

import math

import numpy as np
import pytest

from hil.world import frames
from hil.world.ephemeris import EphemerisError, de421, tdb_jd
from onboard.nav.lunar_orbit import MCI_EPOCH_S

DAY = 86400.0


def _jplephem():
    import de421 as package
    from jplephem import Ephemeris

    return Ephemeris(package)


def test_afs_time_maps_to_tdb_with_the_stated_convention():
    # TT = GPS + 51.184 s; 2000-01-01 12:00:00 TT is JD 2451545.0 and TDB - TT is below 2 ms
    assert tdb_jd(0.0) == pytest.approx(2444244.5 + 51.184 / DAY, abs=2e-3 / DAY)
    j2000_gps_s = (2451545.0 - 2444244.5) * DAY - 51.184
    assert tdb_jd(j2000_gps_s) == pytest.approx(2451545.0, abs=2e-3 / DAY)


def test_earth_and_sun_from_the_moon_agree_with_de421_read_by_jplephem():
    eph = _jplephem()
    for t in MCI_EPOCH_S + np.array([0.0, 3.3 * DAY, 17.9 * DAY, 200.0 * DAY]):
        jd = tdb_jd(float(t))
        moon_geo = eph.position("moon", jd)[:, 0]
        earth = de421().earth_from_moon_m(float(t))
        np.testing.assert_allclose(earth, -1e3 * moon_geo, atol=1e-3)
        emb = eph.position("earthmoon", jd)[:, 0]
        sun = eph.position("sun", jd)[:, 0]
        moon_bary = emb + moon_geo * eph.moon_share
        np.testing.assert_allclose(de421().sun_from_moon_m(float(t)), 1e3 * (sun - moon_bary), atol=1e-2)
        assert 356e6 < np.linalg.norm(earth) < 407e6  # perigee and apogee of the lunar orbit


def test_times_outside_de421_are_refused():
    de421().earth_from_moon_m(5000 * 604800.0)  # 2075: inside
    with pytest.raises(EphemerisError, match="outside DE421"):
        de421().earth_from_moon_m(12000 * 604800.0)  # 2210


def test_earth_seen_in_the_principal_axes_frame_stays_within_the_optical_librations():
    """The near side faces the Earth: longitude and latitude librations stay below 8.1 and 6.9 deg."""
    for t in MCI_EPOCH_S + np.linspace(0, 60 * DAY, 121):
        u = frames.icrf_to_fixed(float(t), "pa") @ de421().earth_from_moon_m(float(t))
        lat, lon, _ = frames.fixed_to_llh(u)
        assert abs(lon) < 8.5 and abs(lat) < 7.5


def test_mean_earth_frame_points_at_the_mean_earth_over_a_nodal_cycle():
    """Averaged over 18.6 years the Earth direction lies within 20" of ME's x axis in longitude,
    while it is about 70" off PA's: the PA -> ME rotation has the published angles and sign."""
    eph = de421()
    mean_pa = np.zeros(3)
    start = MCI_EPOCH_S - 20 * 365.25 * DAY
    for t in start + np.arange(0.0, 18.61 * 365.25 * DAY, 0.5 * DAY):
        u = eph.earth_from_moon_m(float(t))
        mean_pa += frames.icrf_to_fixed(float(t), "pa") @ (u / np.linalg.norm(u))
    lon_pa = math.degrees(math.atan2(mean_pa[1], mean_pa[0])) * 3600
    me = frames.PA_TO_ME @ mean_pa
    lon_me = math.degrees(math.atan2(me[1], me[0])) * 3600
    assert abs(lon_me) < 20.0
    assert abs(lon_pa) > 50.0


def test_mci_is_the_mean_earth_frame_at_its_epoch_and_the_moon_turns_once_a_sidereal_month():
    np.testing.assert_allclose(frames.moon_fixed_rotation(MCI_EPOCH_S, "me"), np.eye(3), atol=1e-15)
    for t in MCI_EPOCH_S + np.array([0.0, 5.5 * DAY]):
        rot = frames.moon_fixed_rotation(float(t), "pa")
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-14)
        w = frames.moon_fixed_angular_velocity(float(t))
        assert np.linalg.norm(w) == pytest.approx(2 * math.pi / (27.321661 * DAY), rel=0.02)
        assert w[2] > 0.999 * np.linalg.norm(w)  # about the polar axis


def test_moon_fixed_and_mci_states_convert_both_ways(rng):
    t = MCI_EPOCH_S + 12345.6
    r, v = rng.normal(0, 5e6, 3), rng.normal(0, 1e3, 3)
    for frame in frames.FRAMES:
        rf, vf = frames.mci_to_fixed(t, r, v, frame)
        back_r, back_v = frames.fixed_to_mci(t, rf, vf, frame)
        np.testing.assert_allclose(back_r, r, atol=1e-6)
        np.testing.assert_allclose(back_v, v, atol=1e-9)
    # a point fixed on the surface moves in MCI at the rotation speed: 4.6 m/s at the equator
    surface = frames.llh_to_fixed(0.0, 30.0, 0.0)
    _, v_mci = frames.fixed_to_mci(t, surface, np.zeros(3))
    assert np.linalg.norm(v_mci) == pytest.approx(2 * math.pi * 1737.4e3 / (27.321661 * DAY), rel=0.02)


def test_surface_coordinates_round_trip_on_the_1737_4_km_sphere():
    for lat, lon, h in ((-89.66, 129.2, 100.0), (0.0, -180.0 + 1e-9, 0.0), (45.0, 90.0, -2000.0)):
        xyz = frames.llh_to_fixed(lat, lon, h)
        assert np.linalg.norm(xyz) == pytest.approx(1737.4e3 + h)
        back = frames.fixed_to_llh(xyz)
        assert back == pytest.approx((lat, lon, h), abs=1e-6)
    with pytest.raises(frames.ReferenceFrameError, match="latitude"):
        frames.llh_to_fixed(91.0, 0.0)
    with pytest.raises(frames.ReferenceFrameError, match="unknown Moon-fixed frame"):
        frames.moon_fixed_rotation(MCI_EPOCH_S, "itrf")


def test_elevation_and_azimuth_in_the_local_horizon():
    obs = frames.llh_to_fixed(-89.0, 0.0)
    assert frames.elevation_azimuth(obs, obs * 2)[0] == pytest.approx(90.0)
    # at (0, 0) east is +y and up is +x: 1 km east and 1 km up is 45 deg elevation, azimuth 90
    here = frames.llh_to_fixed(0.0, 0.0)
    el, az = frames.elevation_azimuth(here, here + np.array([1e3, 1e3, 0.0]))
    assert (el, az) == pytest.approx((45.0, 90.0))
    el, az = frames.elevation_azimuth(here, here + np.array([0.0, 0.0, 1e3]))  # north, on the horizon
    assert (el, az) == pytest.approx((0.0, 0.0), abs=1e-9)
