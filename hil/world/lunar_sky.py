"""The AFS sky seen from a receiver on the Moon: every node's signal as it arrives there.

A :class:`LunarReceiver` stands still on the Moon (latitude, east longitude and height in the
mean-Earth frame, :mod:`hil.world.frames`) with a perfect clock of AFS system time; its first
sample is at ``start_s``.  For a node of the constellation (:mod:`hil.world.constellation`) and a
receiver time t (seconds since the start), :meth:`LunarSky.offset_s` gives the node clock's time
of the signal that arrives then, minus t:

    offset(t) = dt_node(t_tx) - |r_node(t_tx) - r_rx(t)| / c,   t_tx = t - |...| / c,

with the node's truth orbit (:mod:`hil.world.propagation`, MCI), the receiver turning with the
Moon, the light time iterated to convergence, and dt_node the node's true clock offset
(:class:`~onboard.nav.node_clock.NodeClock`).  Everything the signal carries follows from it
(:mod:`hil.world.signal_geometry`): code phase (range and clock as a real time shift), carrier and
code Doppler, and which symbol of which frame is on the air.  Relativistic and tropospheric
terms are absent (there is no lunar troposphere; the clock's relativistic term is part of the
clock model a user removes).  C/N0 comes from the range and the node's transmit antenna pattern
(:class:`~hil.world.constellation.Antenna`), or is one value for every node when ``cn0_dbhz`` is
given (a test at a chosen signal level).

Each node's frames (:class:`~onboard.nav.afs_node.NavNode`) carry an ephemeris fit per
:data:`FIT_WINDOW_S` (300 s, 25 frames, a new toe four times per ITOW interval), reaching
:data:`FIT_MARGIN_S` past its window, to what the node knows of its orbit, by ``ephemeris`` mode:

- ``"broadcast"``: its onboard model, J2 and the Earth's and the Sun's pull from analytic series
  (:mod:`onboard.nav.third_bodies`), restarted from the truth state the ground uploads at the
  start of every ITOW interval (20 min), as orbit determination would (the node's own ephemeris;
  the uploaded state carries no orbit-determination error);
- ``"truth"``: the truth orbit itself, so the only difference left is that of the Keplerian
  message format; the recording's metadata also carries the truth node positions.

What is left in ``"broadcast"`` is the onboard model's: the lunar field beyond J2, the series'
error in the Earth's pull, and the two-body arc over 360 s.

The signal-in-space error (SISE) of the broadcast ephemeris and clock against the truth, along the
line of sight, is :meth:`LunarSky.sise`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hil.world import frames
from hil.world.constellation import SPEED_OF_LIGHT_M_S, Constellation, Node, load_constellation
from hil.world.signal_geometry import GeometrySynthesizer, TrackedChannel, first_epoch
from onboard.core import codes
from onboard.core.siggen import Component, Synthesizer
from onboard.errors import LunarelayError
from onboard.links.sigmf import ChannelTruth
from onboard.nav import afs_message as am
from onboard.nav.afs_ephemeris import BroadcastEphemeris
from onboard.nav.afs_node import NavNode

AFS_CARRIER_HZ = 2492.028e6  # LSIS-020
EPHEMERIS_MODES = ("broadcast", "truth")
FIT_WINDOW_S = 300.0  # a new SB2 ephemeris every 25 frames
FIT_MARGIN_S = 60.0  # each fit also covers the minute after its window
EPOCHS_PER_S = 500  # AFS-I and AFS-Q primary epochs are 2 ms (LSIS-AFS V1.0 §2.3)
SYMBOLS_PER_FRAME = 6000
C = SPEED_OF_LIGHT_M_S


class SkyError(LunarelayError, ValueError):
    """A receiver or request the lunar sky cannot serve."""


@dataclasses.dataclass(frozen=True)
class LunarReceiver:
    lat_deg: float
    lon_deg: float
    height_m: float
    start_s: float  # AFS system time of the first sample
    elevation_mask_deg: float = 5.0

    @classmethod
    def from_week(cls, lat_deg: float, lon_deg: float, height_m: float, wn: int, tow_s: float,
                  **kwargs) -> LunarReceiver:
        return cls(lat_deg, lon_deg, height_m, wn * am.SECONDS_PER_WEEK + tow_s, **kwargs)

    @property
    def fixed_m(self) -> np.ndarray:
        """Position in the Moon's ME frame (m)."""
        return frames.llh_to_fixed(self.lat_deg, self.lon_deg, self.height_m)

    @property
    def wn_tow(self) -> tuple[int, float]:
        wn, tow = divmod(self.start_s, am.SECONDS_PER_WEEK)
        return int(wn), float(tow)

    def check(self) -> None:
        if not -90 <= self.lat_deg <= 90:
            raise SkyError(f"receiver latitude {self.lat_deg} deg is outside -90..90")
        if not -180 <= self.lon_deg <= 360:
            raise SkyError(f"receiver longitude {self.lon_deg} deg is outside -180..360")
        if not -10e3 <= self.height_m <= 100e3:
            raise SkyError(f"receiver height {self.height_m} m is not near the lunar surface (-10..100 km)")
        if not 0 <= self.start_s < (am.WN_MAX + 1) * am.SECONDS_PER_WEEK:
            raise SkyError(f"start time {self.start_s} s is outside AFS weeks 0..{am.WN_MAX}")
        if not -10 <= self.elevation_mask_deg <= 90:
            raise SkyError(f"elevation mask {self.elevation_mask_deg} deg is outside -10..90")


