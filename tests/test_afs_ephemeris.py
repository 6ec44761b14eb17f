"""The node's broadcast ephemeris and clock correction reproduce its own orbit and clock.

Measured (default ELFO, J2 truth, one fit per 1200 s ITOW interval over one 13.2 h orbit): the
worst position error after quantisation is 15 m, in the intervals that hold perilune (2616 km,
where the unmodelled J2 is strongest); away from perilune it is below 1 m.  Pure two-body truth
fits to 1 cm (the message LSBs).  The clock correction is within 0.3 ns (af0 has an LSB of 2^-31 s = 0.47 ns).
"""

import math

import numpy as np
import pytest

from onboard.nav import afs_ephemeris as ae
from onboard.nav import afs_message as am
from onboard.nav import lunar_orbit as lo
from onboard.nav.node_clock import NodeClock

T0 = 2400 * 604800.0 + 4 * 86400.0
ELFO = lo.KeplerElements(**{**lo.DEFAULT_ELFO.__dict__, "epoch_s": T0})
CLOCK = NodeClock(2e-6, 1e-11, 1e-18, T0)


def interval_fits(j2: float):
    prop = lo.OrbitPropagator(ELFO, j2=j2)
    starts = np.arange(T0, T0 + ELFO.period_s, am.ITOW_SECONDS)
    return starts, [ae.fit_ephemeris(prop, CLOCK, s, s + am.ITOW_SECONDS) for s in starts]


def test_broadcast_ephemeris_of_the_j2_orbit_is_within_20_m_over_every_interval_of_an_orbit():
    starts, fits = interval_fits(lo.J2_MOON)
    errors = np.array([f.max_position_error_m for f in fits])
    assert errors.max() < 20.0
    # more than 4 h from perilune (mean anomaly 0 at T0) the Keplerian arc is within a metre
    half = ELFO.period_s / 2
    far = np.abs(np.remainder(starts - T0 + 600 + half, ELFO.period_s) - half) > 4 * 3600
    assert far.sum() > 10 and errors[far].max() < 1.0
    assert max(f.max_clock_error_s for f in fits) < 3e-10  # af0 LSB 2^-31 s: 0.23 ns half-LSB


def test_two_body_truth_is_reproduced_to_the_message_resolution():
    _, fits = interval_fits(0.0)
    assert max(f.max_position_error_m for f in fits) < 0.05


def test_fit_errors_are_what_the_user_algorithm_sees_at_any_time_in_the_interval():
    prop = lo.OrbitPropagator(ELFO)
    fit = ae.fit_ephemeris(prop, CLOCK, T0 + 6000.0, T0 + 7200.0)
    sb2 = fit.ephemeris.subframe2(T0 + 6000.0)
    user = ae.BroadcastEphemeris.from_subframe2(am.parse_sb2(am.pack_sb2(sb2)))
    assert user == fit.ephemeris
    assert fit.toe_system_s % 16 == 0 and user.toe_s == am.time_of_week(fit.toe_system_s)
    for t in np.linspace(T0 + 6000.0, T0 + 7200.0, 37):
        error_m = np.linalg.norm(user.position(float(t)) - prop.state(float(t))[0])
        assert error_m <= fit.max_position_error_m + 0.5
        assert abs(user.clock_offset_s(float(t)) - CLOCK.offset_s(float(t))) < 3e-10


def test_user_algorithm_equals_kepler_for_osculating_elements():
    el = lo.KeplerElements(ELFO.a_m, ELFO.e, ELFO.i_rad, 0.3, 1.2, 2.0, T0 + 100.0)
    tow = am.time_of_week(T0 + 100.0)
    eph = ae.BroadcastEphemeris(tow, math.sqrt(el.a_m), el.e, el.i_rad, el.raan_rad, el.argp_rad,
                                el.m0_rad, tow, 0.0, 0.0)
    for dt in (-3000.0, 0.0, 5000.0):
        r, v = eph.state(T0 + 100.0 + dt)
        rk, vk = lo.kepler_state(el, T0 + 100.0 + dt)
        np.testing.assert_allclose(r, rk, atol=1e-6)
        np.testing.assert_allclose(v, vk, atol=1e-9)


def test_toe_near_the_end_of_the_week_is_used_across_the_week_rollover():
    start = 2401 * 604800.0 - 600.0
    prop = lo.OrbitPropagator(lo.KeplerElements(**{**ELFO.__dict__, "m0_rad": 3.0, "epoch_s": start}))
    fit = ae.fit_ephemeris(prop, NodeClock(epoch_s=start), start, start + 1200.0)
    after = start + 1100.0  # next week
    assert np.linalg.norm(fit.ephemeris.position(after) - prop.state(after)[0]) < 1.0


def test_an_empty_interval_is_refused():
    with pytest.raises(ValueError, match="empty"):
        ae.fit_ephemeris(lo.OrbitPropagator(ELFO), CLOCK, T0 + 10.0, T0 + 10.0)


def test_vectorised_positions_are_the_user_algorithm_at_every_time():
    eph = ae.BroadcastEphemeris(toe_s=345600.0, sqrt_a=math.sqrt(9750.7e3), e=0.6, i0_rad=0.98,
                                omega0_rad=1.2, argp_rad=math.pi / 2, m0_rad=-2.9, toc_s=345600.0, af0_s=0.0,
                                af1_s_s=0.0)
    times = 2400 * 604800.0 + np.linspace(0.0, 604800.0 - 1.0, 97)  # across the week and its wrap
    want = np.array([eph.state(float(t))[0] for t in times])
    np.testing.assert_allclose(eph.positions(times), want, atol=1e-6)
