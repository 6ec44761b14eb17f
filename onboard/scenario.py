"""Scenario files (TOML): what ``lunarelay emulate`` runs.

Loading validates every field and reports errors as ``file:line: field: problem``,
so a typo in a scenario is found before any process starts.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import pathlib
import re
import tomllib
from typing import Any

from onboard.errors import LunarelayError


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
    scid: int
    frame_length: int
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
    """A window in which the ground station sees the relay, in emulated seconds from the start."""

    start_s: float
    end_s: float


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    step_s: float
    time_scale: float
    relays: tuple[Relay, ...]
    surface_users: tuple[SurfaceUser, ...]
    ground_station: str
    source: str
    downlink: DownlinkSpec = DownlinkSpec()
    uplink: UplinkSpec = UplinkSpec()
    contacts: tuple[Contact, ...] = ()     # none given: the ground sees the relay all the time

    def in_view(self, t_s: float) -> bool:
        """Whether the ground sees the relay at ``t_s`` emulated seconds from the start."""
        return not self.contacts or any(c.start_s <= t_s < c.end_s for c in self.contacts)


def _line_of(text: str, key: str, occurrence: int = 0) -> int:
    """Best-effort line number of the ``occurrence``-th ``key = ...`` in the file."""
    hits = [m.start() for m in re.finditer(rf"(?m)^\s*{re.escape(key)}\s*=", text)]
    if not hits:
        return 0
    return text.count("\n", 0, hits[min(occurrence, len(hits) - 1)]) + 1


class _Fields:
    """Reads typed fields from one table and names file, line and field in every error."""

    def __init__(self, source: str, text: str, table: dict[str, Any], where: str, index: int = 0):
        self.source, self.text, self.table, self.where, self.index = source, text, table, where, index

    def fail(self, key: str, problem: str) -> ScenarioError:
        line = _line_of(self.text, key, self.index) or _line_of(self.text, self.where.strip("[]"))
        return ScenarioError(f"{self.source}:{line}: {self.where}.{key}: {problem}")

    def get(self, key: str, kind: type, default: Any = None, lo: float | None = None,
            hi: float | None = None) -> Any:
        if key not in self.table:
            if default is None:
                raise self.fail(key, "missing")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise self.fail(key, f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        if lo is not None and value < lo or hi is not None and value > hi:
            raise self.fail(key, f"{value!r} is outside [{lo}, {hi}]")
        return value


def parse_scenario(text: str, source: str) -> Scenario:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    if "scenario" not in doc:
        raise ScenarioError(f"{source}:0: [scenario]: missing table")
    top = _Fields(source, text, doc["scenario"], "scenario")
    relays = []
    for i, table in enumerate(doc.get("relay", [])):
        f = _Fields(source, text, table, f"relay[{i}]", i)
        relays.append(Relay(f.get("name", str), f.get("scid", int, lo=0, hi=0x3FF),
                            f.get("frame_length", int, lo=16, hi=2048),
                            f.get("afs_prn", int, lo=1, hi=210) if "afs_prn" in table else None,
                            *_relay_nav(source, text, table, i)))
    users = []
    for i, table in enumerate(doc.get("surface_user", [])):
        f = _Fields(source, text, table, f"surface_user[{i}]", i)
        users.append(SurfaceUser(f.get("name", str), f.get("apid", int, lo=0, hi=2046),
                                 f.get("packet_length", int, lo=1, hi=65536),
                                 f.get("packets_per_s", float, lo=0.0, hi=1e6)))
    if not relays:
        raise ScenarioError(f"{source}:0: [[relay]]: a scenario needs at least one relay")
    ground = _Fields(source, text, doc.get("ground_station", {}), "ground_station")
    scenario = Scenario(
        name=top.get("name", str),
        description=top.get("description", str, default=""),
        duration_s=top.get("duration_s", float, lo=0.0),
        step_s=top.get("step_s", float, lo=1e-6),
        time_scale=top.get("time_scale", float, default=0.0, lo=0.0),
        relays=tuple(relays),
        surface_users=tuple(users),
        ground_station=ground.get("name", str),
        source=source,
    )
    up = _Fields(source, text, doc.get("uplink", {}), "uplink")
    return dataclasses.replace(scenario, downlink=_downlink(source, text, doc, relays[0]),
                               uplink=UplinkSpec(up.get("randomize", bool, UplinkSpec.randomize)),
                               contacts=_contacts(source, text, doc))


def _contacts(source: str, text: str, doc: dict[str, Any]) -> tuple[Contact, ...]:
    contacts: list[Contact] = []
    for i, table in enumerate(doc.get("contact", [])):
        f = _Fields(source, text, table, f"contact[{i}]", i)
        c = Contact(f.get("start_s", float, lo=0.0), f.get("end_s", float, lo=0.0))
        if c.end_s <= c.start_s:
            raise f.fail("end_s", f"{c.end_s} must be after start_s {c.start_s}")
        if contacts and c.start_s < contacts[-1].end_s:
            raise f.fail("start_s", f"{c.start_s} is before the end of the previous contact "
                         f"({contacts[-1].end_s}): give contacts in time order, without overlap")
        contacts.append(c)
    return tuple(contacts)


def _relay_nav(source: str, text: str, table: dict[str, Any], i: int) -> tuple[RelayOrbit | None, RelayClock]:
    orbit = None
    if "orbit" in table:
        o = _Fields(source, text, table["orbit"], f"relay[{i}].orbit", i)
        angle = dict(lo=-360.0, hi=360.0)
        orbit = RelayOrbit(o.get("epoch_wn", int, lo=0, hi=8191),
                           o.get("epoch_tow_s", float, lo=0.0, hi=604799.0),
                           o.get("a_km", float, lo=1740.0, hi=70000.0), o.get("e", float, lo=0.0, hi=0.95),
                           o.get("i_deg", float, lo=0.0, hi=180.0), o.get("raan_deg", float, **angle),
                           o.get("argp_deg", float, **angle), o.get("m0_deg", float, **angle))
    c = _Fields(source, text, table.get("clock", {}), f"relay[{i}].clock", i)
    d = RelayClock()
    # the broadcast af0 (22 bits of 2^-31 s) and af1 (16 bits of 2^-43) must hold them
    clock = RelayClock(c.get("bias_s", float, d.bias_s, lo=-9e-4, hi=9e-4),
                       c.get("drift_s_s", float, d.drift_s_s, lo=-3e-9, hi=3e-9),
                       c.get("drift_rate_s_s2", float, d.drift_rate_s_s2, lo=-1e-12, hi=1e-12))
    return orbit, clock


def _downlink(source: str, text: str, doc: dict[str, Any], relay: Relay) -> DownlinkSpec:
    dl = _Fields(source, text, doc.get("downlink", {}), "downlink")
    d = DownlinkSpec()
    # without a [downlink] table: RS where the frame length allows it (131.0-B-4 §4.3.7)
    depth, extra = divmod(relay.frame_length, 223)
    auto_depth = depth if not extra and 1 <= depth <= 8 else 0
    spec = DownlinkSpec(dl.get("frame_rate_hz", float, d.frame_rate_hz, lo=0.1, hi=1e5),
                        dl.get("rs_interleave", int, auto_depth, lo=0, hi=8),
                        dl.get("conv", str, d.conv), dl.get("randomize", bool, d.randomize))
    if spec.conv not in CONV_CHOICES:
        raise dl.fail("conv", f"{spec.conv!r} is not one of {', '.join(CONV_CHOICES)}")
    if spec.rs_interleave and relay.frame_length != 223 * spec.rs_interleave:
        raise dl.fail("rs_interleave", f"RS(255,223) at depth {spec.rs_interleave} needs "
                      f"{223 * spec.rs_interleave}-octet frames; relay[0].frame_length is "
                      f"{relay.frame_length}")
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
