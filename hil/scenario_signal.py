"""Signal plans: which navigation channels ``lunarelay siggen`` synthesises, from flags or TOML.

A plan describes what a receiver sees, so it lives with the world (``hil``), not with the flight
software: its GPS channels come from the truth sky over a receiver (``hil.world.gps_sky``), its
AFS channels seen from the Moon from the truth constellation (``hil.world.lunar_sky``), and an
AFS PRN stands for a navigation node (:func:`node_for_prn`) whose frames the node builds from its
own orbit and clock (``onboard.nav.afs_node``).  The ``[siggen]`` table of a scenario file is
read here; scenario loading checks it through the entry point ``siggen`` of
``lunarelay.scenario_tables`` (``onboard.plugins``).

A plan names the sample rate, format, duration, seed and a list of transmitters: a GPS
L1 C/A satellite (one I channel) or an AFS node (AFS-I data channel plus AFS-Q pilot in
quadrature, sharing the node's power 50/50, LSIS-AFS V1.0 §2.3 and Table 3).  :func:`build_synthesizer`
turns a plan into a configured :class:`~onboard.core.siggen.Synthesizer` and the truth
each channel's SigMF annotation records.

Scenario file layout::

    [siggen]
    fs_hz = 4e6
    format = "ci16"          # cf32 | ci16 | ci8
    duration_s = 2.0
    seed = 1
    nav_data = "random"      # random | zero | lsis (AFS: frames from the node's orbit and clock)
    bits = 2                 # optional: ci8 quantised to 2, 3 or 4 bits like a front end's ADC
    [siggen.moon_receiver]   # AFS from the constellation's geometry (nav_data lsis)
    llh = [-89.66, 129.20, 100.0]  # deg, deg, m above the 1737.4 km sphere, Moon ME frame
    wn = 2400
    tow_s = 388800.0         # AFS time of the first sample
    elevation_mask_deg = 5.0 # optional
    ephemeris = "broadcast"  # optional: broadcast | truth (SB2 fitted to the truth orbit)
    code_doppler_carrier_hz = 2492.028e6  # optional: the carrier the Doppler follows
    cn0_dbhz = 45.0          # optional: every node's C/N0 instead of the link budget's
    constellation = "c.toml" # optional: another constellation file (orbits, clocks, antenna)
    # with [siggen.moon_receiver] every node in view is synthesised, unless channels list PRNs;
    # C/N0 comes from the range and the constellation's transmit antenna pattern
    # nav_data = "lnav": GPS LNAV (IS-GPS-200) from the sky seen by [siggen.receiver]
    [siggen.receiver]        # lnav only: where and when the GPS signal is received
    llh = [41.275, 1.987, 80.0]  # deg, deg, m (WGS-84); or ecef_m = [x, y, z]
    gps_week = 2360
    gps_tow_s = 345625.0     # GPS time of the first sample
    elevation_mask_deg = 10.0  # optional
    constellation_seed = 1   # optional: the synthetic constellation's seed
    cn0_dbhz = 45.0          # C/N0 of every visible satellite when no channel is listed
    [[siggen.channel]]       # with lnav: prn and cn0_dbhz; Doppler and code phase come from the sky
    signal = "gps-l1ca"      # gps-l1ca | afs
    prn = 3
    doppler_hz = -1200.0
    cn0_dbhz = 45.0
    code_phase_chips = 100.5 # optional: random when absent
    doppler_rate_hz_s = 0.0  # optional
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib

import numpy as np

from hil.world.constellation import load_constellation
from hil.world.gps_sky import GpsReceiver, GpsSky, SkySynthesizer, build_sky_synthesizer, sky_metadata
from hil.world.lunar_sky import (
    EPHEMERIS_MODES,
    LunarReceiver,
    LunarSky,
    build_lunar_synthesizer,
    lunar_metadata,
)
from hil.world.lunar_sky import pilot_signs as afs_pilot_signs
from onboard.core import codes
from onboard.core.siggen import Component, SampleFormat, Synthesizer
from onboard.links.sigmf import ChannelTruth
from onboard.nav.afs_node import NavNode
from onboard.nav.gps_ephemeris import llh_to_ecef
from onboard.scenario import ScenarioError
from onboard.tomlfields import Table, TomlDoc

GPS_L1_HZ = 1575.42e6  # IS-GPS-200 §3.3.1.1
AFS_CARRIER_HZ = 2492.028e6  # LSIS-020
GPS_LNAV_BPS = 50.0  # IS-GPS-200 §20.3.2: one bit per 20 C/A code epochs
SIGNALS = ("gps-l1ca", "afs")
NAV_DATA = ("random", "zero", "lsis", "lnav")
# Noise at sigma = 1 is written with this scale: room for many channels and 5.8 sigma peaks.
DEFAULT_SCALE = {SampleFormat.CF32: 1.0, SampleFormat.CI16: 2048.0, SampleFormat.CI8: 16.0}
# Epoch of the default constellation's orbits (WN 2400, Thursday 00:00).
DEFAULT_EPOCH_S = load_constellation().epoch_s
# A lunar receiver's default first sample: 12 h after that, when the south pole has all four of its
# nodes in view at PDOP 3.2 (hil/world/data/moonlight_constellation.toml).
DEFAULT_MOON_START_S = DEFAULT_EPOCH_S + 12 * 3600.0


@dataclasses.dataclass(frozen=True)
class Transmitter:
    signal: str
    prn: int
    doppler_hz: float
    cn0_dbhz: float
    code_phase_chips: float | None = None
    doppler_rate_hz_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class SignalPlan:
    fs_hz: float
    fmt: SampleFormat
    duration_s: float
    seed: int
    transmitters: tuple[Transmitter, ...]
    if_hz: float = 0.0
    nav_data: str = "random"
    receiver: GpsReceiver | None = None  # nav_data "lnav": the sky's receiver
    moon_receiver: LunarReceiver | None = None  # AFS from the constellation's geometry
    ephemeris: str = "broadcast"  # with moon_receiver: broadcast | truth
    carrier_hz: float = AFS_CARRIER_HZ  # with moon_receiver: the carrier the Doppler follows
    bits: int | None = None  # ci8 quantised to 2, 3 or 4 bits
    constellation: str | None = None  # with moon_receiver: a constellation file, else the default
    cn0_dbhz: float | None = None  # with moon_receiver: every node's C/N0 instead of the link budget's

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.fs_hz))

    @property
    def center_frequency_hz(self) -> float:
        if self.moon_receiver is not None:
            return self.carrier_hz
        return AFS_CARRIER_HZ if any(t.signal == "afs" for t in self.transmitters) else GPS_L1_HZ


def _check_transmitter(t: Transmitter, where: str) -> None:
    if t.signal not in SIGNALS:
        raise ValueError(f"{where}: unknown signal {t.signal!r}; known: {', '.join(SIGNALS)}")
    prn_max = codes.GPS_L1CA_PRN_MAX if t.signal == "gps-l1ca" else codes.AFS_PRN_MAX
    if not 1 <= t.prn <= prn_max:
        raise ValueError(f"{where}: {t.signal} PRN {t.prn} is outside 1..{prn_max}")
    if not -100e3 <= t.doppler_hz <= 100e3:
        raise ValueError(f"{where}: Doppler {t.doppler_hz} Hz is outside +/-100 kHz")
    if not 0.0 <= t.cn0_dbhz <= 100.0:
        raise ValueError(f"{where}: C/N0 {t.cn0_dbhz} dB-Hz is outside 0..100")


def _check_plan(plan: SignalPlan) -> SignalPlan:
    if not 2e6 <= plan.fs_hz <= 50e6:
        raise ValueError(f"sample rate {plan.fs_hz / 1e6:g} Msps is outside 2..50 Msps")
    if not plan.duration_s > 0:
        raise ValueError(f"duration {plan.duration_s} s must be positive")
    if plan.nav_data not in NAV_DATA:
        raise ValueError(f"navigation data {plan.nav_data!r} is not one of {', '.join(NAV_DATA)}")
    if plan.nav_data == "lnav":
        _check_lnav(plan)
    if plan.moon_receiver is not None:
        _check_moon(plan)
    if plan.bits is not None and (plan.bits not in (2, 3, 4) or plan.fmt != SampleFormat.CI8):
        raise ValueError(f"{plan.bits} bits: quantised output takes 2, 3 or 4 bits, in ci8")
    if not plan.transmitters:
        raise ValueError("a signal plan needs at least one transmitter")
    n_channels = sum(2 if t.signal == "afs" else 1 for t in plan.transmitters)
    if n_channels > 64:
        raise ValueError(f"{n_channels} channels exceed the synthesiser's 64")
    for i, t in enumerate(plan.transmitters):
        _check_transmitter(t, f"transmitter {i + 1}")
    return plan


def _broadcast(values: list[float], n: int, name: str) -> list[float]:
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ValueError(f"{len(values)} {name} values for {n} PRNs; give one, or one per PRN")
    return values


def _check_lnav(plan: SignalPlan) -> None:
    if plan.receiver is None:
        raise ValueError("navigation data lnav needs a receiver (position and GPS time)")
    plan.receiver.check()
    if any(t.signal != "gps-l1ca" for t in plan.transmitters):
        raise ValueError("navigation data lnav is GPS LNAV: every transmitter must be gps-l1ca")
    sky = gps_sky(plan.receiver)
    for t in plan.transmitters:
        if t.prn not in sky.by_prn:
            raise ValueError(f"PRN {t.prn} is not in the synthetic constellation "
                             f"(PRN {min(sky.by_prn)}..{max(sky.by_prn)})")
        elevation = sky.view(t.prn).elevation_deg
        if elevation < plan.receiver.elevation_mask_deg:
            raise ValueError(f"PRN {t.prn} is at {elevation:.1f} deg elevation, below the "
                             f"{plan.receiver.elevation_mask_deg:g} deg mask")


def _check_moon(plan: SignalPlan) -> None:
    plan.moon_receiver.check()
    if plan.ephemeris not in EPHEMERIS_MODES:
        raise ValueError(f"ephemeris {plan.ephemeris!r} is not one of {', '.join(EPHEMERIS_MODES)}")
    if plan.nav_data != "lsis" or any(t.signal != "afs" for t in plan.transmitters):
        raise ValueError("a lunar receiver takes AFS nodes with lsis navigation data")
    if not 1e8 <= plan.carrier_hz <= 1e10:
        raise ValueError(f"code Doppler carrier {plan.carrier_hz / 1e6:g} MHz is outside 100..10000 MHz")


@functools.lru_cache(maxsize=4)
def gps_sky(receiver: GpsReceiver) -> GpsSky:
    """The GPS sky over a receiver (its constellation is made once per receiver)."""
    return GpsSky(receiver)


@functools.lru_cache(maxsize=4)
def lunar_sky(plan: SignalPlan) -> LunarSky:
    """The lunar sky of a plan (its truth orbits are propagated once per plan)."""
    constellation = load_constellation(plan.constellation) if plan.constellation else None
    return LunarSky(plan.moon_receiver, constellation, plan.duration_s, plan.ephemeris, plan.carrier_hz,
                    plan.cn0_dbhz)


def lunar_transmitters(receiver: LunarReceiver, prns: list[int], duration_s: float,
                       ephemeris: str = "broadcast", carrier_hz: float = AFS_CARRIER_HZ,
                       constellation: str | None = None, cn0_dbhz: float | None = None
                       ) -> tuple[Transmitter, ...]:
    """The nodes ``prns``, or every node above the receiver's mask at the start when empty, with
    their Doppler and C/N0 (link budget, or ``cn0_dbhz``) at the start; a node below the mask is
    refused."""
    receiver.check()
    if cn0_dbhz is not None and not 0.0 <= cn0_dbhz <= 100.0:
        raise ValueError(f"C/N0 {cn0_dbhz} dB-Hz is outside 0..100")
    probe = SignalPlan(2e6, SampleFormat.CI8, duration_s, 0, (), nav_data="lsis", moon_receiver=receiver,
                       ephemeris=ephemeris, carrier_hz=carrier_hz, constellation=constellation,
                       cn0_dbhz=cn0_dbhz)
    sky = lunar_sky(probe)
    if prns:
        views = []
        for prn in prns:
            try:
                view = sky.view(prn)
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
            if view.elevation_deg < receiver.elevation_mask_deg:
                raise ValueError(f"AFS node PRN {prn} is at {view.elevation_deg:.1f} deg elevation, "
                                 f"below the {receiver.elevation_mask_deg:g} deg mask")
            views.append(view)
    else:
        views = sky.visible()
        if not views:
            raise ValueError("no AFS node is above the receiver's elevation mask at the start time")
    return tuple(Transmitter("afs", v.prn, v.doppler_hz, v.cn0_dbhz) for v in views)


def lnav_transmitters(receiver: GpsReceiver, prns: list[int], cn0s_dbhz: list[float]
                      ) -> tuple[Transmitter, ...]:
    """The sky's GPS satellites: ``prns``, or every one above the mask when empty; Doppler at the start."""
    sky = gps_sky(receiver)
    prns = prns or [v.prn for v in sky.visible()]
    cn0s = _broadcast(cn0s_dbhz, len(prns), "C/N0")
    return tuple(Transmitter("gps-l1ca", p, sky.view(p).doppler_hz if p in sky.by_prn else 0.0, c)
                 for p, c in zip(prns, cn0s, strict=True))


