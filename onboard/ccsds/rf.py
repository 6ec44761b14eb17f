"""The spacecraft's ends of the CCSDS links as IQ samples: its CADU stream to the modulator, and
the uplink's CLTUs back from the demodulator (the ground's ends are ``hil.ground.rf``).

* :class:`TmModemTransmitter`, block by block (state carried over between calls): CADUs
  (optionally convolutionally coded by the ``TmSendChain``) -> channel bits ->
  :class:`~onboard.core.modem.Modulator`; it records the sample where each CADU starts, which
  the SigMF writer turns into annotations and a ZeroMQ sink into stream tags.
* :class:`UplinkModemReceiver`: PCM/PSK/PM samples (CCSDS 401.0-B §2.2) -> PM demodulator ->
  hard bits -> every CLTU start sequence that follows idle or acquisition sequence, searched at
  every bit offset (inverted too: the subcarrier loop has a 180 degree ambiguity), the octet
  alignment and polarity taken again from each, so a bit slipped between CLTUs costs nothing
  -> octets -> ``TcReceiveChain``.

For a bench or a process that moves a link's samples, the same as streams of blocks:
:func:`cadus_to_iq` (a CADU stream -> :class:`IqBlock` s, with the frame marks of each) and
:func:`iq_to_tc_frames` (IQ blocks -> the TC frames of the CLTUs in them); the ground's two
are in ``hil.ground.rf``.

:class:`ModemConfig` is what both ends of a modulated link agree on (:meth:`ModemConfig.from_spec`
reads a scenario's), and the PLOP-2 constants of CCSDS 231.0-B-4 (acquisition and idle
sequences, CLTU start) are the uplink's.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from onboard.ccsds.chain import TcReceiveChain, TmLinkConfig, TmSendChain
from onboard.core import sync
from onboard.core.modem import SPAN_SYMBOLS, Coding, DemodStatus, Demodulator, Modulator, Scheme
from onboard.core.siggen import SampleFormat
from onboard.scenario import CONV_SYMBOLS_PER_BIT

# CCSDS 231.0-B-4 PLOP-2: the acquisition and idle sequences are alternating ones and zeros.
ACQUISITION_OCTETS = 16
IDLE_PATTERN = 0x55
CLTU_START = 0xEB90
# a CLTU start sequence is only taken where idle or acquisition sequence runs into it (PLOP-2
# puts one or the other before every CLTU): 16 alternating bits then 0xEB90, so that a start
# sequence pattern inside a CLTU's codeblocks (one chance in 2^15 per bit offset) is not one
CLTU_START_AFTER_IDLE = (IDLE_PATTERN << 24) | (IDLE_PATTERN << 16) | CLTU_START
@dataclasses.dataclass(frozen=True)
class ModemConfig:
    """What both ends of a modulated link agree on."""

    scheme: Scheme = Scheme.BPSK
    sps: float = 4.0
    rolloff: float = 0.35
    coding: Coding = Coding.NRZ_L
    symbol_rate: float = 1e6
    subcarrier_hz: float = 16e3   # PCM/PSK/PM
    mod_index_rad: float = 1.0    # PCM/PSK/PM

    def __post_init__(self) -> None:
        object.__setattr__(self, "scheme", Scheme(self.scheme))
        object.__setattr__(self, "coding", Coding(self.coding))
        if not self.symbol_rate > 0 or not self.sps >= 2:
            raise ValueError(f"a modem needs a positive symbol rate and >= 2 samples per symbol, not "
                             f"{self.symbol_rate} sym/s at {self.sps}")

    @classmethod
    def from_spec(cls, rf) -> ModemConfig:
        """The modem of a scenario's modulated link (``onboard.scenario.RfSpec``)."""
        return cls(Scheme.parse(rf.modulation), rf.samples_per_symbol, rf.rolloff, Coding.NRZ_L,
                   rf.symbol_rate,
                   rf.subcarrier_hz or 16e3)

    @property
    def fs_hz(self) -> float:
        return self.sps * self.symbol_rate

    def modulator(self, fmt: SampleFormat = SampleFormat.CF32, amplitude: float = 1.0) -> Modulator:
        return Modulator(self.scheme, self.sps, rolloff=self.rolloff, coding=self.coding, amplitude=amplitude,
                         fmt=fmt, fs_hz=self.fs_hz, subcarrier_hz=self.subcarrier_hz,
                         mod_index_rad=self.mod_index_rad)

    def demodulator(self, **kwargs) -> Demodulator:
        if self.scheme is Scheme.PCM_PSK_PM:
            kwargs.setdefault("carrier_bw", 0.02)
            kwargs.setdefault("timing_bw", 0.01)
            kwargs.setdefault("unlock_symbols", 256)
            kwargs.setdefault("lock_symbols", 64)
        return Demodulator(self.scheme, self.sps, self.fs_hz, rolloff=self.rolloff, coding=self.coding,
                           subcarrier_hz=self.subcarrier_hz, mod_index_rad=self.mod_index_rad, **kwargs)

    def symbol_sample(self, symbol: int, lead_samples: int = 0) -> int:
        """The sample at which symbol ``symbol`` starts (PM) or peaks (RRC)."""
        delay = 0 if self.scheme is Scheme.PCM_PSK_PM else SPAN_SYMBOLS // 2
        return lead_samples + round((symbol + delay) * self.sps)


