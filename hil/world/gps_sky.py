"""A GPS sky seen from one receiver: geometry-driven L1 C/A channels with LNAV data.

Given a receiver position, a GPS time and a constellation of broadcast ephemerides, a
:class:`GpsSky` gives for every satellite and receiver time t the SV time t_SV of the
signal that arrives at t: the signal left at GPS time t_tx = t - range/c (range from the
satellite's position at t_tx, rotated by the Earth's turn during the flight, the Sagnac
effect) and carried the SV clock's time t_SV = t_tx + (Delta t_SV)_L1 (IS-GPS-200
§20.3.3.3.3.1).  Everything the receiver sees follows from t_SV: the C/A code phase
(1023 chips per ms of SV time, §3.3.2.3), the code epoch and therefore the 50 bps bit,
subframe and HOW TOW count (§20.3.2, §20.3.3.2), the code rate and the carrier Doppler.
The pseudorange a receiver with a perfect clock measures is c (t - t_SV).

:class:`SkySynthesizer` drives a :class:`~onboard.core.siggen.Synthesizer` with it through
:mod:`hil.world.signal_geometry`: at every update (100 Hz by default) each channel's code
rate is set so that its code phase lands on the sky's t_SV at the next update, and its
carrier Doppler to the rate of t_SV.

Times are split as a start time of week plus seconds since the start, so the sub-
nanosecond offsets t_SV - t keep their precision.  :func:`synthetic_constellation` makes
a plausible 30-satellite constellation (six planes of five, 55 degrees, e <= 0.02) whose
every field is at its broadcast resolution, so the transmitter and a receiver that
decodes the message compute the same orbits.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hil.world.signal_geometry import GeometrySynthesizer, TrackedChannel, first_epoch
from onboard.core import codes
from onboard.core.siggen import Synthesizer
from onboard.links.sigmf import ChannelTruth
from onboard.nav import gps_ephemeris as ge
from onboard.nav.gps_lnav import GPS_PI, Almanac, Ephemeris, IonoUtc, LnavSource

GPS_L1_HZ = 1575.42e6  # IS-GPS-200 §3.3.1.1
CA_CHIPS = 1023
CA_CHIP_RATE_HZ = 1.023e6
MS_PER_BIT = 20  # IS-GPS-200 §20.3.2: 50 bps, one bit per 20 C/A code epochs
MS_PER_SUBFRAME = 6000
SECONDS_PER_WEEK = 604800


@dataclasses.dataclass(frozen=True)
class GpsReceiver:
    """Where and when the recording is received: a static antenna with a perfect GPS clock."""

    ecef_m: tuple[float, float, float]
    gps_week: int
    gps_tow_s: float  # GPS time of week at the first sample
    elevation_mask_deg: float = 10.0
    constellation_seed: int = 1

    @classmethod
    def from_llh(cls, lat_deg: float, lon_deg: float, height_m: float, gps_week: int, gps_tow_s: float,
                 **kwargs) -> GpsReceiver:
        return cls(tuple(float(v) for v in ge.llh_to_ecef(lat_deg, lon_deg, height_m)), gps_week, gps_tow_s,
                   **kwargs)

    @property
    def llh(self) -> tuple[float, float, float]:
        return ge.ecef_to_llh(np.array(self.ecef_m))

    def check(self) -> None:
        if not 0 <= self.gps_week < 8192:
            raise ValueError(f"GPS week {self.gps_week} is outside 0..8191")
        if not 0 <= self.gps_tow_s < SECONDS_PER_WEEK:
            raise ValueError(f"GPS time of week {self.gps_tow_s} s is outside [0, 604800)")
        if not 6.2e6 < float(np.linalg.norm(self.ecef_m)) < 6.5e6:
            distance_km = np.linalg.norm(self.ecef_m) / 1e3
            raise ValueError(f"receiver at {distance_km:.0f} km from the Earth's centre "
                             "is not near the surface")
        if not -90 <= self.elevation_mask_deg <= 90:
            raise ValueError(f"elevation mask {self.elevation_mask_deg} deg is outside -90..90")


def synthetic_constellation(gps_week: int, t_oe: float, seed: int = 1) -> list[Ephemeris]:
    """PRN 1..30: six orbital planes 60 degrees apart, five satellites each, broadcast-quantised.

    ``t_oe`` (a multiple of 16 s) is also each clock's t_oc; the fields are drawn in the
    ranges real GPS satellites broadcast (sqrt(A) about 5153.6 m^0.5, e up to 0.02,
    i about 55 degrees, clock bias up to 0.3 ms).  IODC is below 256, as the operational
    satellites broadcast it: GNSS-SDR 0.0.17 accepts a data set only when the whole IODC
    equals IODE, not just its 8 LSBs (IS-GPS-200 §20.3.4.4).
    """
    if t_oe % 16:
        raise ValueError(f"t_oe {t_oe} s is not a multiple of 16 s (IS-GPS-200 Table 20-III)")
    rng = np.random.default_rng(seed)
    node_offset = rng.uniform(0, 2 * math.pi)
    anomaly_offset = rng.uniform(0, 2 * math.pi)
    out = []
    for prn in range(1, 31):
        plane, slot = divmod(prn - 1, 5)
        # Longitude of the node at t_oe; the broadcast Omega_0 is referred to the week start.
        node_longitude = node_offset + plane * math.pi / 3
        u = rng.uniform
        eph = Ephemeris(
            prn=prn, week_number=gps_week, t_oc=t_oe, a_f0=u(-3e-4, 3e-4), a_f1=u(-1e-11, 1e-11), a_f2=0.0,
            t_gd=u(-1e-8, 1e-8), iodc=int(rng.integers(0, 256)), t_oe=t_oe, sqrt_a=5153.6 + u(-1.5, 1.5),
            e=u(0.002, 0.02),
            m_0=anomaly_offset + slot * 2 * math.pi / 5 + plane * math.pi / 15 + u(-0.1, 0.1),
            delta_n=u(3.5e-9, 5.5e-9), omega_0=node_longitude + ge.OMEGA_E_DOT_RAD_S * t_oe,
            i_0=math.radians(55.0 + u(-1.5, 1.5)), omega=u(-math.pi, math.pi), omega_dot=u(-8.6e-9, -7.6e-9),
            idot=u(-3e-10, 3e-10), c_uc=u(-5e-6, 5e-6), c_us=u(-5e-6, 5e-6), c_rc=u(100.0, 350.0),
            c_rs=u(-120.0, 120.0), c_ic=u(-2e-7, 2e-7), c_is=u(-2e-7, 2e-7))
        out.append(eph.quantized())
    return out


def almanac_of(constellation: list[Ephemeris], t_oa: float) -> tuple[Almanac, ...]:
    return tuple(Almanac.from_ephemeris(e, t_oa) for e in constellation)


@dataclasses.dataclass(frozen=True)
class SatelliteView:
    """One satellite at one receiver time: what a receiver with a perfect clock would measure."""

    prn: int
    elevation_deg: float
    azimuth_deg: float
    range_m: float  # geometric, Sagnac included
    pseudorange_m: float  # c (t - t_SV)
    doppler_hz: float
    doppler_rate_hz_s: float


class GpsSky:
    """The constellation seen from ``receiver``; t is receiver time in seconds since its start."""

    def __init__(self, receiver: GpsReceiver, constellation: list[Ephemeris] | None = None):
        receiver.check()
        self.receiver = receiver
        self.rx = np.array(receiver.ecef_m, np.float64)
        t_oe = float(math.floor(receiver.gps_tow_s / 16) * 16)
        self.constellation = constellation or synthetic_constellation(receiver.gps_week, t_oe,
                                                                      receiver.constellation_seed)
        self.by_prn = {e.prn: e for e in self.constellation}

    def offset_s(self, prn: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t_SV - t_rx, geometric range, satellite ECEF at transmission) for receiver times t."""
        eph = self.by_prn[prn]
        t = np.asarray(t, np.float64)
        t_rx = self.receiver.gps_tow_s + t
        flight = np.full(t.shape, 0.075)
        for _ in range(4):
            sat = ge.satellite_position(eph, t_rx - flight)
            # Sagnac: express the transmit-time ECEF position in the ECEF frame of reception.
            theta = ge.OMEGA_E_DOT_RAD_S * flight
            x = sat[..., 0] * np.cos(theta) + sat[..., 1] * np.sin(theta)
            y = -sat[..., 0] * np.sin(theta) + sat[..., 1] * np.cos(theta)
            sat = np.stack([x, y, sat[..., 2]], axis=-1)
            rng = np.linalg.norm(sat - self.rx, axis=-1)
            flight = rng / ge.C_M_S
        offset = ge.satellite_clock_offset(eph, t_rx - flight) - flight
        return offset, rng, sat

    def view(self, prn: int, t: float = 0.0) -> SatelliteView:
        offsets, rng, sat = self.offset_s(prn, np.array([t - 0.5, t, t + 0.5]))
        el, az = ge.elevation_azimuth(self.rx, sat[1])
        rate = np.diff(offsets)  # per 0.5 s
        return SatelliteView(prn, math.degrees(float(el)), math.degrees(float(az)), float(rng[1]),
                             -ge.C_M_S * float(offsets[1]), GPS_L1_HZ * float(offsets[2] - offsets[0]),
                             GPS_L1_HZ * float(rate[1] - rate[0]) / 0.25)

    def visible(self, t: float = 0.0) -> list[SatelliteView]:
        """Satellites above the receiver's elevation mask at t, by PRN."""
        views = [self.view(e.prn, t) for e in self.constellation]
        return [v for v in views if v.elevation_deg >= self.receiver.elevation_mask_deg]

    def lnav_source(self, prn: int) -> LnavSource:
        week, tow = self.receiver.gps_week, self.receiver.gps_tow_s
        t_oa = float(math.floor(tow / 4096) * 4096)
        utc = IonoUtc(t_ot=t_oa, wn_t=week, wn_lsf=week)  # no leap second pending: delta_t_lsf = delta_t_ls
        return LnavSource(self.by_prn[prn], almanac_of(self.constellation, t_oa), utc, t_oa, week)

    def epoch_signs(self, prn: int, first_ms: int, n_ms: int) -> np.ndarray:
        """+1/-1 (logic 0/1) per C/A code epoch: the LNAV bit of every ms of SV time from ``first_ms``
        (ms since the week start) on."""
        first_sf = first_ms // MS_PER_SUBFRAME
        last_sf = (first_ms + n_ms - 1) // MS_PER_SUBFRAME
        bits = self.lnav_source(prn).bits(first_sf, last_sf - first_sf + 1)
        ms = np.arange(first_ms, first_ms + n_ms) - first_sf * MS_PER_SUBFRAME
        return (1 - 2 * bits[ms // MS_PER_BIT].astype(np.int8)).astype(np.int8)


class SkySynthesizer(GeometrySynthesizer):
    """A :class:`~hil.world.signal_geometry.GeometrySynthesizer` whose channels follow a
    :class:`GpsSky`: channel k is the k-th PRN given, ``first_ms[k]`` its code epoch (ms of SV
    time since the week start) in progress at the first sample.  A run may not pass the end of
    the GPS week."""

    def __init__(self, synth: Synthesizer, sky: GpsSky, prns: list[int], update_hz: float = 100.0):
        self.sky, self.prns = sky, list(prns)
        start = sky.receiver.gps_tow_s
        self.first_ms: list[int] = []
        tracked = []
        for k, prn in enumerate(self.prns):
            offset = float(sky.offset_s(prn, np.array([0.0]))[0][0])
            index, base = first_epoch(start, offset, 1000)
            self.first_ms.append(index)
            tracked.append(TrackedChannel(k, k, CA_CHIP_RATE_HZ, CA_CHIPS, base, GPS_L1_HZ))
        sources = [lambda t, prn=prn: sky.offset_s(prn, t)[0] for prn in self.prns]
        super().__init__(synth, sources, tracked, update_hz)


def build_sky_synthesizer(sky: GpsSky, channels: list[tuple[int, float]], *, fs_hz: float, if_hz: float,
                          seed: int, noise_sigma: float, scale: float, duration_s: float,
                          update_hz: float = 100.0) -> tuple[SkySynthesizer, list[ChannelTruth]]:
    """A synthesiser of the sky's ``channels`` ((PRN, C/N0 dB-Hz) each) and their truth at sample 0."""
    synth = Synthesizer(fs_hz, if_hz, seed=seed, noise_sigma=noise_sigma, scale=scale)
    sky_synth = SkySynthesizer(synth, sky, [prn for prn, _ in channels], update_hz)
    n_ms = math.ceil(duration_s * 1000) + 200
    truths = []
    for k, (prn, cn0) in enumerate(channels):
        view = sky.view(prn)
        phase = float(sky_synth.chips(k, np.array([0.0]))[0])
        rate = CA_CHIP_RATE_HZ * (1 + view.doppler_hz / GPS_L1_HZ)
        synth.add_channel(codes.gps_l1ca(prn), rate, code_phase_chips=phase, doppler_hz=view.doppler_hz,
                          cn0_dbhz=cn0, epoch_signs=sky.epoch_signs(prn, sky_synth.first_ms[k], n_ms))
        truths.append(ChannelTruth("gps-l1ca", prn, view.doppler_hz, cn0, phase, rate, GPS_L1_HZ,
                                   view.doppler_rate_hz_s, "I"))
    return sky_synth, truths


def sky_metadata(sky: GpsSky, prns: list[int]) -> dict:
    """SigMF global fields: the receiver, the GPS time of the first sample and each satellite's truth."""
    lat, lon, height = sky.receiver.llh
    sats = []
    for prn in prns:
        v = sky.view(prn)
        eph = sky.by_prn[prn]
        sats.append({"prn": prn, "elevation_deg": round(v.elevation_deg, 3),
                     "azimuth_deg": round(v.azimuth_deg, 3),
                     "pseudorange_m": round(v.pseudorange_m, 4), "range_m": round(v.range_m, 4),
                     "iode": eph.iode, "t_oe": eph.t_oe})
    return {"lunarelay:receiver_ecef_m": list(sky.receiver.ecef_m),
            "lunarelay:receiver_llh": [lat, lon, height],
            "lunarelay:gps_week": sky.receiver.gps_week, "lunarelay:gps_tow_s": sky.receiver.gps_tow_s,
            "lunarelay:gps_satellites": sats}


__all__ = ["GPS_PI", "GpsReceiver", "GpsSky", "SatelliteView", "SkySynthesizer", "build_sky_synthesizer",
           "sky_metadata", "synthetic_constellation"]