def plan_from_flags(signal: str, prns: list[int], dopplers_hz: list[float], cn0s_dbhz: list[float],
                    fs_hz: float, fmt: str, duration_s: float, seed: int, if_hz: float = 0.0,
                    nav_data: str = "random", receiver: GpsReceiver | None = None,
                    moon_receiver: LunarReceiver | None = None, ephemeris: str = "broadcast",
                    carrier_hz: float = AFS_CARRIER_HZ, bits: int | None = None,
                    cn0_dbhz: float | None = None) -> SignalPlan:
    """A plan from command-line values; with nav_data "lnav" the receiver's sky sets the Doppler
    and an empty ``prns`` means every satellite above the mask; with a ``moon_receiver`` the
    constellation's AFS nodes in view (lsis data, geometry, and the link budget's C/N0 unless
    ``cn0_dbhz`` sets every node's)."""
    if moon_receiver is not None:
        if signal != "afs":
            raise ValueError("a lunar receiver takes the AFS signal")
        if nav_data not in ("lsis", "random"):
            raise ValueError(f"a lunar receiver takes lsis navigation data, not {nav_data}")
        transmitters = lunar_transmitters(moon_receiver, prns, duration_s, ephemeris, carrier_hz,
                                          cn0_dbhz=cn0_dbhz)
        return _check_plan(SignalPlan(fs_hz, SampleFormat.parse(fmt), duration_s, seed, transmitters, if_hz,
                                      "lsis", None, moon_receiver, ephemeris, carrier_hz, bits,
                                      cn0_dbhz=cn0_dbhz))
    if nav_data == "lnav":
        if receiver is None:
            raise ValueError("navigation data lnav needs a receiver (position and GPS time)")
        if signal != "gps-l1ca":
            raise ValueError("navigation data lnav is GPS LNAV: the signal must be gps-l1ca")
        transmitters = lnav_transmitters(receiver, prns, cn0s_dbhz)
        return _check_plan(SignalPlan(fs_hz, SampleFormat.parse(fmt), duration_s, seed, transmitters, if_hz,
                                      nav_data, receiver, bits=bits))
    prns = prns or [1]
    dopplers = _broadcast(dopplers_hz, len(prns), "Doppler")
    cn0s = _broadcast(cn0s_dbhz, len(prns), "C/N0")
    transmitters = tuple(Transmitter(signal, p, d, c) for p, d, c in zip(prns, dopplers, cn0s, strict=True))
    return _check_plan(SignalPlan(fs_hz, SampleFormat.parse(fmt), duration_s, seed, transmitters, if_hz,
                                  nav_data, bits=bits))


