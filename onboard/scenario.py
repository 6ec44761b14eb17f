"""Scenario files (TOML): what ``lunarelay emulate`` runs.

Loading checks every field (type, range, finiteness: TOML's ``nan`` and ``inf`` are refused) and
refuses fields nothing uses, reporting errors as ``file:line: field: problem``
(``onboard.tomlfields``), so a typo in a scenario is found before any process starts.  The first
``[[relay]]`` is the one whose links are emulated; a further relay is a navigation node, whose
AFS frames ``lunarelay emulate`` writes from its orbit.  A table that another part of the
installation reads from the same file is checked by the reader installed for it (entry point
group ``lunarelay.scenario_tables``, ``onboard.plugins``): ``[siggen]``, the signal plan of
``lunarelay siggen``, is checked as ``hil.scenario_signal`` reads it, and ``[world]``, the truth
world the run takes place in (a constellation file: the relays' orbits, the navigation nodes, the
surface users' sites and the ground station's antennas; the run's start time), as
``hil.world.scenario_world`` reads it.  What such a reader returns is kept in
:attr:`Scenario.tables`, for the parts of the installation that use it (``lunarelay emulate``
computes the contacts from the world's geometry when the scenario gives no ``[[contact]]``).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import pathlib
from typing import Any

from onboard import plugins
from onboard.errors import LunarelayError
from onboard.tomlfields import Table, TomlDoc


class ScenarioError(LunarelayError):
    pass


@dataclasses.dataclass(frozen=True)
class RelayOrbit:
    """Osculating Keplerian elements in the Moon-centred inertial frame of
    :mod:`onboard.nav.lunar_orbit` (lunar equator, mean Earth direction) at AFS time WN/TOW."""

    epoch_wn: int
    epoch_tow_s: float
    a_km: float
    e: float
    i_deg: float
    raan_deg: float
    argp_deg: float
    m0_deg: float


@dataclasses.dataclass(frozen=True)
class RelayClock:
    """The node clock's offset from AFS system time at the orbit epoch (onboard.nav.node_clock)."""

    bias_s: float = 0.0
    drift_s_s: float = 0.0
    drift_rate_s_s2: float = 0.0


@dataclasses.dataclass(frozen=True)
class Relay:
    name: str
    scid: int | None                   # link fields: the first relay's only
    frame_length: int | None
    afs_prn: int | None = None         # the PRN of the relay's AFS navigation signal
    orbit: RelayOrbit | None = None
    clock: RelayClock = RelayClock()


@dataclasses.dataclass(frozen=True)
class SurfaceUser:
    name: str
    apid: int
    packet_length: int
    packets_per_s: float


@dataclasses.dataclass(frozen=True)
class DownlinkSpec:
    """The TM link of the relay (CCSDS 131.0-B-4 coding of 132.0-B-3 frames)."""

    frame_rate_hz: float = 10.0        # TM frames per emulated second, idle frames included
    rs_interleave: int = 5             # RS(255,223) interleave depth; 0: no Reed-Solomon
    conv: str = "none"                 # convolutional code rate: none, 1/2, 2/3, 3/4, 5/6, 7/8
    randomize: bool = True


CONV_CHOICES = ("none", "1/2", "2/3", "3/4", "5/6", "7/8")


@dataclasses.dataclass(frozen=True)
class UplinkSpec:
    """The TC link of the relay (CCSDS 231.0-B-4 CLTUs of 232.0-B-4 frames)."""

    randomize: bool = True             # the TC randomizer (231.0-B-4 §6) on every frame


@dataclasses.dataclass(frozen=True)
class Contact:
    """A window in which the ground station sees the relay, in emulated seconds from the start;
    ``antenna`` names the station antenna in use when the window comes from geometry."""

    start_s: float
    end_s: float
    antenna: str = ""


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    time_scale: float
    relays: tuple[Relay, ...]
    surface_users: tuple[SurfaceUser, ...]
    ground_station: str
    source: str
    downlink: DownlinkSpec = DownlinkSpec()
    uplink: UplinkSpec = UplinkSpec()
    contacts: tuple[Contact, ...] = ()     # none given: the ground sees the relay all the time
    # table name -> what the installed reader of that table made of it ([world], [siggen])
    tables: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def in_view(self, t_s: float) -> bool:
        """Whether the ground sees the relay at ``t_s`` emulated seconds from the start."""
        return not self.contacts or any(c.start_s <= t_s < c.end_s for c in self.contacts)

    def antenna_at(self, t_s: float) -> str:
        """The station antenna in use at ``t_s`` ("" out of view or when the plan names none)."""
        return next((c.antenna for c in self.contacts if c.start_s <= t_s < c.end_s), "")


