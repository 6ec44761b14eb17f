"""The ground's ends of the CCSDS links as IQ samples: the downlink's CADUs from the
demodulator, and the uplink's CLTUs to the modulator (the spacecraft's ends, and the
:class:`~onboard.ccsds.rf.ModemConfig` both agree on, are ``onboard.ccsds.rf``).

* :class:`TmModemReceiver`: samples -> :class:`~onboard.core.modem.Demodulator` -> soft
  symbols -> ``TmReceiveChain`` (ASM search, Viterbi, RS, frames, packets).  BPSK's 180 degree
  ambiguity is the inverted ASM the frame synchroniser already accepts (or NRZ-M); QPSK and
  OQPSK add a 90 degree one, so the soft symbols also go, rotated by -90 degrees, into a
  second chain, and the chain that finds CADUs is the one that delivers.
* :class:`UplinkModemTransmitter`, block by block: CLTUs -> the physical layer operations
  procedure PLOP-2 of CCSDS 231.0-B-4 (carrier only, then the acquisition sequence, the CLTUs
  separated by idle sequence, the alternating 0/1 pattern both sequences use) -> PCM/PSK/PM on
  an 8 or 16 kHz sine subcarrier (CCSDS 401.0-B §2.2).
* :class:`UplinkRfLink` and :class:`DownlinkRfLink`: the station's two links as a scenario runs
  them, a channel (``hil.rf_channel``) on each: the uplink a continuous PLOP-2 stream paced
  by emulated time (idle sequence whenever no CLTU waits, as a station keeps the receiver in
  lock), the downlink the relay's samples through the channel into the demodulator.

For a bench or a process that moves a link's samples, the same as streams of blocks:
:func:`cltus_to_iq` (CLTUs -> ``IqBlock`` s) and :func:`iq_to_tm` (IQ blocks -> frames and
packets); the spacecraft's two are in ``onboard.ccsds.rf``.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from hil.ground.chain import RxOutput, TmReceiveChain
from hil.rf_channel import RfChannel
from onboard.ccsds.chain import TmLinkConfig
from onboard.ccsds.rf import ACQUISITION_OCTETS, IDLE_PATTERN, FrameMark, IqBlock, ModemConfig
from onboard.core import iq
from onboard.core.modem import DemodStatus, Scheme, soft_to_u8
from onboard.core.siggen import SampleFormat
from onboard.scenario import CONV_SYMBOLS_PER_BIT


def plop2_bits(cltus: list[bytes], acquisition_octets: int = ACQUISITION_OCTETS,
               idle_octets: int = 2) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Channel bits of the uplink sequence of CCSDS 231.0-B-4 PLOP-2 (after the carrier-only
    period): the acquisition sequence, then each CLTU followed by idle sequence; and each
    CLTU's (first bit, bit count)."""
    if acquisition_octets < 2 or idle_octets < 0:
        raise ValueError("the acquisition sequence needs at least 16 bits and idle cannot be negative")
    parts = [bytes([IDLE_PATTERN]) * acquisition_octets]
    spans = []
    pos = acquisition_octets * 8
    for c in cltus:
        spans.append((pos, len(c) * 8))
        parts.append(bytes(c))
        parts.append(bytes([IDLE_PATTERN]) * idle_octets)
        pos += (len(c) + idle_octets) * 8
    return np.unpackbits(np.frombuffer(b"".join(parts), dtype=np.uint8)), spans


