"""The Earth and the Sun seen from the Moon, as a navigation node's onboard orbit model takes them.

A node carries no JPL ephemeris, so its orbit model (:class:`~onboard.nav.lunar_orbit.OrbitPropagator`
with ``third_bodies=True``) takes the Earth's and the Sun's pull from the low-precision analytic
series of Montenbruck and Gill, "Satellite Orbits" (Springer, 2000), §3.3.2: the Sun's geocentric
ecliptic longitude and distance from its mean anomaly, and the Moon's geocentric ecliptic longitude
(14 terms), latitude (8 terms) and distance (9 terms) from the Delaunay arguments, all referred to
the mean ecliptic and equinox of J2000 and turned to the equator with the J2000 obliquity.  Time is
TT, from AFS system time (GPS time scale) by TT = GPS + 51.184 s.  The result is in EME2000, which
differs from the ICRF by the 23 mas frame bias, far below the series' own error.

Against DE421 (tests/test_third_bodies.py, 2025 to 2028) the Earth's direction from the Moon is
within 1.5 mrad and its distance within 0.15 %, the Sun's direction within 2 mrad.  For a node
10 000 km from the Moon that is an error below 1e-6 m/s^2 in the Earth's tidal pull of about
1.4e-4 m/s^2, and below 1e-8 m/s^2 in the Sun's.

:data:`ICRF_TO_MCI` is the definition of MCI (:mod:`onboard.nav.lunar_orbit`) that the node is
given: the DE421 mean-Earth axes at ``MCI_EPOCH_S``, as ``hil.world.frames.icrf_to_mci`` computes
them (the tests check the copy).
"""

from __future__ import annotations

import math

import numpy as np

GM_EARTH_M3_S2 = 3.986004362e14  # DE421 (the Earth alone)
GM_SUN_M3_S2 = 1.327124400409e20  # DE421
TT_MINUS_GPS_S = 51.184  # TAI - GPS = 19 s, TT - TAI = 32.184 s
GPS_EPOCH_JD = 2444244.5  # 1980-01-06 00:00:00
J2000_JD = 2451545.0
OBLIQUITY_J2000_RAD = math.radians(23.43929111)
_ARCSEC = math.pi / (180.0 * 3600.0)
_DEG = math.pi / 180.0

ICRF_TO_MCI = np.array([
    [0.938759501310724, -0.3162310238661997, -0.13685224968328222],
    [0.3444533610835103, 0.8717127968830574, 0.348523574222161],
    [0.009081890613371033, -0.37431903410707335, 0.9272555095377079],
])
# EME2000 equatorial from J2000 ecliptic, then MCI, in one matrix.
_ECLIPTIC_TO_MCI = ICRF_TO_MCI @ np.array([
    [1.0, 0.0, 0.0],
    [0.0, math.cos(OBLIQUITY_J2000_RAD), -math.sin(OBLIQUITY_J2000_RAD)],
    [0.0, math.sin(OBLIQUITY_J2000_RAD), math.cos(OBLIQUITY_J2000_RAD)],
])
_E = tuple(tuple(float(v) for v in row) for row in _ECLIPTIC_TO_MCI)


def julian_centuries_tt(t_s: float) -> float:
    """Julian centuries of TT since J2000 at AFS system time ``t_s``."""
    return (GPS_EPOCH_JD - J2000_JD + (t_s + TT_MINUS_GPS_S) / 86400.0) / 36525.0


def sun_ecliptic(t: float) -> tuple[float, float, float]:
    """The Sun's geocentric position (m) in J2000 ecliptic axes at ``t`` Julian centuries (TT)."""
    m = (357.5256 + 35999.049 * t) * _DEG
    lon = 282.94 * _DEG + m + (6892.0 * math.sin(m) + 72.0 * math.sin(2.0 * m)) * _ARCSEC
    r = (149.619 - 2.499 * math.cos(m) - 0.021 * math.cos(2.0 * m)) * 1e9
    return r * math.cos(lon), r * math.sin(lon), 0.0