RS_INTERLEAVE_DEPTHS = (0, 1, 2, 3, 4, 5, 8)     # 131.0-B-4 §4.3.7: 1 to 5 and 8; 0: no RS
USER_APIDS = (0x100, 0x1FF)                    # the surface-user block of the bus (msgids.toml)


def parse_scenario(text: str, source: str) -> Scenario:
    doc = TomlDoc(text, source, ScenarioError)
    root = doc.root
    top = root.table("scenario", required=True)
    if "step_s" in top:
        raise top.fail("step_s", "no longer a field: the emulation clock runs continuously, at the rate "
                                 "time_scale sets; remove it")
    name = top.get("name", str)
    description = top.get("description", str, "")
    duration_s = top.get("duration_s", float, above=0.0, hi=1e7)
    time_scale = top.get("time_scale", float, 0.0, lo=0.0, hi=1e6)
    top.finish()
    relays = _relays(root.tables("relay"), root)
    users = _surface_users(root.tables("surface_user"))
    ground = root.table("ground_station", required=True)
    ground_name = ground.get("name", str)
    ground.finish()
    downlink = _downlink(root.table("downlink"), relays[0], root)
    up = root.table("uplink")
    uplink = UplinkSpec(up.get("randomize", bool, UplinkSpec.randomize))
    up.finish()
    contacts = _contacts(root.tables("contact"), duration_s)
    tables = _installed_tables(root)
    root.finish()
    return Scenario(name=name, description=description, duration_s=duration_s, time_scale=time_scale,
                    relays=relays, surface_users=users, ground_station=ground_name, source=source,
                    downlink=downlink, uplink=uplink, contacts=contacts, tables=tables)


def _installed_tables(root: Table) -> dict[str, Any]:
    """Tables another part of the installation reads from the same file (the signal plan of
    ``lunarelay siggen``, the world of the run), checked here by the reader installed for each."""
    return {table: plugins.load(plugins.SCENARIO_TABLES, table, "scenario table reader")(root.table(table))
            for table in plugins.names(plugins.SCENARIO_TABLES) if table in root}


def _relays(tables: list[Table], root: Table) -> tuple[Relay, ...]:
    if not tables:
        raise root.fail("relay", "a scenario needs at least one relay ([[relay]])")
    relays: list[Relay] = []
    for i, t in enumerate(tables):
        name = t.get("name", str)
        if i == 0:
            # the first relay is the one whose links (TM down, TC up, Proximity-1) are emulated
            scid = t.get("scid", int, lo=0, hi=0x3FF)
            frame_length = t.get("frame_length", int, lo=16, hi=2048)
            afs_prn = t.get("afs_prn", int, None, lo=1, hi=210)
        else:
            for link_field in ("scid", "frame_length"):
                if link_field in t:
                    raise t.fail(link_field, "only the first relay's links are emulated; a further relay is "
                                             "a navigation node (name, afs_prn, orbit, clock)")
            scid = frame_length = None
            afs_prn = t.get("afs_prn", int, lo=1, hi=210)
            if "orbit" not in t:
                raise t.fail("orbit", "missing table: a further relay is a navigation node, whose AFS frames "
                                      "come from its orbit")
        orbit_table = t.optional_table("orbit")
        orbit = _orbit(orbit_table) if orbit_table is not None else None
        clock = _clock(t.table("clock"))
        for j, other in enumerate(relays):
            if other.name == name:
                raise t.fail("name", f"relay[{j}] is already named {name!r}")
            if afs_prn is not None and other.afs_prn == afs_prn:
                raise t.fail("afs_prn", f"AFS PRN {afs_prn} is already relay[{j}]'s")
        t.finish()
        relays.append(Relay(name, scid, frame_length, afs_prn, orbit, clock))
    return tuple(relays)


def _orbit(o: Table) -> RelayOrbit:
    angle = dict(lo=-360.0, hi=360.0)
    orbit = RelayOrbit(o.get("epoch_wn", int, lo=0, hi=8191),
                       o.get("epoch_tow_s", float, lo=0.0, hi=604799.0),
                       o.get("a_km", float, lo=1740.0, hi=70000.0), o.get("e", float, lo=0.0, hi=0.95),
                       o.get("i_deg", float, lo=0.0, hi=180.0), o.get("raan_deg", float, **angle),
                       o.get("argp_deg", float, **angle), o.get("m0_deg", float, **angle))
    o.finish()
    return orbit


