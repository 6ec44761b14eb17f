"""Lunar reference frames as functions of AFS system time (seconds, :mod:`hil.world.ephemeris`).

Frames, all centred on the Moon:

- **ICRF**: the axes of the DE421 ephemeris (ICRF-aligned), inertial.
- **PA** (principal axes): Moon-fixed, the axes of the Moon's inertia tensor, from DE421's
  libration angles: ``r_PA = R3(psi) R1(theta) R3(phi) r_ICRF``.  Lunar gravity fields are
  given in it.
- **ME** (mean Earth / polar axis): Moon-fixed, x towards the mean Earth direction and z along
  the mean rotation axis; the frame of lunar maps and of surface coordinates.  It is a constant
  rotation of PA published with DE421: ``r_ME = R1(-0.30") R2(-78.56") R3(-67.92") r_PA``
  (Williams, Boggs and Folkner, "DE421 Lunar Orbit, Physical Librations, and Surface
  Coordinates", JPL IOM 335-JW,DB,WF-20080314-001, 2008; the same angles as the NAIF frame
  kernel moon_080317.tf, frame MOON_ME_DE421 relative to MOON_PA_DE421).  R_k(a) is the
  rotation of the frame by angle a about axis k.  The tests check the sign against DE421 itself:
  over a nodal cycle the mean Earth direction lies near ME's x axis, 68" from PA's.
- **MCI**: the project's Moon-centred inertial frame, in which the nodes' orbits and the
  broadcast ephemeris are expressed (:mod:`onboard.nav.lunar_orbit`): the ME axes at AFS time
  :data:`~onboard.nav.lunar_orbit.MCI_EPOCH_S`, frozen.  Near that epoch its z axis is the
  lunar spin axis (the pole moves about 0.5 deg a year away from it).

Surface positions are latitude, east longitude and height on the sphere of radius
:data:`R_MOON_M` = 1737.4 km (the IAU mean radius, the datum of LOLA's maps), in ME by default.
Rotation matrices R act on column vectors: ``r_to = R @ r_from``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from hil.world.ephemeris import de421
from onboard.errors import LunarelayError
from onboard.nav.lunar_orbit import MCI_EPOCH_S

R_MOON_M = 1737.4e3
FRAMES = ("pa", "me")
_ARCSEC = math.pi / (180.0 * 3600.0)


class ReferenceFrameError(LunarelayError, ValueError):
    """An unknown frame name or a position that has no surface coordinates."""


def r1(a: float) -> np.ndarray:
    """Frame rotation by ``a`` rad about x."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def r2(a: float) -> np.ndarray:
    """Frame rotation by ``a`` rad about y."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def r3(a: float) -> np.ndarray:
    """Frame rotation by ``a`` rad about z."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


# DE421's PA -> ME rotation (module docstring).
PA_TO_ME = r1(-0.30 * _ARCSEC) @ r2(-78.56 * _ARCSEC) @ r3(-67.92 * _ARCSEC)


def _check_frame(frame: str) -> str:
    if frame not in FRAMES:
        raise ReferenceFrameError(f"unknown Moon-fixed frame {frame!r}; known: {', '.join(FRAMES)}")
    return frame


def icrf_to_pa(t_s: float) -> np.ndarray:
    """ICRF -> PA at AFS time ``t_s``, from DE421's libration angles."""
    phi, theta, psi = de421().libration_angles(t_s)[0]
    return r3(psi) @ r1(theta) @ r3(phi)


def icrf_to_fixed(t_s: float, frame: str = "pa") -> np.ndarray:
    """ICRF -> Moon-fixed ``frame`` ("pa" or "me") at AFS time ``t_s``."""
    rot = icrf_to_pa(t_s)
    return PA_TO_ME @ rot if _check_frame(frame) == "me" else rot


@functools.cache
def icrf_to_mci() -> np.ndarray:
    """ICRF -> MCI: the ME axes at MCI_EPOCH_S (constant)."""
    return icrf_to_fixed(MCI_EPOCH_S, "me")