def moon_ecliptic(t: float) -> tuple[float, float, float]:
    """The Moon's geocentric position (m) in J2000 ecliptic axes at ``t`` Julian centuries (TT)."""
    l0 = (218.31617 + 481267.88088 * t - 1.3972 * t) * _DEG  # mean longitude, J2000 equinox
    l = (134.96292 + 477198.86753 * t) * _DEG  # noqa: E741 - the Moon's mean anomaly, as in the series
    lp = (357.52543 + 35999.04944 * t) * _DEG  # the Sun's mean anomaly
    f = (93.27283 + 483202.01873 * t) * _DEG  # mean argument of latitude
    d = (297.85027 + 445267.11135 * t) * _DEG  # mean elongation from the Sun
    sin = math.sin
    dl = (22640.0 * sin(l) + 769.0 * sin(2 * l) - 4586.0 * sin(l - 2 * d) + 2370.0 * sin(2 * d)
          - 668.0 * sin(lp) - 412.0 * sin(2 * f) - 212.0 * sin(2 * l - 2 * d) - 206.0 * sin(l + lp - 2 * d)
          + 192.0 * sin(l + 2 * d) - 165.0 * sin(lp - 2 * d) + 148.0 * sin(l - lp) - 125.0 * sin(d)
          - 110.0 * sin(l + lp) - 55.0 * sin(2 * f - 2 * d))
    lon = l0 + dl * _ARCSEC
    h = f - 2 * d
    lat = (18520.0 * sin(f + (dl + 412.0 * sin(2 * f) + 541.0 * sin(lp)) * _ARCSEC) - 526.0 * sin(h)
           + 44.0 * sin(l + h) - 31.0 * sin(-l + h) - 25.0 * sin(-2 * l + f) - 23.0 * sin(lp + h)
           + 21.0 * sin(-l + f) + 11.0 * sin(-lp + h)) * _ARCSEC
    cos = math.cos
    r = (385000.0 - 20905.0 * cos(l) - 3699.0 * cos(2 * d - l) - 2956.0 * cos(2 * d) - 570.0 * cos(2 * l)
         + 246.0 * cos(2 * l - 2 * d) - 205.0 * cos(lp - 2 * d) - 171.0 * cos(l + 2 * d)
         - 152.0 * cos(l + lp - 2 * d)) * 1e3
    return r * cos(lat) * cos(lon), r * cos(lat) * sin(lon), r * sin(lat)


def _to_mci(x: float, y: float, z: float) -> tuple[float, float, float]:
    (a, b, c), (d, e, f), (g, h, k) = _E
    return a * x + b * y + c * z, d * x + e * y + f * z, g * x + h * y + k * z


def earth_and_sun(t_s: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The Earth's and the Sun's centres relative to the Moon's (m, MCI axes) at AFS time ``t_s``."""
    t = julian_centuries_tt(t_s)
    mx, my, mz = moon_ecliptic(t)
    sx, sy, sz = sun_ecliptic(t)
    return _to_mci(-mx, -my, -mz), _to_mci(sx - mx, sy - my, sz - mz)


def third_body_acceleration(x: float, y: float, z: float, earth, sun) -> tuple[float, float, float]:
    """The Earth's and the Sun's pull on a node at MCI (x, y, z) relative to the Moon's:
    GM (d/|d|^3 - s/|s|^3) per body, s the body from the Moon and d = s - r (Montenbruck and Gill,
    "Satellite Orbits", eq. 3.37)."""
    ax = ay = az = 0.0
    for gm, (sx, sy, sz) in ((GM_EARTH_M3_S2, earth), (GM_SUN_M3_S2, sun)):
        dx, dy, dz = sx - x, sy - y, sz - z
        d2 = dx * dx + dy * dy + dz * dz
        kd = gm / (d2 * math.sqrt(d2))
        s2 = sx * sx + sy * sy + sz * sz
        ks = gm / (s2 * math.sqrt(s2))
        ax += kd * dx - ks * sx
        ay += kd * dy - ks * sy
        az += kd * dz - ks * sz
    return ax, ay, az