def _receiver(siggen: Table) -> tuple[GpsReceiver, float]:
    """The ``[siggen.receiver]`` table: the receiver and the C/N0 of satellites not listed."""
    if "receiver" not in siggen:
        raise siggen.fail("receiver", "missing table: navigation data lnav needs the receiver's position "
                                      "and GPS time")
    f = siggen.table("receiver")
    if ("llh" in f) == ("ecef_m" in f):
        raise f.fail("llh", "give exactly one of llh = [lat_deg, lon_deg, height_m] and ecef_m = [x, y, z]")
    key = "llh" if "llh" in f else "ecef_m"
    position = f.numbers(key, 3)
    ecef = llh_to_ecef(*position) if key == "llh" else np.array(position, float)
    receiver = GpsReceiver(tuple(float(v) for v in ecef), f.get("gps_week", int, lo=0, hi=8191),
                           f.get("gps_tow_s", float, lo=0.0, hi=604799.999),
                           f.get("elevation_mask_deg", float, 10.0, lo=-90.0, hi=90.0),
                           f.get("constellation_seed", int, 1, lo=0, hi=2**32 - 1))
    try:
        receiver.check()
    except ValueError as exc:
        raise f.fail(key, str(exc)) from None
    cn0 = f.get("cn0_dbhz", float, 45.0, lo=0.0, hi=100.0)
    f.finish()
    return receiver, cn0


