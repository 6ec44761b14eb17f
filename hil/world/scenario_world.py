"""The ``[world]`` table of a scenario: the truth world a run takes place in, and its contact plan.

    [world]
    constellation = "c.toml"  # optional: a constellation file (hil.world.constellation), named
                              # relative to the scenario; the Moonlight-like one when absent
    start_wn = 2400           # AFS week and time of week of emulated time zero
    start_tow_s = 363780.0

The constellation gives the orbit of the scenario's relay (``[[relay]]`` of the same name), the
navigation nodes whose AFS frames ``lunarelay emulate`` writes, the surface users' sites (by the
names of the scenario's ``[[surface_user]]``) and the ground station's antennas (every
``[[ground_station]]`` of the constellation).  :func:`contact_plan` computes from that geometry
(:mod:`hil.world.contacts`) when the ground sees the relay (through any antenna: the relay is in
view while at least one sees it, and the plan names the one in use) and when each surface user
does.  Scenario loading reads the table through the entry point ``world`` of
``lunarelay.scenario_tables``.
"""

from __future__ import annotations

import dataclasses
import pathlib

from hil.world import contacts
from hil.world.constellation import DEFAULT_CONSTELLATION, Constellation, load_constellation
from onboard.nav.afs_message import SECONDS_PER_WEEK
from onboard.scenario import Contact, ScenarioError
from onboard.tomlfields import Table

# The truth orbits are propagated from the constellation's epoch to the end of the run (about a
# second per day of lunar gravity and third bodies), so a run starts within this of the epoch.
MAX_START_AFTER_EPOCH_S = 7 * 86400.0
GRID_S = 10.0       # visibility is sampled this often, then each edge is bisected
TOLERANCE_S = 0.5   # to this


@dataclasses.dataclass(frozen=True)
class World:
    constellation_path: str
    start_s: float      # AFS system time of emulated time zero

    @property
    def constellation(self) -> Constellation:
        return load_constellation(self.constellation_path)


@dataclasses.dataclass(frozen=True)
class ContactPlan:
    """The run's contacts from geometry, in emulated seconds from the start."""

    ground: tuple[Contact, ...]                               # relay in view of some antenna
    users: dict[str, tuple[tuple[float, float], ...]]         # surface user -> windows it sees the relay

    def user_sees(self, name: str, t_s: float) -> bool:
        return any(a <= t_s < b for a, b in self.users.get(name, ()))


def world_from_table(t: Table) -> World:
    """The ``[world]`` table, every field checked; errors name the file, the line and the field."""
    name = t.get("constellation", str, None)
    path = DEFAULT_CONSTELLATION if name is None else pathlib.Path(t.doc.source).parent / name
    try:
        constellation = load_constellation(path)
    except ScenarioError as exc:
        raise t.fail("constellation", str(exc)) from None
    except ValueError as exc:                       # a name no file can have (a NUL in it)
        raise t.fail("constellation", f"{name!r} is not a file name: {exc}") from None
    start_s = (t.get("start_wn", int, lo=0, hi=8191) * SECONDS_PER_WEEK
               + t.get("start_tow_s", float, lo=0.0, hi=SECONDS_PER_WEEK - 1e-6))
    after = start_s - constellation.epoch_s
    if not 0.0 <= after <= MAX_START_AFTER_EPOCH_S:
        raise t.fail("start_tow_s", f"the run starts {after / 86400.0:+.3f} days from the constellation's "
                                    f"epoch; it must start within {MAX_START_AFTER_EPOCH_S / 86400.0:g} days "
                                    "after it (the truth orbits are propagated from the epoch)")
    t.finish()
    return World(str(path), start_s)


def contact_plan(world: World, relay: str, users: list[str], duration_s: float) -> ContactPlan:
    """When the ground (any antenna) and each of ``users`` see ``relay`` during the run."""
    c = world.constellation
    by_name = {r.name: r for r in c.relays}
    if relay not in by_name:
        raise ScenarioError(f"{world.constellation_path}: no relay named {relay!r} (the scenario's "
                            f"first relay); the constellation's: {', '.join(by_name) or 'none'}")
    sites = {u.name: u for u in c.surface_users}
    for name in users:
        if name not in sites:
            raise ScenarioError(f"{world.constellation_path}: no surface user named {name!r} (a scenario "
                                f"surface user); the constellation's: {', '.join(sites) or 'none'}")
    if not c.ground_stations:
        raise ScenarioError(f"{world.constellation_path}: no ground station antenna ([[ground_station]])")
    orbit = c.truth_orbit(by_name[relay].elements, world.start_s + duration_s)
    per_antenna = {}
    for station in c.ground_stations:
        def sees(t, station=station):
            return contacts.station_sees(station, orbit.state(t)[0], t)
        per_antenna[station.name] = contacts.windows(sees, world.start_s, duration_s, GRID_S, TOLERANCE_S)
    user_windows = {}
    for name in users:
        def sees(t, user=sites[name]):
            return contacts.user_sees(user, orbit.state(t)[0], t)
        user_windows[name] = tuple(contacts.windows(sees, world.start_s, duration_s, GRID_S, TOLERANCE_S))
    return ContactPlan(handovers(per_antenna), user_windows)


def handovers(per_antenna: dict[str, list[tuple[float, float]]]) -> tuple[Contact, ...]:
    """The union of the antennas' windows, cut where the antenna in use changes: an antenna keeps
    the relay until it loses it, then the one in view that keeps it longest takes over."""
    edges = sorted({t for ws in per_antenna.values() for w in ws for t in w})
    out: list[Contact] = []
    t = edges[0] if edges else 0.0
    while True:
        in_view = [(b, name) for name, ws in per_antenna.items() for a, b in ws if a <= t < b]
        if in_view:
            end, name = max(in_view)
            out.append(Contact(t, end, name))
            t = end
            continue
        later = [a for ws in per_antenna.values() for a, _ in ws if a > t]
        if not later:
            return tuple(out)
        t = min(later)
