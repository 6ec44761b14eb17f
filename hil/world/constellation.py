"""A lunar constellation as data: navigation nodes, relays, surface users and ground stations.

:func:`load_constellation` reads a TOML file (the Moonlight-like one,
``hil/world/data/moonlight_constellation.toml``, is the default) whose layout that file shows:
``[epoch]`` (WN, TOW of the elements), ``[antenna]`` (the nodes' transmit EIRP and pattern and
the users' receiver), ``[[node]]`` (name, AFS PRN, osculating MCI elements, clock),
``[[relay]]``, ``[[surface_user]]`` (ME latitude, longitude, height) and ``[[ground_station]]``
(WGS-84).  Errors name the file, the line and the field.  :meth:`Constellation.truth_orbit` runs
the truth propagation (:mod:`hil.world.propagation`) of any spacecraft, cached per span.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib

import numpy as np

from hil.world.propagation import ForceModel, TruthOrbit
from onboard.nav.afs_message import SECONDS_PER_WEEK
from onboard.nav.afs_node import NavNode
from onboard.nav.lunar_orbit import KeplerElements, OrbitError
from onboard.nav.node_clock import NodeClock
from onboard.scenario import ScenarioError
from onboard.tomlfields import Table, TomlDoc

DEFAULT_CONSTELLATION = pathlib.Path(__file__).with_name("data") / "moonlight_constellation.toml"
BOLTZMANN_DBW_K_HZ = -228.5991672  # 10 log10(1.380649e-23)
SPEED_OF_LIGHT_M_S = 299792458.0


@dataclasses.dataclass(frozen=True)
class Antenna:
    """Node transmit antenna (boresight at the Moon's centre) and user receiver."""

    eirp_dbw: float
    pattern_off_boresight_deg: tuple[float, ...]
    pattern_relative_db: tuple[float, ...]
    receiver_gain_dbi: float = 0.0
    receiver_noise_temperature_k: float = 300.0

    def gain_db(self, off_boresight_deg) -> np.ndarray | float:
        return np.interp(off_boresight_deg, self.pattern_off_boresight_deg, self.pattern_relative_db)

    def cn0_dbhz(self, range_m, off_boresight_deg, carrier_hz: float):
        """C/N0 at the user: EIRP(angle) - free-space loss + receiver gain - 10 log10(k T)."""
        wavelength = SPEED_OF_LIGHT_M_S / carrier_hz
        fspl = 20.0 * np.log10(4.0 * math.pi * np.asarray(range_m, float) / wavelength)
        n0 = BOLTZMANN_DBW_K_HZ + 10.0 * math.log10(self.receiver_noise_temperature_k)
        return self.eirp_dbw + self.gain_db(off_boresight_deg) - fspl + self.receiver_gain_dbi - n0


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    afs_prn: int
    elements: KeplerElements
    clock: NodeClock

    def nav_node(self) -> NavNode:
        """The node as it flies: its frames from its onboard orbit model started from these
        elements, and its clock (``onboard.nav.afs_node``)."""
        return NavNode(self.afs_prn, self.elements, self.clock)


@dataclasses.dataclass(frozen=True)
class Relay:
    name: str
    elements: KeplerElements


@dataclasses.dataclass(frozen=True)
class Site:
    """A surface user (Moon ME frame, height above 1737.4 km) or a ground station (WGS-84)."""

    name: str
    lat_deg: float
    lon_deg: float
    height_m: float
    elevation_mask_deg: float


@dataclasses.dataclass
class Constellation:
    epoch_s: float
    antenna: Antenna
    nodes: tuple[Node, ...]
    relays: tuple[Relay, ...]
    surface_users: tuple[Site, ...]
    ground_stations: tuple[Site, ...]
    model: ForceModel = ForceModel()
    _orbits: dict = dataclasses.field(default_factory=dict, repr=False)

    def node(self, prn: int) -> Node:
        for n in self.nodes:
            if n.afs_prn == prn:
                return n
        raise KeyError(f"no node with AFS PRN {prn}; the constellation has "
                       f"{', '.join(str(n.afs_prn) for n in self.nodes)}")

    def truth_orbit(self, elements: KeplerElements, end_s: float) -> TruthOrbit:
        """The truth trajectory from ``elements`` to at least ``end_s`` (cached; spans grow by whole
        hours, so a run that needs a little more reuses the last)."""
        key = elements
        orbit = self._orbits.get(key)
        if orbit is None or orbit.end_s < end_s:
            hours = max(1, math.ceil((end_s - elements.epoch_s) / 3600.0 + 1e-9))
            orbit = TruthOrbit.from_elements(elements, elements.epoch_s + hours * 3600.0, self.model)
            self._orbits[key] = orbit
        return orbit


def _elements(f: Table, epoch_s: float) -> KeplerElements:
    e = f.table("elements", required=True)
    try:
        elements = KeplerElements.from_degrees(
            e.get("a_km", float, lo=1737.4), e.get("e", float, lo=0.0, hi=0.99),
            e.get("i_deg", float, lo=0.0, hi=180.0), e.get("raan_deg", float, lo=-360.0, hi=360.0),
            e.get("argp_deg", float, lo=-360.0, hi=360.0), e.get("m0_deg", float, lo=-360.0, hi=360.0),
            epoch_s)
    except OrbitError as exc:
        raise f.fail("elements", str(exc)) from None
    e.finish()
    return elements


def _site(f: Table) -> Site:
    llh = f.numbers("llh", 3)
    if not -90 <= llh[0] <= 90 or not -180 <= llh[1] <= 360:
        raise f.fail("llh", f"latitude {llh[0]} or longitude {llh[1]} is out of range")
    site = Site(f.get("name", str), llh[0], llh[1], llh[2],
                f.get("elevation_mask_deg", float, 5.0, lo=-10.0, hi=90.0))
    f.finish()
    return site


def load_constellation(path: str | pathlib.Path = DEFAULT_CONSTELLATION) -> Constellation:
    """The constellation of a file; one object per file and content, so truth orbits propagated for
    one use serve the next."""
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read constellation: {exc.strerror}") from None
    return _parse_cached(str(path), text)


@functools.lru_cache(maxsize=8)
def _parse_cached(source: str, text: str) -> Constellation:
    return _parse(source, text)


def _parse(source: str, text: str) -> Constellation:
    root = TomlDoc(text, source, ScenarioError).root
    ep = root.table("epoch", required=True)
    epoch_s = ep.get("wn", int, lo=0, hi=8191) * SECONDS_PER_WEEK + ep.get("tow_s", float, lo=0.0,
                                                                           hi=SECONDS_PER_WEEK - 1e-6)
    ep.finish()
    an = root.table("antenna", required=True)
    angles = an.get("pattern_off_boresight_deg", list)
    gains = an.get("pattern_relative_db", list)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (*angles, *gains))
    if not numeric or len(angles) != len(gains) or len(angles) < 2 or list(angles) != sorted(angles):
        raise an.fail("pattern_off_boresight_deg", "needs increasing angles, one relative gain each")
    antenna = Antenna(an.get("eirp_dbw", float, lo=-50.0, hi=80.0), tuple(map(float, angles)),
                      tuple(map(float, gains)), an.get("receiver_gain_dbi", float, 0.0, lo=-50.0, hi=80.0),
                      an.get("receiver_noise_temperature_k", float, 300.0, lo=1.0, hi=1e5))
    an.finish()
    nodes = []
    for f in root.tables("node"):
        c = f.table("clock")
        clock = NodeClock(c.get("bias_s", float, 0.0, lo=-1e-2, hi=1e-2),
                          c.get("drift_s_s", float, 0.0, lo=-1e-6, hi=1e-6),
                          c.get("drift_rate_s_s2", float, 0.0, lo=-1e-9, hi=1e-9), epoch_s)
        c.finish()
        nodes.append(Node(f.get("name", str), f.get("afs_prn", int, lo=1, hi=210), _elements(f, epoch_s),
                          clock))
        f.finish()
    prns = [n.afs_prn for n in nodes]
    if len(set(prns)) != len(prns):
        raise root.fail("node", f"AFS PRNs {prns} repeat")
    relays = []
    for f in root.tables("relay"):
        relays.append(Relay(f.get("name", str), _elements(f, epoch_s)))
        f.finish()
    users = [_site(f) for f in root.tables("surface_user")]
    stations = [_site(f) for f in root.tables("ground_station")]
    root.finish()
    return Constellation(epoch_s, antenna, tuple(nodes), tuple(relays), tuple(users), tuple(stations))
