"""The spacecraft's ends of the CCSDS links as IQ samples: its CADU stream to the modulator, and
the uplink's CLTUs back from the demodulator (the ground's ends are ``hil.ground.rf``).

* :class:`TmModemTransmitter`, block by block (state carried over between calls): CADUs
  (optionally convolutionally coded by the ``TmSendChain``) -> channel bits ->
  :class:`~onboard.core.modem.Modulator`; it records the sample where each CADU starts, which
  the SigMF writer turns into annotations and a ZeroMQ sink into stream tags.
* :class:`UplinkModemReceiver`: PCM/PSK/PM samples (CCSDS 401.0-B §2.2) -> PM demodulator ->
  hard bits -> the CLTU start sequence searched at every bit offset (inverted too: the
  subcarrier loop has a 180 degree ambiguity) -> octets -> ``TcReceiveChain``.

:class:`ModemConfig` is what both ends of a modulated link agree on, and the PLOP-2 constants
of CCSDS 231.0-B-4 (acquisition and idle sequences, CLTU start) are the uplink's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onboard.ccsds.chain import TcReceiveChain, TmLinkConfig, TmSendChain
from onboard.core import sync
from onboard.core.modem import SPAN_SYMBOLS, Coding, DemodStatus, Demodulator, Modulator, Scheme
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