def moon_fixed_rotation(t_s: float, frame: str = "pa") -> np.ndarray:
    """The 3x3 rotation R from MCI to the Moon-fixed ``frame`` ("pa" or "me") at AFS system time
    ``t_s`` (seconds): ``r_fixed = R @ r_mci``.  Its transpose takes Moon-fixed vectors to MCI."""
    return icrf_to_fixed(t_s, frame) @ icrf_to_mci().T


def moon_fixed_angular_velocity(t_s: float, frame: str = "pa") -> np.ndarray:
    """The Moon's angular velocity (rad/s) relative to MCI, in Moon-fixed ``frame`` axes, from a
    central difference of :func:`moon_fixed_rotation` over +/-1 s."""
    r0 = moon_fixed_rotation(t_s, frame)
    rdot = (moon_fixed_rotation(t_s + 1.0, frame) - moon_fixed_rotation(t_s - 1.0, frame)) / 2.0
    w = -rdot @ r0.T  # skew matrix [w x] of the body rate, fixed axes: dR/dt = -[w x] R
    return np.array([w[2, 1], w[0, 2], w[1, 0]])


def mci_to_fixed(t_s: float, r_mci, v_mci=None, frame: str = "pa"):
    """An MCI position (m), and with ``v_mci`` its velocity (m/s), in the Moon-fixed ``frame``:
    ``r`` or ``(r, v)``; the velocity is relative to the rotating frame."""
    rot = moon_fixed_rotation(t_s, frame)
    r = rot @ np.asarray(r_mci, float)
    if v_mci is None:
        return r
    v = rot @ np.asarray(v_mci, float) - np.cross(moon_fixed_angular_velocity(t_s, frame), r)
    return r, v


def fixed_to_mci(t_s: float, r_fixed, v_fixed=None, frame: str = "pa"):
    """The inverse of :func:`mci_to_fixed`: a Moon-fixed position (and velocity) in MCI."""
    rot = moon_fixed_rotation(t_s, frame)
    r_fixed = np.asarray(r_fixed, float)
    r = rot.T @ r_fixed
    if v_fixed is None:
        return r
    v = rot.T @ (np.asarray(v_fixed, float) + np.cross(moon_fixed_angular_velocity(t_s, frame), r_fixed))
    return r, v


def llh_to_fixed(lat_deg: float, lon_deg: float, height_m: float = 0.0) -> np.ndarray:
    """Moon-fixed xyz (m) of latitude, east longitude (deg) and height (m) above the 1737.4 km
    sphere."""
    if not -90.0 <= lat_deg <= 90.0:
        raise ReferenceFrameError(f"latitude {lat_deg} deg is outside -90..90")
    if not height_m > -R_MOON_M:
        raise ReferenceFrameError(f"height {height_m} m is below the Moon's centre")
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    r = R_MOON_M + height_m
    return np.array([r * math.cos(lat) * math.cos(lon), r * math.cos(lat) * math.sin(lon), r * math.sin(lat)])


def fixed_to_llh(xyz) -> tuple[float, float, float]:
    """Latitude (deg), east longitude (deg, -180..180) and height (m) of a Moon-fixed xyz (m)."""
    x, y, z = (float(v) for v in xyz)
    r = math.sqrt(x * x + y * y + z * z)
    if r == 0.0:
        raise ReferenceFrameError("the Moon's centre has no latitude or longitude")
    return math.degrees(math.asin(z / r)), math.degrees(math.atan2(y, x)), r - R_MOON_M


def enu_rotation(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Moon-fixed -> local east, north, up at a surface point (rows are the E, N, U axes)."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
    return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])


def elevation_azimuth(observer_fixed, target_fixed) -> tuple[float, float]:
    """Elevation and azimuth (deg, clockwise from north) of ``target`` seen from ``observer``,
    both Moon-fixed xyz (m), in the observer's local horizon (normal to the sphere)."""
    lat, lon, _ = fixed_to_llh(observer_fixed)
    e, n, u = enu_rotation(lat, lon) @ (np.asarray(target_fixed, float) - np.asarray(observer_fixed, float))
    return math.degrees(math.atan2(u, math.hypot(e, n))), math.degrees(math.atan2(e, n)) % 360.0
