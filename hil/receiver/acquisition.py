"""AFS acquisition: a parallel code-phase search over a Doppler grid, on AFS-I and then AFS-Q.

Both AFS codes last one 2 ms epoch and start together (LSIS-AFS V1.0 §2.3), and every epoch may
flip sign (data symbols on AFS-I, secondary and tertiary chips on AFS-Q).  A window of two epochs
is correlated against one replica epoch padded with zeros to the same length, so each lag's
coherent sum spans exactly one whole epoch of the signal and never a sign change.  Windows one
epoch apart are added non-coherently until the peak clears the detection threshold.

Search (AFS-I, 1.023 Mcps): the window's FFT has bins fs / (2 n) apart, 250 Hz for a 4 ms window:
exactly the Doppler grid, so wiping a Doppler bin off is a circular shift of the spectrum and one
forward FFT per window serves every bin.  Only the band the AFS-I main lobe occupies (±2.05 MHz)
is kept, so each inverse FFT is 16384 points whatever the sample rate: the correlation comes out
every quarter chip.  Refinement: the Doppler on a 125 Hz grid around the peak, interpolated; then
AFS-Q (5.115 Mcps) at that Doppler with full-rate FFTs, its peak taken near the AFS-I lag and
interpolated to a fraction of a sample.  When AFS-Q is not found (a data-only recording) the node
is tracked on AFS-I alone.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from hil.receiver import afs

SEARCH_BAND_BINS = 16384
INPUT_LIMIT = 1e15
DEFAULT_DOPPLER_MAX_HZ = 12000.0
# Peak over mean noise cell needed with K non-coherent windows for a false alarm below 1e-9 per
# cell: the noise cells are Gamma(K, 1/K) (sum of K exponentials, normalised by their mean).
PILOT_THRESHOLD_FACTOR = 0.6
_GAMMA_THRESHOLD = {1: 21.0, 2: 12.0, 3: 9.5, 4: 8.0, 5: 7.0, 6: 6.4, 7: 6.0, 8: 5.6}


def threshold(windows: int) -> float:
    return _GAMMA_THRESHOLD.get(windows, 5.6 if windows > 8 else 21.0)


@dataclasses.dataclass(frozen=True)
class Acquisition:
    prn: int
    detected: bool
    doppler_hz: float
    epoch_start_samples: float  # where an epoch of both codes begins, from the buffer's first sample
    metric_i: float  # AFS-I peak over the mean noise cell
    metric_q: float  # AFS-Q peak over the mean noise cell (0 when not searched)
    pilot: bool  # AFS-Q found: track the pilot
    windows: int  # non-coherent windows used

    def code_phase_chips(self, chips_per_epoch: int, fs_hz: float, chip_rate_cps: float) -> float:
        """Phase (chips of a code with this epoch) at the buffer's first sample."""
        rate = chip_rate_cps * (1.0 + self.doppler_hz / afs.CARRIER_HZ)
        return (-self.epoch_start_samples * rate / fs_hz) % chips_per_epoch


def epoch_samples(fs_hz: float) -> int:
    return int(round(afs.EPOCH_S * fs_hz))


@functools.lru_cache(maxsize=64)
def _replica(prn: int, signal: str, fs_hz: float, n: int) -> np.ndarray:
    """One epoch of the code sampled at fs_hz (chip at sample k: floor(k * rate / fs)), as +/-1."""
    chips = afs.code_chips(prn, signal)
    idx = np.floor(np.arange(n) * afs.CHIP_RATE_HZ[signal] / fs_hz).astype(np.int64) % chips.size
    return (1.0 - 2.0 * chips[idx]).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _replica_spectrum(prn: int, signal: str, fs_hz: float, n: int, band: int | None) -> np.ndarray:
    """conj(FFT) of one replica epoch zero-padded to 2n; with ``band``, only the ``band`` bins nearest
    0 Hz, in ascending frequency (-band/2 .. band/2 - 1)."""
    replica = np.zeros(2 * n, np.complex64)
    replica[:n] = _replica(prn, signal, fs_hz, n)
    spec = np.conj(np.fft.fft(replica))
    if band is None:
        return spec.astype(np.complex64)
    half = band // 2
    return np.concatenate([spec[-half:], spec[:half]]).astype(np.complex64)


