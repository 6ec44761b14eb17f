"""The node's onboard Earth and Sun (analytic series) against DE421, and its orbit model with them
against the truth propagation."""

import math

import numpy as np
import pytest

from hil.world import frames
from hil.world.constellation import load_constellation
from hil.world.ephemeris import de421
from hil.world.propagation import Dynamics, ForceModel, TruthOrbit
from onboard.nav import lunar_orbit as lo
from onboard.nav import third_bodies as tb

T0 = 2400 * 604800.0 + 4 * 86400.0  # 2026-01-08


def angle(a, b) -> float:
    return math.acos(min(1.0, float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b))))


def test_icrf_to_mci_is_the_frame_the_truth_world_defines():
    np.testing.assert_allclose(tb.ICRF_TO_MCI, frames.icrf_to_mci(), atol=1e-14)


def test_analytic_earth_and_sun_agree_with_de421_to_the_documented_accuracy():
    eph, to_mci = de421(), frames.icrf_to_mci()
    worst = {"earth_rad": 0.0, "earth_rel": 0.0, "sun_rad": 0.0}
    for days in np.linspace(-370.0, 800.0, 400):
        t = T0 + days * 86400.0
        earth, sun = (np.array(v) for v in tb.earth_and_sun(t))
        earth_de, sun_de = to_mci @ eph.earth_from_moon_m(t), to_mci @ eph.sun_from_moon_m(t)
        worst["earth_rad"] = max(worst["earth_rad"], angle(earth, earth_de))
        ratio = np.linalg.norm(earth) / np.linalg.norm(earth_de)
        worst["earth_rel"] = max(worst["earth_rel"], abs(ratio - 1))
        worst["sun_rad"] = max(worst["sun_rad"], angle(sun, sun_de))
    assert worst["earth_rad"] < 1.5e-3 and worst["earth_rel"] < 1.5e-3 and worst["sun_rad"] < 2e-3
    # Not better than that either: the series is the low-precision one it says it is.
    assert worst["earth_rad"] > 2e-4


def test_third_body_pull_is_the_truth_models_for_the_same_bodies():
    """The onboard formula with DE421's Earth and Sun gives the truth propagation's third-body term."""
    t = T0 + 1000.0
    r = np.array([2.0e6, -5.0e6, -14.0e6])
    eph, to_mci = de421(), frames.icrf_to_mci()
    earth, sun = to_mci @ eph.earth_from_moon_m(t), to_mci @ eph.sun_from_moon_m(t)
    got = np.array(tb.third_body_acceleration(*r, tuple(earth), tuple(sun)))
    dyn = Dynamics(ForceModel(degree=0))
    want = dyn.acceleration(t, r) + dyn.mu * r / np.linalg.norm(r) ** 3  # remove the central term
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert 1e-5 < np.linalg.norm(got) < 1e-3


@pytest.mark.parametrize("hours", [0, 6, 12, 18])
def test_onboard_model_with_earth_and_sun_follows_the_truth_over_an_upload_interval(hours):
    """From an uploaded truth state, 25 min (an ITOW interval and a fit): within 0.3 m of the truth
    propagated with the same physics (J2, Earth and Sun), within 10 m of the full truth (its 8x8
    field matters at perilune only), and far better than J2 alone."""
    c = load_constellation()
    node = c.nodes[0]
    truth = c.truth_orbit(node.elements, node.elements.epoch_s + 86400.0)
    t0 = node.elements.epoch_s + hours * 3600.0
    r, v = truth.state(t0)
    times = t0 + np.linspace(0.0, 1500.0, 31)
    same_physics = TruthOrbit(r, v, t0, t0 + 1600.0, ForceModel(degree=2, order=0))
    onboard = lo.OrbitPropagator(lo.elements_from_state(r, v, t0), third_bodies=True)
    j2_only = lo.OrbitPropagator(lo.elements_from_state(r, v, t0))
    error = np.linalg.norm(onboard.positions(times) - same_physics.positions(times), axis=1).max()
    full = np.linalg.norm(onboard.positions(times) - truth.positions(times), axis=1).max()
    j2 = np.linalg.norm(j2_only.positions(times) - truth.positions(times), axis=1).max()
    assert error < 0.3 and full < 10.0 and j2 > 20.0 and j2 > 4 * full


def test_positions_interpolate_the_step_grid_as_stepping_to_each_time_would():
    el = lo.KeplerElements.from_degrees(9750.7, 0.6, 56.2, 30.0, 90.0, 10.0, T0)
    times = np.sort(T0 + np.random.default_rng(3).uniform(0.0, el.period_s, 200))
    grid = lo.OrbitPropagator(el, third_bodies=True).positions(times)
    stepped = lo.OrbitPropagator(el, third_bodies=True)
    exact = np.array([stepped.state(float(t))[0] for t in times])
    assert np.abs(grid - exact).max() < 0.05
    with pytest.raises(lo.OrbitError, match="before the orbit's epoch"):
        lo.OrbitPropagator(el).positions([T0 - 1.0])
