"""GPS satellite position and clock from the broadcast LNAV data (IS-GPS-200 §20.3.3.3.3, Table 20-IV).

:func:`satellite_position` is the user algorithm of Table 20-IV: Kepler's equation,
second-harmonic corrections, and the rotation to ECEF (WGS-84) at the time of
transmission.  :func:`satellite_clock_offset` is the SV clock correction of
§20.3.3.3.3.1 with its relativistic term, for L1 C/A users (T_GD, §20.3.3.3.3.2).
Both take arrays of times so a sky can be evaluated for many instants at once.
"""

from __future__ import annotations

import math

import numpy as np

from onboard.nav.gps_lnav import Ephemeris

MU_M3_S2 = 3.986005e14  # Table 20-IV: WGS-84 value of the Earth's gravitational constant
OMEGA_E_DOT_RAD_S = 7.2921151467e-5  # Table 20-IV: WGS-84 Earth rotation rate
F_RELATIVISTIC_S_M05 = -4.442807633e-10  # §20.3.3.3.3.1: F = -2 sqrt(mu) / c^2
C_M_S = 2.99792458e8  # speed of light, §20.3.4.3
HALF_WEEK_S = 302400.0
WGS84_A_M = 6378137.0
WGS84_F = 1 / 298.257223563


def time_from_ephemeris(t: np.ndarray, t_ref: float) -> np.ndarray:
    """t - t_ref folded into +/- half a week, for the week crossover (Table 20-IV, t_k)."""
    dt = np.asarray(t, np.float64) - t_ref
    return dt - np.round(dt / (2 * HALF_WEEK_S)) * 2 * HALF_WEEK_S


def eccentric_anomaly(eph: Ephemeris, t: np.ndarray) -> np.ndarray:
    """E_k at GPS time ``t`` (seconds of week), Kepler's equation solved by Newton iteration."""
    a = eph.sqrt_a ** 2
    n = math.sqrt(MU_M3_S2 / a ** 3) + eph.delta_n
    m = eph.m_0 + n * time_from_ephemeris(t, eph.t_oe)
    e_k = np.array(m, np.float64, copy=True)
    for _ in range(10):
        e_k = e_k - (e_k - eph.e * np.sin(e_k) - m) / (1 - eph.e * np.cos(e_k))
    return e_k


def satellite_position(eph: Ephemeris, t: np.ndarray) -> np.ndarray:
    """ECEF position (m), shape (..., 3), at GPS time of transmission ``t`` (IS-GPS-200 Table 20-IV)."""
    t = np.asarray(t, np.float64)
    t_k = time_from_ephemeris(t, eph.t_oe)
    a = eph.sqrt_a ** 2
    e_k = eccentric_anomaly(eph, t)
    nu = np.arctan2(math.sqrt(1 - eph.e ** 2) * np.sin(e_k), np.cos(e_k) - eph.e)
    phi = nu + eph.omega
    s2, c2 = np.sin(2 * phi), np.cos(2 * phi)
    u = phi + eph.c_us * s2 + eph.c_uc * c2
    r = a * (1 - eph.e * np.cos(e_k)) + eph.c_rs * s2 + eph.c_rc * c2
    i = eph.i_0 + eph.c_is * s2 + eph.c_ic * c2 + eph.idot * t_k
    x_orb, y_orb = r * np.cos(u), r * np.sin(u)
    node = eph.omega_0 + (eph.omega_dot - OMEGA_E_DOT_RAD_S) * t_k - OMEGA_E_DOT_RAD_S * eph.t_oe
    x = x_orb * np.cos(node) - y_orb * np.cos(i) * np.sin(node)
    y = x_orb * np.sin(node) + y_orb * np.cos(i) * np.cos(node)
    z = y_orb * np.sin(i)
    return np.stack([x, y, z], axis=-1)


def satellite_clock_offset(eph: Ephemeris, t: np.ndarray) -> np.ndarray:
    """(Delta t_SV)_L1 in seconds at GPS time ``t``: t_SV - t for the L1 C/A signal.

    §20.3.3.3.3.1: a_f0 + a_f1 (t - t_oc) + a_f2 (t - t_oc)^2 + Delta t_r, with
    Delta t_r = F e sqrt(A) sin E_k; §20.3.3.3.3.2: L1 C/A users subtract T_GD.
    """
    dt = time_from_ephemeris(t, eph.t_oc)
    relativistic = F_RELATIVISTIC_S_M05 * eph.e * eph.sqrt_a * np.sin(eccentric_anomaly(eph, t))
    return eph.a_f0 + eph.a_f1 * dt + eph.a_f2 * dt ** 2 + relativistic - eph.t_gd


def llh_to_ecef(lat_deg: float, lon_deg: float, height_m: float) -> np.ndarray:
    """WGS-84 geodetic latitude, longitude and ellipsoidal height to ECEF (m)."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    e2 = WGS84_F * (2 - WGS84_F)
    n = WGS84_A_M / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    return np.array([(n + height_m) * math.cos(lat) * math.cos(lon),
                     (n + height_m) * math.cos(lat) * math.sin(lon),
                     (n * (1 - e2) + height_m) * math.sin(lat)])


def ecef_to_llh(xyz: np.ndarray) -> tuple[float, float, float]:
    """ECEF (m) to WGS-84 latitude, longitude (degrees) and height (m), by fixed-point iteration."""
    x, y, z = (float(v) for v in xyz)
    e2 = WGS84_F * (2 - WGS84_F)
    p = math.hypot(x, y)
    lat = math.atan2(z, p * (1 - e2))
    height = 0.0
    for _ in range(10):
        n = WGS84_A_M / math.sqrt(1 - e2 * math.sin(lat) ** 2)
        height = p / math.cos(lat) - n
        lat = math.atan2(z, p * (1 - e2 * n / (n + height)))
    return math.degrees(lat), math.degrees(math.atan2(y, x)), height


def elevation_azimuth(receiver_ecef: np.ndarray, target_ecef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth (radians) of ``target_ecef`` (..., 3) seen from ``receiver_ecef``."""
    lat, lon, _ = ecef_to_llh(receiver_ecef)
    lat, lon = math.radians(lat), math.radians(lon)
    d = np.asarray(target_ecef, np.float64) - receiver_ecef
    east = -math.sin(lon) * d[..., 0] + math.cos(lon) * d[..., 1]
    north = (-math.sin(lat) * math.cos(lon) * d[..., 0] - math.sin(lat) * math.sin(lon) * d[..., 1]
             + math.cos(lat) * d[..., 2])
    up = (math.cos(lat) * math.cos(lon) * d[..., 0] + math.cos(lat) * math.sin(lon) * d[..., 1]
          + math.sin(lat) * d[..., 2])
    return np.arctan2(up, np.hypot(east, north)), np.arctan2(east, north) % (2 * math.pi)
