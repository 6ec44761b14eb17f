"""The broadcast ephemeris and clock correction of an AFS node: the user algorithm and the fit.

The SB2 ephemeris (:mod:`onboard.nav.afs_message`) is a two-body Keplerian arc about the Moon,
with no harmonic corrections and no node or inclination rates: the model that LANS-AFS-SIM
transmits and PocketSDR-AFS evaluates.  :meth:`BroadcastEphemeris.state` is that user algorithm
(IS-GPS-200 Table 20-IV reduced to its Keplerian terms, GM_moon instead of GM_earth); the clock
correction is ``af0 + af1 (t - toc)`` (IS-GPS-200 §20.3.3.3.3.1 without af2).

Because the relay's real orbit is perturbed (here by the Moon's J2), the node does not broadcast
its osculating elements: :func:`fit_ephemeris` fits the six elements by least squares to the
propagated positions over the ephemeris' validity interval, and af0/af1 to the clock model, then
rounds every field to its message LSB.  Times are seconds of AFS system time.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from onboard.nav import afs_message as am
from onboard.nav.lunar_orbit import GM_MOON, OrbitPropagator, eccentric_anomaly, elements_from_state
from onboard.nav.node_clock import NodeClock

HALF_WEEK = am.SECONDS_PER_WEEK / 2


def _week_delta(tow_s: float, ref_tow_s: float) -> float:
    dt = tow_s - ref_tow_s
    if dt > HALF_WEEK:
        dt -= am.SECONDS_PER_WEEK
    elif dt < -HALF_WEEK:
        dt += am.SECONDS_PER_WEEK
    return dt


@dataclasses.dataclass(frozen=True)
class BroadcastEphemeris:
    """The CED of SB2 in physical units; ``toe_s`` and ``toc_s`` are seconds of the week."""

    toe_s: float
    sqrt_a: float
    e: float
    i0_rad: float
    omega0_rad: float
    argp_rad: float
    m0_rad: float
    toc_s: float
    af0_s: float
    af1_s_s: float

    @classmethod
    def from_subframe2(cls, sb2: am.Subframe2) -> BroadcastEphemeris:
        return cls(sb2.toe_s, sb2.sqrt_a, sb2.e, sb2.i0_rad, sb2.omega0_rad, sb2.argp_rad, sb2.m0_rad,
                   sb2.toc_s, sb2.af0_s, sb2.af1_s_s)

    def subframe2(self, t_frame_s: float) -> am.Subframe2:
        """SB2 of the frame that starts at ``t_frame_s`` (its WN and ITOW) carrying this CED."""
        t = am.afs_time(t_frame_s)
        return am.Subframe2(t.wn % (am.WN_MAX + 1), t.itow, **dataclasses.asdict(self))

    def quantised(self) -> BroadcastEphemeris:
        return BroadcastEphemeris.from_subframe2(self.subframe2(0.0).quantised())

    def state(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Position (m) and velocity (m/s) in MCI at system time ``t_s`` (the user algorithm)."""
        a = self.sqrt_a * self.sqrt_a
        n = math.sqrt(GM_MOON / a ** 3)
        tk = _week_delta(am.time_of_week(t_s), self.toe_s)
        ecc = eccentric_anomaly(self.m0_rad + n * tk, self.e)
        ce, se = math.cos(ecc), math.sin(ecc)
        one_minus = 1.0 - self.e * ce
        b = math.sqrt(1.0 - self.e * self.e)
        u = math.atan2(b * se, ce - self.e) + self.argp_rad
        r = a * one_minus
        edot = n / one_minus
        rdot = a * self.e * se * edot
        udot = b * edot / one_minus
        xp, yp = r * math.cos(u), r * math.sin(u)
        xpd, ypd = rdot * math.cos(u) - yp * udot, rdot * math.sin(u) + xp * udot
        ci, si = math.cos(self.i0_rad), math.sin(self.i0_rad)
        co, so = math.cos(self.omega0_rad), math.sin(self.omega0_rad)
        pos = np.array([xp * co - yp * ci * so, xp * so + yp * ci * co, yp * si])
        vel = np.array([xpd * co - ypd * ci * so, xpd * so + ypd * ci * co, ypd * si])
        return pos, vel

    def position(self, t_s: float) -> np.ndarray:
        return self.state(t_s)[0]

    def positions(self, times_s) -> np.ndarray:
        """(n, 3) MCI positions at system times ``times_s``: the user algorithm of :meth:`state`,
        vectorised (Kepler's equation by Newton's method to 1e-15 rad)."""
        return _kepler_positions(_elements_vector(self)[None, :], self.toe_s, times_s)[0]

    def clock_offset_s(self, t_s: float) -> float:
        """The node clock's offset from system time that a user removes: af0 + af1 (t - toc)."""
        return self.af0_s + self.af1_s_s * _week_delta(am.time_of_week(t_s), self.toc_s)


@dataclasses.dataclass(frozen=True)
class FitResult:
    ephemeris: BroadcastEphemeris  # quantised to the message LSBs
    toe_system_s: float
    start_s: float
    end_s: float
    max_position_error_m: float  # over the fit samples, after quantisation
    max_clock_error_s: float