@dataclasses.dataclass(frozen=True)
class NodeView:
    """One node at one receiver time, as the receiver sees it."""

    prn: int
    name: str
    elevation_deg: float
    azimuth_deg: float
    range_m: float  # geometric, at transmission
    range_rate_m_s: float
    clock_offset_s: float  # node clock minus system time at transmission
    pseudorange_m: float  # c (t - t_node) for a perfect receiver clock
    doppler_hz: float
    cn0_dbhz: float
    node_mci_m: tuple[float, float, float]  # at transmission


class LunarSky:
    """The constellation's nodes seen from ``receiver`` over ``duration_s`` seconds."""

    def __init__(self, receiver: LunarReceiver, constellation: Constellation | None = None,
                 duration_s: float = 60.0, ephemeris: str = "broadcast", carrier_hz: float = AFS_CARRIER_HZ,
                 cn0_dbhz: float | None = None):
        receiver.check()
        if ephemeris not in EPHEMERIS_MODES:
            raise SkyError(f"ephemeris {ephemeris!r} is not one of {', '.join(EPHEMERIS_MODES)}")
        if not 1e6 <= carrier_hz <= 100e9:
            raise SkyError(f"carrier {carrier_hz} Hz is outside 1 MHz .. 100 GHz")
        if cn0_dbhz is not None and not 0.0 <= cn0_dbhz <= 100.0:
            raise SkyError(f"C/N0 {cn0_dbhz} dB-Hz is outside 0..100")
        self.receiver, self.ephemeris, self.carrier_hz = receiver, ephemeris, float(carrier_hz)
        self.cn0_dbhz = cn0_dbhz  # every node's C/N0 instead of the link budget's, when given
        self.c = constellation or load_constellation()
        if receiver.start_s < self.c.epoch_s + 1.0:
            wn, tow = divmod(self.c.epoch_s, am.SECONDS_PER_WEEK)
            raise SkyError(f"start time {receiver.start_s:.0f} s is before the constellation's epoch "
                           f"(WN {wn:.0f}, TOW {tow:.0f} s)")
        self.duration_s = float(duration_s)
        # Interval uploads look back to the start of the ITOW interval; frames may start 12 s early.
        self.end_s = receiver.start_s + self.duration_s + 2 * am.ITOW_SECONDS
        self._rx_fixed = receiver.fixed_m
        self._anchors: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._nav: dict[int, NavNode] = {}

    # -- geometry ---------------------------------------------------------------------------------
    def node(self, prn: int) -> Node:
        return self.c.node(prn)

    def orbit(self, prn: int):
        node = self.node(prn)
        return self.c.truth_orbit(node.elements, self.end_s)

    def _anchor(self, k: int):
        """Receiver MCI position, velocity and acceleration at whole second k since the start."""
        if k not in self._anchors:
            t = self.receiver.start_s + k
            rot = frames.moon_fixed_rotation(t, "me")
            w = frames.moon_fixed_angular_velocity(t, "me")
            wr = np.cross(w, self._rx_fixed)
            self._anchors[k] = (rot.T @ self._rx_fixed, rot.T @ wr, rot.T @ np.cross(w, wr))
        return self._anchors[k]

    def receiver_mci(self, t: np.ndarray) -> np.ndarray:
        """(n, 3) receiver positions in MCI at receiver times t (s since the start): a Taylor
        expansion about the whole second before (error below a nanometre)."""
        t = np.asarray(t, float)
        ks = np.floor(t).astype(np.int64)
        out = np.empty((t.size, 3))
        for k in np.unique(ks):
            sel = ks == k
            r, v, a = self._anchor(int(k))
            dt = (t[sel] - k)[:, None]
            out[sel] = r + v * dt + 0.5 * a * dt * dt
        return out

    def transmission(self, prn: int, t) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(offset_s, range_m, node MCI position at transmission, t_tx - start) for receiver times t."""
        t = np.atleast_1d(np.asarray(t, float))
        orbit = self.orbit(prn)
        rx = self.receiver_mci(t)
        flight = np.full(t.size, 0.03)
        for _ in range(3):
            t_tx = t - flight
            pos = orbit.positions(self.receiver.start_s + t_tx)
            rng = np.linalg.norm(pos - rx, axis=1)
            flight = rng / C
        t_tx = t - flight
        clock = self.node(prn).clock.offset_s(self.receiver.start_s + t_tx)
        return clock - flight, rng, pos, t_tx

    def offset_s(self, prn: int, t) -> np.ndarray:
        return self.transmission(prn, t)[0]

    def view(self, prn: int, t: float = 0.0) -> NodeView:
        return self.views(prn, [t])[0]

    def views(self, prn: int, times) -> list[NodeView]:
        """The node as seen at each receiver time of ``times``, from one light-time solution for
        all of them (rates from +/-0.5 s)."""
        t = np.asarray(times, float).reshape(-1)
        offsets, rng, pos, t_tx = (a.reshape(3, t.size, *a.shape[1:]) for a in
                                   self.transmission(prn, np.concatenate([t - 0.5, t, t + 0.5])))
        node = self.node(prn)
        rx_mci = self.receiver_mci(t)
        out = []
        for k, tk in enumerate(t):
            rot = frames.moon_fixed_rotation(self.receiver.start_s + float(tk), "me")
            p = pos[1, k]
            el, az = frames.elevation_azimuth(self._rx_fixed, rot @ p)
            los = rx_mci[k] - p
            cos_off = float(np.clip(-p @ los / (np.linalg.norm(p) * np.linalg.norm(los)), -1, 1))
            cn0 = self.cn0_dbhz
            if cn0 is None:
                cn0 = float(self.c.antenna.cn0_dbhz(rng[1, k], math.degrees(math.acos(cos_off)),
                                                    self.carrier_hz))
            rate = float(rng[2, k] - rng[0, k])  # per second
            clock = float(node.clock.offset_s(self.receiver.start_s + t_tx[1, k]))
            doppler = self.carrier_hz * float(offsets[2, k] - offsets[0, k])
            pseudorange = -C * float(offsets[1, k])
            out.append(NodeView(prn, node.name, el, az, float(rng[1, k]), rate, clock, pseudorange, doppler,
                                cn0, tuple(float(v) for v in p)))
        return out

    def visible(self, t: float = 0.0) -> list[NodeView]:
        """Nodes above the receiver's mask at t, by PRN."""
        views = [self.view(n.afs_prn, t) for n in self.c.nodes]
        return [v for v in views if v.elevation_deg >= self.receiver.elevation_mask_deg]

    # -- navigation data --------------------------------------------------------------------------
    def nav_node(self, prn: int) -> NavNode:
        """The node as it broadcasts, with the orbit knowledge of the ephemeris mode."""
        if prn not in self._nav:
            node = self.node(prn)
            orbit = self.orbit(prn)
            window = {"fit_window_s": FIT_WINDOW_S, "fit_margin_s": FIT_MARGIN_S}
            if self.ephemeris == "truth":
                nav = NavNode(prn, node.elements, node.clock, orbit=orbit, **window)
            else:
                nav = NavNode(prn, node.elements, node.clock, upload=orbit.state, third_bodies=True, **window)
            self._nav[prn] = nav
        return self._nav[prn]

    def broadcast(self, prn: int, t_system_s: float) -> BroadcastEphemeris:
        return self.nav_node(prn).ephemeris_fit(t_system_s).ephemeris

    def sise(self, prn: int, t) -> np.ndarray:
        """Signal-in-space error (m) along the line of sight at receiver times t: the range and
        clock a user computes from the broadcast ephemeris minus the truth."""
        t = np.atleast_1d(np.asarray(t, float))
        _, _, pos, t_tx = self.transmission(prn, t)
        rx = self.receiver_mci(t)
        clock = self.node(prn).clock
        out = np.empty(t.size)
        for i in range(t.size):
            ts = self.receiver.start_s + float(t_tx[i])
            eph = self.broadcast(prn, ts)
            u = (pos[i] - rx[i]) / np.linalg.norm(pos[i] - rx[i])
            clock_error = eph.clock_offset_s(ts) - clock.offset_s(ts)
            out[i] = float((eph.position(ts) - pos[i]) @ u) - C * clock_error
        return out

    def symbol_signs(self, prn: int, first: int, n: int) -> tuple[np.ndarray, int]:
        """AFS-I signs (logic 1 -> -1) of epochs first .. first+n-1 (2 ms epochs of the node's
        clock since time 0) and the index of epoch ``first`` in them (frames are whole)."""
        frame0 = first // SYMBOLS_PER_FRAME
        last = (first + n - 1) // SYMBOLS_PER_FRAME
        nav = self.nav_node(prn)
        bits = nav.symbols(frame0 * am.FRAME_SECONDS, (last - frame0 + 1) * SYMBOLS_PER_FRAME)
        return (1 - 2 * bits.astype(np.int8)).astype(np.int8), first - frame0 * SYMBOLS_PER_FRAME


