"""Position, velocity and time from AFS pseudoranges: iterative least squares in the Moon-fixed frame.

A measurement is a node's transmit time read off its signal, in the node's clock (frame time plus
symbols and code chips), and the receiver's clock time of the same sample.  Its pseudorange is
``c (t_rx - tau)``.  Times are seconds after a whole-second ``time_reference_s``: AFS system time
itself is about 1.5e9 s, where a double resolves only 0.24 us (71 m of range).  With the node's
broadcast clock correction ``dt`` (af0, af1) the transmit time in system time is ``tau - dt(tau)``,
at which the broadcast ephemeris (or any other
:class:`EphemerisSource`) gives the node's MCI position.  Light travels straight in the inertial
MCI frame, so each node's transmit position is turned into the Moon-fixed frame of the receive
instant (:func:`hil.receiver.moon_frame.moon_fixed_rotation` at ``t_rx - b / c``), which accounts
for the Moon's rotation during the light time.  The unknowns are the receiver's Moon-fixed
position and its clock bias ``b`` (metres), solved by Gauss-Newton from the Moon's centre.

Velocity: range rates from the carrier Doppler, ``-lambda f_D`` (lambda of the carrier the Doppler
was measured on), against the nodes' broadcast velocities seen from the turning Moon-fixed frame,
give the receiver's Moon-fixed velocity and clock drift, the same way.

DOP from the geometry matrix of the last iteration, with horizontal and vertical in the local
east-north-up frame of the fix; residuals are the post-fit pseudorange residuals.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from hil.receiver import moon_frame
from hil.receiver.afs import CARRIER_HZ, SPEED_OF_LIGHT_M_S
from onboard.errors import LunarelayError
from onboard.nav.afs_ephemeris import BroadcastEphemeris

C = SPEED_OF_LIGHT_M_S
MAX_ITERATIONS = 20


class PvtError(LunarelayError, ValueError):
    """No fix: too few measurements, or the iteration does not converge."""


class EphemerisSource(Protocol):
    """Where a node is and how its clock runs: the broadcast ephemeris, or a truth model."""

    def state(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """MCI position (m) and velocity (m/s) at system time ``t_s``."""

    def clock_offset_s(self, t_s: float) -> float:
        """The node clock's offset from system time at ``t_s``."""


