"""Signals that follow the geometry: synthesiser channels driven by a transmit-time offset.

For every transmitter the world gives ``offset(t)``: the transmitter's clock time of the signal
that reaches the receiver at receiver time t (seconds since the recording's start), minus t.
It holds the light time (minus range / c) and the transmitter clock's offset, so code, data
symbols and carrier all shift with both.  A channel's code phase at t is then, in chips since
the start of its first code epoch, ``(base_s + t + offset(t)) * chip_rate_hz``, and its carrier
phase advances by ``carrier_hz * d(offset)``.

:class:`GeometrySynthesizer` drives a :class:`~onboard.core.siggen.Synthesizer` with that: at
every update (100 Hz by default) each channel's code rate is set so that its code phase lands
exactly on the geometry's at the next update (read back from the synthesiser, so nothing drifts),
and its carrier Doppler to the mean over the interval, so the carrier phase is exact at every
update too.  Offsets are computed for a whole batch of updates (a second by default) in one
vectorised call per transmitter, which keeps the Python cost per update to a few field writes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from onboard.core.siggen import SampleFormat, Synthesizer

OffsetFn = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class TrackedChannel:
    """Synthesiser channel ``channel`` follows transmitter ``source``'s offset."""

    channel: int
    source: int
    chip_rate_hz: float  # chips per second of transmitter time
    n_chips: int  # chips per code epoch
    base_s: float  # receiver start time minus the start of the first code epoch (transmitter time)
    carrier_hz: float


def first_epoch(start_s: float, offset_s: float, epochs_per_s: int) -> tuple[int, float]:
    """The code epoch in progress at the first sample, counted from time 0 of the transmitter's
    clock, and ``base_s`` of :class:`TrackedChannel`.  ``start_s`` is the receiver's start time
    (a large number: the difference is taken exactly), ``offset_s`` the offset at the first
    sample, ``epochs_per_s`` the code epochs per second (1000 for C/A, 500 for AFS)."""
    index = math.floor((start_s + offset_s) * epochs_per_s)
    return index, float(Fraction(start_s) - Fraction(index, epochs_per_s))


class GeometrySynthesizer:
    """A :class:`Synthesizer` whose channels follow transmit-time offsets (module docstring).

    It has the synthesiser's ``generate`` and reads through to it for everything else."""

    def __init__(self, synth: Synthesizer, sources: list[OffsetFn], channels: list[TrackedChannel],
                 update_hz: float = 100.0, batch_updates: int = 100):
        self.synth, self.sources, self.tracked = synth, list(sources), list(channels)
        self.interval = max(1, int(round(synth.fs_hz / update_hz)))
        self.batch_updates = max(1, int(batch_updates))
        self._batch_first = -1  # update index of the batch held
        self._offsets = np.empty((0, 0))
        self._c = [synth._state.channel[t.channel] for t in self.tracked]

    def __getattr__(self, name):
        return getattr(self.synth, name)

    def chips(self, k: int, t: np.ndarray) -> np.ndarray:
        """Chips since the start of tracked channel k's first code epoch at receiver times t."""
        tc = self.tracked[k]
        t = np.asarray(t, float)
        return (tc.base_s + t + self.sources[tc.source](t)) * tc.chip_rate_hz

    def _batch(self, update: int) -> np.ndarray:
        """Offsets of every source at the boundaries of the batch that holds ``update``."""
        first = update - update % self.batch_updates
        if first != self._batch_first:
            bounds = (first + np.arange(self.batch_updates + 1)) * self.interval / self.synth.fs_hz
            self._offsets = np.array([src(bounds) for src in self.sources])
            self._batch_first = first
        return self._offsets[:, update - first:update - first + 2]

    def _update(self, update: int) -> None:
        """Rates that take every channel from its state at update ``update`` to the next."""
        span = self.interval / self.synth.fs_hz
        t1 = (update + 1) * span
        offsets = self._batch(update)
        start_offsets, end_offsets = offsets[:, 0], offsets[:, 1]
        for tc, c in zip(self.tracked, self._c, strict=True):
            now = c.epochs * tc.n_chips + c.code_phase_chips
            target = (tc.base_s + t1 + end_offsets[tc.source]) * tc.chip_rate_hz
            c.code_rate_cps = (target - now) / span
            c.doppler_hz = tc.carrier_hz * (end_offsets[tc.source] - start_offsets[tc.source]) / span

    def generate(self, n_samples: int, fmt: SampleFormat = SampleFormat.CF32,
                 out: np.ndarray | None = None) -> np.ndarray:
        fmt = SampleFormat(fmt)
        if out is None:
            out = (np.empty(n_samples, np.complex64) if fmt == SampleFormat.CF32
                   else np.empty((n_samples, 2), fmt.component_dtype))
        done = 0
        while done < n_samples:
            here = self.synth.sample_index
            if here % self.interval == 0:
                # Between updates (a block that ended mid-interval) the rates set at the last
                # update still lead to the next one.
                self._update(here // self.interval)
            n = min(n_samples - done, self.interval - here % self.interval)
            self.synth.generate(n, fmt, out=out[done:done + n])
            done += n
        return out
