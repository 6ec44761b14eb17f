"""The AFS receiver end to end: acquisition, tracking, frames and fixes over a sample source.

:class:`Receiver` reads its source block by block.  The first block (20 ms by default) is searched
for every PRN asked for (the recording's own PRNs, or 1..12); each node found gets a
:class:`~hil.receiver.channel.NodeChannel` in one C tracker, which then runs from the stream's
first sample through every block.  Every ``reacquire_s`` of stream time (5 s) the last 20 ms are
searched again for the PRNs asked for that no channel follows (a node rising during the recording,
or one whose lock was lost), a few at a time in turns so that a search costs a bounded time; a node
found joins the tracker there.  After each block the channels read their epoch records, and
every ``fix_interval_s`` of stream time the receiver takes the transmit times of all channels that
have time and ephemeris at one common sample, and solves (:mod:`hil.receiver.pvt`).

The receiver clock is the stream's sample count: sample ``m`` is receiver time ``t0 + m / fs``,
with ``t0`` set at the first fix so that the nearest node is 20 ms away; the clock bias the fixes
report is measured against that.

The error budget: ``ephemeris="truth"`` replaces each node's broadcast ephemeris and clock
correction by its true orbit and clock (the recording's own, :mod:`hil.receiver.truth`, unless
the configuration names another), so what is left is the receiver's own noise; ``sise`` reports
each node's broadcast ephemeris and clock error along the line of sight (signal-in-space error);
``budget`` solves every fix twice, with the broadcast and with the true ephemeris, and records how
the error splits: the receiver's noise (the error of the fix with the truth), the broadcast
ephemeris' part (the SISE carried through the fix's geometry) and what the two leave unexplained
of the error, which is only the least squares' nonlinearity, millimetres.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np

from hil.receiver import afs, moon_frame, pvt
from hil.receiver.acquisition import DEFAULT_DOPPLER_MAX_HZ, acquire
from hil.receiver.channel import DecodedFrame, Event, LoopSettings, NodeChannel, Stage
from hil.receiver.truth import TruthError
from onboard.core.track import MAX_CHANNELS, Kernel, SampleFormat, Tracker
from onboard.errors import LunarelayError
from onboard.nav import afs_message as am

DEFAULT_PRNS = tuple(range(1, 13))
REACQUIRE_PRNS = 3  # PRNs searched per re-acquisition (about 0.15 s each when absent)
FIRST_RANGE_S = 0.020  # the receiver clock starts with the nearest node 20 ms away


class ReceiveError(LunarelayError):
    """The receiver cannot go on (no signal found, a source that fails); what it found stays valid."""


@dataclasses.dataclass(frozen=True)
class ReceiverConfig:
    prns: tuple[int, ...] | None = None  # None: the source's own, else DEFAULT_PRNS
    doppler_max_hz: float = DEFAULT_DOPPLER_MAX_HZ
    acquisition_s: float = 0.020
    reacquire_s: float | None = 5.0  # stream seconds between searches for untracked PRNs; None: never
    block_samples: int = 1 << 20
    fix_interval_s: float = 1.0
    ephemeris: str = "broadcast"  # or "truth"
    sise: bool = False  # report each node's broadcast ephemeris error against the truth
    budget: bool = False  # split each fix's error into receiver noise and broadcast ephemeris (SISE)
    # PRN -> the node's true orbit and clock; None: the truth the recording carries
    truth: Callable[[int], pvt.EphemerisSource] | None = None
    loops: LoopSettings = dataclasses.field(default_factory=LoopSettings)
    max_duration_s: float | None = None
    kernel: Kernel = Kernel.SIMD


@dataclasses.dataclass
class Summary:
    samples: int = 0
    seconds: float = 0.0
    wall_s: float = 0.0
    searched: tuple[int, ...] = ()
    channels: list[NodeChannel] = dataclasses.field(default_factory=list)
    fixes: list[dict] = dataclasses.field(default_factory=list)
    fix_attempts: int = 0
    problem: str | None = None

    @property
    def frames(self) -> list[DecodedFrame]:
        return [f for ch in self.channels for f in ch.frames]

    @property
    def errors_3d_m(self) -> list[float]:
        return [f["error_3d_m"] for f in self.fixes if "error_3d_m" in f]


def to_complex(block: np.ndarray, fmt: SampleFormat) -> np.ndarray:
    """complex64 samples of a block in the tracker's format."""
    if fmt == SampleFormat.CF32:
        return np.asarray(block, np.complex64)
    pairs = np.asarray(block).reshape(-1, 2).astype(np.float32)
    return (pairs[:, 0] + 1j * pairs[:, 1]).astype(np.complex64)