@dataclasses.dataclass(frozen=True)
class BroadcastSource:
    """The node's own SB2 ephemeris and clock correction: what a user receiver has."""

    ephemeris: BroadcastEphemeris

    def state(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        return self.ephemeris.state(t_s)

    def clock_offset_s(self, t_s: float) -> float:
        return self.ephemeris.clock_offset_s(t_s)


@dataclasses.dataclass(frozen=True)
class Measurement:
    prn: int
    transmit_time_s: float  # tau: the node's clock at transmission, after the time reference
    doppler_hz: float  # carrier Doppler (NCO), for range rates
    cn0_dbhz: float
    source: EphemerisSource


@dataclasses.dataclass(frozen=True)
class NodeGeometry:
    prn: int
    position_fixed_m: np.ndarray  # the node at transmission, in the Moon-fixed frame of reception
    range_m: float
    elevation_deg: float
    azimuth_deg: float
    residual_m: float
    clock_offset_s: float


@dataclasses.dataclass(frozen=True)
class Fix:
    receive_time_s: float  # system time of reception: the receiver clock minus its bias
    position_fixed_m: np.ndarray
    clock_bias_m: float
    velocity_fixed_m_s: np.ndarray | None
    clock_drift_m_s: float | None
    gdop: float
    pdop: float
    hdop: float
    vdop: float
    tdop: float
    iterations: int
    nodes: tuple[NodeGeometry, ...]

    @property
    def llh(self) -> tuple[float, float, float]:
        return moon_frame.fixed_to_llh(self.position_fixed_m)

    @property
    def rms_residual_m(self) -> float:
        return float(math.sqrt(np.mean([n.residual_m ** 2 for n in self.nodes])))


def _transmit(m: Measurement, reference_s: float) -> tuple[float, np.ndarray, np.ndarray, float]:
    """System time of transmission, MCI position and velocity there, and the clock offset."""
    tau = reference_s + m.transmit_time_s
    dt = m.source.clock_offset_s(tau)
    dt = m.source.clock_offset_s(tau - dt)
    t = tau - dt
    pos, vel = m.source.state(t)
    return t, np.asarray(pos, float), np.asarray(vel, float), dt


def solve(measurements: Sequence[Measurement], receiver_time_s: float, time_reference_s: float = 0.0,
          rotation: Callable[[float], np.ndarray] | None = None,
          initial_position_m: np.ndarray | None = None, carrier_hz: float = CARRIER_HZ) -> Fix:
    """The fix from four or more measurements taken at receiver clock time ``receiver_time_s``
    (this and the transmit times in seconds after ``time_reference_s``); ``rotation`` takes MCI to
    the Moon-fixed frame at an AFS time (the receiver's frame by default), ``carrier_hz`` is the
    carrier the Dopplers were measured on."""
    rotation = _guarded(rotation or moon_frame.moon_fixed_rotation)
    if len(measurements) < 4:
        raise PvtError(f"{len(measurements)} measurement(s): a fix needs four")
    prns = [m.prn for m in measurements]
    if len(set(prns)) != len(prns):
        raise PvtError(f"a node appears twice among PRNs {prns}")
    tx = [_transmit(m, time_reference_s) for m in measurements]
    pseudo = np.array([C * (receiver_time_s - m.transmit_time_s) for m in measurements])
    corrected = pseudo + C * np.array([t[3] for t in tx])  # the node clock's offset removed
    x = np.zeros(3) if initial_position_m is None else np.asarray(initial_position_m, float).copy()
    bias = 0.0
    first = True
    g = np.zeros((len(measurements), 4))
    iterations = 0
    while True:
        iterations += 1
        if iterations > MAX_ITERATIONS:
            raise PvtError(f"no convergence in {MAX_ITERATIONS} iterations")
        rot = rotation(time_reference_s + receiver_time_s - bias / C)
        sat = np.array([rot @ t[1] for t in tx])
        los = sat - x
        ranges = np.linalg.norm(los, axis=1)
        if first:
            bias = float(np.mean(corrected - ranges))
            first = False
        resid = corrected - (ranges + bias)
        g[:, :3] = -los / ranges[:, None]
        g[:, 3] = 1.0
        dx, *_ = np.linalg.lstsq(g, resid, rcond=None)
        x += dx[:3]
        bias += dx[3]
        if not np.all(np.isfinite(dx)):
            raise PvtError("the least-squares iteration diverged")
        if np.linalg.norm(dx) < 1e-4:
            break
    t_rx = time_reference_s + receiver_time_s - bias / C
    rot = rotation(t_rx)
    sat = np.array([rot @ t[1] for t in tx])
    los = sat - x
    ranges = np.linalg.norm(los, axis=1)
    unit = los / ranges[:, None]
    resid = corrected - (ranges + bias)
    g[:, :3] = -unit
    try:
        q = np.linalg.inv(g.T @ g)
    except np.linalg.LinAlgError:
        raise PvtError("the nodes' geometry is singular") from None
    enu = moon_frame.enu_basis(x)
    q_enu = enu @ q[:3, :3] @ enu.T
    local = unit @ enu.T
    nodes = tuple(NodeGeometry(m.prn, sat[k], float(ranges[k]),
                               math.degrees(math.asin(float(np.clip(local[k, 2], -1, 1)))),
                               math.degrees(math.atan2(local[k, 0], local[k, 1])) % 360.0,
                               float(resid[k]), float(tx[k][3]))
                  for k, m in enumerate(measurements))
    velocity, drift = _velocity(measurements, tx, rot, _spin(rotation, t_rx, rot), x, unit, carrier_hz)
    return Fix(t_rx, x.copy(), float(bias), velocity, drift, float(math.sqrt(np.trace(q))),
               float(math.sqrt(np.trace(q[:3, :3]))), float(math.sqrt(q_enu[0, 0] + q_enu[1, 1])),
               float(math.sqrt(q_enu[2, 2])), float(math.sqrt(q[3, 3])), iterations, nodes)


def _guarded(rotation: Callable[[float], np.ndarray]) -> Callable[[float], np.ndarray]:
    """``rotation`` with a time it has no orientation for (a diverging clock bias sends it centuries
    away, outside the ephemeris) turned into a :class:`PvtError`."""
    def orientation(t_s: float) -> np.ndarray:
        try:
            return rotation(t_s)
        except ValueError as exc:
            raise PvtError(f"no Moon orientation at AFS time {t_s:.0f} s: {exc}") from None
    return orientation


def position_shift(fix: Fix, range_errors_m: np.ndarray) -> np.ndarray:
    """How far (Moon-fixed, m) the fix moves when the modelled range of each of its nodes exceeds the
    true one by ``range_errors_m`` (a broadcast ephemeris' SISE): the corrected pseudoranges' misfit
    is then -e, and least squares carries it as -(G^T G)^-1 G^T e, position rows."""
    unit = np.array([n.position_fixed_m - fix.position_fixed_m for n in fix.nodes], float)
    unit /= np.linalg.norm(unit, axis=1)[:, None]
    g = np.hstack([-unit, np.ones((unit.shape[0], 1))])
    shift, *_ = np.linalg.lstsq(g, -np.asarray(range_errors_m, float), rcond=None)
    return shift[:3]


def _spin(rotation: Callable[[float], np.ndarray], t_s: float, rot: np.ndarray) -> np.ndarray:
    """The Moon-fixed frame's angular velocity (rad/s, fixed axes) at ``t_s``, where the rotation
    is ``rot``: from dR/dt = -[w x] R, by a central difference over +/-1 s."""
    rdot = (rotation(t_s + 1.0) - rotation(t_s - 1.0)) / 2.0
    w = -rdot @ rot.T
    return np.array([w[2, 1], w[0, 2], w[1, 0]])


def _velocity(measurements, tx, rot, spin, x, unit, carrier_hz) -> tuple[np.ndarray | None, float | None]:
    """Receiver velocity (Moon-fixed) and clock drift from the Doppler range rates."""
    wavelength = C / carrier_hz
    rows, rhs = [], []
    for k, m in enumerate(measurements):
        if not math.isfinite(m.doppler_hz):
            return None, None
        # The node's velocity seen from the turning frame: R v - w x (R r).
        v_sat = rot @ tx[k][2] - np.cross(spin, rot @ tx[k][1])
        range_rate = -wavelength * m.doppler_hz
        rows.append([-unit[k, 0], -unit[k, 1], -unit[k, 2], 1.0])
        rhs.append(range_rate - float(unit[k] @ v_sat))
    sol, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return sol[:3].copy(), float(sol[3])
