"""Truth orbit propagation against independent physics: energy, J2 secular rates, frozen ELFOs."""

import math

import numpy as np
import pytest

from hil.world.gravity import GravityFieldError, load_field
from hil.world.propagation import ForceModel, PropagationError, TruthOrbit, orbital_energy
from onboard.nav.lunar_orbit import (
    MCI_EPOCH_S,
    KeplerElements,
    elements_from_state,
    kepler_state,
    semi_major_axis_for_period,
)

DAY = 86400.0
ELY_ELFO = KeplerElements.from_degrees(6541.4, 0.6, 56.2, 0.0, 90.0, 0.0, MCI_EPOCH_S)
MOONLIGHT_ELFO = KeplerElements.from_degrees(semi_major_axis_for_period(DAY) / 1e3, 0.6, 56.2, 0.0, 90.0,
                                             0.0, MCI_EPOCH_S)


def test_the_field_file_names_its_source_and_the_acceleration_is_the_gradient_of_the_potential():
    from scipy.special import lpmv

    field = load_field()
    assert (field.model, field.degree, field.radius_m, field.gm_m3_s2) == ("LP165P", 8, 1738e3, 4902.801056e9)
    assert -field.c[2, 0] == pytest.approx(2.0324e-4, rel=1e-4)  # J2 of Konopliv et al. 2001

    def potential(r):
        rr = np.linalg.norm(r)
        sin_lat, lon = r[2] / rr, math.atan2(r[1], r[0])
        total = 0.0
        for n in range(field.degree + 1):
            for m in range(n + 1):
                # scipy's P_nm carries the Condon-Shortley phase (-1)^m that geodesy leaves out
                p = (-1) ** m * lpmv(m, n, sin_lat)
                total += (field.radius_m / rr) ** n * p * (field.c[n, m] * math.cos(m * lon)
                                                          + field.s[n, m] * math.sin(m * lon))
        return field.gm_m3_s2 / rr * total

    for r in (np.array([3000e3, 1000e3, -2000e3]), np.array([-100e3, 1800e3, 900e3])):
        gradient = np.array([(potential(r + h) - potential(r - h)) / 2.0 for h in np.eye(3)])
        acc = field.acceleration(r)
        point_mass = -field.gm_m3_s2 * r / np.linalg.norm(r) ** 3
        assert np.linalg.norm(acc - point_mass) > 1e-5  # the harmonics matter at these radii
        assert np.linalg.norm(gradient - acc) < 1e-3 * np.linalg.norm(acc - point_mass)


def test_field_files_with_missing_header_or_bad_rows_are_refused(tmp_path):
    bad = tmp_path / "field.csv"
    bad.write_text("# Model: X\nn,m,C,S\n2,0,1e-4,0\n")
    with pytest.raises(GravityFieldError, match="does not give 'Source'"):
        load_field(bad)
    text = load_field.__globals__["DEFAULT_FIELD"].read_text()
    bad.write_text(text + "9,10,1e-6,0\n")
    with pytest.raises(GravityFieldError, match="order 10 is not a field term"):
        load_field(bad)


def test_two_body_propagation_conserves_energy_and_follows_kepler():
    model = ForceModel(degree=0, third_bodies=())
    orbit = TruthOrbit.from_elements(MOONLIGHT_ELFO, MCI_EPOCH_S + 10 * DAY, model)
    mu = orbit.dynamics.mu
    times = MCI_EPOCH_S + np.linspace(0, 10 * DAY, 241)
    energies = [orbital_energy(s, mu) for s in orbit.states(times)]
    assert np.ptp(energies) < 1e-8 * abs(energies[0])
    # Kepler with the field's GM from the same initial state: the same orbit within 5 m after ten
    # revolutions (the integrator's along-track error, rtol 1e-12)
    el = elements_from_state(*orbit.state(MCI_EPOCH_S), MCI_EPOCH_S, mu=mu)
    r_kepler, _ = kepler_state(el, times[-1], mu=mu)
    assert np.linalg.norm(orbit.positions([times[-1]])[0] - r_kepler) < 5.0


