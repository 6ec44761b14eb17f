"""The receiver end to end on signals whose code phase, Doppler, symbols and clock come from geometry.

The source here drives the C synthesiser block by block (10 ms) from five AFS nodes in 24 h
elliptical lunar frozen orbits (:class:`onboard.nav.afs_node.NavNode`: J2 propagation, clock model,
broadcast ephemeris fitted per ITOW interval, frames from both) seen by a receiver near the lunar
south pole: light-time range and range rate at each block edge set each channel's code phase and
rate (the node clock's offset included as a time shift) and its carrier Doppler, and the frame
symbols and the tiered pilot code follow the node's transmit time.  So the receiver must find the
nodes, sync their tiered codes, decode their frames, and fix its position from their own
ephemerides: the whole chain, with nothing taken from the truth but the comparison.
"""

import math

import numpy as np
import pytest

from hil.receiver import afs, moon_frame
from hil.receiver.receiver import Receiver, ReceiverConfig
from hil.scenario_signal import DEFAULT_EPOCH_S
from onboard.core import codes
from onboard.core.siggen import Component, SampleFormat, Synthesizer
from onboard.core.track import SampleFormat as TrackFormat
from onboard.nav.afs_node import NavNode
from onboard.nav.lunar_orbit import KeplerElements, semi_major_axis_for_period
from onboard.nav.node_clock import NodeClock

C = 299792458.0
FS = 4.092e6
SITE = (-89.66, 129.20, 100.0)
BLOCK_S = 0.01
# Reception starts 0.3 s before a frame boundary of system time, well inside an ITOW interval.
T0 = DEFAULT_EPOCH_S + 3 * 3600.0 + 12.0 * 20 - 0.3
DURATION_S = 13.5
CN0_DBHZ = 45.0


# Mean anomaly at T0, RAAN and inclination (deg) of five 24 h ELFOs (e 0.6, perilune in the north)
# that put nodes from 13 to 86 deg of elevation over the site: PDOP about 2.
ORBITS = ((88.0, 107.0, 37.0), (291.0, 136.0, 31.0), (213.0, 278.0, 85.0), (289.0, 286.0, 42.0),
          (191.0, 337.0, 89.0))


def nodes() -> list[NavNode]:
    a = semi_major_axis_for_period(86400.0)
    epoch = T0 - 60.0
    out = []
    for k, (m_deg, raan_deg, i_deg) in enumerate(ORBITS):
        m0 = math.radians(m_deg) - math.sqrt(4.9028e12 / a**3) * (T0 - epoch)
        el = KeplerElements(a, 0.6, math.radians(i_deg), math.radians(raan_deg), math.radians(90.0),
                            m0 % (2 * math.pi), epoch)
        clock = NodeClock(2e-6 * (k - 2), 1e-11 * (k - 1), 0.0, epoch)
        out.append(NavNode(k + 1, el, clock))
    return out


class NodeTruth:
    """A node's true orbit and clock, for the error budget."""

    def __init__(self, node: NavNode):
        self.node = node

    def state(self, t_s: float):
        return self.node.orbit.state(t_s)

    def clock_offset_s(self, t_s: float) -> float:
        return float(self.node.clock.offset_s(t_s))


