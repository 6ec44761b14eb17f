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
computes the contacts from the world's geometry when the scenario gives no ``[[contact]]``).  A
``modulation`` in ``[downlink]`` or ``[uplink]`` makes that link run as IQ samples (``RfSpec``; the
modem's limits are checked here too).
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
    rf: RfSpec | None = None           # None: the link carries octets (CADUs), not samples


CONV_CHOICES = ("none", "1/2", "2/3", "3/4", "5/6", "7/8")
DOWNLINK_MODULATIONS = ("bpsk", "qpsk", "oqpsk", "pcm-psk-pm")
UPLINK_MODULATIONS = ("pcm-psk-pm",)
DOPPLER_CHOICES = ("none", "orbit")
UPLINK_SUBCARRIERS_HZ = (8000.0, 16000.0)      # CCSDS 401.0-B §2.2.7: 8 or 16 kHz sine subcarrier
# channel symbols per information bit of each convolutional code rate (131.0-B-4 §3, §4)
CONV_SYMBOLS_PER_BIT = {None: 1.0, "none": 1.0, "1/2": 2.0, "2/3": 1.5, "3/4": 4 / 3, "5/6": 1.2,
                        "7/8": 8 / 7}


def channel_symbol_rate(frame_length: int, rs_interleave: int, conv: str | None, modulation: str,
                        frame_rate_hz: float) -> float:
    """Modulation symbols per second of a TM link sending ``frame_rate_hz`` CADUs a second."""
    from onboard.core.modem import Scheme

    cadu_bits = 8 * (4 + (255 * rs_interleave if rs_interleave else frame_length))
    return frame_rate_hz * cadu_bits * CONV_SYMBOLS_PER_BIT[conv] / Scheme.parse(modulation).bits_per_symbol


@dataclasses.dataclass(frozen=True)
class RfSpec:
    """A link run as IQ samples: the modulation both ends agree on and the channel between them.

    ``symbol_rate`` of the downlink is the one its frame rate makes (CADU symbols times frames
    per second), so emulated time and the sample count agree; the uplink's is its bit rate.
    Noise is one of ``esn0_db`` (per channel symbol) or ``ebn0_db`` (per information bit), none
    for a noiseless channel.  ``doppler = "orbit"`` shifts the carrier by the relay's velocity
    along the Earth direction (``carrier_hz`` sets the scale)."""

    modulation: str
    samples_per_symbol: float = 4.0
    rolloff: float = 0.35
    symbol_rate: float | None = None
    esn0_db: float | None = None
    ebn0_db: float | None = None
    cfo_hz: float = 0.0
    doppler: str = "none"
    carrier_hz: float = 2.2e9
    subcarrier_hz: float = 16000.0
    seed: int = 1


@dataclasses.dataclass(frozen=True)
class UplinkSpec:
    """The TC link of the relay (CCSDS 231.0-B-4 CLTUs of 232.0-B-4 frames)."""

    randomize: bool = True             # the TC randomizer (231.0-B-4 §6) on every frame
    rf: RfSpec | None = None           # None: the link carries CLTU octets, not samples


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
    uplink = UplinkSpec(up.get("randomize", bool, UplinkSpec.randomize), _uplink_rf(up, relays[0]))
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
    spec = dataclasses.replace(spec, rf=_downlink_rf(dl, spec, relay))
    if spec.rs_interleave and relay.frame_length != 223 * spec.rs_interleave:
        raise dl.fail("rs_interleave", f"RS(255,223) at depth {spec.rs_interleave} needs "
                                       f"{223 * spec.rs_interleave}-octet frames; relay[0].frame_length is "
                                       f"{relay.frame_length}")
    dl.finish()
    return spec


def _rf_fields(t: Table, modulation: str, carrier_hz: float, relay_orbit: RelayOrbit | None) -> dict:
    """The fields every modulated link has; checked as the modem accepts them."""
    if t.get("doppler", str, "none", choices=DOPPLER_CHOICES) == "orbit" and relay_orbit is None:
        raise t.fail("doppler", "\"orbit\" needs the relay's orbit ([relay.orbit])")
    fields = dict(modulation=modulation,
                  samples_per_symbol=t.get("samples_per_symbol", float, 4.0, lo=2.0, hi=64.0),
                  rolloff=t.get("rolloff", float, 0.35, lo=0.2, hi=0.5),
                  esn0_db=t.get("esn0_db", float, None, lo=-10.0, hi=60.0),
                  ebn0_db=t.get("ebn0_db", float, None, lo=-10.0, hi=60.0),
                  cfo_hz=t.get("cfo_hz", float, 0.0, lo=-1e5, hi=1e5),
                  doppler=t.get("doppler", str, "none", choices=DOPPLER_CHOICES),
                  carrier_hz=t.get("carrier_hz", float, carrier_hz, lo=1e8, hi=1e11),
                  seed=t.get("seed", int, 1, lo=0, hi=2**63 - 1))
    if fields["esn0_db"] is not None and fields["ebn0_db"] is not None:
        raise t.fail("ebn0_db", "give the noise as esn0_db or ebn0_db, not both")
    return fields


RF_FIELDS = ("samples_per_symbol", "rolloff", "symbol_rate", "esn0_db", "ebn0_db", "cfo_hz", "doppler",
             "carrier_hz", "subcarrier_hz", "seed")


def _no_rf_fields(t: Table) -> None:
    for key in RF_FIELDS:
        if key in t:
            raise t.fail(key, "a field of a modulated link: set modulation too")


def _downlink_rf(dl: Table, spec: DownlinkSpec, relay: Relay) -> RfSpec | None:
    modulation = dl.get("modulation", str, None, choices=DOWNLINK_MODULATIONS)
    if modulation is None:
        _no_rf_fields(dl)
        return None
    fields = _rf_fields(dl, modulation, 2.2e9, relay.orbit)          # S-band space-to-Earth (401.0-B §2.1)
    derived = channel_symbol_rate(relay.frame_length, spec.rs_interleave, spec.conv, modulation,
                                  spec.frame_rate_hz)
    given = dl.get("symbol_rate", float, None, above=0.0)
    if given is not None and abs(given - derived) > 1e-3 * derived:
        raise dl.fail("symbol_rate", f"{given:g} symbols/s does not match the {derived:g} that "
                                     f"{spec.frame_rate_hz:g} frames/s of this coding take; leave it out "
                                     "or set frame_rate_hz to match")
    if modulation == "pcm-psk-pm":
        # a low-rate downlink on a subcarrier a whole number of cycles per symbol (4 by default)
        subcarrier = dl.get("subcarrier_hz", float, 4.0 * derived, above=0.0)
    elif "subcarrier_hz" in dl:
        raise dl.fail("subcarrier_hz", f"{modulation} has no subcarrier")
    else:
        subcarrier = 0.0
    rf = RfSpec(symbol_rate=derived, subcarrier_hz=subcarrier, **fields)
    _check_modem(dl, rf)
    return rf


def _uplink_rf(up: Table, relay: Relay) -> RfSpec | None:
    modulation = up.get("modulation", str, None, choices=UPLINK_MODULATIONS)
    if modulation is None:
        _no_rf_fields(up)
        return None
    fields = _rf_fields(up, modulation, 2.04e9, relay.orbit)         # S-band Earth-to-space (401.0-B §2.1)
    rf = RfSpec(symbol_rate=up.get("symbol_rate", float, 2000.0, lo=7.8125, hi=256000.0),
                subcarrier_hz=up.get("subcarrier_hz", float, 16000.0, choices=UPLINK_SUBCARRIERS_HZ),
                **fields)
    _check_modem(up, rf)
    return rf


def _check_modem(t: Table, rf: RfSpec) -> None:
    """The modem's own limits (whole subcarrier cycles per symbol, samples per cycle), named."""
    if rf.modulation != "pcm-psk-pm":
        return
    cycles = rf.subcarrier_hz / rf.symbol_rate
    if abs(cycles - round(cycles)) > 1e-9 or round(cycles) < 1:
        raise t.fail("symbol_rate", f"{rf.symbol_rate:g} symbols/s on a {rf.subcarrier_hz:g} Hz subcarrier "
                                    f"is {cycles:g} cycles per symbol: it must be a whole number")
    if rf.samples_per_symbol / cycles < 4 or rf.samples_per_symbol != round(rf.samples_per_symbol):
        raise t.fail("samples_per_symbol",
                     f"{rf.samples_per_symbol:g} samples per symbol give "
                     f"{rf.samples_per_symbol / cycles:g} per "
                     "subcarrier cycle: PCM/PSK/PM needs a whole number of samples per symbol and at least 4 "
                     "per cycle")


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