def _moon_receiver(siggen: Table, base: pathlib.Path) -> dict:
    """The ``[siggen.moon_receiver]`` table as SignalPlan fields."""
    f = siggen.table("moon_receiver")
    llh = f.numbers("llh", 3)
    receiver = LunarReceiver.from_week(llh[0], llh[1], llh[2], f.get("wn", int, lo=0, hi=8191),
                                       f.get("tow_s", float, lo=0.0, hi=604799.999),
                                       elevation_mask_deg=f.get("elevation_mask_deg", float, 5.0,
                                                                lo=-10.0, hi=90.0))
    try:
        receiver.check()
    except ValueError as exc:
        raise f.fail("llh", str(exc)) from None
    constellation = f.get("constellation", str, None)
    fields = {"moon_receiver": receiver,
              "ephemeris": f.get("ephemeris", str, "broadcast", choices=EPHEMERIS_MODES),
              "constellation": None if constellation is None else str(base / constellation),
              "carrier_hz": f.get("code_doppler_carrier_hz", float, AFS_CARRIER_HZ, lo=1e8, hi=1e10),
              "cn0_dbhz": f.get("cn0_dbhz", float, None, lo=0.0, hi=100.0)}
    f.finish()
    return fields


def plan_from_table(top: Table, base: pathlib.Path = pathlib.Path(".")) -> SignalPlan:
    """A plan from a ``[siggen]`` table; every field checked, errors name file, line and field.
    ``base`` is the directory a constellation file is named relative to."""
    fmt_name = top.get("format", str, "ci16", choices=("cf32", "ci16", "ci8"))
    nav = top.get("nav_data", str, "random", choices=NAV_DATA)
    moon = "moon_receiver" in top
    sky_sets_geometry = nav == "lnav" or moon
    transmitters = []
    for f in top.tables("channel"):
        signal = f.get("signal", str, choices=SIGNALS)
        prn_max = codes.GPS_L1CA_PRN_MAX if signal == "gps-l1ca" else codes.AFS_PRN_MAX
        prn, cn0 = f.get("prn", int, lo=1, hi=prn_max), f.get("cn0_dbhz", float, lo=0.0, hi=100.0)
        if sky_sets_geometry:
            for sky_field in ("doppler_hz", "code_phase_chips", "doppler_rate_hz_s"):
                if sky_field in f:
                    raise f.fail(sky_field, "the receiver's sky sets Doppler and code phase; a channel "
                                            "gives only signal, prn and cn0_dbhz")
            transmitters.append(Transmitter(signal, prn, 0.0, cn0))
        else:
            transmitters.append(Transmitter(
                signal, prn, f.get("doppler_hz", float, lo=-100e3, hi=100e3), cn0,
                f.get("code_phase_chips", float, None, lo=0.0, hi=1e6),
                f.get("doppler_rate_hz_s", float, 0.0, lo=-1e4, hi=1e4)))
        f.finish()
    receiver = None
    if nav != "lnav" and "receiver" in top:
        raise top.fail("receiver", 'the receiver is used only with nav_data = "lnav"')
    if nav == "lnav":
        receiver, cn0 = _receiver(top)
        cn0s = [t.cn0_dbhz for t in transmitters] or [cn0]
        transmitters = list(lnav_transmitters(receiver, [t.prn for t in transmitters], cn0s))
    bits = top.get("bits", int, None, lo=2, hi=4)
    duration = top.get("duration_s", float, above=0.0, hi=1e6)
    moon_fields: dict = {}
    if moon:
        if nav not in ("lsis", "random"):
            raise top.fail("nav_data", f"a lunar receiver takes lsis navigation data, not {nav!r}")
        nav = "lsis"
        moon_fields = _moon_receiver(top, base)
        try:
            m = moon_fields
            prns = [t.prn for t in transmitters]
            transmitters = list(lunar_transmitters(m["moon_receiver"], prns, duration, m["ephemeris"],
                                                   m["carrier_hz"], m["constellation"], m["cn0_dbhz"]))
        except ValueError as exc:
            raise top.fail("moon_receiver", str(exc)) from None
    if not transmitters:
        raise top.fail("channel", "a signal plan needs at least one channel ([[siggen.channel]])")
    plan = SignalPlan(top.get("fs_hz", float, lo=2e6, hi=50e6), SampleFormat.parse(fmt_name), duration,
                      top.get("seed", int, 0, lo=0, hi=2**64 - 1),
                      tuple(transmitters), top.get("if_hz", float, 0.0, lo=-25e6, hi=25e6), nav, receiver,
                      bits=bits, **moon_fields)
    top.finish()
    try:
        return _check_plan(plan)
    except ValueError as exc:
        raise top.fail(None, str(exc)) from None