def _elements_vector(eph: BroadcastEphemeris) -> np.ndarray:
    return np.array([eph.sqrt_a, eph.e, eph.i0_rad, eph.omega0_rad, eph.argp_rad, eph.m0_rad])


def _with_elements(eph: BroadcastEphemeris, x: np.ndarray) -> BroadcastEphemeris:
    return dataclasses.replace(eph, sqrt_a=float(x[0]), e=float(x[1]), i0_rad=float(x[2]),
                               omega0_rad=float(x[3]), argp_rad=float(x[4]), m0_rad=float(x[5]))


def _kepler_positions(x: np.ndarray, toe_s: float, times_s) -> np.ndarray:
    """(m, n, 3) MCI positions of m element sets x (rows of sqrt_a, e, i0, OMEGA0, omega, M0, all
    with reference time ``toe_s`` of the week) at n system times: the user algorithm of
    :meth:`BroadcastEphemeris.state`, for the fit's Jacobian in one pass."""
    t = np.asarray(times_s, float)[None, :]
    sqrt_a, e, i0, omega0, argp, m0 = (x[:, k:k + 1] for k in range(6))
    a = sqrt_a * sqrt_a
    n = np.sqrt(GM_MOON / a ** 3)
    tow = t - np.floor(t / am.SECONDS_PER_WEEK) * am.SECONDS_PER_WEEK
    tk = tow - toe_s
    tk = np.where(tk > HALF_WEEK, tk - am.SECONDS_PER_WEEK, np.where(tk < -HALF_WEEK,
                                                                      tk + am.SECONDS_PER_WEEK, tk))
    m = np.remainder(m0 + n * tk + math.pi, 2 * math.pi) - math.pi
    ecc = np.where(e < 0.8, m + e * np.sin(m), np.pi * np.sign(m))
    for _ in range(50):
        step = (ecc - e * np.sin(ecc) - m) / (1.0 - e * np.cos(ecc))
        ecc = ecc - step
        if np.all(np.abs(step) < 1e-15):
            break
    b = np.sqrt(1.0 - e * e)
    u = np.arctan2(b * np.sin(ecc), np.cos(ecc) - e) + argp
    r = a * (1.0 - e * np.cos(ecc))
    xp, yp = r * np.cos(u), r * np.sin(u)
    ci, si = np.cos(i0), np.sin(i0)
    co, so = np.cos(omega0), np.sin(omega0)
    return np.stack([xp * co - yp * ci * so, xp * so + yp * ci * co, yp * si], axis=-1)


def fit_ephemeris(orbit: OrbitPropagator, clock: NodeClock, start_s: float, end_s: float,
                  samples: int = 121, iterations: int = 6) -> FitResult:
    """Broadcast ephemeris and clock correction for the interval [start_s, end_s].

    toe = toc is the interval's middle on the 16 s grid of the message.  The six Keplerian
    elements start at the osculating ones at toe and are refined by Gauss-Newton on the position
    residuals (numerical Jacobian); af0, af1 are the least-squares line through the clock model."""
    if not end_s > start_s:
        raise ValueError(f"fit interval [{start_s}, {end_s}] is empty")
    toe_sys = 16.0 * math.floor((start_s + end_s) / 2 / 16.0 + 0.5)
    toe_tow = am.time_of_week(toe_sys)
    times = np.linspace(start_s, end_s, samples)
    truth = orbit.positions(times)
    r0, v0 = orbit.state(toe_sys)
    osc = elements_from_state(r0, v0, toe_sys)
    dt = times - toe_sys
    af1, af0 = np.polyfit(dt, clock.offset_s(times), 1)
    eph = BroadcastEphemeris(toe_tow, math.sqrt(osc.a_m), osc.e, osc.i_rad, osc.raan_rad, osc.argp_rad,
                             osc.m0_rad, toe_tow, float(af0), float(af1))
    x = _elements_vector(eph)
    steps = np.array([1e-4, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9])
    # The elements and their six perturbations in one pass per iteration.  Once an iteration no
    # longer lowers the residual by 0.1 mm the fit is at its floor: the next steps would only move
    # the elements that the arc cannot tell apart (omega and M0 on a short one).
    last_rms, last_x = math.inf, x
    for _ in range(iterations):
        sets = np.vstack([x, x + np.diag(steps)])
        pos = _kepler_positions(sets, toe_tow, times)
        resid = (truth - pos[0]).ravel()
        rms = float(np.sqrt(np.mean(resid * resid)))
        if last_rms - rms < 1e-4:
            x = x if rms <= last_rms else last_x
            break
        last_rms, last_x = rms, x
        jac = ((pos[1:] - pos[0]).reshape(6, -1) / steps[:, None]).T
        delta, *_ = np.linalg.lstsq(jac, resid, rcond=None)
        x = x + delta
    eph = _with_elements(eph, x).quantised()
    err = np.linalg.norm(eph.positions(times) - truth, axis=1)
    clk_err = np.abs(np.array([eph.clock_offset_s(float(t)) for t in times]) - clock.offset_s(times))
    return FitResult(eph, toe_sys, start_s, end_s, float(err.max()), float(clk_err.max()))
