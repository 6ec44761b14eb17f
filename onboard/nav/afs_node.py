"""An AFS navigation node: its orbit and clock in, its navigation frames out.

Each ITOW interval (1200 s) the node fits a broadcast ephemeris and clock correction to its own
propagated orbit and clock model over that interval (:func:`~onboard.nav.afs_ephemeris.fit_ephemeris`)
and sends it in SB2 of every frame of the interval; SB3 and SB4 carry spare messages.  Frames
start on the 12 s grid of system time, TOI counts them within the interval (LSIS-AFS V1.0 §2.4),
and FID is 0.  The frame timing is that of system time: the node clock's offset shows in the
broadcast af0/af1, not (yet) as a shift of the emitted symbols.

:func:`node_from_relay` makes the node of a scenario relay; which node a signal plan's AFS PRN
stands for is the signal plan's business (``hil.scenario_signal.node_for_prn``).
"""

from __future__ import annotations

import math

import numpy as np

from onboard.nav import afs_message as am
from onboard.nav.afs_ephemeris import FitResult, fit_ephemeris
from onboard.nav.lunar_orbit import KeplerElements, OrbitPropagator
from onboard.nav.node_clock import NodeClock

FRAME_SECONDS = am.FRAME_SECONDS
EPHEMERIS_INTERVAL_S = am.ITOW_SECONDS


class NavNode:
    def __init__(self, prn: int, elements: KeplerElements, clock: NodeClock | None = None):
        self.prn = prn
        self.elements = elements
        self.clock = clock if clock is not None else NodeClock(epoch_s=elements.epoch_s)
        self.orbit = OrbitPropagator(elements)
        self._fits: dict[int, FitResult] = {}

    @property
    def first_frame_s(self) -> float:
        """The first frame start at or after the orbit's epoch."""
        return FRAME_SECONDS * math.ceil(self.elements.epoch_s / FRAME_SECONDS)

    def ephemeris_fit(self, t_s: float) -> FitResult:
        """The fit broadcast during the ITOW interval that contains ``t_s``."""
        k = math.floor(t_s / EPHEMERIS_INTERVAL_S)
        if k not in self._fits:
            start = max(k * EPHEMERIS_INTERVAL_S, self.elements.epoch_s)
            self._fits[k] = fit_ephemeris(self.orbit, self.clock, start, (k + 1) * EPHEMERIS_INTERVAL_S)
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
