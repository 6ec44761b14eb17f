"""The radio channel on IQ samples between the relay's modem and the ground's (or back).

:class:`RfChannel` wraps the C channel (``onboard.core.channel``) with what a scenario
gives: a carrier frequency offset, a Doppler shift that is a function of time (a constant,
or a callable of seconds, so geometry can drive it) followed piecewise-quadratically with
the phase continuous, noise set by Es/N0, Eb/N0 (per information bit) or C/N0, optional
Wiener phase noise, and outages (the signal is gone, the noise stays).  Everything is a
pure function of the seed and the sample index: the same run split into other blocks gives
the same samples.

:func:`orbit_doppler_hz` is the Doppler of a scenario relay's orbit as a function of emulated time,
for ``RfChannel(doppler_hz=...)``; :func:`relay_doppler_rate_bound_hz_s` bounds the largest Doppler
rate a ground station sees from the default relay orbit (see its docstring for what it counts).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from onboard.core.channel import Channel, noise_sigma_for_cn0, noise_sigma_for_esn0
from onboard.nav.lunar_orbit import DEFAULT_ELFO, GM_MOON, KeplerElements, kepler_state

C_M_S = 299_792_458.0
OMEGA_EARTH_RAD_S = 7.2921159e-5
R_EARTH_M = 6_378_137.0
GM_EARTH = 3.986004418e14
EARTH_MOON_MIN_M = 356_400e3  # the Moon's perigee distance, the largest Earth-Moon term


@dataclasses.dataclass(frozen=True)
class Outage:
    """The signal is absent from ``start_s`` for ``duration_s`` seconds (noise continues)."""

    start_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and self.start_s >= 0 and math.isfinite(self.duration_s)
                and self.duration_s > 0):
            raise ValueError(f"an outage needs a start >= 0 s and a positive duration, not "
                             f"{self.start_s} s for {self.duration_s} s")

    @classmethod
    def parse(cls, text: str) -> Outage:
        """``START:DURATION`` in seconds."""
        try:
            start, duration = (float(v) for v in text.split(":"))
        except ValueError:
            raise ValueError(f"an outage is START:DURATION in seconds, not {text!r}") from None
        return cls(start, duration)


DopplerLike = float | Callable[[float], float]


class RfChannel:
    """Carrier offset, Doppler (a function of time), phase noise, outages and AWGN.

    Noise: give one of ``esn0_db`` (per channel symbol), ``ebn0_db`` (per information bit:
    Es = Eb * bits_per_symbol * code_rate) or ``cn0_dbhz``; ``signal_power`` is the mean
    power per sample of the modulator's output (amplitude squared for the RRC schemes).
    ``update_s`` is how often the Doppler function is sampled; between samples the frequency
    moves linearly.
    """

    def __init__(self, fs_hz: float, *, sps: float = 4.0, bits_per_symbol: int = 1, code_rate: float = 1.0,
                 signal_power: float = 1.0, esn0_db: float | None = None, ebn0_db: float | None = None,
                 cn0_dbhz: float | None = None, cfo_hz: float = 0.0, doppler_hz: DopplerLike = 0.0,
                 doppler_rate_hz_s: float = 0.0, phase_cycles: float = 0.0, phase_noise_rad: float = 0.0,
                 outages: tuple[Outage, ...] | list[Outage] = (), seed: int = 0, update_s: float = 1e-3):
        given = [v is not None for v in (esn0_db, ebn0_db, cn0_dbhz)]
        if sum(given) > 1:
            raise ValueError("give the noise as one of Es/N0, Eb/N0 or C/N0, not several")
        if not update_s > 0:
            raise ValueError(f"the Doppler update interval must be positive, not {update_s}")
        self.fs_hz = float(fs_hz)
        if ebn0_db is not None:
            esn0_db = ebn0_db + 10.0 * math.log10(bits_per_symbol * code_rate)
        if esn0_db is not None:
            sigma = noise_sigma_for_esn0(esn0_db, sps, signal_power)
        elif cn0_dbhz is not None:
            sigma = noise_sigma_for_cn0(cn0_dbhz, fs_hz, signal_power)
        else:
            sigma = 0.0
        self.esn0_db = esn0_db
        self.cfo_hz = float(cfo_hz)
        if callable(doppler_hz):
            self._doppler = doppler_hz
        else:
            d0, rate = float(doppler_hz), float(doppler_rate_hz_s)
            self._doppler = lambda t: d0 + rate * t
        self.outages = sorted(outages, key=lambda o: o.start_s)
        self.blocked = False       # set by the caller while the path is blocked (out of view)
        self._update = max(1, round(update_s * self.fs_hz))
        self._c = Channel(fs_hz, seed, phase_cycles=phase_cycles, noise_sigma=sigma,
                          phase_noise_rad=phase_noise_rad)
        self._set_frequency(0)

    @property
    def noise_sigma(self) -> float:
        return self._c.noise_sigma

    @property
    def sample_index(self) -> int:
        return self._c.sample_index

    def doppler_hz(self, t_s: float) -> float:
        return self._doppler(t_s)

    def _set_frequency(self, index: int) -> None:
        t0 = index / self.fs_hz
        t1 = (index + self._update) / self.fs_hz
        f0, f1 = self._doppler(t0), self._doppler(t1)
        self._c.freq_hz = self.cfo_hz + f0
        self._c.freq_rate_hz_s = (f1 - f0) / (t1 - t0)

    def _in_outage(self, index: int) -> tuple[bool, int]:
        """Whether sample ``index`` is in an outage, and the next index where that changes."""
        nxt = None
        for o in self.outages:
            start, end = round(o.start_s * self.fs_hz), round((o.start_s + o.duration_s) * self.fs_hz)
            if start <= index < end:
                return True, end
            if index < start:
                nxt = start if nxt is None else min(nxt, start)
        return False, nxt if nxt is not None else 1 << 62

    def process(self, samples: np.ndarray) -> np.ndarray:
        """complex64 samples through the channel, split at Doppler updates and outage edges."""
        src = np.ascontiguousarray(samples, dtype=np.complex64).reshape(-1)
        out = np.empty_like(src)
        done = 0
        while done < src.size:
            index = self._c.sample_index
            to_update = self._update - index % self._update
            outage, change = self._in_outage(index)
            n = min(src.size - done, to_update, change - index)
            self._c.gain = 0.0 if outage or self.blocked else 1.0
            self._c.process(src[done:done + n], out[done:done + n])
            done += n
            if self._c.sample_index % self._update == 0:
                self._set_frequency(self._c.sample_index)
        return out

    def noise(self, n: int) -> np.ndarray:
        """``n`` samples of the channel with no signal in (a transmitter that is off)."""
        return self.process(np.zeros(n, dtype=np.complex64))


def orbit_doppler_hz(orbit, carrier_hz: float) -> Callable[[float], float]:
    """The Doppler shift (Hz) of a relay on ``orbit`` (``onboard.scenario.RelayOrbit``; emulated
    time zero is its epoch) at ``carrier_hz``: its velocity about the Moon along the mean Earth
    direction, the x axis of the Moon-centred frame (``onboard.nav.lunar_orbit``).  The Moon's own
    motion and the station's rotation are left out: they add slowly varying terms a loop follows
    as it follows this one (:func:`relay_doppler_rate_bound_hz_s` bounds them all)."""
    elements = KeplerElements(orbit.a_km * 1e3, orbit.e, math.radians(orbit.i_deg),
                              math.radians(orbit.raan_deg),
                              math.radians(orbit.argp_deg), math.radians(orbit.m0_deg))

    def doppler_hz(t_s: float) -> float:
        _, v = kepler_state(elements, t_s)
        return float(v[0]) / C_M_S * carrier_hz     # moving towards Earth: the carrier goes up

    return doppler_hz


def relay_doppler_rate_bound_hz_s(carrier_hz: float, elements: KeplerElements = DEFAULT_ELFO) -> float:
    """An upper bound of |d(Doppler)/dt| that a ground station sees from a relay on ``elements``.

    The range rate's derivative is the line-of-sight component of the relative acceleration
    plus the rotation of the line of sight (v_perp^2 / range).  It is bounded by the sum of:
    the relay's largest acceleration about the Moon over one orbit (two-body gravity, largest
    at perilune), the station's centripetal acceleration from Earth's rotation on the equator,
    the Moon's acceleration relative to Earth at perigee, and v^2 / range for the largest
    relay-plus-lunar-orbit speed at the Moon's perigee distance.  Each term is taken at its
    worst at once, so the bound holds for any station, date and point of the orbit.
    """
    period = 2.0 * math.pi * math.sqrt(elements.a_m ** 3 / GM_MOON)
    a_max = v_max = 0.0
    for t in np.linspace(0.0, period, 2000, endpoint=False):
        r, v = kepler_state(elements, float(t))
        a_max = max(a_max, GM_MOON / float(np.dot(r, r)))
        v_max = max(v_max, float(np.linalg.norm(v)))
    a_station = OMEGA_EARTH_RAD_S ** 2 * R_EARTH_M
    a_moon = (GM_EARTH + GM_MOON) / EARTH_MOON_MIN_M ** 2
    v_total = v_max + 1.1e3 + OMEGA_EARTH_RAD_S * R_EARTH_M  # lunar orbital speed <= 1.1 km/s
    a_los_rotation = v_total ** 2 / EARTH_MOON_MIN_M
    return (a_max + a_station + a_moon + a_los_rotation) * carrier_hz / C_M_S