class Receiver:
    def __init__(self, source, config: ReceiverConfig | None = None,
                 on_fix: Callable[[dict], None] | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 on_frame: Callable[[DecodedFrame], None] | None = None):
        self.source = source
        self.config = config or ReceiverConfig()
        self.on_fix = on_fix or (lambda fix: None)
        self.on_event = on_event or (lambda event: None)
        self.on_frame = on_frame or (lambda frame: None)
        self.fs_hz = float(source.fs_hz)
        self.tracker = Tracker(self.fs_hz, source.if_hz, kernel=self.config.kernel)
        self.channels: list[NodeChannel] = []
        self.summary = Summary()
        self._interval = max(1, int(round(self.config.fix_interval_s * self.fs_hz)))
        self._next_fix = self._interval
        self._t0: float | None = None  # receiver clock at sample 0, after the time reference
        self._reference_s: float | None = None  # whole seconds of AFS time all fix times count from
        self._last_position: np.ndarray | None = None
        self._truth_sources: dict[int, pvt.EphemerisSource] = {}
        self._search_turn = 0
        reacquire = self.config.reacquire_s
        self._reacquire_every = None if reacquire is None else max(1, int(round(reacquire * self.fs_hz)))
        self._next_search = self._reacquire_every

    # -- running -------------------------------------------------------------------------

    def run(self) -> Summary:
        wall0 = time.monotonic()
        try:
            self._check_truth()
            self._run()
        finally:
            self.summary.wall_s = time.monotonic() - wall0
            self.summary.channels = self.channels
            self.summary.samples = self.tracker.next_sample
            self.summary.seconds = self.tracker.next_sample / self.fs_hz
            if self.summary.problem is None:
                self.summary.problem = self.source.problem
        return self.summary

    def _limit(self) -> int | None:
        if self.config.max_duration_s is None:
            return None
        return int(round(self.config.max_duration_s * self.fs_hz))

    def _run(self) -> None:
        fmt = self.source.fmt
        n_acq = int(round(self.config.acquisition_s * self.fs_hz))
        first = self.source.read(n_acq)
        per = 1 if fmt == SampleFormat.CF32 else 2
        got = first.size // per
        need = 3 * int(round(afs.EPOCH_S * self.fs_hz))
        if got < need:
            raise ReceiveError(f"{self.source.name}: {got} samples is shorter than the {need} "
                               f"({need / self.fs_hz * 1e3:g} ms) that acquisition needs")
        prns = self.config.prns or self.source.prns or DEFAULT_PRNS
        self.summary.searched = tuple(prns)
        self._search(to_complex(first, fmt), 0, prns)
        if not self.channels:
            raise ReceiveError(f"{self.source.name}: no AFS node found (searched PRN "
                               f"{_ranges(prns)} within +/-{self.config.doppler_max_hz:g} Hz)")
        self._process(first)
        limit = self._limit()
        while limit is None or self.tracker.next_sample < limit:
            n = self.config.block_samples
            if limit is not None:
                n = min(n, limit - self.tracker.next_sample)
            block = self.source.read(n)
            if block.size == 0:
                break
            self._process(block)
            self._reacquire(block, n_acq)

    def _reacquire(self, block: np.ndarray, n_acq: int) -> None:
        """Search the block's last ``n_acq`` samples for untracked PRNs, when the time has come."""
        if self._next_search is None or self.tracker.next_sample < self._next_search:
            return
        while self._next_search <= self.tracker.next_sample:
            self._next_search += self._reacquire_every
        per = 1 if self.source.fmt == SampleFormat.CF32 else 2
        if block.size < per * n_acq:
            return
        followed = {ch.prn for ch in self.channels if ch.stage is not Stage.LOST}
        untracked = [p for p in self.summary.searched if p not in followed]
        room = MAX_CHANNELS - len(self.channels)
        if not untracked or room <= 0:
            return
        k = self._search_turn % len(untracked)
        turn = (untracked[k:] + untracked[:k])[:min(REACQUIRE_PRNS, room)]
        self._search_turn += len(turn)
        tail = to_complex(block[-per * n_acq:], self.source.fmt)
        self._search(tail, self.tracker.next_sample - n_acq, turn)

    def _search(self, x: np.ndarray, buffer_start: int, prns) -> None:
        """Acquire ``prns`` in ``x`` (samples from ``buffer_start``) and give each node found a channel
        that the tracker runs from its next sample."""
        if self.source.if_hz:
            # Search around the IF: mix it down first (the tracker adds it back to each NCO).
            t = (buffer_start + np.arange(x.size)) / self.fs_hz
            x = (x * np.exp(-2j * np.pi * self.source.if_hz * t)).astype(np.complex64)
        again = buffer_start > 0
        for prn in prns:
            result = acquire(x, self.fs_hz, prn, doppler_max_hz=self.config.doppler_max_hz)
            if not result.detected:
                continue
            ch = NodeChannel(self.tracker, result, buffer_start, self.fs_hz, self.source.carrier_hz,
                             self.config.loops)
            self.channels.append(ch)
            kind = "AFS-I and AFS-Q" if result.pilot else "AFS-I only"
            self._emit(Event(prn, "acquired", float(buffer_start),
                             f"PRN {prn}: {'re-acquired' if again else 'acquired'} ({kind}) at "
                             f"{result.doppler_hz:.1f} Hz, epoch at sample {result.epoch_start_samples:.2f} "
                             f"from sample {buffer_start}, metric {result.metric_i:.1f}",
                             {"doppler_hz": result.doppler_hz, "pilot": result.pilot}))

    def _emit(self, event: Event) -> None:
        self.on_event(event)

    def _process(self, block: np.ndarray) -> None:
        dumps = self.tracker.process(block, self.source.fmt)
        by_channel = dumps["channel"]
        for ch in self.channels:
            n_frames = len(ch.frames)
            for event in ch.on_dumps(dumps[by_channel == ch.index].copy()):
                self._emit(event)
            for frame in ch.frames[n_frames:]:
                self.on_frame(frame)
        self._fixes()

    # -- fixes ---------------------------------------------------------------------------

    def _ephemeris(self, ch: NodeChannel) -> pvt.EphemerisSource:
        if self.config.ephemeris == "truth":
            return self._truth(ch.prn)
        return pvt.BroadcastSource(ch.ephemeris)

    def _check_truth(self) -> None:
        """The truth the configuration needs is there before any sample is read."""
        c = self.config
        if c.budget and c.ephemeris != "broadcast":
            raise ReceiveError("the error budget splits the broadcast ephemeris' fixes: it needs "
                               "ephemeris 'broadcast'")
        needs = [name for name, on in (("the truth ephemeris", c.ephemeris == "truth"), ("SISE", c.sise),
                                        ("the error budget", c.budget)) if on]
        if needs and c.truth is None and not getattr(self.source, "node_truth", None):
            raise ReceiveError(f"{self.source.name}: {' and '.join(needs)} need the nodes' truth, which this "
                               f"source does not carry (lunarelay siggen --receiver-moon-llh writes it)")
        if c.budget and self.source.truth_fixed_m is None:
            raise ReceiveError(f"{self.source.name}: the error budget needs the receiver's true position, "
                               f"which this source does not carry")

    def _truth(self, prn: int) -> pvt.EphemerisSource:
        if prn not in self._truth_sources:
            source = self.config.truth(prn) if self.config.truth else self.source.node_truth.get(prn)
            if source is None:
                raise ReceiveError(f"{self.source.name}: the recording carries no truth of node PRN {prn}")
            self._truth_sources[prn] = source
        return self._truth_sources[prn]

    def _fixes(self) -> None:
        live = [ch for ch in self.channels if ch.stage is not Stage.LOST]
        horizon = min((ch.measurable_until for ch in live), default=float(self.tracker.next_sample))
        horizon = min(horizon, float(self.tracker.next_sample))
        while self._next_fix < horizon:
            self._fix_at(self._next_fix)
            self._next_fix += self._interval

    def _fix_at(self, sample: int) -> None:
        ready = [ch for ch in self.channels if ch.ready]
        if len(ready) < 4:
            return
        if self._reference_s is None:
            self._reference_s = float(min(ch.anchor[1] for ch in ready))
        measurements = []
        for ch in ready:
            got = ch.transmit_time(sample, self._reference_s)
            if got is None:
                continue
            tau, doppler = got
            measurements.append(pvt.Measurement(ch.prn, tau, doppler, ch.cn0_dbhz, self._ephemeris(ch)))
        if len(measurements) < 4:
            return
        self.summary.fix_attempts += 1
        if self._t0 is None:
            self._t0 = max(m.transmit_time_s for m in measurements) + FIRST_RANGE_S - sample / self.fs_hz
        t_rx = self._t0 + sample / self.fs_hz
        try:
            fix = self._solve(measurements, t_rx)
            truth_fix = None
            if self.config.budget:
                true_sources = [dataclasses.replace(m, source=self._truth(m.prn)) for m in measurements]
                truth_fix = self._solve(true_sources, t_rx)
            record = self._record(sample, fix, measurements, truth_fix)
        except pvt.PvtError as exc:
            self._emit(Event(0, "no-fix", float(sample), f"sample {sample}: no fix: {exc}", {}))
            return
        except TruthError as exc:
            raise ReceiveError(f"{self.source.name}: {exc}") from None
        self._last_position = fix.position_fixed_m
        self.summary.fixes.append(record)
        self.on_fix(record)

    def _solve(self, measurements: list[pvt.Measurement], t_rx: float) -> pvt.Fix:
        return pvt.solve(measurements, t_rx, self._reference_s, initial_position_m=self._last_position,
                         carrier_hz=self.source.carrier_hz)

    def _record(self, sample: int, fix: pvt.Fix, measurements: list[pvt.Measurement],
                truth_fix: pvt.Fix | None = None) -> dict:
        lat, lon, height = fix.llh
        t = fix.receive_time_s
        week = math.floor(t / am.SECONDS_PER_WEEK)
        cn0 = {m.prn: m.cn0_dbhz for m in measurements}
        nodes = []
        sise = []
        for node, m in zip(fix.nodes, measurements, strict=True):
            entry = {"prn": node.prn, "elevation_deg": round(node.elevation_deg, 3),
                     "azimuth_deg": round(node.azimuth_deg, 3), "range_m": round(node.range_m, 3),
                     "residual_m": round(node.residual_m, 3), "cn0_dbhz": round(cn0[node.prn], 2)}
            if self.config.sise or self.config.budget:
                sise.append(self._sise(m, fix, node))
                entry["sise_m"] = round(sise[-1], 4)
            nodes.append(entry)
        record = {"sample": sample, "stream_time_s": sample / self.fs_hz, "receive_time_s": t, "wn": week,
                  "tow_s": t - week * am.SECONDS_PER_WEEK, "lat_deg": lat, "lon_deg": lon, "height_m": height,
                  "position_fixed_m": [float(v) for v in fix.position_fixed_m],
                  "clock_bias_m": fix.clock_bias_m, "gdop": fix.gdop, "pdop": fix.pdop, "hdop": fix.hdop,
                  "vdop": fix.vdop, "tdop": fix.tdop, "rms_residual_m": fix.rms_residual_m,
                  "iterations": fix.iterations, "ephemeris": self.config.ephemeris, "nodes": nodes}
        if fix.velocity_fixed_m_s is not None:
            record["velocity_fixed_m_s"] = [float(v) for v in fix.velocity_fixed_m_s]
            record["clock_drift_m_s"] = fix.clock_drift_m_s
        truth = self.source.truth_fixed_m
        if truth is not None:
            error = fix.position_fixed_m - truth
            enu = moon_frame.enu_basis(truth)
            record["error_enu_m"] = [float(v) for v in enu @ error]
            record["error_3d_m"] = float(np.linalg.norm(error))
            if truth_fix is not None:
                record["budget"] = _budget(enu, error, truth_fix.position_fixed_m - truth,
                                           pvt.position_shift(fix, np.array(sise)))
        return record

    def _sise(self, m: pvt.Measurement, fix: pvt.Fix, node: pvt.NodeGeometry) -> float:
        """The broadcast ephemeris and clock error of node ``m.prn`` along the line of sight (m): the
        range a user computes from them minus the true one."""
        ch = next(c for c in self.channels if c.prn == m.prn and c.ready)
        broadcast = pvt.BroadcastSource(ch.ephemeris)
        truth = self._truth(m.prn)
        tau = self._reference_s + m.transmit_time_s
        t = tau - truth.clock_offset_s(tau)
        rot = moon_frame.moon_fixed_rotation(fix.receive_time_s)
        unit = node.position_fixed_m - fix.position_fixed_m
        unit = rot.T @ (unit / np.linalg.norm(unit))
        dr = broadcast.state(t)[0] - truth.state(t)[0]
        dclock = broadcast.clock_offset_s(t) - truth.clock_offset_s(t)
        return float(unit @ dr - pvt.C * dclock)


def _budget(enu: np.ndarray, error: np.ndarray, noise: np.ndarray, ephemeris: np.ndarray) -> dict:
    """One fix's error budget (Moon-fixed vectors in, east-north-up out): the receiver's noise (the
    error of the fix with the true ephemeris), the broadcast ephemeris' part (its SISE through the
    geometry) and what the two leave unexplained of the error."""
    closure = error - noise - ephemeris
    return {"noise_enu_m": [float(v) for v in enu @ noise], "noise_3d_m": float(np.linalg.norm(noise)),
            "ephemeris_enu_m": [float(v) for v in enu @ ephemeris],
            "ephemeris_3d_m": float(np.linalg.norm(ephemeris)), "closure_m": float(np.linalg.norm(closure))}


def _ranges(prns) -> str:
    """1,2,3,5 -> '1..3, 5'."""
    out, run = [], []
    for p in sorted(prns):
        if run and p == run[-1] + 1:
            run.append(p)
            continue
        if run:
            out.append(f"{run[0]}..{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
        run = [p]
    if run:
        out.append(f"{run[0]}..{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
    return ", ".join(out)