def load_plan(path: str | pathlib.Path) -> SignalPlan:
    """Read a plan from the ``[siggen]`` table of a TOML file (the file's other tables are the
    scenario's); errors name file, line and field."""
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read signal plan: {exc.strerror}") from None
    return plan_from_table(TomlDoc(text, str(path), ScenarioError).root.table("siggen", required=True),
                           path.parent)


def node_for_prn(prn: int) -> NavNode:
    """The node AFS PRN ``prn`` stands for: the default constellation's node with that PRN (the
    Moonlight-like one of the default scenario's world, as ``--receiver-moon-llh`` synthesises
    it), else its first node's orbit with the mean anomaly advanced by 90 deg per PRN and an
    ideal clock."""
    constellation = load_constellation()
    for node in constellation.nodes:
        if node.afs_prn == prn:
            return node.nav_node()
    first = constellation.nodes[0].elements
    el = dataclasses.replace(first, m0_rad=(first.m0_rad + math.radians(90.0 * (prn - 1))) % (2 * math.pi))
    return NavNode(prn, el)


def epoch_signs(prn: int, n_symbols: int) -> np.ndarray:
    """AFS-I symbol signs (logic 1 -> -1) of PRN ``prn``'s node from its first frame on."""
    node = node_for_prn(prn)
    return (1 - 2 * node.symbols(node.first_frame_s, n_symbols).astype(np.int8)).astype(np.int8)


