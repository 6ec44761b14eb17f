"""One AFS node followed by the receiver: loop stages, lock, tiered-code sync, frames and time.

The C tracker (onboard/core/track.py) does the per-sample work and hands over one record per
2 ms epoch; this module reads those records block by block with numpy and decides:

- **stages**: PULL_IN (FLL-assisted PLL, wide DLL) until the PLL lock indicator and C/N0 say
  locked, then TRACKING (narrow loops, sign-blind Costas discriminators), then, once the pilot's
  tiered code is synchronised, PILOT (the pilot's signs wiped off, 10 ms coherent updates, pure
  PLL); a channel that stays unlocked or fades is LOST and disabled;
- **tiered sync** (AFS-Q, LSIS-AFS V1.0 §2.3.5.2): the pilot's prompt signs over several hundred
  epochs against the 6000-epoch secondary x tertiary sequence, by FFT correlation.  The peak gives
  each epoch's place in the 12 s period, which is its symbol's place in the frame (LSIS-220), and
  its sign the carrier's half-cycle ambiguity, which the NCO then takes out;
- **frames**: AFS-I soft symbols (one per epoch) are gathered frame by frame, the sync pattern
  checked, and the frame decoded (:mod:`hil.receiver.frame_decoder`).  With a pilot each data
  symbol is demodulated against the same epoch's pilot prompt with its known tiered sign, which
  shares the carrier: ``Re(D conj(P)) s / |P|`` holds the symbol's sign through pull-in and any
  half-cycle slip, so every epoch since acquisition is usable.  A frame whose first few symbols
  precede the recording is decoded with those symbols erased.  Without a pilot the frame starts
  are found from the sync pattern itself and symbols count from lock;
- **time**: a frame with a good SB2 gives WN and ITOW, with SB1's TOI the node time ``tF`` of its
  first symbol's leading edge; any later stream sample's transmit time is then ``tF`` plus the
  whole epochs since plus the code phase (LSIS-AFS V1.0 §2.4).
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from hil.receiver import afs, frame_decoder
from hil.receiver.acquisition import Acquisition
from onboard.core.track import Mode, Tracker
from onboard.nav import afs_frame
from onboard.nav.afs_ephemeris import BroadcastEphemeris


class Stage(enum.Enum):
    PULL_IN = "pull-in"
    TRACKING = "tracking"
    PILOT = "pilot"
    LOST = "lost"


@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """Loop bandwidths (Hz) of each stage; the pilot stage also sums ``n_coherent`` epochs."""

    pull_in: tuple[float, float, float] = (18.0, 8.0, 2.0)  # PLL, FLL, DLL
    tracking: tuple[float, float, float] = (12.0, 0.0, 1.0)
    # The pilot's DLL is carrier-aided: the carrier takes out every code dynamic (there is no
    # ionosphere to make code and carrier diverge), so only noise sets its bandwidth.  At 0.1 Hz the
    # range noise at 42 dB-Hz per component is under 0.1 m, and it settles (time constant 2.5 s)
    # well within the first frame.
    pilot: tuple[float, float, float] = (10.0, 0.0, 0.1)
    n_coherent: int = 5
    early_late_chips: float = 0.5


PULL_IN_EPOCHS = 100  # 0.2 s of pull-in before lock is judged
PULL_IN_LIMIT_EPOCHS = 1500  # 3 s without lock: lost
SYNC_EPOCHS = 300  # locked pilot epochs correlated against the tiered code
SYNC_MAX_EPOCHS = 3000
LOCK_WINDOW = 100  # epochs of the lock indicator and the C/N0 estimate
LOCK_THRESHOLD = 0.5  # mean cos(2 phase error) for lock
MIN_CN0_DBHZ = 25.0
FADE_EPOCHS = 250  # 0.5 s below the lock threshold after lock: lost
HISTORY_EPOCHS = 2 * afs.FRAME_EPOCHS + 1000
MAX_ERASED = 60  # leading symbols of a frame that may be missing (sync pattern and part of SB1)
MIN_SYNC_SYMBOLS = 40  # of the 68 sync symbols, for a data-only frame start found by the pattern
ONSET_EPOCHS = 8
# The Doppler a measurement carries is the NCO's frequency fitted by a straight line over the last
# 0.5 s and read at the measurement's epoch: the PLL's frequency jitter (about 1 Hz at 10 Hz bandwidth)
# averages out, and the line follows the Doppler's drift, so the reading does not lag.
DOPPLER_EPOCHS = 250


@dataclasses.dataclass(frozen=True)
class Event:
    prn: int
    kind: str  # acquired, locked, synchronised, frame, lost
    sample: float
    text: str
    data: dict


@dataclasses.dataclass(frozen=True)
class DecodedFrame:
    prn: int
    start_epoch: int  # the channel's epoch number of the frame's first symbol
    start_sample: float  # where that epoch begins in the stream
    decode: frame_decoder.FrameDecode
    polarity: int


def _cn0_moments(p: np.ndarray, t_s: float) -> float:
    """C/N0 (dB-Hz) by the second and fourth moments of the prompt (Pauluzzi & Beaulieu's M2M4)."""
    if p.size < 10:
        return float("nan")
    power = (p.real.astype(np.float64) ** 2 + p.imag.astype(np.float64) ** 2)
    m2 = float(np.mean(power))
    m4 = float(np.mean(power ** 2))
    pd = math.sqrt(max(2.0 * m2 * m2 - m4, 0.0))
    pn = m2 - pd
    if pd <= 0.0:
        return 0.0
    if pn <= 0.0:
        return 99.0  # no measurable noise
    return min(99.0, 10.0 * math.log10(pd / (pn * t_s)))


def _lock_indicator(p: np.ndarray) -> float:
    """Mean of cos(2 phase error) over the prompts (1 locked, 0 noise), blind to sign flips."""
    if p.size == 0:
        return 0.0
    i2, q2 = p.real.astype(np.float64) ** 2, p.imag.astype(np.float64) ** 2
    total = i2 + q2
    ok = total > 0
    return float(np.mean(np.where(ok, (i2 - q2) / np.where(ok, total, 1.0), 0.0)))


def tiered_sync(prn: int, soft: np.ndarray) -> tuple[int, int, float, float] | None:
    """Place of ``soft`` (pilot prompt projections, one per epoch, oldest first) in the tiered code:
    ``(index of soft[0] in the 6000-epoch period, polarity, peak, next peak)``, peaks normalised
    to 1 for error-free signs; None when the peak is not clear."""
    n = soft.size
    period = afs.FRAME_EPOCHS
    if not 0 < n <= period:
        return None
    seq = afs.pilot_signs(prn).astype(np.float64)
    s = np.zeros(period)
    s[:n] = soft
    # c[m] = sum_k soft[k] seq[(m + k) mod period]
    c = np.fft.irfft(np.fft.rfft(seq) * np.conj(np.fft.rfft(s)), period)
    norm = float(np.sum(np.abs(soft))) or 1.0
    mag = np.abs(c) / norm
    best = int(np.argmax(mag))
    second = float(np.max(np.delete(mag, best)))
    if mag[best] < 0.6 or second > 0.6 * mag[best]:
        return None
    return best, 1 if c[best] > 0 else -1, float(mag[best]), second


class NodeChannel:
    """The receiver's channel for one node (see the module docstring)."""

    def __init__(self, tracker: Tracker, acquisition: Acquisition, buffer_start: int, fs_hz: float,
                 carrier_freq_hz: float = afs.CARRIER_HZ, loops: LoopSettings | None = None):
        self.prn = acquisition.prn
        self.acquisition = acquisition
        self.fs_hz = fs_hz
        self.loops = loops or LoopSettings()
        self.pilot = acquisition.pilot
        main = "afs-q" if self.pilot else "afs-i"
        self.main_chips = afs.code_chips(self.prn, main).size
        self.main_chip_rate = afs.CHIP_RATE_HZ[main]
        phase = acquisition.code_phase_chips(self.main_chips, fs_hz, self.main_chip_rate)
        # The acquisition saw the buffer from buffer_start; the tracker continues from its next sample.
        rate = self.main_chip_rate * (1.0 + acquisition.doppler_hz / carrier_freq_hz)
        phase = (phase + (tracker.next_sample - buffer_start) * rate / fs_hz) % self.main_chips
        self.channel = tracker.add_channel(
            afs.code_chips(self.prn, main), self.main_chip_rate, main_component=1 if self.pilot else 0,
            data_chips=afs.code_chips(self.prn, "afs-i") if self.pilot else None, code_phase_chips=phase,
            carrier_hz=acquisition.doppler_hz, carrier_freq_hz=carrier_freq_hz,
            early_late_chips=self.loops.early_late_chips)
        self.index = self.channel.index
        self.channel.set_loops(*self.loops.pull_in)
        self.stage = Stage.PULL_IN
        self.stage_epoch = 0  # epoch at which the stage began
        self.epochs_seen = 0
        self.cn0_dbhz = float("nan")
        self.lock = 0.0
        self.fade = 0
        self.tiered_offset: int | None = None  # epoch e is tiered (and frame) index (e + offset) mod 6000
        self.frame_phase: int | None = None  # epoch e starts a frame when e % 6000 == frame_phase
        self.next_frame: int | None = None
        self.frames: list[DecodedFrame] = []
        self.ephemeris: BroadcastEphemeris | None = None
        self.anchor: tuple[int, float] | None = None  # (epoch, node time of its leading edge)
        self.sync_failures = 0
        self._tried: set[int] = set()  # data-only frame starts already tried
        self._hist = {name: np.empty(0, dtype) for name, dtype in (
            ("epoch", np.int64), ("start", np.float64), ("rate", np.float64), ("doppler", np.float64),
            ("prompt", np.complex64), ("data", np.complex64))}

    # -- history -------------------------------------------------------------------------

    @property
    def usable_from_epoch(self) -> int:
        """Symbols before this epoch cannot be read: without a pilot, those of the pull-in."""
        if self.pilot:
            return int(self._hist["epoch"][0]) if self._hist["epoch"].size else 0
        return self.stage_epoch if self.stage is not Stage.PULL_IN else 1 << 62

    def _append(self, dumps: np.ndarray) -> None:
        main = dumps["p_re"] + 1j * dumps["p_im"]
        prompt = (main * -1j if self.pilot else main).astype(np.complex64)  # the pilot lies in quadrature
        data = (dumps["d_re"] + 1j * dumps["d_im"]).astype(np.complex64)
        new = {"epoch": dumps["epoch"].astype(np.int64), "start": dumps["start_sample"],
               "rate": dumps["code_rate_cps"], "doppler": dumps["carrier_hz"], "prompt": prompt, "data": data}
        for name, values in new.items():
            joined = np.concatenate([self._hist[name], values])
            self._hist[name] = joined[-HISTORY_EPOCHS:]

    def _window(self, name: str, count: int) -> np.ndarray:
        return self._hist[name][-count:]

    def _soft(self, k0: int, k1: int) -> np.ndarray:
        """Soft data symbols of history entries k0 .. k1-1, positive for logic 0."""
        if not self.pilot:
            return self._hist["prompt"][k0:k1].real.astype(np.float64)
        prompt = self._hist["prompt"][k0:k1].astype(np.complex128)
        data = self._hist["data"][k0:k1].astype(np.complex128)
        tiered = (self._hist["epoch"][k0:k1] + self.tiered_offset) % afs.FRAME_EPOCHS
        signs = afs.pilot_signs(self.prn)[tiered]
        mag = np.abs(prompt)
        return np.divide((data * np.conj(prompt)).real * signs, mag, out=np.zeros(mag.size), where=mag > 0)

    # -- per block -----------------------------------------------------------------------

    def on_dumps(self, dumps: np.ndarray) -> list[Event]:
        """Take this channel's records of one block (the first is the partial epoch in progress when
        the channel started: its symbol is weaker but valid); returns what happened."""
        if self.stage is Stage.LOST or dumps.size == 0:
            return []
        self.epochs_seen += dumps.size
        self._append(dumps)
        last_epoch = int(dumps["epoch"][-1])
        recent = self._window("prompt", LOCK_WINDOW)
        self.cn0_dbhz = _cn0_moments(recent, afs.EPOCH_S)
        self.lock = _lock_indicator(recent)
        where = float(dumps["start_sample"][-1])
        events = []
        if self.stage is Stage.PULL_IN:
            events += self._judge_pull_in(last_epoch, where)
        elif self.stage in (Stage.TRACKING, Stage.PILOT):
            events += self._watch_lock(dumps.size, where)
        if self.stage is Stage.TRACKING and self.pilot:
            events += self._try_tiered_sync(last_epoch, where)
        if self.stage in (Stage.TRACKING, Stage.PILOT):
            events += self._frames(last_epoch)
        return events

    def _event(self, kind: str, sample: float, text: str, **data) -> Event:
        return Event(self.prn, kind, sample, f"PRN {self.prn}: {text}", data)

    def _judge_pull_in(self, last_epoch: int, where: float) -> list[Event]:
        if self.epochs_seen < PULL_IN_EPOCHS:
            return []
        if self.lock > LOCK_THRESHOLD and self.cn0_dbhz > MIN_CN0_DBHZ:
            self.stage = Stage.TRACKING
            self.stage_epoch = self._lock_onset()
            self.channel.set_loops(*self.loops.tracking)
            return [self._event("locked", where, f"locked at {self.channel.carrier_hz:.1f} Hz, "
                                f"{self.cn0_dbhz:.1f} dB-Hz", cn0_dbhz=self.cn0_dbhz)]
        if self.epochs_seen > PULL_IN_LIMIT_EPOCHS:
            return self._lose(where, "no lock")
        return []

    def _lock_onset(self) -> int:
        """The epoch since which the carrier has stayed locked: the last where cos(2 phase error),
        smoothed over ONSET_EPOCHS epochs, was below the lock threshold, plus that smoothing.  The
        loops often lock well before the block in which lock is judged ends."""
        p = self._hist["prompt"].astype(np.complex128)
        power = np.abs(p) ** 2
        c2 = np.divide(p.real ** 2 - p.imag ** 2, power, out=np.zeros(p.size), where=power > 0)
        smooth = np.convolve(c2, np.ones(ONSET_EPOCHS) / ONSET_EPOCHS, mode="valid")
        below = np.flatnonzero(smooth < LOCK_THRESHOLD)
        k = int(below[-1]) + ONSET_EPOCHS if below.size else 0
        return int(self._hist["epoch"][min(k, p.size - 1)])

    def _watch_lock(self, epochs: int, where: float) -> list[Event]:
        if self.lock < 0.2 or self.cn0_dbhz < MIN_CN0_DBHZ - 5.0:
            self.fade += epochs
        else:
            self.fade = 0
        if self.fade >= FADE_EPOCHS:
            return self._lose(where, f"lock lost ({self.cn0_dbhz:.1f} dB-Hz)")
        return []

    def _lose(self, where: float, why: str) -> list[Event]:
        self.stage = Stage.LOST
        self.channel.enabled = False
        return [self._event("lost", where, why)]

    def _try_tiered_sync(self, last_epoch: int, where: float) -> list[Event]:
        locked = last_epoch + 1 - self.stage_epoch
        if locked < SYNC_EPOCHS:
            return []
        count = min(locked, SYNC_MAX_EPOCHS, afs.FRAME_EPOCHS)
        prompts = self._window("prompt", count)
        epochs = self._window("epoch", count)
        found = tiered_sync(self.prn, prompts.real.astype(np.float64))
        if found is None:
            if locked > SYNC_MAX_EPOCHS:
                return self._lose(where, "the pilot's tiered code does not synchronise")
            return []
        index0, polarity, peak, _second = found
        self.tiered_offset = (index0 - int(epochs[0])) % afs.FRAME_EPOCHS
        if polarity < 0:
            # The Costas loop locked half a cycle off: turn the NCO so the pilot PLL starts locked.
            self.channel.shift_carrier_phase(0.5)
        current = last_epoch + 1  # the epoch in progress in the tracker
        self.channel.set_pilot(afs.pilot_signs(self.prn), (current + self.tiered_offset) % afs.FRAME_EPOCHS,
                               self.loops.n_coherent)
        self.channel.set_loops(*self.loops.pilot)
        self.stage = Stage.PILOT
        self.frame_phase = (-self.tiered_offset) % afs.FRAME_EPOCHS
        return [self._event("synchronised", where, f"tiered code synchronised (peak {peak:.2f}), "
                            f"frame phase {self.frame_phase}", peak=peak)]

    # -- frames --------------------------------------------------------------------------

    def _first_frame_start(self) -> int | None:
        """The first frame start whose symbols are held, but for at most MAX_ERASED leading ones."""
        hist = self._hist["epoch"]
        if hist.size == 0 or self.frame_phase is None:
            return None
        lowest = max(int(hist[0]), self.usable_from_epoch) - MAX_ERASED
        return lowest + (self.frame_phase - lowest) % afs.FRAME_EPOCHS

    def _frames(self, last_epoch: int) -> list[Event]:
        if self.frame_phase is None and not self.pilot:
            self._find_frame_phase()
        if self.frame_phase is None:
            return []
        if self.next_frame is None:
            self.next_frame = self._first_frame_start()
        events = []
        while self.next_frame is not None and self.next_frame + afs.FRAME_EPOCHS - 1 <= last_epoch:
            events += self._decode_at(self.next_frame)
            self.next_frame += afs.FRAME_EPOCHS
        return events

    def _symbols(self, first_epoch: int) -> tuple[np.ndarray, float] | None:
        """The frame's 6000 soft symbols from ``first_epoch`` and where that epoch begins; symbols
        before the first usable epoch are erased (0), up to MAX_ERASED of them."""
        epochs = self._hist["epoch"]
        last = first_epoch + afs.FRAME_EPOCHS - 1
        usable = max(first_epoch, self.usable_from_epoch)
        if usable - first_epoch > MAX_ERASED or epochs.size == 0:
            return None
        k0 = int(np.searchsorted(epochs, usable))
        k1 = k0 + (last - usable + 1)
        if k1 > epochs.size or epochs[k0] != usable or epochs[k1 - 1] != last:
            return None
        soft = np.zeros(afs.FRAME_EPOCHS)
        soft[usable - first_epoch:] = self._soft(k0, k1)
        start = float(self._hist["start"][k0]) - (usable - first_epoch) * afs.EPOCH_S * self.fs_hz
        return soft, start

    def _decode_at(self, first_epoch: int) -> list[Event]:
        got = self._symbols(first_epoch)
        if got is None:
            return []
        soft, start = got
        polarity = 1
        if not self.pilot and frame_decoder.sync_metric(soft) < 0:
            polarity = -1  # a data-only Costas loop's half-cycle; with a pilot the sign is known
        decode = frame_decoder.decode_frame(polarity * soft.astype(np.float64))
        frame = DecodedFrame(self.prn, first_epoch, start, decode, polarity)
        self.frames.append(frame)
        if decode.sync_metric < 0.5:
            self.sync_failures += 1
        text = (f"frame FID {decode.fid} TOI {decode.toi}: sync {decode.sync_metric:.2f}, CRC "
                + " ".join(f"{name} {'ok' if ok else 'bad'}" for name, ok in zip(("SB2", "SB3", "SB4"),
                                                                               decode.crc_ok, strict=True)))
        t = decode.time
        if t is not None:
            self.ephemeris = BroadcastEphemeris.from_subframe2(decode.sb2)
            self.anchor = (first_epoch, float(t.seconds))
            text += f", WN {t.wn} ITOW {t.itow}"
        return [self._event("frame", start, text, fid=decode.fid, toi=decode.toi, crc_ok=list(decode.crc_ok))]

    def _find_frame_phase(self) -> None:
        """Without a pilot: the first sync-pattern hit whose frame decodes with a good SB2 fixes the
        phase.  The pattern may start up to MAX_ERASED - MIN_SYNC_SYMBOLS symbols before the first
        usable one: those are searched as erasures (zeros), which the correlation ignores."""
        k0 = int(np.searchsorted(self._hist["epoch"], self.usable_from_epoch))
        if k0 >= self._hist["epoch"].size:
            return
        lead = afs_frame.SYNC_SYMBOLS - MIN_SYNC_SYMBOLS
        soft = np.concatenate([np.zeros(lead), self._soft(k0, self._hist["epoch"].size)])
        first_epoch = int(self._hist["epoch"][k0]) - lead
        for index, polarity, _metric in frame_decoder.find_sync(soft):
            if index + afs.FRAME_EPOCHS > soft.size:
                break
            first = first_epoch + index
            got = self._symbols(first)
            if got is None or first in self._tried:
                continue
            self._tried.add(first)
            decode = frame_decoder.decode_frame(got[0].astype(np.float64) * polarity)
            if decode.crc_ok[0]:
                self.frame_phase = first % afs.FRAME_EPOCHS
                self.next_frame = first
                return

    # -- measurements --------------------------------------------------------------------

    @property
    def measurable_until(self) -> float:
        """Stream samples before this lie in epochs already reported."""
        return float(self.channel.epoch_start)

    @property
    def ready(self) -> bool:
        return self.stage in (Stage.TRACKING, Stage.PILOT) and self.anchor is not None and \
            self.ephemeris is not None

    def transmit_time(self, sample: float, reference_s: float = 0.0) -> tuple[float, float] | None:
        """The node's clock time at which stream sample ``sample`` left it, in seconds after the whole
        second ``reference_s``, and the carrier Doppler then (averaged over DOPPLER_EPOCHS); None when
        unknown (no time yet, or the sample outside the held epochs)."""
        if self.anchor is None:
            return None
        starts = self._hist["start"]
        j = int(np.searchsorted(starts, sample, side="right")) - 1
        if j < 0 or sample >= self.measurable_until or (j + 1 < starts.size and sample >= starts[j + 1]):
            return None
        epoch = int(self._hist["epoch"][j])
        chips = (sample - starts[j]) * self._hist["rate"][j] / self.fs_hz
        anchor_epoch, anchor_time = self.anchor
        tau = (anchor_time - reference_s) + (epoch - anchor_epoch) * afs.EPOCH_S + chips / self.main_chip_rate
        return tau, self._doppler_at(j)

    def _doppler_at(self, j: int) -> float:
        """The NCO's Doppler at history entry j, from the line through the last DOPPLER_EPOCHS."""
        f = self._hist["doppler"][max(0, j + 1 - DOPPLER_EPOCHS):j + 1].astype(np.float64)
        if f.size < 3:
            return float(f[-1])
        x = np.arange(f.size, dtype=np.float64) - (f.size - 1)
        slope = float(np.dot(x - x.mean(), f - f.mean()) / np.dot(x - x.mean(), x - x.mean()))
        return float(f.mean() - slope * x.mean())

    @property
    def mode(self) -> Mode:
        return self.channel.mode
