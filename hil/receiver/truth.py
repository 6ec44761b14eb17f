"""The nodes' truth a recording carries: each node's true orbit and clock, interpolated in time.

``lunarelay siggen --receiver-moon-llh`` annotates every node once a second with its truth at
that second's first sample (:func:`hil.world.lunar_sky.lunar_metadata`): the node's MCI position
at transmission (``lunarelay:node_mci_m``), the range it crossed (``lunarelay:range_m``) and its
clock's offset from system time at transmission (``lunarelay:clock_offset_s``).  The system time
of that transmission is the recording's start (``lunarelay:afs_time_s``) plus the sample's time
minus the light time, range / c.

:class:`NodeTruth` interpolates those points with a Lagrange polynomial through the
:data:`POINTS` nearest (a lunar orbit sampled every second is smooth: the interpolation error is
far below a millimetre) and serves as the receiver's truth ephemeris source: it is what
``--ephemeris truth`` fixes with and what the broadcast ephemeris' error along the line of sight
(SISE) is measured against.  The truth orbit includes Earth's and the Sun's pull and the lunar
gravity field, which SB2's Keplerian elements cannot carry to the metre, so an SB2 fit to the
truth would not do.
"""

from __future__ import annotations

import math

import numpy as np

from onboard.errors import LunarelayError

SPEED_OF_LIGHT_M_S = 299792458.0
POINTS = 8  # interpolation points (degree 7)
MAX_EXTRAPOLATION_S = 2.0
KEYS = ("lunarelay:node_mci_m", "lunarelay:range_m", "lunarelay:clock_offset_s")


class TruthError(LunarelayError, ValueError):
    """Truth annotations that cannot be used, or a time they do not cover."""


class NodeTruth:
    """Node ``prn``'s true MCI position, velocity and clock offset at system times (s)."""

    def __init__(self, prn: int, times_s: np.ndarray, positions_m: np.ndarray, clock_offsets_s: np.ndarray):
        order = np.argsort(times_s)
        self.prn = prn
        self.times_s = np.asarray(times_s, float)[order]
        self.positions_m = np.asarray(positions_m, float)[order]
        self.clock_offsets_s = np.asarray(clock_offsets_s, float)[order]
        if self.times_s.size < 2 or np.any(np.diff(self.times_s) <= 0):
            raise TruthError(f"PRN {prn}: truth needs two or more annotations at distinct times")

    def _window(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the nearest points and the Lagrange weights of the value and of its rate at
        ``t_s``."""
        t = self.times_s
        if not t[0] - MAX_EXTRAPOLATION_S <= t_s <= t[-1] + MAX_EXTRAPOLATION_S:
            raise TruthError(f"PRN {self.prn}: no truth at AFS time {t_s:.3f} s (annotations cover "
                             f"{t[0]:.3f} .. {t[-1]:.3f} s)")
        n = min(POINTS, t.size)
        first = int(np.clip(np.searchsorted(t, t_s) - n // 2, 0, t.size - n))
        idx = np.arange(first, first + n)
        x = t[idx] - t_s  # differences of large times: exact to the double's resolution there
        # Value and rate at x = 0 of the interpolating polynomial: the first two coefficients of the
        # polynomial in x, from the Vandermonde system scaled to unit span.
        scale = max(float(np.max(np.abs(x))), 1e-9)
        v = np.vander(x / scale, n, increasing=True)
        inv = np.linalg.inv(v)
        return idx, np.stack([inv[0], inv[1] / scale])

    def state(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        idx, w = self._window(t_s)
        pos = self.positions_m[idx]
        centre = pos.mean(axis=0)
        out = w @ (pos - centre)
        return out[0] + centre, out[1]

    def clock_offset_s(self, t_s: float) -> float:
        idx, w = self._window(t_s)
        return float(w[0] @ self.clock_offsets_s[idx])


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TruthError(f"{where}: {value!r} is not a finite number")
    return float(value)


def node_truths(glob: dict, annotations: list, fs_hz: float, where: str) -> dict[int, NodeTruth]:
    """Every annotated node's truth from a SigMF recording's global fields and annotations; empty
    when the recording carries none.  Malformed truth is a :class:`TruthError` naming the field."""
    points: dict[int, list[tuple[float, list[float], float]]] = {}
    for k, ann in enumerate(annotations):
        if not isinstance(ann, dict) or KEYS[0] not in ann:
            continue
        here = f"{where}: annotations[{k}]"
        if "lunarelay:afs_time_s" not in glob:
            raise TruthError(f"{where}: node truth annotations without lunarelay:afs_time_s")
        start = _number(glob["lunarelay:afs_time_s"], f"{where}: lunarelay:afs_time_s")
        prn = ann.get("lunarelay:prn")
        if isinstance(prn, bool) or not isinstance(prn, int):
            raise TruthError(f"{here}: lunarelay:prn {prn!r} is not a PRN")
        pos = ann[KEYS[0]]
        if not isinstance(pos, list) or len(pos) != 3:
            raise TruthError(f"{here}: {KEYS[0]} must be three numbers, not {pos!r}")
        pos = [_number(v, f"{here}: {KEYS[0]}") for v in pos]
        range_m = _number(ann.get(KEYS[1]), f"{here}: {KEYS[1]}")
        clock = _number(ann.get(KEYS[2]), f"{here}: {KEYS[2]}")
        sample = _number(ann.get("core:sample_start"), f"{here}: core:sample_start")
        t_tx = start + sample / fs_hz - range_m / SPEED_OF_LIGHT_M_S
        points.setdefault(prn, []).append((t_tx, pos, clock))
    out = {}
    for prn, rows in points.items():
        out[prn] = NodeTruth(prn, np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                             np.array([r[2] for r in rows]))
    return out