def _noise_floor(power: np.ndarray, peak_index: tuple[int, int], exclude: int) -> float:
    """Mean of the search space without the peak's lags (all Dopplers), so the peak's own
    correlation triangle and its Doppler sidelobes do not raise the floor."""
    lags = power.shape[1]
    mask = np.ones(lags, dtype=bool)
    mask[np.arange(peak_index[1] - exclude, peak_index[1] + exclude + 1) % lags] = False
    floor = float(power[:, mask].mean())
    return floor if floor > 0 else float("inf")


def _parabola(ym: float, y0: float, yp: float) -> float:
    """Offset (-0.5 .. 0.5) of a parabola's vertex through three equally spaced points."""
    den = ym - 2.0 * y0 + yp
    if den >= 0 or not math.isfinite(den):
        return 0.0
    return float(np.clip(0.5 * (ym - yp) / den, -0.5, 0.5))


def _windows(x: np.ndarray, n: int, count: int, period_samples: float) -> list[tuple[np.ndarray, float]]:
    """``count`` windows of 2n samples, the k-th starting at round(k * period_samples), each with
    how far (samples, within +/-0.5) its start falls short of k periods."""
    out = []
    for k in range(count):
        start = int(round(k * period_samples))
        if start + 2 * n > x.size:
            break
        out.append((x[start:start + 2 * n], k * period_samples - start))
    return out


def _triangle_peak(ym: float, y0: float, yp: float) -> float:
    """Offset (-0.5 .. 0.5 of the spacing) of the apex of a symmetric triangle through three equally
    spaced points around the largest: the shape of a code's correlation."""
    low = min(ym, yp)
    if not y0 > low:
        return 0.0
    return float(np.clip(0.5 * (yp - ym) / (y0 - low), -0.5, 0.5))


def acquire(samples: np.ndarray, fs_hz: float, prn: int, *, doppler_max_hz: float = DEFAULT_DOPPLER_MAX_HZ,
            max_windows: int = 8) -> Acquisition:
    """Search node ``prn`` in complex ``samples`` (at least three epochs).  Non-finite or absurdly
    large samples count as 0, as they do in the tracker."""
    x = np.asarray(samples, dtype=np.complex64)
    bad = ~(np.abs(x) <= INPUT_LIMIT)  # NaN compares false
    if bad.any():
        x = np.where(bad, np.complex64(0), x)
    n = epoch_samples(fs_hz)
    available = x.size // n - 1
    if available < 1:
        raise ValueError(f"acquisition needs at least {2 * n} samples ({2 * afs.EPOCH_S * 1e3:g} ms), "
                         f"got {x.size}")
    max_windows = max(1, min(max_windows, available))
    size = 2 * n
    bin_hz = fs_hz / size
    band = min(SEARCH_BAND_BINS, size)
    d_max = int(math.floor(doppler_max_hz / bin_hz))
    shifts = np.arange(-d_max, d_max + 1)
    half = band // 2
    local = _replica_spectrum(prn, "afs-i", fs_hz, n, band)
    lags = band // 2  # valid lags: one epoch
    windows = _windows(x, n, max_windows, n)
    power = np.zeros((shifts.size, lags), np.float32)
    used = 0
    best = (0, 0)
    metric = 0.0
    for w, _frac in windows:
        spec = np.fft.fft(w)
        # Frequencies -half-d_max .. half+d_max in ascending order; the band of Doppler bin d is the
        # window starting at d_max + d, a view.  The inverse FFT of a band in ascending order rather
        # than FFT order differs by (-1)^k: the same power.
        ordered = np.take(spec, np.arange(-half - d_max, half + d_max), mode="wrap")
        bands = np.lib.stride_tricks.sliding_window_view(ordered, band)
        corr = np.fft.ifft(bands * local, axis=1)[:, :lags]
        power += corr.real ** 2 + corr.imag ** 2
        used += 1
        best = np.unravel_index(int(np.argmax(power)), power.shape)
        # The I code's triangle is two quarter-chip lags wide each side.
        metric = float(power[best]) / _noise_floor(power, best, 3)
        if metric > threshold(used):
            break
    if not metric > threshold(used):  # NaN-proof
        return Acquisition(prn, False, 0.0, 0.0, metric, 0.0, False, used)
    coarse_hz = float(shifts[best[0]]) * bin_hz
    lag_samples = best[1] * size / band
    doppler = _refine_doppler(x, fs_hz, prn, n, coarse_hz, int(round(lag_samples)), used)
    # AFS-Q at one Doppler is cheap next to the search: every window the buffer holds.
    start, metric_q, used_q = _pilot_lag(x, fs_hz, prn, n, doppler, lag_samples, max_windows)
    # AFS-Q is looked for among a few dozen lags next to the AFS-I peak, not a million cells, so a
    # false alarm there needs a far smaller excursion than in the search.
    pilot = metric_q > PILOT_THRESHOLD_FACTOR * threshold(used_q)
    if not pilot:
        start = _data_lag(power[best[0]], best[1], size / band)
    return Acquisition(prn, True, doppler, start, metric, metric_q, pilot, used)


