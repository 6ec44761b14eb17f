"""The navigation node's onboard clock: its offset from AFS system time.

Not the emulation clock (:mod:`onboard.clock`): this is the physical oscillator whose time the
node's signal carries.  The model is the usual quadratic one,

    dt_node(t) = bias + drift (t - epoch) + drift_rate (t - epoch)^2 / 2,

seconds by which the node's clock is ahead of system time at system time ``t``.  The broadcast
clock correction (af0, af1 about toc, :mod:`onboard.nav.afs_ephemeris`) is a fit of it that a
user subtracts, as in IS-GPS-200 §20.3.3.3.3.1.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class NodeClock:
    bias_s: float = 0.0
    drift_s_s: float = 0.0
    drift_rate_s_s2: float = 0.0
    epoch_s: float = 0.0

    def __post_init__(self):
        for name in ("bias_s", "drift_s_s", "drift_rate_s_s2", "epoch_s"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"clock {name} must be finite")

    def offset_s(self, t_s):
        """The clock's offset from system time at system time ``t_s`` (scalar or array)."""
        dt = np.asarray(t_s, float) - self.epoch_s
        out = self.bias_s + self.drift_s_s * dt + 0.5 * self.drift_rate_s_s2 * dt * dt
        return float(out) if np.ndim(out) == 0 else out

    def rate_s_s(self, t_s) -> float:
        return self.drift_s_s + self.drift_rate_s_s2 * (float(t_s) - self.epoch_s)
