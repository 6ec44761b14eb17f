"""Contacts from geometry: when a ground station or a surface user can talk to a relay.

- **Ground station <-> relay**: the relay is above the station's elevation mask (WGS-84 local
  horizon) and the Moon is not in the way (the straight line between them misses the 1737.4 km
  sphere).  The station turns with the Earth by the Earth Rotation Angle (IERS Conventions 2010
  eq. 5.15) with UT1 taken as GPS - 18 s; precession, nutation and polar motion are left out, a
  simple model that places the station within about 0.4 deg of its true direction in 2026, and
  light time (1.3 s) is ignored: both move window edges by seconds at most.
- **Surface user <-> relay**: the relay is above the user's local elevation mask (Moon ME
  frame, :mod:`hil.world.frames`).

Windows are found on a grid (``step_s``) and their edges refined by bisection to
``tolerance_s``; they are returned in emulated seconds, i.e. seconds since the ``start_s`` given.

What the navigation nodes give a surface user: how many are above its mask
(:func:`nodes_in_view`) and the PDOP of a fix from them (:func:`site_pdop`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from hil.world import frames
from hil.world.constellation import Constellation, Site
from hil.world.ephemeris import de421
from onboard.nav.gps_ephemeris import elevation_azimuth as wgs84_elevation_azimuth
from onboard.nav.gps_ephemeris import llh_to_ecef

LEAP_SECONDS_GPS_UTC = 18.0  # UTC = GPS - 18 s since 2017-01-01


@dataclasses.dataclass(frozen=True)
class ContactWindow:
    a: str  # station or user
    b: str  # relay
    start_s: float  # emulated seconds since the start of the run
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def earth_rotation_angle(t_s: float) -> float:
    """ERA (rad) at AFS time ``t_s`` with UT1 = GPS - 18 s (IERS Conventions 2010 eq. 5.15)."""
    jd_ut1 = 2444244.5 + (t_s - LEAP_SECONDS_GPS_UTC) / 86400.0
    du = jd_ut1 - 2451545.0
    return (2.0 * math.pi * (0.7790572732640 + 1.00273781191135448 * du)) % (2.0 * math.pi)


def relay_ecef_m(r_mci, t_s: float) -> np.ndarray:
    """A Moon-centred MCI position as an Earth-fixed one (m), by the ERA model above."""
    r_geo_icrf = frames.icrf_to_mci().T @ np.asarray(r_mci, float) - de421().earth_from_moon_m(t_s)
    return frames.r3(earth_rotation_angle(t_s)) @ r_geo_icrf


def moon_blocks(a_m: np.ndarray, b_m: np.ndarray, moon_m: np.ndarray,
                radius_m: float = frames.R_MOON_M) -> bool:
    """Whether the segment a-b passes through the sphere of ``radius_m`` about ``moon_m``."""
    d = b_m - a_m
    k = float(np.clip((moon_m - a_m) @ d / (d @ d), 0.0, 1.0))
    return float(np.linalg.norm(a_m + k * d - moon_m)) < radius_m


def station_sees(station: Site, r_mci, t_s: float) -> bool:
    rx = llh_to_ecef(station.lat_deg, station.lon_deg, station.height_m)
    sat = relay_ecef_m(r_mci, t_s)
    el, _ = wgs84_elevation_azimuth(rx, sat)
    if math.degrees(float(el)) < station.elevation_mask_deg:
        return False
    moon = relay_ecef_m(np.zeros(3), t_s)
    return not moon_blocks(np.asarray(rx, float), sat, moon)


def user_sees(user: Site, r_mci, t_s: float) -> bool:
    here = frames.llh_to_fixed(user.lat_deg, user.lon_deg, user.height_m)
    there = frames.moon_fixed_rotation(t_s, "me") @ np.asarray(r_mci, float)
    return frames.elevation_azimuth(here, there)[0] >= user.elevation_mask_deg


def windows(visible: Callable[[float], bool], start_s: float, duration_s: float, step_s: float = 60.0,
            tolerance_s: float = 1.0) -> list[tuple[float, float]]:
    """Intervals of [start_s, start_s + duration_s] where ``visible(t)`` holds, in seconds since
    start_s; a window open at either end is cut there."""
    if not duration_s > 0 or not step_s > 0:
        raise ValueError(f"duration {duration_s} s and step {step_s} s must be positive")
    times = start_s + np.append(np.arange(0.0, duration_s, step_s), duration_s)
    flags = [visible(float(t)) for t in times]

    def edge(lo: float, hi: float, rising: bool) -> float:
        while hi - lo > tolerance_s:
            mid = 0.5 * (lo + hi)
            if visible(mid) == rising:
                hi = mid
            else:
                lo = mid
        return hi

    out, opened = [], float(times[0]) if flags[0] else None
    for k in range(1, len(times)):
        if flags[k] and not flags[k - 1]:
            opened = edge(float(times[k - 1]), float(times[k]), True)
        elif flags[k - 1] and not flags[k]:
            out.append((opened - start_s, edge(float(times[k - 1]), float(times[k]), False) - start_s))
            opened = None
    if opened is not None:
        out.append((opened - start_s, duration_s))
    return out


def ground_contacts(c: Constellation, start_s: float, duration_s: float, step_s: float = 60.0
                    ) -> list[ContactWindow]:
    """Every station <-> relay window of the run, by start time."""
    out = []
    for relay in c.relays:
        orbit = c.truth_orbit(relay.elements, start_s + duration_s)
        for station in c.ground_stations:
            def visible(t, station=station, orbit=orbit):
                return station_sees(station, orbit.state(t)[0], t)
            out += [ContactWindow(station.name, relay.name, a, b)
                    for a, b in windows(visible, start_s, duration_s, step_s)]
    return sorted(out, key=lambda w: (w.start_s, w.a))


def surface_contacts(c: Constellation, start_s: float, duration_s: float, step_s: float = 60.0
                     ) -> list[ContactWindow]:
    """Every surface user <-> relay window of the run, by start time."""
    out = []
    for relay in c.relays:
        orbit = c.truth_orbit(relay.elements, start_s + duration_s)
        for user in c.surface_users:
            def visible(t, user=user, orbit=orbit):
                return user_sees(user, orbit.state(t)[0], t)
            out += [ContactWindow(user.name, relay.name, a, b)
                    for a, b in windows(visible, start_s, duration_s, step_s)]
    return sorted(out, key=lambda w: (w.start_s, w.a))


def site_pdop(c: Constellation, user: Site, times_s) -> tuple[np.ndarray, np.ndarray]:
    """How many navigation nodes are above ``user``'s mask at each of ``times_s``, and the PDOP of
    a fix from them (inf with fewer than four, or with four whose geometry leaves the position
    undetermined): sqrt(trace) of the position block of (G^T G)^-1, G's rows the unit vectors
    from the user to each node in view and a 1 for the receiver clock (truth orbits)."""
    times = np.asarray(times_s, float)
    here = frames.llh_to_fixed(user.lat_deg, user.lon_deg, user.height_m)
    rotations = np.array([frames.moon_fixed_rotation(float(t), "me") for t in times])
    user_mci = np.einsum("tji,j->ti", rotations, here)              # R^T @ here, per instant
    zenith = user_mci / np.linalg.norm(user_mci, axis=1)[:, None]
    rows, seen = [], []
    for node in c.nodes:
        d = c.truth_orbit(node.elements, float(times.max())).positions(times) - user_mci
        u = d / np.linalg.norm(d, axis=1)[:, None]
        seen.append(np.degrees(np.arcsin(np.sum(u * zenith, axis=1))) >= user.elevation_mask_deg)
        rows.append(np.concatenate([-u, np.ones((times.size, 1))], axis=1))
    in_view = np.stack(seen, axis=1)                                  # (t, node)
    g = np.stack(rows, axis=1) * in_view[..., None]                   # a node out of view: a zero row
    normal = np.einsum("tki,tkj->tij", g, g)
    counts = in_view.sum(axis=1)
    pdop = np.full(times.size, np.inf)
    solvable = (counts >= 4) & (np.linalg.cond(normal) < 1e9)
    if solvable.any():
        pdop[solvable] = np.sqrt(np.trace(np.linalg.inv(normal[solvable])[:, :3, :3], axis1=1, axis2=2))
    return counts, pdop


def nodes_in_view(c: Constellation, user: Site, times_s) -> np.ndarray:
    """How many navigation nodes are above ``user``'s mask at each of ``times_s``."""
    times = np.asarray(times_s, float)
    counts = np.zeros(times.size, int)
    for node in c.nodes:
        positions = c.truth_orbit(node.elements, float(times.max())).positions(times)
        counts += np.array([user_sees(user, p, float(t)) for t, p in zip(times, positions, strict=True)])
    return counts