def _refine_doppler(x, fs_hz, prn, n, coarse_hz, lag, windows) -> float:
    """The Doppler on a 125 Hz grid around the coarse bin, refined by a parabola through the best
    three points: within about 20 Hz, inside the FLL's pull-in range.  Every whole epoch the buffer
    holds from the lag is wiped of its code, and each epoch's sum at each grid Doppler is one row of
    a small DFT (the epoch's own start only turns the phase, which the power ignores)."""
    step = 125.0
    grid = coarse_hz + step * np.arange(-2, 3)
    lag %= n
    count = (x.size - lag) // n
    epochs = x[lag:lag + count * n].reshape(count, n) * _replica(prn, "afs-i", fs_hz, n)
    wipe = np.exp(-2j * np.pi * np.outer(grid, np.arange(n)) / fs_hz).astype(np.complex64)
    power = np.sum(np.abs(epochs @ wipe.T) ** 2, axis=0)
    k = int(np.clip(np.argmax(power), 1, 3))
    return float(grid[k] + step * _parabola(power[k - 1], power[k], power[k + 1]))


def _pilot_lag(x, fs_hz, prn, n, doppler_hz, lag_i_samples, windows) -> tuple[float, float, int]:
    """AFS-Q correlation at the refined Doppler on a half-sample lag grid (a fractional delay of half
    a sample by the FFT's phase ramp: below two samples per chip a whole-sample grid can miss the
    narrow AFS-Q peak): the epoch start to a fraction of a sample, taken within half an AFS-I chip
    of the AFS-I lag, its metric and the windows summed."""
    size = 2 * n
    local = _replica_spectrum(prn, "afs-q", fs_hz, n, None)
    freq = np.fft.fftfreq(size)  # cycles per sample
    period = n * (1.0 - doppler_hz / afs.CARRIER_HZ)  # code Doppler shortens the epoch
    power = np.zeros(2 * n, np.float32)  # lag k / 2 samples
    used = 0
    wipe = np.exp(-2j * np.pi * doppler_hz * np.arange(size) / fs_hz).astype(np.complex64)
    for w, frac in _windows(x, n, windows, period):
        prod = np.fft.fft(w * wipe) * local  # each window's own start only turns the phase
        # Correlation at lag + frac (+ 0.5): the window's epoch starts frac samples later than the
        # first's, so every window's peak lands on the same lag.
        for offset in (0, 1):
            shift = np.exp(2j * np.pi * freq * (frac + 0.5 * offset)).astype(np.complex64)
            corr = np.fft.ifft(prod * shift)[:n]
            power[offset::2] += corr.real ** 2 + corr.imag ** 2
        used += 1
    m = power.size
    reach = 2 * (int(math.ceil(0.5 * fs_hz / afs.CHIP_RATE_HZ["afs-i"])) + 2)
    centre = int(round(2 * lag_i_samples))
    near = np.arange(centre - reach, centre + reach + 1) % m
    k = int(near[np.argmax(power[near])])
    exclude = 2 * (int(math.ceil(fs_hz / afs.CHIP_RATE_HZ["afs-q"])) + 1)
    floor = _noise_floor(power[None, :], (0, k), exclude)
    metric = float(power[k]) / floor
    amp = np.sqrt(power)
    frac = _triangle_peak(float(amp[(k - 1) % m]), float(amp[k]), float(amp[(k + 1) % m]))
    return ((k + frac) / 2.0) % n, metric, used


def _data_lag(power_row: np.ndarray, k: int, samples_per_lag: float) -> float:
    """The AFS-I epoch start from the search grid alone, interpolated between lags."""
    m = power_row.size
    amp = np.sqrt(power_row)
    frac = _triangle_peak(float(amp[(k - 1) % m]), float(amp[k]), float(amp[(k + 1) % m]))
    return ((k + frac) * samples_per_lag) % (m * samples_per_lag)
