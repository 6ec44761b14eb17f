"""Truth orbit propagation about the Moon: lunar gravity field, Earth and Sun, DOP853.

The state is integrated in MCI (Moon-centred, inertial axes; :mod:`hil.world.frames`).  The
acceleration is the sum of

- the lunar field (:mod:`hil.world.gravity`, LP165P to degree and order 8 by default), evaluated
  in the principal-axis frame, which turns with DE421's librations;
- the Earth's and the Sun's pull as third bodies, from DE421 positions and GMs: the direct term
  minus the Moon's own acceleration towards them, GM (d/|d|^3 - s/|s|^3) with s the body from
  the Moon and d = s - r (Montenbruck and Gill, "Satellite Orbits" eq. 3.37).

SciPy's ``solve_ivp`` with DOP853 (the Dormand-Prince 8(5,3) pair of Hairer, Norsett and Wanner)
integrates it with tight tolerances; its dense output gives the state at any time of the span,
which is how the signal geometry samples it at 100 Hz.  A day of a 24 h ELFO takes about a
second of CPU.  Solar radiation pressure, relativity and the Earth's oblateness are left out:
below 1e-9 m/s^2 for these orbits, against 1e-4 m/s^2 for the Earth's pull.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hil.world import frames
from hil.world.ephemeris import de421
from hil.world.gravity import GravityField, load_field
from onboard.errors import LunarelayError
from onboard.nav.lunar_orbit import KeplerElements, kepler_state

THIRD_BODIES = ("earth", "sun")


class PropagationError(LunarelayError, ValueError):
    """A span the integrator cannot cover or a model that makes no sense."""


@dataclasses.dataclass(frozen=True)
class ForceModel:
    """What the truth propagation includes."""

    degree: int = 8
    order: int | None = None
    third_bodies: tuple[str, ...] = THIRD_BODIES
    rtol: float = 1e-12
    atol_m: float = 1e-4

    def __post_init__(self):
        for body in self.third_bodies:
            if body not in THIRD_BODIES:
                raise PropagationError(f"unknown third body {body!r}; known: {', '.join(THIRD_BODIES)}")


class Dynamics:
    """The MCI acceleration of a :class:`ForceModel`."""

    def __init__(self, model: ForceModel = ForceModel(), field: GravityField | None = None):
        self.model = model
        self.field = (field or load_field()).truncated(model.degree, model.order)
        self.eph = de421()
        self.gm = {body: self.eph.gm_km3_s2[body] * 1e9 for body in THIRD_BODIES}
        self._mci_to_icrf = frames.icrf_to_mci().T
        self.mu = self.field.gm_m3_s2

    def acceleration(self, t_s: float, r_mci: np.ndarray) -> np.ndarray:
        if self.field.degree >= 2:
            to_pa = frames.icrf_to_pa(t_s) @ self._mci_to_icrf
            acc = to_pa.T @ self.field.acceleration(to_pa @ r_mci)
        else:
            acc = -self.mu * r_mci / float(np.linalg.norm(r_mci)) ** 3
        for body in self.model.third_bodies:
            s_icrf = self.eph.earth_from_moon_m(t_s) if body == "earth" else self.eph.sun_from_moon_m(t_s)
            s = self._mci_to_icrf.T @ s_icrf
            d = s - r_mci
            acc = acc + self.gm[body] * (d / float(np.linalg.norm(d)) ** 3
                                         - s / float(np.linalg.norm(s)) ** 3)
        return acc

    def derivative(self, t_s: float, state: np.ndarray) -> np.ndarray:
        return np.concatenate([state[3:], self.acceleration(t_s, state[:3])])


class TruthOrbit:
    """One spacecraft's truth trajectory over [start_s, end_s], from an MCI state at start_s.

    It has the interface of :class:`onboard.nav.lunar_orbit.OrbitPropagator` (``state``,
    ``positions``), so a navigation node can fit its broadcast ephemeris to it."""

    def __init__(self, r0_m, v0_m_s, start_s: float, end_s: float, model: ForceModel = ForceModel(),
                 dynamics: Dynamics | None = None):
        if not end_s > start_s:
            raise PropagationError(f"propagation span [{start_s}, {end_s}] s is empty")
        self.start_s, self.end_s = float(start_s), float(end_s)
        self.dynamics = dynamics or Dynamics(model)
        y0 = np.concatenate([np.asarray(r0_m, float), np.asarray(v0_m_s, float)])
        atol = np.array([model.atol_m] * 3 + [model.atol_m * 1e-3] * 3)
        # imported here, not at the top: it takes half a second, which every command would pay
        from scipy.integrate import solve_ivp

        sol = solve_ivp(self.dynamics.derivative, (self.start_s, self.end_s), y0, method="DOP853",
                        rtol=model.rtol, atol=atol, dense_output=True)
        if not sol.success:
            raise PropagationError(f"propagation failed: {sol.message}")
        self._sol = sol.sol
        self.n_evaluations = int(sol.nfev)

    @classmethod
    def from_elements(cls, elements: KeplerElements, end_s: float, model: ForceModel = ForceModel(),
                      dynamics: Dynamics | None = None) -> TruthOrbit:
        """From osculating MCI elements at their epoch (two-body state, GM of the onboard model)."""
        r, v = kepler_state(elements, elements.epoch_s)
        return cls(r, v, elements.epoch_s, end_s, model, dynamics)

    def _check(self, t: np.ndarray) -> None:
        if np.any(t < self.start_s - 1e-6) or np.any(t > self.end_s + 1e-6):
            raise PropagationError(f"time outside the propagated span [{self.start_s}, {self.end_s}] s")

    def states(self, times_s) -> np.ndarray:
        """(n, 6) MCI states (m, m/s) at ``times_s``."""
        t = np.atleast_1d(np.asarray(times_s, float))
        self._check(t)
        return self._sol(t).T

    def state(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        s = self.states([t_s])[0]
        return s[:3], s[3:]

    def positions(self, times_s) -> np.ndarray:
        return self.states(times_s)[:, :3]


def mean_elements_drift(orbit: TruthOrbit, times_s) -> list[KeplerElements]:
    """Osculating elements along ``orbit`` (helper for the frozen-orbit checks)."""
    from onboard.nav.lunar_orbit import elements_from_state

    return [elements_from_state(s[:3], s[3:], float(t)) for t, s in zip(times_s, orbit.states(times_s),
                                                                         strict=True)]


def orbital_energy(state: np.ndarray, mu: float) -> float:
    """Specific two-body energy v^2/2 - mu/r of an MCI state (J/kg)."""
    return 0.5 * float(state[3:] @ state[3:]) - mu / math.sqrt(float(state[:3] @ state[:3]))