def test_zonal_j2_turns_node_and_perilune_at_the_secular_rates():
    """dOmega/dt = -3/2 n J2 (R/p)^2 cos i, domega/dt = 3/4 n J2 (R/p)^2 (5 cos^2 i - 1) (Vallado,
    Fundamentals of Astrodynamics, eq. 9-41 and 9-42), within 3 %."""
    el = KeplerElements.from_degrees(2400.0, 0.1, 30.0, 20.0, 40.0, 0.0, MCI_EPOCH_S)
    model = ForceModel(degree=2, order=0, third_bodies=())
    span = 20 * DAY
    orbit = TruthOrbit.from_elements(el, MCI_EPOCH_S + span, model)
    field = orbit.dynamics.field
    times = MCI_EPOCH_S + np.linspace(0, span, 2001)
    states = orbit.states(times)
    mu = field.gm_m3_s2
    elements = [elements_from_state(s[:3], s[3:], t, mu=mu) for t, s in zip(times, states, strict=True)]
    raan = np.unwrap([e.raan_rad for e in elements])
    argp = np.unwrap([e.argp_rad for e in elements])
    j2 = -field.c[2, 0]
    n = math.sqrt(field.gm_m3_s2 / el.a_m ** 3)
    k = n * j2 * (field.radius_m / (el.a_m * (1 - el.e ** 2))) ** 2
    assert np.polyfit(times, raan, 1)[0] == pytest.approx(-1.5 * k * math.cos(el.i_rad), rel=0.03)
    want_argp = 0.75 * k * (5 * math.cos(el.i_rad) ** 2 - 1)
    assert np.polyfit(times, argp, 1)[0] == pytest.approx(want_argp, rel=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("elements", [ELY_ELFO, MOONLIGHT_ELFO], ids=["ely-13h", "moonlight-24h"])
def test_elliptical_lunar_frozen_orbit_stays_frozen_for_30_days(elements):
    """Full truth model (LP165P 8x8, Earth, Sun): e and the argument of perilune stay bounded
    (Ely 2005), perilune stays within 10 % of its start."""
    orbit = TruthOrbit.from_elements(elements, MCI_EPOCH_S + 30 * DAY)
    times = MCI_EPOCH_S + np.arange(0, 30 * DAY, 1800.0)
    states = orbit.states(times)
    els = [elements_from_state(s[:3], s[3:], t) for t, s in zip(times, states, strict=True)]
    e = np.array([x.e for x in els])
    argp = np.degrees([x.argp_rad for x in els])
    assert np.all(np.abs(e - elements.e) < 0.06)
    assert np.all(np.abs(argp - 90.0) < 8.0)
    assert np.linalg.norm(states[:, :3], axis=1).min() > 0.9 * elements.a_m * (1 - elements.e)


def test_a_day_of_propagation_is_cheap_and_the_dense_output_is_accurate():
    orbit = TruthOrbit.from_elements(MOONLIGHT_ELFO, MCI_EPOCH_S + DAY)
    assert orbit.n_evaluations < 3000  # about 0.15 s of CPU on the build machine
    finer = TruthOrbit.from_elements(MOONLIGHT_ELFO, MCI_EPOCH_S + DAY, ForceModel(rtol=1e-13, atol_m=1e-5))
    times = MCI_EPOCH_S + np.linspace(0, DAY, 97)
    assert np.abs(orbit.positions(times) - finer.positions(times)).max() < 0.05


def test_propagation_outside_its_span_is_refused():
    orbit = TruthOrbit.from_elements(MOONLIGHT_ELFO, MCI_EPOCH_S + 600.0)
    with pytest.raises(PropagationError, match="outside the propagated span"):
        orbit.state(MCI_EPOCH_S + 601.0)
    with pytest.raises(PropagationError, match="unknown third body"):
        ForceModel(third_bodies=("jupiter",))
