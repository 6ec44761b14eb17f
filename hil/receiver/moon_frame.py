"""The Moon-fixed frame the receiver fixes in, and latitude/longitude/height on the lunar sphere.

:func:`moon_fixed_rotation` is the receiver's only view of the Moon's orientation: it turns MCI
(the Moon-centred inertial frame of :mod:`onboard.nav.lunar_orbit`, in which the broadcast
ephemeris is given) into the Moon-fixed frame at an AFS system time.  This model is a uniform
rotation about the MCI z axis (the lunar spin axis) at the Moon's sidereal rate, aligned with MCI
at the default orbit epoch, where MCI's axes are those of the mean-Earth frame.  The truth world's
frame (DE421 libration angles, principal axes) replaces it by swapping this one function.

Positions on the Moon: latitude and longitude on the sphere of the mean radius 1737.4 km
(IAU/IAG), height above it.
"""

from __future__ import annotations

import math

import numpy as np

from onboard.nav.afs_node import DEFAULT_EPOCH_S
from onboard.nav.lunar_orbit import R_MOON_MEAN_M

SIDEREAL_PERIOD_S = 27.321661 * 86400.0
ROTATION_RATE_RAD_S = 2.0 * math.pi / SIDEREAL_PERIOD_S


def moon_fixed_rotation(t_s: float) -> np.ndarray:
    """3x3 matrix taking MCI vectors to the Moon-fixed frame at AFS system time ``t_s``."""
    theta = ROTATION_RATE_RAD_S * (t_s - DEFAULT_EPOCH_S)
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def llh_to_fixed(lat_deg: float, lon_deg: float, height_m: float) -> np.ndarray:
    """Moon-fixed position (m) of a latitude, longitude (deg) and height above the mean sphere."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    r = R_MOON_MEAN_M + height_m
    return np.array([r * math.cos(lat) * math.cos(lon), r * math.cos(lat) * math.sin(lon), r * math.sin(lat)])


def fixed_to_llh(xyz) -> tuple[float, float, float]:
    """Latitude, longitude (deg) and height (m) of a Moon-fixed position."""
    x, y, z = (float(v) for v in xyz)
    r = math.sqrt(x * x + y * y + z * z)
    if r == 0.0:
        return 0.0, 0.0, -R_MOON_MEAN_M
    return math.degrees(math.asin(z / r)), math.degrees(math.atan2(y, x)), r - R_MOON_MEAN_M


def enu_basis(xyz) -> np.ndarray:
    """Rows east, north, up (unit vectors, Moon-fixed) at a position; at a pole east is +y."""
    up = np.asarray(xyz, float)
    norm = np.linalg.norm(up)
    up = up / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    east = np.cross([0.0, 0.0, 1.0], up)
    if np.linalg.norm(east) < 1e-12:
        east = np.array([0.0, 1.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    return np.array([east, north, up])