def _clock(c: Table) -> RelayClock:
    d = RelayClock()
    # the broadcast af0 (22 bits of 2^-31 s) and af1 (16 bits of 2^-43) must hold them
    clock = RelayClock(c.get("bias_s", float, d.bias_s, lo=-9e-4, hi=9e-4),
                       c.get("drift_s_s", float, d.drift_s_s, lo=-3e-9, hi=3e-9),
                       c.get("drift_rate_s_s2", float, d.drift_rate_s_s2, lo=-1e-12, hi=1e-12))
    c.finish()
    return clock


def _surface_users(tables: list[Table]) -> tuple[SurfaceUser, ...]:
    users: list[SurfaceUser] = []
    from onboard.bus.packet import HEADER_LEN as BUS_HEADERS_LEN
    from onboard.core.prox1 import HEADER_LEN, MAX_FRAME_LEN

    longest = MAX_FRAME_LEN - HEADER_LEN - BUS_HEADERS_LEN        # a packet fits one Proximity-1 frame
    for t in tables:
        user = SurfaceUser(t.get("name", str), t.get("apid", int, lo=USER_APIDS[0], hi=USER_APIDS[1]),
                           t.get("packet_length", int, lo=4, hi=longest),
                           t.get("packets_per_s", float, above=0.0, hi=1e4))
        for j, other in enumerate(users):
            if other.name == user.name:
                raise t.fail("name", f"surface_user[{j}] is already named {user.name!r}")
            if other.apid == user.apid:
                raise t.fail("apid", f"APID {user.apid:#x} is already surface_user[{j}]'s")
        t.finish()
        users.append(user)
    return tuple(users)


def _contacts(tables: list[Table], duration_s: float) -> tuple[Contact, ...]:
    contacts: list[Contact] = []
    for t in tables:
        c = Contact(t.get("start_s", float, lo=0.0), t.get("end_s", float, lo=0.0))
        if c.end_s <= c.start_s:
            raise t.fail("end_s", f"{c.end_s} must be after start_s {c.start_s}")
        if contacts and c.start_s < contacts[-1].end_s:
            raise t.fail("start_s", f"{c.start_s} is before the end of the previous contact "
                                    f"({contacts[-1].end_s}): give contacts in time order, without overlap")
        if c.start_s >= duration_s:
            raise t.fail("start_s", f"{c.start_s} is not before the end of the run ({duration_s} s): "
                                    "the contact would never be used")
        t.finish()
        contacts.append(c)
    return tuple(contacts)


def _downlink(dl: Table, relay: Relay, root: Table) -> DownlinkSpec:
    d = DownlinkSpec()
    # without a [downlink] table: RS where the frame length allows it (131.0-B-4 §4.3.7)
    depth, extra = divmod(relay.frame_length, 223)
    auto_depth = depth if not extra and depth in RS_INTERLEAVE_DEPTHS else 0
    spec = DownlinkSpec(dl.get("frame_rate_hz", float, d.frame_rate_hz, lo=0.1, hi=1e5),
                        dl.get("rs_interleave", int, auto_depth, choices=RS_INTERLEAVE_DEPTHS),
                        dl.get("conv", str, d.conv, choices=CONV_CHOICES),
                        dl.get("randomize", bool, d.randomize))
    if spec.rs_interleave and relay.frame_length != 223 * spec.rs_interleave:
        raise dl.fail("rs_interleave", f"RS(255,223) at depth {spec.rs_interleave} needs "
                                       f"{223 * spec.rs_interleave}-octet frames; relay[0].frame_length is "
                                       f"{relay.frame_length}")
    dl.finish()
    return spec


def default_key_file() -> str:
    """The SDLS key file of the pure-software emulation (its keys are public)."""
    return str(importlib.resources.files("onboard.scenarios") / "sdls_keys.toml")


def load_scenario(path: str | pathlib.Path | None = None) -> Scenario:
    """Load a scenario file, or the built-in default scenario when ``path`` is None."""
    if path is None:
        ref = importlib.resources.files("onboard.scenarios") / "default.toml"
        return parse_scenario(ref.read_text(), "default.toml")
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror}") from None
    return parse_scenario(text, str(path))