def pilot_signs(prn: int) -> np.ndarray:
    """AFS-Q sign per 2 ms primary epoch over the 12 s tiered period: secondary chip (one per
    epoch) times tertiary chip (one per 4 epochs), logic 1 -> -1 (LSIS-AFS V1.0 §2.3, Table 8)."""
    secondary = codes.afs_q_secondary(codes.afs_q_secondary_index(prn)).astype(np.int8)
    tertiary = codes.afs_q_tertiary(prn).astype(np.int8)
    epochs = np.arange(codes.AFS_Q_TERTIARY_CHIPS * codes.AFS_Q_SECONDARY_CHIPS)
    bits = secondary[epochs % codes.AFS_Q_SECONDARY_CHIPS] ^ tertiary[epochs // codes.AFS_Q_SECONDARY_CHIPS]
    return (1 - 2 * bits).astype(np.int8)


def build_lunar_synthesizer(sky: LunarSky, prns: list[int], *, fs_hz: float, if_hz: float, seed: int,
                            noise_sigma: float, scale: float, update_hz: float = 100.0,
                            cn0_override_dbhz: float | None = None
                            ) -> tuple[GeometrySynthesizer, list[ChannelTruth]]:
    """A synthesiser of the nodes ``prns`` as the receiver gets them: per node an AFS-I channel with
    its frames and an AFS-Q channel with the tiered pilot, at half the node's power each (LSIS-AFS
    V1.0 §2.3), code phase, Doppler and data from the geometry; and their truth at sample 0."""
    synth = Synthesizer(fs_hz, if_hz, seed=seed, noise_sigma=noise_sigma, scale=scale)
    start = sky.receiver.start_s
    n_epochs = math.ceil(sky.duration_s * EPOCHS_PER_S) + 2 * EPOCHS_PER_S
    tracked, truths, sources = [], [], []
    pilot_period = codes.AFS_Q_TERTIARY_CHIPS * codes.AFS_Q_SECONDARY_CHIPS
    for k, prn in enumerate(prns):
        view = sky.view(prn)
        cn0 = (view.cn0_dbhz if cn0_override_dbhz is None else cn0_override_dbhz) - 10 * math.log10(2.0)
        offset0 = float(sky.offset_s(prn, np.array([0.0]))[0])
        index, base = first_epoch(start, offset0, EPOCHS_PER_S)
        sources.append(lambda t, prn=prn: sky.offset_s(prn, t))
        signs_i, sign_index = sky.symbol_signs(prn, index, n_epochs)
        scale_doppler = 1 + view.doppler_hz / sky.carrier_hz
        channels = ((codes.afs_i(prn), codes.AFS_I_CHIP_RATE_HZ, Component.I, signs_i, sign_index, "afs-i"),
                    (codes.afs_q_primary(prn), codes.AFS_Q_CHIP_RATE_HZ, Component.Q, pilot_signs(prn),
                     index % pilot_period, "afs-q"))
        for chips, rate, comp, signs, s_index, name in channels:
            n_chips = chips.size
            phase = ((base + offset0) * rate) % n_chips  # node clock time into epoch `index`
            ch = synth.add_channel(chips, rate * scale_doppler, code_phase_chips=phase,
                                   doppler_hz=view.doppler_hz, cn0_dbhz=cn0, component=comp,
                                   epoch_signs=signs, sign_index=s_index)
            tracked.append(TrackedChannel(ch.index, k, rate, n_chips, base, sky.carrier_hz))
            truths.append(ChannelTruth(name, prn, view.doppler_hz, cn0, phase, rate * scale_doppler,
                                       sky.carrier_hz, 0.0, comp.name))
    return GeometrySynthesizer(synth, sources, tracked, update_hz), truths


def lunar_metadata(sky: LunarSky, prns: list[int], fs_hz: float, n_samples: int,
                   step_s: float = 1.0) -> tuple[dict, list[dict]]:
    """SigMF global fields (the receiver, the start time, each node's truth at the start and its
    SISE) and one annotation per node per ``step_s`` with the truth and the SISE at its first
    sample."""
    wn, tow = sky.receiver.wn_tow
    start = sky.receiver.start_s
    rot_pa = frames.moon_fixed_rotation(start, "pa") @ frames.moon_fixed_rotation(start, "me").T
    duration = n_samples / fs_hz
    times = np.arange(0.0, duration, step_s)
    nodes, annotations = [], []
    for prn in prns:
        sise = sky.sise(prn, np.append(times, duration))
        v0 = sky.view(prn)
        nodes.append({"prn": prn, "name": v0.name, "elevation_deg": round(v0.elevation_deg, 4),
                      "azimuth_deg": round(v0.azimuth_deg, 4), "range_m": round(v0.range_m, 4),
                      "range_rate_m_s": round(v0.range_rate_m_s, 5), "clock_offset_s": v0.clock_offset_s,
                      "pseudorange_m": round(v0.pseudorange_m, 4), "cn0_dbhz": round(v0.cn0_dbhz, 3),
                      "sise_m_max": round(float(np.abs(sise).max()), 3),
                      "sise_m_rms": round(float(np.sqrt(np.mean(sise ** 2))), 3)})
        for t, v, sise_m in zip(times, sky.views(prn, times), sise, strict=False):
            first = int(round(t * fs_hz))
            count = min(int(round(step_s * fs_hz)), n_samples - first)
            annotations.append({
                "core:sample_start": first, "core:sample_count": count,
                "core:label": f"afs node PRN {prn} truth",
                "lunarelay:prn": prn, "lunarelay:range_m": v.range_m,
                "lunarelay:range_rate_m_s": v.range_rate_m_s,
                "lunarelay:elevation_deg": v.elevation_deg, "lunarelay:azimuth_deg": v.azimuth_deg,
                "lunarelay:clock_offset_s": v.clock_offset_s, "lunarelay:pseudorange_m": v.pseudorange_m,
                "lunarelay:doppler_hz": v.doppler_hz, "lunarelay:cn0_dbhz": v.cn0_dbhz,
                "lunarelay:node_mci_m": list(v.node_mci_m), "lunarelay:sise_m": float(sise_m)})
    rx = sky.receiver
    glob = {"lunarelay:receiver_moon_llh": [rx.lat_deg, rx.lon_deg, rx.height_m],
            "lunarelay:receiver_me_m": [float(x) for x in sky._rx_fixed],
            "lunarelay:receiver_pa_m": [float(x) for x in rot_pa @ sky._rx_fixed],
            "lunarelay:afs_wn": wn, "lunarelay:afs_tow_s": tow, "lunarelay:afs_time_s": start,
            "lunarelay:ephemeris": sky.ephemeris, "lunarelay:ephemeris_window_s": FIT_WINDOW_S,
            "lunarelay:ephemeris_fit_margin_s": FIT_MARGIN_S, "lunarelay:carrier_hz": sky.carrier_hz,
            "lunarelay:frame": "MCI: DE421 mean-Earth axes at AFS time "
                               f"{frames.MCI_EPOCH_S:.0f} s; receiver_me_m at the start time",
            "lunarelay:afs_nodes": nodes}
    return glob, annotations