class Trajectory:
    """A node's MCI position and velocity by Hermite interpolation between propagated states 0.5 s
    apart (the propagator runs forward only once; light-time iterations go back and forth)."""

    def __init__(self, node: NavNode, start: float, end: float):
        self.t = np.arange(start, end + 0.5, 0.5)
        states = [node.orbit.state(float(t)) for t in self.t]
        self.r = np.array([s[0] for s in states])
        self.v = np.array([s[1] for s in states])

    def state(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        k = min(max(int((t - self.t[0]) // 0.5), 0), self.t.size - 2)
        h = 0.5
        s = (t - self.t[k]) / h
        p0, p1, m0, m1 = self.r[k], self.r[k + 1], self.v[k] * h, self.v[k + 1] * h
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        pos = h00 * p0 + h10 * m0 + h01 * p1 + h11 * m1
        dh = (6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s)
        vel = (dh[0] * p0 + dh[1] * m0 + dh[2] * p1 + dh[3] * m1) / h
        return pos, vel


def receiver_mci(t: float) -> np.ndarray:
    return moon_frame.moon_fixed_rotation(t).T @ moon_frame.llh_to_fixed(*SITE)


class GeometrySource:
    """The receiver's sample source: ci16 blocks synthesised on demand from the nodes' geometry."""

    def __init__(self, nodes: list[NavNode], seed: int = 3):
        self.fs_hz, self.fmt, self.if_hz = FS, TrackFormat.CI16, 0.0
        self.carrier_hz = afs.CARRIER_HZ
        self.name = "geometry"
        self.problem = None
        self.truth_fixed_m = moon_frame.llh_to_fixed(*SITE)
        self.nodes = [n for n in nodes if self._elevation(n) > 5.0]
        self.prns = tuple(n.prn for n in self.nodes)
        self.tracks = {n.prn: Trajectory(n, T0 - 1.0, T0 + DURATION_S + 1.0) for n in self.nodes}
        self.synth = Synthesizer(FS, seed=seed, noise_sigma=1.0, scale=512.0)
        self.channels = []
        for n in self.nodes:
            chips, _ = self._chips(n, 0.0)
            epoch0 = int(chips // codes.AFS_I_CHIPS)
            frame0 = n.first_frame_s + afs.FRAME_EPOCHS * afs.EPOCH_S * (epoch0 // afs.FRAME_EPOCHS)
            data = (1 - 2 * n.symbols(frame0, 2 * afs.FRAME_EPOCHS).astype(np.int8)).astype(np.int8)
            first = epoch0 - epoch0 // afs.FRAME_EPOCHS * afs.FRAME_EPOCHS
            cn0 = CN0_DBHZ - 10 * math.log10(2.0)
            i = self.synth.add_channel(codes.afs_i(n.prn), 1.023e6, cn0_dbhz=cn0, epoch_signs=data,
                                       sign_index=first)
            q = self.synth.add_channel(codes.afs_q_primary(n.prn), 5.115e6, cn0_dbhz=cn0,
                                       component=Component.Q, epoch_signs=afs.pilot_signs(n.prn),
                                       sign_index=first)
            self.channels.append((n, i, q))
        self.position = 0
        self._set(0.0, BLOCK_S)

    def _elevation(self, node: NavNode) -> float:
        site = moon_frame.llh_to_fixed(*SITE)
        los = moon_frame.moon_fixed_rotation(T0) @ node.orbit.state(T0)[0] - site
        return math.degrees(math.asin(los @ moon_frame.enu_basis(site)[2] / np.linalg.norm(los)))

    def _chips(self, node: NavNode, dt: float) -> tuple[float, float]:
        """AFS-I chips since the node's first frame at the node-clock transmit time of a signal
        received dt after T0, and the carrier Doppler then.  Times stay offsets from T0: at AFS time's
        1.5e9 s a double resolves only 0.24 us, a quarter of a chip."""
        state = self.tracks[node.prn].state
        t_rx = T0 + dt
        delay = 0.0
        for _ in range(4):
            delay = np.linalg.norm(state(t_rx - delay)[0] - receiver_mci(t_rx)) / C
        pos, vel = state(t_rx - delay)
        rx = receiver_mci(t_rx)
        spin = moon_frame.angular_velocity_rad_s(t_rx)
        rx_vel = moon_frame.moon_fixed_rotation(t_rx).T @ np.cross(spin, moon_frame.llh_to_fixed(*SITE))
        unit = (pos - rx) / np.linalg.norm(pos - rx)
        range_rate = float(unit @ (vel - rx_vel))
        # Node clock at transmission, counted from its first frame: exact small numbers, not 1.5e9 s.
        tau = (T0 - node.first_frame_s) + dt - delay + node.clock.offset_s(t_rx - delay)
        doppler = -(range_rate / C - node.clock.rate_s_s(t_rx - delay)) * afs.CARRIER_HZ
        return tau * 1.023e6, doppler

    def _set(self, t_a: float, t_b: float) -> None:
        """Channel phases at t_a and rates to reach t_b (seconds after T0)."""
        for n, i, q in self.channels:
            chips_a, f_a = self._chips(n, t_a)
            chips_b, f_b = self._chips(n, t_b)
            rate = (chips_b - chips_a) / (t_b - t_a)
            i.code_phase_chips = chips_a % codes.AFS_I_CHIPS
            q.code_phase_chips = (5.0 * chips_a) % codes.AFS_Q_PRIMARY_CHIPS
            i.code_rate_cps, q.code_rate_cps = rate, 5.0 * rate
            for ch in (i, q):
                ch.doppler_hz = f_a
                ch.doppler_rate_hz_s = (f_b - f_a) / (t_b - t_a)

    def read(self, n: int) -> np.ndarray:
        total = int(DURATION_S * FS)
        n = min(n, total - self.position)
        if n <= 0:
            return np.zeros(0, np.int16)
        out = np.empty((n, 2), np.int16)
        done = 0
        per_block = int(round(BLOCK_S * FS))
        while done < n:
            k = min(n - done, per_block - self.position % per_block)
            out[done:done + k] = self.synth.generate(k, SampleFormat.CI16)
            done += k
            self.position += k
            if self.position % per_block == 0:
                t = self.position / FS
                self._set(t, t + BLOCK_S)
        return out.reshape(-1)

    def close(self) -> None:
        pass


def receive(ephemeris: str):
    models = nodes()
    truth = {n.prn: NodeTruth(NavNode(n.prn, n.elements, n.clock)) for n in models}
    source = GeometrySource(models)
    assert len(source.nodes) == 5
    frames = []
    config = ReceiverConfig(fix_interval_s=0.25, sise=True, ephemeris=ephemeris, truth=truth.__getitem__)
    return source, Receiver(source, config, on_frame=frames.append).run(), frames


@pytest.fixture(scope="module")
def run():
    return receive("broadcast")


@pytest.mark.slow
def test_every_visible_node_is_tracked_synchronised_and_decoded(run):
    source, summary, frames = run
    assert sorted(ch.prn for ch in summary.channels) == sorted(source.prns)
    for ch in summary.channels:
        assert ch.stage.value == "pilot"
        assert ch.cn0_dbhz == pytest.approx(CN0_DBHZ - 3.0, abs=2.0)
    by_prn = {f.prn: f for f in frames}
    assert sorted(by_prn) == sorted(source.prns)
    for node in source.nodes:
        frame = by_prn[node.prn]
        t = frame.decode.time
        assert frame.decode.crc_ok == (True, True, True)
        np.testing.assert_array_equal(frame.decode.data_bits, node.frame_content(t.seconds).data_bits())
        assert t.seconds == T0 + 0.3  # the frame that starts at the boundary 0.3 s in


@pytest.mark.slow
def test_fixes_from_the_broadcast_ephemerides_land_within_a_metre_of_the_site(run):
    _source, summary, _frames = run
    fixes = summary.fixes
    assert len(fixes) >= 1
    for fix in fixes:
        assert fix["error_3d_m"] < 1.0
        assert len(fix["nodes"]) >= 4
        assert fix["rms_residual_m"] < 0.5
        assert all(abs(n["sise_m"]) < 0.2 for n in fix["nodes"])  # a 24 h ELFO fits to centimetres
        assert fix["pdop"] > 1.0
        assert np.linalg.norm(fix["velocity_fixed_m_s"]) < 0.2


@pytest.mark.slow
def test_the_truth_ephemeris_splits_off_the_signal_in_space_error():
    _source, summary, _frames = receive("truth")
    assert len(summary.fixes) >= 1
    for fix in summary.fixes:
        assert fix["ephemeris"] == "truth"
        assert fix["error_3d_m"] < 1.0  # what is left is the receiver's own noise
