"""The radio channel on complex baseband samples (csrc/lr_channel.h).

:class:`Channel` applies, block by block with its state carried over, a signal gain (0
during an outage), a carrier frequency offset with a rate (Doppler and Doppler rate, which
the caller may change between blocks), Wiener phase noise and complex white Gaussian
noise drawn from (seed, sample index), so any split of a run gives the same samples.
:func:`noise_sigma_for_esn0` and :func:`noise_sigma_for_cn0` set the noise from a link
budget figure and the signal's power.
"""

from __future__ import annotations

import math

import numpy as np

from onboard.core._api import check, ffi, lib


def noise_sigma_for_esn0(esn0_db: float, sps: float, signal_power: float = 1.0) -> float:
    """Noise per real dimension giving Es/N0 for a signal of ``signal_power`` per sample at
    ``sps`` samples per symbol: Es = P * sps, and complex noise of N0 per sample has
    variance 2 * sigma**2 = N0 (sample-rate units)."""
    n0 = signal_power * sps / 10.0 ** (esn0_db / 10.0)
    return math.sqrt(n0 / 2.0)


def noise_sigma_for_cn0(cn0_dbhz: float, fs_hz: float, signal_power: float = 1.0) -> float:
    """Noise per real dimension giving C/N0 (dB-Hz) at sample rate ``fs_hz``."""
    n0_per_sample = signal_power * fs_hz / 10.0 ** (cn0_dbhz / 10.0)
    return math.sqrt(n0_per_sample / 2.0)


class Channel:
    """A live channel; set its fields between blocks (``freq_hz``, ``freq_rate_hz_s``,
    ``gain``, ``noise_sigma``, ``phase_noise_rad``)."""

    _FIELDS = ("freq_hz", "freq_rate_hz_s", "phase_cycles", "gain", "noise_sigma", "phase_noise_rad")

    def __init__(self, fs_hz: float, seed: int = 0, *, freq_hz: float = 0.0, freq_rate_hz_s: float = 0.0,
                 phase_cycles: float = 0.0, gain: float = 1.0, noise_sigma: float = 0.0,
                 phase_noise_rad: float = 0.0):
        object.__setattr__(self, "_c", ffi.new("struct lr_channel *"))
        check(lib.lr_channel_init(self._c, float(fs_hz), int(seed) & (2**64 - 1)),
              f"channel at {fs_hz} Hz")
        for name, value in (("freq_hz", freq_hz), ("freq_rate_hz_s", freq_rate_hz_s),
                            ("phase_cycles", phase_cycles), ("gain", gain), ("noise_sigma", noise_sigma),
                            ("phase_noise_rad", phase_noise_rad)):
            setattr(self, name, value)

    def __getattr__(self, name):
        if name in Channel._FIELDS or name in ("fs_hz", "sample_index", "seed", "pn_phase_rad"):
            return getattr(self._c, name)
        raise AttributeError(name)

    def __setattr__(self, name, value):
        if name not in Channel._FIELDS:
            raise AttributeError(f"channel field {name!r} cannot be set")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"channel {name} must be finite, not {value}")
        if name in ("noise_sigma", "phase_noise_rad") and value < 0:
            raise ValueError(f"channel {name} must be >= 0, not {value}")
        if name == "phase_cycles":
            value %= 1.0
        setattr(self._c, name, value)

    @property
    def time_s(self) -> float:
        return self._c.sample_index / self._c.fs_hz

    def process(self, samples: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """complex64 samples through the channel (``out`` may be ``samples``)."""
        src = np.ascontiguousarray(samples, dtype=np.complex64)
        if out is None:
            out = np.empty_like(src)
        elif out.dtype != np.complex64 or out.size < src.size or not out.flags.c_contiguous:
            raise ValueError("out must be a contiguous complex64 array at least as long as the input")
        n = src.size
        check(lib.lr_channel_process(self._c, ffi.from_buffer("float[]", src.view(np.float32)), n,
                                     ffi.from_buffer("float[]", out.view(np.float32), require_writable=True),
                                     out.size), "channel")
        return out[:n]


def normal_pair(seed: int, index: int) -> tuple[float, float]:
    """The unit normal pair the channel draws for sample ``index`` under ``seed``."""
    x, y = ffi.new("double *"), ffi.new("double *")
    lib.lr_channel_normal_pair(int(seed) & (2**64 - 1), int(index), x, y)
    return x[0], y[0]