@dataclasses.dataclass(frozen=True)
class FrameMark:
    """Where a transfer unit (CADU or CLTU) starts in the sample stream."""

    sample: int
    samples: int
    index: int
    kind: str  # "cadu" or "cltu"


class TmModemTransmitter:
    """CADUs in (whole, back to back), IQ samples out in ``fmt``; ``marks`` lists frame starts."""

    def __init__(self, link: TmLinkConfig, modem: ModemConfig, fmt: SampleFormat = SampleFormat.CF32,
                 amplitude: float = 1.0):
        self.link, self.modem = link, modem
        self._tx = TmSendChain(link)
        self._mod = modem.modulator(fmt, amplitude)
        self._lead_bits = 0
        self._cadus = 0
        self.marks: list[FrameMark] = []
        self._symbols_per_bit = CONV_SYMBOLS_PER_BIT[link.conv]

    @property
    def samples(self) -> int:
        return self._mod.samples

    @property
    def clipped(self) -> int:
        return self._mod.clipped

    def _mark(self, n_cadus: int) -> None:
        bps = self.modem.scheme.bits_per_symbol
        cadu_bits = self.link.cadu_length * 8
        for k in range(n_cadus):
            bit = self._lead_bits + (self._cadus + k) * cadu_bits * self._symbols_per_bit
            start = self.modem.symbol_sample(int(bit // bps))
            length = round(cadu_bits * self._symbols_per_bit / bps * self.modem.sps)
            self.marks.append(FrameMark(start, length, self._cadus + k, "cadu"))
        self._cadus += n_cadus

    def send_preamble(self, n_bits: int, seed: int = 0x1AC) -> np.ndarray:
        """Pseudo-random bits before the first CADU, for the receiver to acquire on (a real
        transmitter sends idle frames; their content does not matter to the demodulator)."""
        if self._cadus:
            raise ValueError("the preamble goes before the first CADU")
        bits = np.random.default_rng(seed).integers(0, 2, n_bits, dtype=np.uint8)
        self._lead_bits += n_bits
        return self._mod.modulate(bits)

    def send_cadus(self, cadus) -> np.ndarray:
        if isinstance(cadus, np.ndarray):
            data = cadus
        else:
            data = np.frombuffer(memoryview(cadus).cast("B"), dtype=np.uint8)
        if data.size % self.link.cadu_length:
            raise ValueError(f"{data.size} octets is not a whole number of "
                             f"{self.link.cadu_length}-octet CADUs")
        self._mark(data.size // self.link.cadu_length)
        symbols = self._tx.cadus_to_symbols(data)
        return self._mod.modulate(symbols > 127)

    def finish(self, postamble_bits: int = 512, seed: int = 0x1AD) -> np.ndarray:
        """The convolutional code's tail, ``postamble_bits`` pseudo-random bits (a receiver's
        filters and decoder lag the last CADU by some symbols: a transmitter that stops right
        after it would cut its end off) and the last pulses; the stream ends."""
        parts = []
        if self.link.conv is not None:
            tail = self._tx.cadus_to_symbols(np.empty(0, np.uint8), final=True)
            parts.append(self._mod.modulate(tail > 127))
        parts.append(self._mod.modulate(np.random.default_rng(seed).integers(0, 2, postamble_bits, np.uint8)))
        parts.append(self._mod.flush())
        return np.concatenate(parts)


def add_modem_arguments(group, default_sps: float = 4.0) -> None:
    """The modem options a module that modulates or demodulates takes (``modem_of``)."""
    group.add_argument("--modulation", choices=("bpsk", "qpsk", "oqpsk", "pcm-psk-pm"),
                       help="modulation of the link's samples")
    group.add_argument("--sps", type=float, default=default_sps, help="samples per symbol")
    group.add_argument("--rolloff", type=float, default=0.35, help="root-raised-cosine roll-off")
    group.add_argument("--symbol-rate", type=float, default=1e6, help="symbols per second")
    group.add_argument("--subcarrier-hz", type=float, default=16e3, help="PCM/PSK/PM subcarrier, Hz")


def modem_of(args: argparse.Namespace):
    """The ``ModemConfig`` the modem options give, or None without ``--modulation``."""
    if args.modulation is None:
        return None
    return ModemConfig(Scheme.parse(args.modulation), args.sps, args.rolloff, Coding.NRZ_L, args.symbol_rate,
                       args.subcarrier_hz)


class UplinkModemReceiver:
    """PCM/PSK/PM samples in, TC frames out (through CLTU decoding and derandomization).

    The octet alignment and polarity come from every CLTU start sequence found after idle or
    acquisition sequence (:data:`CLTU_START_AFTER_IDLE`), not only the first: a bit the loop
    slipped, or a polarity flipped by a cycle slip, is corrected at the next CLTU.  ``realigned``
    counts the start sequences that moved the alignment or polarity after the first, ``slips``
    those that flipped the polarity (a 180 degree slip of the carrier or subcarrier loop)."""

    def __init__(self, modem: ModemConfig, randomize: bool = True, **demod_kwargs):
        if modem.scheme is not Scheme.PCM_PSK_PM:
            raise ValueError("the uplink receiver demodulates PCM/PSK/PM")
        self.modem = modem
        self.demod = modem.demodulator(**demod_kwargs)
        self.chain = TcReceiveChain(randomize)
        self._bits = np.empty(0, dtype=np.uint8)
        self._inverted: bool | None = None       # None: no start sequence seen yet
        self.starts_found = self.realigned = self.slips = 0

    def push_samples(self, samples, fmt: SampleFormat = SampleFormat.CF32) -> list[bytes]:
        return self.chain.push_bytes(self.octets(samples, fmt))

    def octets(self, samples, fmt: SampleFormat = SampleFormat.CF32) -> bytes:
        """The aligned octets of ``samples`` (for a CLTU decoder of one's own)."""
        soft = self.demod.demodulate(samples, fmt)
        return self.align((soft > 0).astype(np.uint8))

    def push_bits(self, bits: np.ndarray) -> list[bytes]:
        return self.chain.push_bytes(self.align(bits))

    def align(self, bits: np.ndarray) -> bytes:
        """Hard bits in; the octets aligned on the start sequences so far, polarity corrected."""
        bits = np.concatenate([self._bits, np.asarray(bits, dtype=np.uint8)])
        out = []
        pos = 0
        marker_bits = 32
        while True:
            # search from ``pos`` on: whole octets of the bits (find_asm takes octets), offset kept
            usable = (bits.size - pos) // 8 * 8
            found = None
            if usable >= marker_bits:
                found = sync.find_asm(np.packbits(bits[pos:pos + usable]), asm=CLTU_START_AFTER_IDLE,
                                      asm_bits=marker_bits, detect_inverted=True)
            if found is None:
                break
            offset, _, inverted = found
            start = pos + offset + 16                # the CLTU start sequence itself
            if self._inverted is not None:
                out.append(self._octets(bits[pos:start]))
                if (start - pos) % 8 or inverted != self._inverted:
                    self.realigned += 1
                self.slips += inverted != self._inverted
            self._inverted = inverted
            self.starts_found += 1
            out.append(self._octets(bits[start:start + 16]))
            pos = start + 16
        # keep the bits a marker may begin in (the search above ends on a whole octet): it is
        # found whole next time
        keep_from = max(pos, bits.size - (marker_bits + 7))
        if self._inverted is None:
            self._bits = bits[keep_from:]
            return b""
        whole = pos + (keep_from - pos) // 8 * 8
        out.append(self._octets(bits[pos:whole]))
        self._bits = bits[whole:]
        return b"".join(out)

    def _octets(self, bits: np.ndarray) -> bytes:
        octets = np.packbits(bits[: bits.size // 8 * 8])
        return (~octets if self._inverted else octets).tobytes()

    def status(self) -> DemodStatus:
        return self.demod.status()


@dataclasses.dataclass(frozen=True)
class IqBlock:
    """One block of a link's IQ stream: complex64 samples at ``fs_hz``, the first of them sample
    ``first_sample`` of the stream, and the transfer units that start in it."""

    samples: np.ndarray
    first_sample: int
    fs_hz: float
    marks: tuple[FrameMark, ...] = ()


class TmIqStream:
    """A TM link's CADU stream as IQ blocks: ``push`` whole CADUs, ``finish`` at the end."""

    def __init__(self, link: TmLinkConfig, modem: ModemConfig, fmt: SampleFormat = SampleFormat.CF32,
                 amplitude: float = 1.0):
        self.tx = TmModemTransmitter(link, modem, fmt, amplitude)
        self._marks_taken = 0

    def _block(self, samples: np.ndarray) -> IqBlock:
        marks = tuple(self.tx.marks[self._marks_taken:])
        self._marks_taken = len(self.tx.marks)
        return IqBlock(samples, self.tx.samples - samples.shape[0], self.tx.modem.fs_hz, marks)

    def push(self, cadus) -> IqBlock:
        return self._block(self.tx.send_cadus(cadus))

    def finish(self) -> IqBlock:
        return self._block(self.tx.finish())


class ModulatedOutput:
    """A CADU output that modulates: CADUs in (before any convolutional code: the modulator's
    chain applies the link's code), samples in ``fmt`` out to ``sink`` (anything with
    ``write(data, unit)`` and ``close()``, such as ``onboard.links.cadu.ZmqSink``: raw items in
    host order, as gr-zeromq's stream blocks carry them without tags, one message per block)."""

    def __init__(self, sink, link: TmLinkConfig, modem: ModemConfig, fmt: SampleFormat = SampleFormat.CF32):
        # ci16 at half of full scale: the RRC pulses' peaks stay clear of clipping
        self.stream = TmIqStream(link, modem, fmt, 1.0 if fmt is SampleFormat.CF32 else 0.5)
        self.sink = sink

    @property
    def samples(self) -> int:
        return self.stream.tx.samples

    @property
    def clipped(self) -> int:
        return self.stream.tx.clipped

    def write_cadus(self, cadus) -> None:
        block = self.stream.push(cadus)
        self.sink.write(block.samples.tobytes(), block.samples.nbytes)

    def close(self) -> None:
        self.sink.close()


def cadus_to_iq(link: TmLinkConfig, modem: ModemConfig, cadu_blocks: Iterable, *,
                finish: bool = True) -> Iterator[IqBlock]:
    """A link's CADU stream (blocks of whole CADUs) as an IQ stream, block for block; with
    ``finish`` the last block carries the code's tail and the last pulses."""
    stream = TmIqStream(link, modem)
    for cadus in cadu_blocks:
        yield stream.push(cadus)
    if finish:
        yield stream.finish()


def iq_to_tc_frames(modem: ModemConfig, blocks: Iterable, randomize: bool = True,
                    **demod_kwargs) -> Iterator[list[bytes]]:
    """An uplink's IQ stream (``IqBlock`` s or complex64 arrays) -> the TC frames each block completes."""
    rx = UplinkModemReceiver(modem, randomize, **demod_kwargs)
    for block in blocks:
        yield rx.push_samples(block.samples if isinstance(block, IqBlock) else block)
