"""An AFS navigation node: its orbit and clock in, its navigation frames out.

Each fit window (by default the ITOW interval, 1200 s) the node fits a broadcast ephemeris and
clock correction to its own propagated orbit and clock model over that window
(:func:`~onboard.nav.afs_ephemeris.fit_ephemeris`) and sends it in SB2 of every frame of the
window; SB3 and SB4 carry spare messages.  A shorter window (300 s, say: 25 frames, four per
ITOW interval) keeps the two-body Keplerian arc of SB2 close to an orbit that the Earth's pull
bends; the frame format allows it, since SB2 carries its own toe (on the 16 s grid, the middle
of the fit), which tells a receiver that the ephemeris has changed, while WN and ITOW still name
the frame's interval.  A fit may reach ``fit_margin_s`` past its window, so that a receiver
that keeps the last SB2 it decoded for a while after the window still has a good arc.  Frames
start on the 12 s grid of system time, TOI counts them within the interval (LSIS-AFS V1.0 §2.4),
and FID is 0.  Frames start on the 12 s grid of the node's own clock: a signal model that places
the node in the world (``hil.world.lunar_sky``) shifts the emitted symbols by the clock's offset
from system time, and the broadcast af0/af1 tell a user how much.

What the node knows of its orbit, and fits the ephemeris to, is one of:

- its onboard model alone: the J2 propagator (:class:`~onboard.nav.lunar_orbit.OrbitPropagator`),
  with the Earth's and the Sun's pull when ``third_bodies`` is set, from its initial elements
  (the default);
- the same model restarted from a state vector the ground uploads at the start of every ITOW
  interval (``upload``: a function of system time giving the MCI position and velocity that
  orbit determination delivers);
- any orbit given as ``orbit`` (an object with ``state(t)`` and ``positions(times)``).

:func:`node_from_relay` makes the node of a scenario relay; which node a signal plan's AFS PRN
stands for is the signal plan's business (``hil.scenario_signal.node_for_prn``).
"""

from __future__ import annotations

import math

import numpy as np

from onboard.nav import afs_message as am
from onboard.nav.afs_ephemeris import FitResult, fit_ephemeris
from onboard.nav.lunar_orbit import KeplerElements, OrbitPropagator, elements_from_state
from onboard.nav.node_clock import NodeClock

FRAME_SECONDS = am.FRAME_SECONDS
EPHEMERIS_INTERVAL_S = am.ITOW_SECONDS


class NavNode:
    def __init__(self, prn: int, elements: KeplerElements, clock: NodeClock | None = None, *,
                 orbit=None, upload=None, fit_window_s: float = EPHEMERIS_INTERVAL_S,
                 fit_margin_s: float = 0.0, third_bodies: bool = False):
        if orbit is not None and upload is not None:
            raise ValueError("give the node an orbit or an upload, not both")
        if not (fit_window_s > 0 and fit_window_s % FRAME_SECONDS == 0
                and EPHEMERIS_INTERVAL_S % fit_window_s == 0):
            raise ValueError(f"fit window {fit_window_s} s must be whole 12 s frames that divide the "
                             f"{EPHEMERIS_INTERVAL_S} s ITOW interval")
        if not 0 <= fit_margin_s <= EPHEMERIS_INTERVAL_S:
            raise ValueError(f"fit margin {fit_margin_s} s is outside 0..{EPHEMERIS_INTERVAL_S} s")
        self.prn = prn
        self.elements = elements
        self.clock = clock if clock is not None else NodeClock(epoch_s=elements.epoch_s)
        self.third_bodies = bool(third_bodies)
        self.orbit = orbit if orbit is not None else OrbitPropagator(elements, third_bodies=third_bodies)
        self.upload = upload
        self.fit_window_s = float(fit_window_s)
        self.fit_margin_s = float(fit_margin_s)
        self._fits: dict[int, FitResult] = {}
        self._uploaded: dict[float, OrbitPropagator] = {}

    def orbit_for_interval(self, start_s: float):
        """The orbit the node fits the ephemeris of the ITOW interval starting at ``start_s`` to:
        with uploads, its model restarted from the state uploaded then (one per interval)."""
        if self.upload is None:
            return self.orbit
        if start_s not in self._uploaded:
            r, v = self.upload(start_s)
            self._uploaded[start_s] = OrbitPropagator(elements_from_state(r, v, start_s),
                                                      third_bodies=self.third_bodies)
        return self._uploaded[start_s]

    @property
    def first_frame_s(self) -> float:
        """The first frame start at or after the orbit's epoch."""
        return FRAME_SECONDS * math.ceil(self.elements.epoch_s / FRAME_SECONDS)

    def ephemeris_fit(self, t_s: float) -> FitResult:
        """The fit broadcast during the fit window that contains ``t_s``."""
        k = math.floor(t_s / self.fit_window_s)
        if k not in self._fits:
            start = max(k * self.fit_window_s, self.elements.epoch_s)
            interval = EPHEMERIS_INTERVAL_S * math.floor(start / EPHEMERIS_INTERVAL_S)  # its upload
            interval = max(interval, self.elements.epoch_s)
            self._fits[k] = fit_ephemeris(self.orbit_for_interval(interval), self.clock, start,
                                          (k + 1) * self.fit_window_s + self.fit_margin_s)
        return self._fits[k]

    def frame_content(self, t_frame_s: float) -> am.FrameContent:
        if t_frame_s % FRAME_SECONDS:
            raise ValueError(f"frames start on the 12 s grid; {t_frame_s} s is not on it")
        if t_frame_s < self.elements.epoch_s - FRAME_SECONDS:
            raise ValueError(f"frame at {t_frame_s} s is before the orbit's epoch {self.elements.epoch_s} s")
        t = am.afs_time(t_frame_s)
        sb2 = self.ephemeris_fit(max(t_frame_s, self.elements.epoch_s)).ephemeris.subframe2(t_frame_s)
        return am.FrameContent(0, t.toi, sb2, am.spare_message(), am.spare_message())

    def frame_symbols(self, t_frame_s: float) -> np.ndarray:
        return self.frame_content(t_frame_s).symbols()

    def symbols(self, t_start_s: float, n_symbols: int) -> np.ndarray:
        """``n_symbols`` consecutive frame symbols (0/1) from the frame that starts at ``t_start_s``."""
        n_frames = -(-n_symbols // 6000)
        out = [self.frame_symbols(t_start_s + FRAME_SECONDS * k) for k in range(n_frames)]
        return np.concatenate(out)[:n_symbols]


def node_from_relay(relay) -> NavNode:
    """A node from a scenario :class:`~onboard.scenario.Relay` that has an orbit."""
    o, c = relay.orbit, relay.clock
    epoch = o.epoch_wn * am.SECONDS_PER_WEEK + o.epoch_tow_s
    el = KeplerElements.from_degrees(o.a_km, o.e, o.i_deg, o.raan_deg, o.argp_deg, o.m0_deg, epoch)
    return NavNode(relay.afs_prn, el, NodeClock(c.bias_s, c.drift_s_s, c.drift_rate_s_s2, epoch))
