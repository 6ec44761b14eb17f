"""The relay's orbit (Kepler, J2 propagation, elements) and its onboard clock model."""

import math

import numpy as np
import pytest

from onboard.nav import lunar_orbit as lo
from onboard.nav.node_clock import NodeClock

T0 = 2400 * 604800.0
ELFO = lo.KeplerElements(**{**lo.DEFAULT_ELFO.__dict__, "epoch_s": T0})


def test_default_elfo_is_the_frozen_orbit_and_its_two_body_period_is_13_2_h():
    el = lo.DEFAULT_ELFO
    assert (el.a_m, el.e, math.degrees(el.i_rad), math.degrees(el.argp_rad)) == pytest.approx(
        (6541.4e3, 0.6, 56.2, 90.0))
    assert el.period_s / 3600 == pytest.approx(13.19, abs=0.01)
    # a 24 h lunar orbit (Moonlight's navigation satellites) needs a of about 9750 km
    assert lo.semi_major_axis_for_period(86400.0) / 1e3 == pytest.approx(9750, abs=10)


def test_two_body_rk4_propagation_matches_kepler_within_1_cm_over_one_orbit():
    prop = lo.OrbitPropagator(ELFO, j2=0.0)
    for t in np.linspace(T0, T0 + ELFO.period_s, 67):
        r, v = prop.state(float(t))
        rk, vk = lo.kepler_state(ELFO, float(t))
        assert np.linalg.norm(r - rk) < 0.01
        assert np.linalg.norm(v - vk) < 1e-5


def test_elements_from_state_inverts_kepler_state(rng):
    for _ in range(20):
        angles = rng.uniform(0, 2 * np.pi, 3)
        el = lo.KeplerElements(rng.uniform(2000e3, 20000e3), rng.uniform(0, 0.1), rng.uniform(0.1, 3.0),
                               *angles, T0)
        back = lo.elements_from_state(*lo.kepler_state(el, T0 + 1000.0), T0 + 1000.0)
        np.testing.assert_allclose(lo.kepler_state(back, T0 + 5000.0)[0], lo.kepler_state(el, T0 + 5000.0)[0],
                                   atol=1e-4)


def test_j2_turns_the_node_of_the_elfo_at_the_secular_rate():
    """dRAAN/dt = -3/2 n J2 (R/p)^2 cos i (Vallado eq. 9-41) over one orbit, within 10 %."""
    prop = lo.OrbitPropagator(ELFO)
    t1 = T0 + ELFO.period_s
    end = lo.elements_from_state(*prop.state(t1), t1)
    p = ELFO.a_m * (1 - ELFO.e ** 2)
    want = -1.5 * ELFO.mean_motion_rad_s * lo.J2_MOON * (lo.R_MOON_J2_M / p) ** 2 * math.cos(ELFO.i_rad)
    got = math.remainder(end.raan_rad - ELFO.raan_rad, 2 * math.pi) / ELFO.period_s
    assert got == pytest.approx(want, rel=0.1)


def test_propagating_before_the_epoch_is_refused():
    with pytest.raises(lo.OrbitError, match="before the orbit's epoch"):
        lo.OrbitPropagator(ELFO).state(T0 - 1.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(a_m=1000e3, e=0.0), "inside the Moon"),
    (dict(a_m=6541.4e3, e=0.8), "perilune radius"),
    (dict(a_m=6541.4e3, e=1.2), "not elliptical"),
])
def test_impossible_orbits_are_rejected(kwargs, match):
    with pytest.raises(lo.OrbitError, match=match):
        lo.KeplerElements(i_rad=1.0, raan_rad=0.0, argp_rad=0.0, m0_rad=0.0, **kwargs)


def test_node_clock_is_bias_plus_drift_plus_half_drift_rate():
    clock = NodeClock(1e-6, 2e-11, 4e-18, epoch_s=T0)
    assert clock.offset_s(T0) == 1e-6
    assert clock.offset_s(T0 + 1000.0) == pytest.approx(1e-6 + 2e-8 + 2e-12)
    assert clock.rate_s_s(T0 + 1000.0) == pytest.approx(2e-11 + 4e-15)
    np.testing.assert_allclose(clock.offset_s(np.array([T0, T0 + 1000.0])), [1e-6, 1e-6 + 2e-8 + 2e-12])
