"""JPL DE421 read directly: the Earth and the Sun seen from the Moon, and the Moon's orientation.

DE421 (Folkner, Williams and Boggs, "The Planetary and Lunar Ephemeris DE 421", IPN Progress
Report 42-178, 2009) comes from the ``de421`` package and is read with ``jplephem``, offline.
Its Chebyshev series give, in the ICRF-aligned axes of the ephemeris:

- ``moon``: the Moon relative to the Earth (km), so the Earth from the Moon is its negative;
- ``earthmoon`` and ``sun``: the Earth-Moon barycentre and the Sun relative to the solar-system
  barycentre (km); the Moon sits at the barycentre plus EMRAT / (1 + EMRAT) of ``moon``;
- ``librations``: the Euler angles (phi, theta, psi) of the Moon's principal axes, so that
  r_PA = R3(psi) R1(theta) R3(phi) r_ICRF with R_k the frame rotations about axis k.

Time: the series are in TDB.  The project's clock is AFS system time (seconds since the GPS
epoch 1980-01-06 00:00:00, on the GPS time scale, :mod:`onboard.nav.afs_message`), converted
with the stated convention TT = GPS + 51.184 s (TAI = GPS + 19 s, TT = TAI + 32.184 s) and
TDB = TT + 1.657 ms sin(g), g = 357.53 deg + 0.98560028 deg/day (JD_TT - 2451545.0), the
leading term of the periodic TDB - TT difference (Explanatory Supplement to the Astronomical
Almanac, 3rd ed., eq. 3.7; the terms left out stay below 30 us, i.e. 3 cm of lunar motion).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from onboard.errors import LunarelayError

GPS_EPOCH_JD = 2444244.5  # 1980-01-06 00:00:00 on the GPS scale
TT_MINUS_GPS_S = 51.184
SECONDS_PER_DAY = 86400.0


class EphemerisError(LunarelayError, ValueError):
    """A time outside the DE421 series (JD 2414992.5 .. 2524624.5, years 1900 to 2200)."""


def tdb_jd(t_s: float) -> float:
    """Julian date (TDB) of AFS system time ``t_s`` (the module docstring's convention)."""
    jd_tt = GPS_EPOCH_JD + (t_s + TT_MINUS_GPS_S) / SECONDS_PER_DAY
    g = math.radians(357.53 + 0.98560028 * (jd_tt - 2451545.0))
    return jd_tt + 0.001657 * math.sin(g) / SECONDS_PER_DAY


class _Series:
    """One body's Chebyshev series, evaluated one instant at a time (a few microseconds)."""

    def __init__(self, coefficients: np.ndarray, jd_start: float, jd_end: float):
        self.c = coefficients  # (n_sets, 3, n_coefficients)
        self.jd_start, self.jd_end = jd_start, jd_end
        self.days = (jd_end - jd_start) / coefficients.shape[0]
        self.n = coefficients.shape[2]

    def __call__(self, jd: float) -> tuple[np.ndarray, np.ndarray]:
        """Value and derivative per day at ``jd``."""
        if not self.jd_start <= jd <= self.jd_end:
            raise EphemerisError(f"JD {jd:.1f} is outside DE421 ({self.jd_start:.1f} .. {self.jd_end:.1f})")
        k, rest = divmod(jd - self.jd_start, self.days)
        k = min(int(k), self.c.shape[0] - 1)
        if k == self.c.shape[0] - 1 and rest == 0.0 and jd == self.jd_end:
            rest = self.days
        x = 2.0 * rest / self.days - 1.0
        t = np.empty(self.n)
        dt = np.empty(self.n)
        t[0], t[1] = 1.0, x
        dt[0], dt[1] = 0.0, 1.0
        for i in range(2, self.n):
            t[i] = 2.0 * x * t[i - 1] - t[i - 2]
            dt[i] = 2.0 * t[i - 1] + 2.0 * x * dt[i - 1] - dt[i - 2]
        c = self.c[k]
        return c @ t, (c @ dt) * (2.0 / self.days)


class De421:
    """The ephemeris; use :func:`de421` for the shared instance."""

    def __init__(self):
        import de421 as package
        from jplephem import Ephemeris

        eph = Ephemeris(package)
        self.emrat = float(eph.EMRAT)
        self.au_km = float(eph.AU)
        self.gm_km3_s2 = {  # DE421's GM values, AU^3/day^2 converted
            "sun": float(eph.GMS) * self.au_km ** 3 / SECONDS_PER_DAY ** 2,
            "earth": float(eph.GMB) / (1.0 + 1.0 / self.emrat) * self.au_km ** 3 / SECONDS_PER_DAY ** 2,
            "moon": float(eph.GMB) / (1.0 + self.emrat) * self.au_km ** 3 / SECONDS_PER_DAY ** 2,
        }
        self._series = {name: _Series(eph.load(name), float(eph.jalpha), float(eph.jomega))
                        for name in ("moon", "earthmoon", "sun", "librations")}

    def earth_from_moon_m(self, t_s: float) -> np.ndarray:
        """The Earth's centre relative to the Moon's, ICRF axes, metres."""
        return -1e3 * self._series["moon"](tdb_jd(t_s))[0]

    def sun_from_moon_m(self, t_s: float) -> np.ndarray:
        """The Sun's centre relative to the Moon's, ICRF axes, metres."""
        jd = tdb_jd(t_s)
        moon_share = self.emrat / (1 + self.emrat)
        moon = self._series["earthmoon"](jd)[0] + self._series["moon"](jd)[0] * moon_share
        return 1e3 * (self._series["sun"](jd)[0] - moon)

    def libration_angles(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(phi, theta, psi) in radians and their rates in rad/s."""
        angles, per_day = self._series["librations"](tdb_jd(t_s))
        return angles, per_day / SECONDS_PER_DAY


@functools.cache
def de421() -> De421:
    return De421()
