"""The relay's orbit about the Moon: Keplerian elements, two-body Kepler and a J2 propagator
(with, on request, the Earth's and the Sun's pull from :mod:`onboard.nav.third_bodies`).

Frame: **MCI**, a Moon-centred inertial frame whose axes are those of the Moon's Mean-Earth /
Polar-Axis (ME) frame of DE421 at AFS system time :data:`MCI_EPOCH_S` (WN 2400 + 4 days,
2026-01-08 00:00:00 GPS), frozen: z is the lunar spin axis of that instant, x the mean direction
to Earth, and the elements' reference plane is the lunar equator.  One frame for every node and
user, so a receiver can turn any broadcast ephemeris into Moon-fixed coordinates
(``hil.world.frames`` computes the rotation from DE421).  The onboard model ignores the lunar
pole's motion away from MCI's z (about 0.5 deg a year), so its zonal J2 term is symmetric
about z.  Positions are metres, velocities m/s, times seconds of AFS
system time (see :mod:`onboard.nav.afs_message`).

Constants:

- ``GM_MOON`` = 4.9028e12 m^3/s^2: the value of LANS-AFS-SIM (``afs_sim.c``) and
  PocketSDR-AFS (``sdr_pvt_afs.c``), rounded from JPL DE430's 4902.800066 km^3/s^2.  A receiver
  turns the broadcast sqrt(A) into a mean motion with it, so the node must use the same number.
- ``J2_MOON`` = 2.0330e-4 with ``R_MOON_J2_M`` = 1738.0 km: the lunar gravity field's degree-2
  zonal term (Konopliv et al. 2001, LP165P, J2 = 203.3e-6 at R = 1738 km).

The default orbit, :data:`DEFAULT_ELFO`, is the elliptical lunar frozen orbit (ELFO) of Ely,
"Stable constellations of frozen elliptical inclined lunar orbits", J. Astronaut. Sci. 53 (2005):
a = 6541.4 km, e = 0.6, i = 56.2 deg, argument of perilune 90 deg (apolune over the south pole).
Its two-body period is 13.2 h, not 24 h: Moonlight's 24 h navigation orbits need a ≈ 9750 km
(:func:`semi_major_axis_for_period`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from onboard.errors import LunarelayError
from onboard.nav import third_bodies

GM_MOON = 4.9028e12  # m^3/s^2
MCI_EPOCH_S = 2400 * 604800.0 + 4 * 86400.0  # AFS system time at which MCI's axes are ME's
J2_MOON = 2.0330e-4
R_MOON_J2_M = 1738.0e3
R_MOON_MEAN_M = 1737.4e3


class OrbitError(LunarelayError, ValueError):
    """Orbital elements or a propagation request that make no sense."""


@dataclasses.dataclass(frozen=True)
class KeplerElements:
    """Osculating elements in MCI at ``epoch_s`` (AFS system time, s)."""

    a_m: float
    e: float
    i_rad: float
    raan_rad: float
    argp_rad: float
    m0_rad: float
    epoch_s: float = 0.0

    def __post_init__(self):
        if not self.a_m > R_MOON_MEAN_M:
            raise OrbitError(f"semi-major axis {self.a_m / 1e3:g} km is inside the Moon")
        if not 0.0 <= self.e < 1.0:
            raise OrbitError(f"eccentricity {self.e} is not elliptical (0 <= e < 1)")
        if self.a_m * (1.0 - self.e) <= R_MOON_MEAN_M:
            raise OrbitError(f"perilune radius {self.a_m * (1 - self.e) / 1e3:g} km is inside the Moon")
        if not 0.0 <= self.i_rad <= math.pi:
            raise OrbitError(f"inclination {math.degrees(self.i_rad)} deg is outside 0..180")

    @classmethod
    def from_degrees(cls, a_km: float, e: float, i_deg: float, raan_deg: float, argp_deg: float,
                     m0_deg: float, epoch_s: float = 0.0) -> KeplerElements:
        return cls(a_km * 1e3, e, math.radians(i_deg), math.radians(raan_deg),
                   math.radians(argp_deg), math.radians(m0_deg), epoch_s)

    @property
    def mean_motion_rad_s(self) -> float:
        return math.sqrt(GM_MOON / self.a_m ** 3)

    @property
    def period_s(self) -> float:
        return 2.0 * math.pi / self.mean_motion_rad_s


DEFAULT_ELFO = KeplerElements.from_degrees(6541.4, 0.6, 56.2, 0.0, 90.0, 0.0)


def semi_major_axis_for_period(period_s: float, mu: float = GM_MOON) -> float:
    return (mu * (period_s / (2.0 * math.pi)) ** 2) ** (1.0 / 3.0)


def eccentric_anomaly(mean_anomaly_rad: float, e: float) -> float:
    """Solve Kepler's equation M = E - e sin E by Newton's method (to 1e-15 rad)."""
    m = math.remainder(mean_anomaly_rad, 2.0 * math.pi)
    ecc = m + e * math.sin(m) if e < 0.8 else math.pi * math.copysign(1.0, m)
    for _ in range(50):
        step = (ecc - e * math.sin(ecc) - m) / (1.0 - e * math.cos(ecc))
        ecc -= step
        if abs(step) < 1e-15:
            break
    return ecc


def _perifocal_to_mci(i: float, raan: float, argp: float) -> np.ndarray:
    ci, si = math.cos(i), math.sin(i)
    co, so = math.cos(raan), math.sin(raan)
    cw, sw = math.cos(argp), math.sin(argp)
    return np.array([[co * cw - so * sw * ci, -co * sw - so * cw * ci, so * si],
                     [so * cw + co * sw * ci, -so * sw + co * cw * ci, -co * si],
                     [sw * si, cw * si, ci]])


def kepler_state(el: KeplerElements, t_s: float, mu: float = GM_MOON) -> tuple[np.ndarray, np.ndarray]:
    """Two-body position (m) and velocity (m/s) in MCI at ``t_s``."""
    n = math.sqrt(mu / el.a_m ** 3)
    ecc = eccentric_anomaly(el.m0_rad + n * (t_s - el.epoch_s), el.e)
    ce, se = math.cos(ecc), math.sin(ecc)
    b = math.sqrt(1.0 - el.e * el.e)
    r_pf = np.array([el.a_m * (ce - el.e), el.a_m * b * se, 0.0])
    edot = n / (1.0 - el.e * ce)
    v_pf = np.array([-el.a_m * se * edot, el.a_m * b * ce * edot, 0.0])
    rot = _perifocal_to_mci(el.i_rad, el.raan_rad, el.argp_rad)
    return rot @ r_pf, rot @ v_pf


def elements_from_state(r, v, epoch_s: float = 0.0, mu: float = GM_MOON) -> KeplerElements:
    """Osculating elements of an MCI state (elliptical, not equatorial: i > 0)."""
    r = np.asarray(r, float)
    v = np.asarray(v, float)
    rn = float(np.linalg.norm(r))
    h = np.cross(r, v)
    hn = float(np.linalg.norm(h))
    node = np.cross([0.0, 0.0, 1.0], h)
    nn = float(np.linalg.norm(node))
    evec = np.cross(v, h) / mu - r / rn
    e = float(np.linalg.norm(evec))
    energy = float(v @ v) / 2.0 - mu / rn
    if energy >= 0:
        raise OrbitError("state is not on an elliptical orbit")
    a = -mu / (2.0 * energy)
    i = math.acos(max(-1.0, min(1.0, h[2] / hn)))
    if nn < 1e-12 * hn:
        raise OrbitError("equatorial orbit: the node is undefined")
    raan = math.atan2(node[1], node[0]) % (2 * math.pi)
    argp = math.atan2(float(np.cross(node, evec) @ h) / hn, float(node @ evec)) % (2 * math.pi)
    nu = math.atan2(float(np.cross(evec, r) @ h) / hn, float(evec @ r))
    ecc = 2.0 * math.atan2(math.sqrt(1 - e) * math.sin(nu / 2), math.sqrt(1 + e) * math.cos(nu / 2))
    m = (ecc - e * math.sin(ecc)) % (2 * math.pi)
    return KeplerElements(a, e, i, raan, argp, m, epoch_s)


def _accel(x: float, y: float, z: float, j2: float, bodies=None) -> tuple[float, float, float]:
    r2 = x * x + y * y + z * z
    r = math.sqrt(r2)
    k = -GM_MOON / (r2 * r)
    if not j2:
        ax, ay, az = k * x, k * y, k * z
    else:
        # Vallado, Fundamentals of Astrodynamics (4th ed.) eq. 8-30: the zonal J2 acceleration.
        f = 1.5 * j2 * (R_MOON_J2_M * R_MOON_J2_M) / r2
        z2 = 5.0 * z * z / r2
        ax, ay, az = k * x * (1 - f * (z2 - 1)), k * y * (1 - f * (z2 - 1)), k * z * (1 - f * (z2 - 3))
    if bodies is None:
        return ax, ay, az
    tx, ty, tz = third_bodies.third_body_acceleration(x, y, z, *bodies)
    return ax + tx, ay + ty, az + tz


def _rk4_step(s: list[float], h: float, j2: float, bodies=(None, None, None)) -> list[float]:
    """One RK4 step; ``bodies`` gives the Earth and Sun at the start, middle and end of the step."""
    x, y, z, vx, vy, vz = s
    a1 = _accel(x, y, z, j2, bodies[0])
    h2 = h / 2
    a2 = _accel(x + h2 * vx, y + h2 * vy, z + h2 * vz, j2, bodies[1])
    v2 = (vx + h2 * a1[0], vy + h2 * a1[1], vz + h2 * a1[2])
    a3 = _accel(x + h2 * v2[0], y + h2 * v2[1], z + h2 * v2[2], j2, bodies[1])
    v3 = (vx + h2 * a2[0], vy + h2 * a2[1], vz + h2 * a2[2])
    a4 = _accel(x + h * v3[0], y + h * v3[1], z + h * v3[2], j2, bodies[2])
    v4 = (vx + h * a3[0], vy + h * a3[1], vz + h * a3[2])
    h6 = h / 6
    return [x + h6 * (vx + 2 * v2[0] + 2 * v3[0] + v4[0]),
            y + h6 * (vy + 2 * v2[1] + 2 * v3[1] + v4[1]),
            z + h6 * (vz + 2 * v2[2] + 2 * v3[2] + v4[2]),
            vx + h6 * (a1[0] + 2 * a2[0] + 2 * a3[0] + a4[0]),
            vy + h6 * (a1[1] + 2 * a2[1] + 2 * a3[1] + a4[1]),
            vz + h6 * (a1[2] + 2 * a2[2] + 2 * a3[2] + a4[2])]


class OrbitPropagator:
    """Cowell propagation (fixed-step RK4) of two-body gravity plus the Moon's J2 and, with
    ``third_bodies``, the Earth's and the Sun's pull from the analytic series the node computes
    itself (:mod:`onboard.nav.third_bodies`).

    It starts from the osculating ``elements`` at their epoch and keeps the last state it
    reached, so a run of increasing times costs one pass.  ``j2=0`` gives pure two-body motion
    (which :func:`kepler_state` computes exactly; the tests compare the two).  The step adapts to
    the radius (``step_s`` at perilune-like 2600 km, longer higher up) so the error per orbit stays
    below a centimetre for the default ELFO.  :meth:`positions` samples a grid of such steps kept
    from the epoch with cubic Hermite interpolation (within 2 cm of stepping to each time, for the
    ELFOs of the tests), so many close times cost no more steps than one."""

    def __init__(self, elements: KeplerElements, j2: float = J2_MOON, step_s: float = 5.0,
                 third_bodies: bool = False):
        if not step_s > 0:
            raise OrbitError(f"step {step_s} s must be positive")
        self.elements = elements
        self.j2 = float(j2)
        self.step_s = float(step_s)
        self.third_bodies = bool(third_bodies)
        r, v = kepler_state(elements, elements.epoch_s)
        self._t0 = elements.epoch_s
        self._s0 = [*r.tolist(), *v.tolist()]
        self._t = self._t0
        self._s = list(self._s0)
        self._grid_t = [self._t0]
        self._grid_s = [list(self._s0)]
        self._bodies_at: dict[float, tuple] = {}

    def _h(self, s: list[float]) -> float:
        r = math.sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2])
        return self.step_s * (r / 2.6e6) ** 1.5

    def _bodies(self, t: float):
        if not self.third_bodies:
            return None
        if t not in self._bodies_at:
            if len(self._bodies_at) > 8:
                self._bodies_at.clear()
            self._bodies_at[t] = third_bodies.earth_and_sun(t)
        return self._bodies_at[t]

    def _step(self, t: float, s: list[float], h: float) -> list[float]:
        return _rk4_step(s, h, self.j2, (self._bodies(t), self._bodies(t + h / 2), self._bodies(t + h)))

    def state(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Position and velocity in MCI at ``t_s``."""
        if t_s < self._t:
            self._t, self._s = self._t0, list(self._s0)
            if t_s < self._t0:
                raise OrbitError(f"time {t_s} s is before the orbit's epoch {self._t0} s")
        while self._t < t_s:
            h = min(self._h(self._s), t_s - self._t)
            self._s = self._step(self._t, self._s, h)
            self._t += h
        return np.array(self._s[:3]), np.array(self._s[3:])

    def positions(self, times_s) -> np.ndarray:
        """(n, 3) positions at ``times_s`` (any order), from the step grid (class docstring)."""
        t = np.asarray(times_s, float).reshape(-1)
        if t.size == 0:
            return np.empty((0, 3))
        if t.min() < self._t0:
            raise OrbitError(f"time {t.min()} s is before the orbit's epoch {self._t0} s")
        while self._grid_t[-1] < t.max():
            s = self._grid_s[-1]
            h = self._h(s)
            self._grid_s.append(self._step(self._grid_t[-1], s, h))
            self._grid_t.append(self._grid_t[-1] + h)
        grid_t = np.array(self._grid_t)
        grid = np.array(self._grid_s)
        k = np.clip(np.searchsorted(grid_t, t, side="right") - 1, 0, grid_t.size - 2)
        h = (grid_t[k + 1] - grid_t[k])[:, None]
        u = ((t - grid_t[k])[:, None]) / h
        r0, v0, r1, v1 = grid[k, :3], grid[k, 3:], grid[k + 1, :3], grid[k + 1, 3:]
        u2, u3 = u * u, u * u * u
        return ((2 * u3 - 3 * u2 + 1) * r0 + (u3 - 2 * u2 + u) * h * v0 + (-2 * u3 + 3 * u2) * r1
                + (u3 - u2) * h * v1)
