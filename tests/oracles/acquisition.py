"""Reference FFT acquisition in numpy: parallel code-phase search over a Doppler grid.

For each Doppler bin the input is wiped of its carrier, and every code phase is correlated at once
through the FFT.  A window of two code periods is correlated against one replica period padded
with zeros to the same length, so for each candidate code phase the coherent sum spans exactly
one whole code period of the signal: data, secondary and tertiary chips change only at code epoch
boundaries, so no sign change falls inside it.  Successive windows are added non-coherently.

Signals: GPS L1 C/A (1023 chips at 1.023 Mcps, 1 ms), AFS-I (2046 chips at 1.023 Mcps, 2 ms) and
AFS-Q primary (10230 chips at 5.115 Mcps, 2 ms).  A reference and test tool, not a receiver.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from onboard.core import codes


class Signal(enum.Enum):
    GPS_L1CA = "gps-l1ca"
    AFS_I = "afs-i"
    AFS_Q = "afs-q"


CHIP_RATE_HZ = {Signal.GPS_L1CA: 1.023e6, Signal.AFS_I: 1.023e6, Signal.AFS_Q: 5.115e6}


def code_chips(signal: Signal, prn: int) -> np.ndarray:
    signal = Signal(signal)
    return {Signal.GPS_L1CA: codes.gps_l1ca, Signal.AFS_I: codes.afs_i,
            Signal.AFS_Q: codes.afs_q_primary}[signal](prn)


@dataclasses.dataclass(frozen=True)
class Acquisition:
    signal: Signal
    prn: int
    code_phase_samples: int  # the code period starts this many samples into the input
    code_phase_chips: float
    doppler_hz: float
    peak_metric: float  # peak over the mean of the search space (excluding the peak's own chip)
    doppler_step_hz: float
    samples_per_period: int

    @property
    def detected(self) -> bool:
        """Threshold 10: with noise only the metric is about 3 to 6 for searches of this size."""
        return self.peak_metric > 10.0


def replica(signal: Signal, prn: int, fs: float, n_samples: int) -> np.ndarray:
    """One code period sampled at ``fs`` (chip at sample n: floor(n * rate / fs)), as ±1."""
    signal = Signal(signal)
    chips = code_chips(signal, prn)
    idx = np.floor(np.arange(n_samples) * CHIP_RATE_HZ[signal] / fs).astype(np.int64) % chips.size
    return 1.0 - 2.0 * chips[idx].astype(np.float64)


def acquire(samples, fs: float, signal: Signal | str, prn: int, *, doppler_max_hz: float = 5000.0,
            doppler_step_hz: float | None = None, periods: int | None = None) -> Acquisition:
    """Search ``prn`` of ``signal`` in complex ``samples`` at ``fs``.

    The Doppler grid spans ±``doppler_max_hz`` in steps of ``doppler_step_hz`` (default half the
    inverse coherent time: 500 Hz for C/A, 250 Hz for AFS).  The first ``periods`` whole code
    periods of the input are used (at least 2; default all), giving ``periods - 1`` windows."""
    signal = Signal(signal)
    x = np.asarray(samples)
    if x.ndim != 1 or not np.iscomplexobj(x):
        raise ValueError("samples must be a 1-D complex array")
    chips = code_chips(signal, prn)
    period_s = chips.size / CHIP_RATE_HZ[signal]
    n = int(round(period_s * fs))
    available = x.size // n
    if available < 2:
        raise ValueError(f"need at least two code periods ({2 * n} samples at {fs:g} sps), got {x.size}")
    periods = available if periods is None else periods
    if not 2 <= periods <= available:
        raise ValueError(f"periods must be 2..{available} for {x.size} samples, not {periods}")
    step = 0.5 / period_s if doppler_step_hz is None else float(doppler_step_hz)
    if step <= 0 or doppler_max_hz < 0:
        raise ValueError("Doppler step must be positive and the range non-negative")
    dopplers = np.arange(-np.floor(doppler_max_hz / step), np.floor(doppler_max_hz / step) + 1) * step

    local = np.conj(np.fft.fft(np.concatenate([replica(signal, prn, fs, n), np.zeros(n)])))
    windows = np.lib.stride_tricks.sliding_window_view(x[:periods * n], 2 * n)[::n].astype(np.complex128)
    t = (np.arange(periods - 1)[:, None] * n + np.arange(2 * n)[None, :]) / fs
    power = np.zeros((dopplers.size, n))
    for k, fd in enumerate(dopplers):
        wiped = windows * np.exp(-2j * np.pi * fd * t)
        corr = np.fft.ifft(np.fft.fft(wiped, axis=1) * local, axis=1)[:, :n]
        power[k] = np.sum(np.abs(corr) ** 2, axis=0)

    k, tau = np.unravel_index(int(np.argmax(power)), power.shape)
    peak = power[k, tau]
    # Exclude the peak's own correlation triangle (one chip either side) from the noise floor.
    half = int(np.ceil(fs / CHIP_RATE_HZ[signal])) + 1
    mask = np.ones(n, dtype=bool)
    mask[np.arange(tau - half, tau + half + 1) % n] = False
    floor = float(np.mean(power[:, mask]))
    return Acquisition(signal, prn, int(tau), float(tau * CHIP_RATE_HZ[signal] / fs),
                       float(dopplers[k]), float(peak / floor) if floor > 0 else float("inf"), step, n)