def _symbols(rng: np.random.Generator, n: int, nav_data: str) -> np.ndarray:
    if nav_data == "zero":
        return np.ones(n, np.int8)
    return rng.choice(np.array([-1, 1], np.int8), n)


def build_synthesizer(plan: SignalPlan, noise_sigma: float = 1.0) -> tuple[Synthesizer, list[ChannelTruth]]:
    """A synthesiser configured for ``plan`` and the truth of every channel it holds."""
    if plan.nav_data == "lnav":
        return _build_lnav(plan, noise_sigma)
    if plan.moon_receiver is not None:
        return build_lunar_synthesizer(lunar_sky(plan), [t.prn for t in plan.transmitters], fs_hz=plan.fs_hz,
                                       if_hz=plan.if_hz, seed=plan.seed, noise_sigma=noise_sigma,
                                       scale=DEFAULT_SCALE[plan.fmt])
    rng = np.random.default_rng(plan.seed)
    synth = Synthesizer(plan.fs_hz, plan.if_hz, seed=plan.seed, noise_sigma=noise_sigma,
                        scale=DEFAULT_SCALE[plan.fmt])
    truths = []
    for t in plan.transmitters:
        if t.signal == "gps-l1ca":
            rate = codes.GPS_L1CA_CHIP_RATE_HZ * (1 + t.doppler_hz / GPS_L1_HZ)
            phase = t.code_phase_chips if t.code_phase_chips is not None else float(rng.uniform(0, 1023))
            n_bits = math.ceil(plan.duration_s * GPS_LNAV_BPS) + 2
            signs = np.repeat(_symbols(rng, n_bits, plan.nav_data), 20)
            synth.add_channel(codes.gps_l1ca(t.prn), rate, code_phase_chips=phase, doppler_hz=t.doppler_hz,
                              doppler_rate_hz_s=t.doppler_rate_hz_s, cn0_dbhz=t.cn0_dbhz, epoch_signs=signs)
            truths.append(ChannelTruth("gps-l1ca", t.prn, t.doppler_hz, t.cn0_dbhz, phase, rate, GPS_L1_HZ,
                                       t.doppler_rate_hz_s, "I"))
            continue
        # AFS node: I and Q at half the node's power each, codes aligned at their 2 ms epochs.
        cn0 = t.cn0_dbhz - 10 * math.log10(2.0)
        scale = 1 + t.doppler_hz / AFS_CARRIER_HZ
        phase_i = t.code_phase_chips if t.code_phase_chips is not None else float(rng.uniform(0, 2046))
        phase_i %= codes.AFS_I_CHIPS
        phase_q = phase_i * codes.AFS_Q_CHIP_RATE_HZ / codes.AFS_I_CHIP_RATE_HZ
        n_symbols = math.ceil(plan.duration_s * 500.0) + 2
        synth.add_channel(codes.afs_i(t.prn), codes.AFS_I_CHIP_RATE_HZ * scale, code_phase_chips=phase_i,
                          doppler_hz=t.doppler_hz, doppler_rate_hz_s=t.doppler_rate_hz_s, cn0_dbhz=cn0,
                          epoch_signs=epoch_signs(t.prn, n_symbols) if plan.nav_data == "lsis"
                          else _symbols(rng, n_symbols, plan.nav_data))
        synth.add_channel(codes.afs_q_primary(t.prn), codes.AFS_Q_CHIP_RATE_HZ * scale,
                          code_phase_chips=phase_q, doppler_hz=t.doppler_hz,
                          doppler_rate_hz_s=t.doppler_rate_hz_s, cn0_dbhz=cn0, component=Component.Q,
                          epoch_signs=afs_pilot_signs(t.prn))
        for name, phase, rate, comp in (("afs-i", phase_i, codes.AFS_I_CHIP_RATE_HZ, "I"),
                                        ("afs-q", phase_q, codes.AFS_Q_CHIP_RATE_HZ, "Q")):
            truths.append(ChannelTruth(name, t.prn, t.doppler_hz, cn0, phase, rate * scale, AFS_CARRIER_HZ,
                                       t.doppler_rate_hz_s, comp))
    return synth, truths