class UplinkModemTransmitter:
    """CLTUs in, PCM/PSK/PM samples out: carrier only, acquisition sequence, CLTUs with idle."""

    def __init__(self, modem: ModemConfig, fmt: SampleFormat = SampleFormat.CF32, amplitude: float = 1.0,
                 carrier_only_s: float = 0.05, idle_octets: int = 2):
        if modem.scheme is not Scheme.PCM_PSK_PM:
            raise ValueError("the uplink is PCM/PSK/PM (CCSDS 401.0-B §2.2)")
        self.modem = modem
        self._mod = modem.modulator(fmt, amplitude)
        self.carrier_only_s = carrier_only_s
        self.idle_octets = idle_octets
        self._started = False
        self._lead = 0
        self._bits = 0
        self._cltus = 0
        self.marks: list[FrameMark] = []

    @property
    def samples(self) -> int:
        return self._mod.samples

    def send_cltus(self, cltus: list[bytes]) -> np.ndarray:
        parts = []
        if not self._started:
            self._lead = round(self.carrier_only_s * self.modem.fs_hz)
            parts.append(self._mod.carrier(self._lead))
            bits, spans = plop2_bits(cltus, idle_octets=self.idle_octets)
            self._started = True
        else:
            bits, spans = self._more_bits(cltus)
        for first, count in spans:
            start = self.modem.symbol_sample(self._bits + first, self._lead)
            self.marks.append(FrameMark(start, round(count * self.modem.sps), self._cltus, "cltu"))
            self._cltus += 1
        self._bits += bits.size
        parts.append(self._mod.modulate(bits))
        return np.concatenate(parts)

    def _more_bits(self, cltus: list[bytes]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        spans, parts, pos = [], [], 0
        for c in cltus:
            spans.append((pos, len(c) * 8))
            parts.append(bytes(c) + bytes([IDLE_PATTERN]) * self.idle_octets)
            pos += (len(c) + self.idle_octets) * 8
        return np.unpackbits(np.frombuffer(b"".join(parts), dtype=np.uint8)), spans

    def idle(self, n_octets: int) -> np.ndarray:
        """Idle sequence while there is no CLTU to send (keeps the receiver in lock)."""
        bits = np.unpackbits(np.frombuffer(bytes([IDLE_PATTERN]) * n_octets, dtype=np.uint8))
        self._bits += bits.size
        return self._mod.modulate(bits)


# CADUs a locked frame synchroniser delivers in a row without their ASM (each then stands or falls
# by its Reed-Solomon codewords).  Near the concatenated code's threshold the Viterbi decoder's
# error bursts hit an ASM often enough that two or three in a row happen (one frame in 3000 at
# Eb/N0 3 dB was lost that way with 2, its data correctable): the frame would be lost for its
# marker alone.
FLYWHEEL_CADUS = 8
# CADUs' worth of soft symbols the kept reading takes at a time
PIECE_CADUS = 8


class _Hypothesis:
    """One reading of the soft symbol stream: as it is, rotated by -90 degrees (QPSK), or with
    every second soft symbol inverted (OQPSK, whose timing may lock on the Q rail's centres,
    which shifts the serial stream by one with one rail inverted); and with the first ``skip``
    soft symbols dropped (to pair a convolutional code's two symbols)."""

    def __init__(self, link: TmLinkConfig, reading: str, skip: int):
        self.chain = TmReceiveChain(link, flywheel_frames=FLYWHEEL_CADUS)
        self.reading, self.skip = reading, skip
        self.pending = np.empty(0, dtype=np.float32)

    def push(self, soft: np.ndarray) -> RxOutput:
        if self.skip:
            drop = min(self.skip, soft.size)
            soft = soft[drop:]
            self.skip -= drop
        if self.reading != "as is":
            soft = np.concatenate([self.pending, soft])
            whole = soft.size // 2 * 2
            self.pending = soft[whole:]
            pairs = soft[:whole].reshape(-1, 2)
            if self.reading == "rotated":  # QPSK locked 90 degrees off: (-Q, I) back to (I, Q)
                soft = np.stack([pairs[:, 1], -pairs[:, 0]], axis=1).reshape(-1)
            else:  # OQPSK locked half a symbol off: one rail inverted
                soft = np.stack([pairs[:, 0], -pairs[:, 1]], axis=1).reshape(-1)
        return self.chain.push_soft(soft_to_u8(soft))

    @property
    def cadus(self) -> int:
        return self.chain.stats()["cadus_found"]


class TmModemReceiver:
    """IQ samples in, frames and packets out, with the demodulator's status in ``status()``.

    Until it finds CADUs, every reading of the soft symbol stream runs side by side: the two
    pairings of a convolutional code's symbols, and for QPSK/OQPSK the two phase ambiguities
    left once the frame synchroniser takes care of inversion.  The reading that finds them is
    kept alone (one Viterbi decoder instead of up to four), fed ``PIECE_CADUS`` CADUs' worth of
    symbols at a time; when it has delivered no frame for more than ``RESEARCH_CADUS`` CADUs'
    worth (a 90 degree slip, a symbol lost), all readings run again, from the symbols since its
    last frame.  The price: the frames that follow a slip within the piece it falls in are lost
    (with every reading run side by side they were not).

    Cycle slips are counted from what the frames show (``slips``, also the ``cycle_slips`` of
    ``status()``): the ASM's polarity changing from one CADU to the next in the kept reading
    (180 degrees), and the kept reading changing its rotation (90 degrees, QPSK/OQPSK).  The
    carrier loop's own estimate is ``loop_cycle_slips``.  ``keep_one_reading=False`` runs every
    reading all the time (the benchmark's reference; slips then go uncounted).
    """

    RESEARCH_CADUS = 2

    def __init__(self, link: TmLinkConfig, modem: ModemConfig, keep_one_reading: bool = True, **demod_kwargs):
        self.link, self.modem = link, modem
        self.keep_one_reading = keep_one_reading
        self.demod = modem.demodulator(**demod_kwargs)
        self._rotations = {Scheme.QPSK: ("as is", "rotated"),
                           Scheme.OQPSK: ("as is", "one rail inverted")}.get(modem.scheme, ("as is",))
        self._skips = (0, 1) if link.conv is not None else (0,)
        self._readings = self._all_readings()
        self._kept: _Hypothesis | None = None
        self._kept_rotation: str | None = None     # of the last reading kept, across searches
        self._quiet_soft = 0                        # soft symbols since the kept reading's last frame
        self._cadu_soft = round(link.cadu_length * 8 * CONV_SYMBOLS_PER_BIT[link.conv])
        self._retired: dict[str, int] = {}          # the counters of readings no longer run
        self._recent: list[np.ndarray] = []         # what the kept reading took since its last frame
        self.soft_symbols = 0
        self.slips = 0
        self.searches = 0

    def _all_readings(self) -> list[_Hypothesis]:
        return [_Hypothesis(self.link, r, s) for r in self._rotations for s in self._skips]

    def push_samples(self, samples, fmt: SampleFormat = SampleFormat.CF32) -> RxOutput:
        return self.push_soft(self.demod.demodulate(samples, fmt))

    def push_soft(self, soft: np.ndarray) -> RxOutput:
        self.soft_symbols += soft.size
        outs = []
        at = 0
        while at < soft.size:
            if self._kept is None:
                outs.append(self._search(soft[at:]))
                break
            # a few CADUs' worth at a time: a quiet reading is noticed within a piece (and what it
            # went quiet on is searched again by the others), the loop stays off the hot path
            piece = soft[at:at + PIECE_CADUS * self._cadu_soft]
            at += piece.size
            outs.append(self._keep(piece))
        return self._delivered(outs)

    def _keep(self, soft: np.ndarray) -> RxOutput:
        kept = self._kept
        self._recent.append(soft)
        before = kept.chain.polarity_changes
        out = kept.push(soft)
        self.slips += kept.chain.polarity_changes - before
        if len(out.frames):
            self._quiet_soft = 0
            self._recent.clear()
        else:
            self._quiet_soft += soft.size
            if self._quiet_soft > self.RESEARCH_CADUS * self._cadu_soft:
                recent = np.concatenate(list(self._recent))
                self._release()
                # every reading starts afresh with what the kept one went quiet on: the frames
                # in it are found
                return self._delivered([out, self._search(recent)])
        return out

    def _search(self, soft: np.ndarray) -> RxOutput:
        readings = self._readings
        outs = [h.push(soft) for h in readings]
        found = [h for h, o in zip(readings, outs, strict=True) if len(o.frames)]
        if found and self.keep_one_reading:
            keep = found[0]
            if self._kept_rotation is not None and keep.reading != self._kept_rotation:
                self.slips += 1
            self._kept, self._kept_rotation, self._quiet_soft = keep, keep.reading, 0
            self._recent.clear()
            for h in self._readings:
                if h is not keep:
                    self._retire(h)
            self._readings = [keep]
        return self._delivered(outs)

    def _release(self) -> None:
        """The kept reading went quiet: every reading again, each new, from the symbols since its
        last frame.  None is the kept one continued: after symbols lost or gained it pairs the
        code's symbols wrongly (a fresh reading of either pairing may be right), and after a bit
        slip its synchroniser flywheels on for CADUs where a fresh one finds the marker at once."""
        self._retire(self._kept)
        self._kept = None
        self.searches += 1
        self._readings = self._all_readings()

    def _retire(self, h: _Hypothesis) -> None:
        for k, v in h.chain.stats().items():
            self._retired[k] = self._retired.get(k, 0) + v

    def flush(self) -> RxOutput:
        return self._delivered([h.chain.flush() for h in self._readings])

    def _delivered(self, outs: list[RxOutput]) -> RxOutput:
        """What the readings that found frames delivered, joined."""
        with_frames = [o for o in outs if len(o.frames)]
        if not with_frames:
            return RxOutput(np.empty((0, self.link.frame_length), dtype=np.uint8), b"")
        return RxOutput(np.concatenate([o.frames for o in with_frames]),
                        b"".join(o.packets for o in with_frames))

    def status(self) -> DemodStatus:
        """The demodulator's status, with the cycle slips the frames showed."""
        return dataclasses.replace(self.demod.status(), cycle_slips=self.slips)

    @property
    def loop_cycle_slips(self) -> int:
        return self.demod.status().cycle_slips

    def stats(self) -> dict[str, int]:
        """The frame chain's counters, summed over the readings (those run before too)."""
        total = dict(self._retired)
        for h in self._readings:
            for k, v in h.chain.stats().items():
                total[k] = total.get(k, 0) + v
        return total


def cltus_to_iq(modem: ModemConfig, cltu_blocks: Iterable[list[bytes]], tail_idle_octets: int = 16,
                **transmitter_kwargs) -> Iterator[IqBlock]:
    """An uplink's CLTUs (lists of CLTUs, one list per block) as a PLOP-2 IQ stream, block for
    block; the last block is ``tail_idle_octets`` of idle sequence (a receiver's filters and
    alignment lag the stream by a few octets: a transmitter that stopped at once would cut the
    last CLTU's end off)."""
    tx = UplinkModemTransmitter(modem, **transmitter_kwargs)
    taken = 0
    for cltus in cltu_blocks:
        samples = tx.send_cltus(list(cltus))
        yield IqBlock(samples, tx.samples - samples.size, modem.fs_hz, tuple(tx.marks[taken:]))
        taken = len(tx.marks)
    if tail_idle_octets:
        samples = tx.idle(tail_idle_octets)
        yield IqBlock(samples, tx.samples - samples.size, modem.fs_hz)


def iq_to_tm(link: TmLinkConfig, modem: ModemConfig, blocks: Iterable, **demod_kwargs) -> Iterator[RxOutput]:
    """A downlink's IQ stream (``IqBlock`` s or complex64 arrays) -> what each block completes:
    frames and packets; the last output is the receive chain's flush."""
    rx = TmModemReceiver(link, modem, **demod_kwargs)
    for block in blocks:
        yield rx.push_samples(block.samples if isinstance(block, IqBlock) else block)
    yield rx.flush()


def link_channel(rf, modem: ModemConfig, code_rate: float = 1.0, doppler_hz=0.0,
                 seed_offset: int = 0) -> RfChannel:
    """The channel of a scenario's modulated link (``onboard.scenario.RfSpec``) for ``modem``."""
    power = 1.0    # the modulators' output has unit mean power at amplitude 1 (RRC and PM alike)
    return RfChannel(modem.fs_hz, sps=modem.sps, bits_per_symbol=modem.scheme.bits_per_symbol,
                     code_rate=code_rate, signal_power=power, esn0_db=rf.esn0_db, ebn0_db=rf.ebn0_db,
                     cfo_hz=rf.cfo_hz, doppler_hz=doppler_hz, seed=rf.seed + seed_offset,
                     # an orbit's Doppler moves by a few Hz/s: sampled every 50 ms, followed linearly
                     update_s=0.05)


class DownlinkRfLink:
    """The relay's downlink samples -> the channel -> the demodulator and receive chain.

    While the relay is out of view the samples still go through the channel, with the signal
    gone (an outage: the receiver hears noise and loses lock, then acquires again).

    With ``clock`` (emulated seconds), a stream that falls silent for more than ``silence_s``
    (the relay's radio, the SDR peer, went away: a restart, a crash) is a gap in the air too:
    when samples come again, the receiver first hears the noise of the time it heard nothing
    (the channel with the signal gone, at most ``MAX_SILENCE_S`` of it), so it loses lock and
    searches again as its front end would have.

    A silence is what both of two things show: the reader found the stream empty
    (``heard_nothing``) for that long after its last samples, and the samples taken fall that
    far behind the time gone by.  A reader busy elsewhere never found it empty, so what queued
    meanwhile is not a silence; a radio merely late sends the samples of its slots at once, so
    it does not fall behind."""

    MAX_SILENCE_S = 30.0

    def __init__(self, link: TmLinkConfig, modem: ModemConfig, channel: RfChannel,
                 clock: Callable[[], float] | None = None, silence_s: float = 0.5, **demod_kwargs):
        self.link, self.modem, self.channel = link, modem, channel
        self.receiver = TmModemReceiver(link, modem, **demod_kwargs)
        self.code_rate = 1.0 / CONV_SYMBOLS_PER_BIT[link.conv]
        self.clock, self.silence_s = clock, silence_s
        self._last_push_s: float | None = None
        self._heard_nothing_s: float | None = None   # the last time the stream was found empty
        self._first_push_s = 0.0
        self.silences = 0
        self.silent_samples = 0

    def push(self, octets: bytes, in_view: bool = True) -> RxOutput:
        """cf32 samples as they came off the relay's IQ output."""
        samples = np.frombuffer(octets, dtype=np.complex64)
        gap = self._silence(samples.size)
        self.channel.blocked = not in_view
        out = self.receiver.push_samples(self.channel.process(samples))
        if gap is None:
            return out
        return RxOutput(np.concatenate([gap.frames, out.frames]), gap.packets + out.packets)

    def heard_nothing(self) -> None:
        """The reader looked and the stream had nothing for it."""
        if self.clock is not None:
            self._heard_nothing_s = self.clock()

    def _silence(self, n_new: int) -> RxOutput | None:
        """The noise of the time the stream was silent before ``n_new`` samples came, through the
        receiver (None: no silence)."""
        if self.clock is None:
            return None
        now = self.clock()
        last, self._last_push_s = self._last_push_s, now
        empty, self._heard_nothing_s = self._heard_nothing_s, None
        if last is None:
            self._first_push_s = now - n_new / self.modem.fs_hz      # when the stream began
            return None
        # found empty for that long since the last samples, and those taken, these included,
        # fall behind the time gone by
        quiet_s = 0.0 if empty is None else empty - last
        taken = self.receiver.demod.status().samples + n_new
        behind_s = now - self._first_push_s - taken / self.modem.fs_hz
        if quiet_s <= self.silence_s or behind_s <= self.silence_s:
            return None
        self.silences += 1
        n = round(min(quiet_s, behind_s, self.MAX_SILENCE_S) * self.modem.fs_hz)
        self.silent_samples += n
        self.channel.blocked = True
        frames, packets = [], b""
        piece = round(self.modem.fs_hz)                 # a second of samples at a time
        for at in range(0, n, piece):
            out = self.receiver.push_samples(self.channel.process(np.zeros(min(piece, n - at), np.complex64)))
            frames.append(out.frames)
            packets += out.packets
        return RxOutput(np.concatenate(frames), packets)

    def stats(self) -> dict[str, int]:
        return self.receiver.stats()

    def status(self) -> DemodStatus:
        return self.receiver.status()

    def ebn0_db(self) -> float:
        return self.status().ebn0_db(self.modem.scheme.bits_per_symbol, self.code_rate)


@dataclasses.dataclass(frozen=True)
class RadioEnd:
    """The ground's end of a modulated link on a bench's SDR endpoint: ``address``, the ZeroMQ
    pattern of this end (``pull`` or ``sub`` to hear the downlink, connected; ``push`` to send
    the uplink, bound, as a radio's gr-zeromq push_sink does) and the items (cf32, or ci16
    I/Q pairs)."""

    address: str
    socket: str
    format: str = "cf32"

    def open_input(self, context=None) -> RadioInput:
        return RadioInput(self, context)

    def open_output(self, context=None) -> RadioOutput:
        return RadioOutput(self, context)


class RadioInput:
    """The downlink's samples from a radio endpoint, as cf32 octets (``receive``, like the
    ground's CADU input)."""

    def __init__(self, end: RadioEnd, context=None):
        from onboard.links.zmq_iq import IqSource

        self.end = end
        self._source = IqSource(end.address, end.socket, end.format, hwm=100000, context=context)

    def receive(self, timeout_s: float) -> bytes:
        """What came within ``timeout_s``, and everything queued behind it."""
        got = self._source.receive(max(0, int(timeout_s * 1000)))
        blocks = []
        while got is not None:
            blocks.append(got[0])
            got = self._source.receive(0)
        if not blocks:
            return b""
        block = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        return iq.as_complex(block, self.end.format).tobytes()

    def close(self) -> None:
        self._source.close()


class RadioOutput:
    """The uplink's cf32 samples to a radio endpoint, in its format (``send``, like the ground's
    CLTU output; an integer format at half of full scale, the peaks clear of clipping, which is
    counted in ``clipped``); a radio that takes nothing loses them."""

    def __init__(self, end: RadioEnd, context=None):
        from onboard.links.cadu import ZmqSink

        self.end = end
        self._sink = ZmqSink(end.address, context, end.socket)
        self._scale = iq.full_scale(SampleFormat.parse(end.format)) / 2
        self.clipped = 0

    def send(self, octets: bytes) -> None:
        if self.end.format != "cf32":
            block, clipped = iq.from_complex(np.frombuffer(octets, dtype=np.complex64), self.end.format,
                                             self._scale)
            self.clipped += clipped
            octets = block.tobytes()
        self._sink.write(octets, len(octets))

    def close(self) -> None:
        self._sink.close()


class UplinkRfLink:
    """The station's uplink as samples: CLTUs queued by ``send``, samples made by ``pump`` up to
    the emulated time ``clock`` gives (the transmitter runs continuously: idle sequence between
    CLTUs, CCSDS 231.0-B-4 PLOP-2), through the channel, to ``out``."""

    def __init__(self, modem: ModemConfig, channel: RfChannel, clock: Callable[[], float],
                 out: Callable[[bytes], None], idle_octets: int = 2):
        self.modem, self.channel, self.clock, self.out = modem, channel, clock, out
        self.tx = UplinkModemTransmitter(modem, idle_octets=idle_octets)
        self.idle_octets = idle_octets
        self.queue: collections.deque[bytes] = collections.deque()
        self.cltus_sent = 0
        self._started = False

    def send(self, cltu: bytes) -> None:
        self.queue.append(cltu)

    def pump(self, in_view: bool = True) -> int:
        """Samples up to now: the queued CLTUs, then idle sequence to fill the time; returns how many."""
        due = round(self.clock() * self.modem.fs_hz) - self.tx.samples
        if due <= 0 and not self.queue:
            return 0
        parts = []
        if not self._started:
            parts.append(self.tx.send_cltus([]))           # carrier only, then the acquisition sequence
            self._started = True
        if self.queue:
            cltus = list(self.queue)
            self.queue.clear()
            self.cltus_sent += len(cltus)
            parts.append(self.tx.send_cltus(cltus))
        made = sum(p.size for p in parts)
        if made < due:
            octets = -(-(due - made) // round(8 * self.modem.sps))
            parts.append(self.tx.idle(octets))
        samples = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self.channel.blocked = not in_view
        self.out(self.channel.process(samples).tobytes())
        return samples.size
