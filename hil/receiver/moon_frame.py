"""The Moon-fixed frame the receiver fixes in, and the surface coordinates its fixes are given in.

The frames are the truth world's (:mod:`hil.world.frames`), so the receiver and the signal it
receives share one Moon: the receiver fixes in the principal-axes frame (PA, from DE421's
libration angles).  :func:`moon_fixed_rotation` turns MCI, in which the broadcast ephemeris is
given, into PA at an AFS system time, and :func:`angular_velocity_rad_s` is the Moon's spin seen
from PA.

Latitude, longitude and height are those of lunar maps: in the mean-Earth frame (ME, a constant
rotation of PA) on the sphere of the mean radius 1737.4 km, the coordinates that
``lunarelay siggen --receiver-moon-llh`` takes.
"""

from __future__ import annotations

import numpy as np

from hil.world import frames

FRAME = "pa"


def moon_fixed_rotation(t_s: float) -> np.ndarray:
    """3x3 matrix taking MCI vectors to the receiver's Moon-fixed frame (PA) at AFS time ``t_s``."""
    return frames.moon_fixed_rotation(t_s, FRAME)


def angular_velocity_rad_s(t_s: float) -> np.ndarray:
    """The Moon's angular velocity relative to MCI, in PA axes, at AFS time ``t_s``."""
    return frames.moon_fixed_angular_velocity(t_s, FRAME)


def llh_to_fixed(lat_deg: float, lon_deg: float, height_m: float) -> np.ndarray:
    """PA position (m) of an ME latitude, east longitude (deg) and height above the mean sphere."""
    return frames.PA_TO_ME.T @ frames.llh_to_fixed(lat_deg, lon_deg, height_m)


def fixed_to_llh(xyz) -> tuple[float, float, float]:
    """ME latitude, east longitude (deg) and height (m) of a PA position."""
    return frames.fixed_to_llh(frames.PA_TO_ME @ np.asarray(xyz, float))


def enu_basis(xyz) -> np.ndarray:
    """Rows east, north, up (unit vectors, in the frame of ``xyz``) at a position; at a pole east
    is +y."""
    up = np.asarray(xyz, float)
    norm = np.linalg.norm(up)
    up = up / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    east = np.cross([0.0, 0.0, 1.0], up)
    if np.linalg.norm(east) < 1e-12:
        east = np.array([0.0, 1.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    return np.array([east, north, up])