def _build_lnav(plan: SignalPlan, noise_sigma: float) -> tuple[SkySynthesizer, list[ChannelTruth]]:
    """GPS L1 C/A channels driven by the receiver's sky, with LNAV data aligned to transmit time."""
    return build_sky_synthesizer(
        gps_sky(plan.receiver), [(t.prn, t.cn0_dbhz) for t in plan.transmitters], fs_hz=plan.fs_hz,
        if_hz=plan.if_hz, seed=plan.seed, noise_sigma=noise_sigma, scale=DEFAULT_SCALE[plan.fmt],
        duration_s=plan.duration_s)


def signal_metadata(plan: SignalPlan) -> tuple[dict, list[dict]]:
    """Extra SigMF global fields and annotations of a plan: with lnav the receiver, GPS time and
    satellites; with a lunar receiver the receiver, AFS time, every node's truth at the start and
    its SISE, and per node and second its truth (range, range rate, elevation, azimuth, clock,
    C/N0, position)."""
    extra: dict = {"lunarelay:bits": plan.bits} if plan.bits else {}
    if plan.nav_data == "lnav":
        return {**extra, **sky_metadata(gps_sky(plan.receiver), [t.prn for t in plan.transmitters])}, []
    if plan.moon_receiver is not None:
        glob, annotations = lunar_metadata(lunar_sky(plan), [t.prn for t in plan.transmitters], plan.fs_hz,
                                           plan.n_samples)
        return {**extra, **glob}, annotations
    return extra, []


# Uniform quantiser steps (in noise sigma) that keep the most SNR for Gaussian input (Max, "Quantizing
# for minimum distortion", IRE Trans. IT-6, 1960, Table I): 2, 3 and 4 bits.
QUANTISER_STEP_SIGMA = {2: 0.9957, 3: 0.5860, 4: 0.3352}


def quantiser_table(bits: int, sigma_counts: float = DEFAULT_SCALE[SampleFormat.CI8]) -> np.ndarray:
    """int8 -> int8 lookup of a ``bits``-bit ADC: mid-rise levels +/-1, +/-3, ... +/-(2^bits - 1)
    with the step of QUANTISER_STEP_SIGMA for noise of ``sigma_counts`` ci8 counts."""
    step = QUANTISER_STEP_SIGMA[bits] * sigma_counts
    half = 1 << (bits - 1)
    v = np.arange(-128, 128, dtype=np.float64)
    level = np.clip(np.floor(v / step), -half, half - 1)
    table = (2 * level + 1).astype(np.int8)
    return np.roll(table, -128)  # index by the value's two's-complement byte


def quantise(block: np.ndarray, table: np.ndarray) -> np.ndarray:
    """A ci8 block through a :func:`quantiser_table`."""
    return table[block.view(np.uint8)].view(np.int8)
