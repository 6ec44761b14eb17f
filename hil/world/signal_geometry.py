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
update too.  Offsets are computed for a whole batch of updates in one vectorised call per
transmitter (two seconds at first, each batch twice the last up to sixteen seconds, so a short
run computes little past its end and a long one makes few calls), and the batch's code counts and
Doppler go to the C kernel as a :class:`~onboard.core.siggen.Schedule` that it applies itself at
each update: no Python runs per update.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from onboard.core.siggen import SampleFormat, Schedule, Synthesizer

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
                 update_hz: float = 100.0, batch_updates: int = 200, max_batch_updates: int = 1600):
        self.synth, self.sources, self.tracked = synth, list(sources), list(channels)
        self.interval = max(1, int(round(synth.fs_hz / update_hz)))
        self.batch_updates = max(1, int(batch_updates))  # the next batch's size
        self.max_batch_updates = max(self.batch_updates, int(max_batch_updates))
        self._schedule: Schedule | None = None

    def __getattr__(self, name):
        return getattr(self.synth, name)

    def chips(self, k: int, t: np.ndarray) -> np.ndarray:
        """Chips since the start of tracked channel k's first code epoch at receiver times t."""
        tc = self.tracked[k]
        t = np.asarray(t, float)
        return (tc.base_s + t + self.sources[tc.source](t)) * tc.chip_rate_hz

    def schedule(self, update: int) -> Schedule:
        """The code counts and Doppler of every tracked channel over a batch of updates that holds
        ``update`` (the one held, or the next from ``update`` on): update u takes the channel's code
        to the geometry's at the end of u, with the carrier Doppler of the offset's mean rate
        over u."""
        if self._schedule is not None and self._schedule.holds(update):
            return self._schedule
        first, size = update, self.batch_updates
        self.batch_updates = min(2 * size, self.max_batch_updates)
        span = self.interval / self.synth.fs_hz
        bounds = (first + np.arange(size + 1)) * self.interval / self.synth.fs_hz
        offsets = np.array([src(bounds) for src in self.sources])
        ends = (first + 1 + np.arange(size)) * span
        code_chips = np.empty((len(self.tracked), size))
        doppler_hz = np.empty_like(code_chips)
        for k, tc in enumerate(self.tracked):
            off = offsets[tc.source]
            code_chips[k] = (tc.base_s + ends + off[1:]) * tc.chip_rate_hz
            doppler_hz[k] = tc.carrier_hz * (off[1:] - off[:-1]) / span
        self._schedule = Schedule(self.interval, first, [tc.channel for tc in self.tracked], code_chips,
                                  doppler_hz)
        return self._schedule

    def generate(self, n_samples: int, fmt: SampleFormat = SampleFormat.CF32,
                 out: np.ndarray | None = None) -> np.ndarray:
        fmt = SampleFormat(fmt)
        if out is None:
            out = (np.empty(n_samples, np.complex64) if fmt == SampleFormat.CF32
                   else np.empty((n_samples, 2), fmt.component_dtype))
        done = 0
        while done < n_samples:
            # A block that ended inside an update goes on with that update's rates to its end.
            update = self.synth.sample_index // self.interval
            schedule = self.schedule(update)
            n = self.synth.generate_scheduled(schedule, n_samples - done, fmt, out[done:n_samples])
            if n == 0:
                raise RuntimeError(f"update {update} is not in its own schedule")
            done += n
        return out
