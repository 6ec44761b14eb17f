"""The CCSDS links as IQ samples: CADU and CLTU streams to and from the modem.

Transmit side, block by block (state carried over between calls):

* :class:`TmModemTransmitter`: CADUs (optionally convolutionally coded by the
  ``TmSendChain``) -> channel bits -> :class:`~onboard.core.modem.Modulator`; it records the
  sample where each CADU starts, which the SigMF writer turns into annotations and a ZeroMQ
  sink into stream tags.
* :class:`UplinkModemTransmitter`: CLTUs -> the physical layer operations procedure PLOP-2
  of CCSDS 231.0-B-4 (carrier only, then the acquisition sequence, the CLTUs separated by
  idle sequence, the alternating 0/1 pattern both sequences use) -> PCM/PSK/PM on an 8 or
  16 kHz sine subcarrier (CCSDS 401.0-B §2.2).

Receive side:

* :class:`TmModemReceiver`: samples -> :class:`~onboard.core.modem.Demodulator` -> soft
  symbols -> ``TmReceiveChain`` (ASM search, Viterbi, RS, frames, packets).  BPSK's 180 degree
  ambiguity is the inverted ASM the frame synchroniser already accepts (or NRZ-M); QPSK and
  OQPSK add a 90 degree one, so the soft symbols also go, rotated by -90 degrees, into a
  second chain, and the chain that finds CADUs is the one that delivers.
* :class:`UplinkModemReceiver`: samples -> PM demodulator -> hard bits -> the CLTU start
  sequence searched at every bit offset (inverted too: the subcarrier loop has a 180 degree
  ambiguity) -> octets -> ``TcReceiveChain``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onboard.ccsds.chain import RxOutput, TcReceiveChain, TmLinkConfig, TmReceiveChain, TmSendChain
from onboard.core import sync
from onboard.core.modem import (
    SPAN_SYMBOLS,
    Coding,
    DemodStatus,
    Demodulator,
    Modulator,
    Scheme,
    soft_to_u8,
)
from onboard.core.siggen import SampleFormat

# CCSDS 231.0-B-4 PLOP-2: the acquisition and idle sequences are alternating ones and zeros.
ACQUISITION_OCTETS = 16
IDLE_PATTERN = 0x55
CLTU_START = 0xEB90


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
        rate = link.conv_rate
        self._symbols_per_bit = 1.0 if rate is None else {"1/2": 2.0, "2/3": 1.5, "3/4": 4 / 3, "5/6": 1.2,
                                                          "7/8": 8 / 7}[link.conv]

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


@dataclasses.dataclass
class ModemRxOutput:
    frames: np.ndarray
    packets: bytes


class _Hypothesis:
    """One reading of the soft symbol stream: as it is, rotated by -90 degrees (QPSK), or with
    every second soft symbol inverted (OQPSK, whose timing may lock on the Q rail's centres,
    which shifts the serial stream by one with one rail inverted); and with the first ``skip``
    soft symbols dropped (to pair a convolutional code's two symbols)."""

    def __init__(self, link: TmLinkConfig, reading: str, skip: int):
        self.chain = TmReceiveChain(link)
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

    Every reading of the soft symbol stream runs side by side: the two pairings of a
    convolutional code's symbols, and for QPSK/OQPSK the two phase ambiguities left once the
    frame synchroniser takes care of inversion.  Only the right
    one finds CADUs; after a cycle slip another one does, with no time lost deciding.
    """

    def __init__(self, link: TmLinkConfig, modem: ModemConfig, **demod_kwargs):
        self.link, self.modem = link, modem
        self.demod = modem.demodulator(**demod_kwargs)
        self._rotations = {Scheme.QPSK: ("as is", "rotated"),
                           Scheme.OQPSK: ("as is", "one rail inverted")}.get(modem.scheme, ("as is",))
        self._skips = (0, 1) if link.conv is not None else (0,)
        self._readings = self._all_readings()
        self.soft_symbols = 0

    def _all_readings(self) -> list[_Hypothesis]:
        return [_Hypothesis(self.link, r, s) for r in self._rotations for s in self._skips]

    def push_samples(self, samples, fmt: SampleFormat = SampleFormat.CF32) -> RxOutput:
        return self.push_soft(self.demod.demodulate(samples, fmt))

    def push_soft(self, soft: np.ndarray) -> RxOutput:
        self.soft_symbols += soft.size
        outs = [h.push(soft) for h in self._readings]
        with_frames = [o for o in outs if len(o.frames)]
        if not with_frames:
            return RxOutput(np.empty((0, self.link.frame_length), dtype=np.uint8), b"")
        return RxOutput(np.concatenate([o.frames for o in with_frames]),
                        b"".join(o.packets for o in with_frames))

    def flush(self) -> RxOutput:
        outs = [h.chain.flush() for h in self._readings]
        with_frames = [o for o in outs if len(o.frames)]
        if not with_frames:
            return RxOutput(np.empty((0, self.link.frame_length), dtype=np.uint8), b"")
        return RxOutput(np.concatenate([o.frames for o in with_frames]),
                        b"".join(o.packets for o in with_frames))

    def status(self) -> DemodStatus:
        return self.demod.status()

    def stats(self) -> dict[str, int]:
        """The frame chain's counters, summed over the readings."""
        total: dict[str, int] = {}
        for h in self._readings:
            for k, v in h.chain.stats().items():
                total[k] = total.get(k, 0) + v
        return total


class UplinkModemReceiver:
    """PCM/PSK/PM samples in, TC frames out (through CLTU decoding and derandomization)."""

    def __init__(self, modem: ModemConfig, randomize: bool = True, **demod_kwargs):
        if modem.scheme is not Scheme.PCM_PSK_PM:
            raise ValueError("the uplink receiver demodulates PCM/PSK/PM")
        self.modem = modem
        self.demod = modem.demodulator(**demod_kwargs)
        self.chain = TcReceiveChain(randomize)
        self._bits = np.empty(0, dtype=np.uint8)
        self._align: tuple[int, bool] | None = None  # (bit offset mod 8, inverted)

    def push_samples(self, samples, fmt: SampleFormat = SampleFormat.CF32) -> list[bytes]:
        soft = self.demod.demodulate(samples, fmt)
        return self.push_bits((soft > 0).astype(np.uint8))

    def push_bits(self, bits: np.ndarray) -> list[bytes]:
        bits = np.concatenate([self._bits, bits])
        if self._align is None:
            packed = np.packbits(bits[: bits.size // 8 * 8]).tobytes()
            found = sync.find_asm(packed, asm=CLTU_START, asm_bits=16, max_errors=0, detect_inverted=True)
            if found is None:
                self._bits = bits[-15:] if bits.size > 15 else bits
                return []
            offset, _, inverted = found
            self._align = (offset % 8, inverted)
            bits = bits[offset:]
        whole = bits.size // 8 * 8
        self._bits = bits[whole:]
        octets = np.packbits(bits[:whole])
        if self._align[1]:
            octets = ~octets
        return self.chain.push_bytes(octets)

    def status(self) -> DemodStatus:
        return self.demod.status()
