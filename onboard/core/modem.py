"""The CCSDS modulator and demodulator (csrc/lr_mod.h, csrc/lr_demod.h).

:class:`Modulator` turns channel bits into complex baseband samples: BPSK, QPSK or OQPSK
with suppressed carrier and RRC pulses at any samples per symbol from 2 (fractional too),
or PCM/PSK/PM on a sine subcarrier with a residual carrier; NRZ-L or NRZ-M.
:class:`Demodulator` turns samples back into soft symbols (float, positive for bit 1) with
AGC, FFT frequency acquisition, Costas (or PLL and subcarrier) loop and Gardner timing, and
reports lock, cycle slips, Es/N0 and the frequency it follows.  Both keep their state
between blocks; the C structs are freed with their Python objects.

:func:`soft_to_u8` maps soft symbols onto the uint8 scale of the Viterbi decoder and the
frame synchroniser (``onboard.ccsds.chain``: 0 = certain 0, 255 = certain 1).
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from onboard.core._api import check, ffi, lib
from onboard.core.siggen import SampleFormat


class Scheme(enum.IntEnum):
    BPSK = lib.LR_MOD_BPSK
    QPSK = lib.LR_MOD_QPSK
    OQPSK = lib.LR_MOD_OQPSK
    PCM_PSK_PM = lib.LR_MOD_PCM_PSK_PM

    @classmethod
    def parse(cls, name: str) -> Scheme:
        try:
            return cls[name.upper().replace("-", "_").replace("/", "_")]
        except KeyError:
            raise ValueError(f"unknown modulation {name!r}; known: bpsk, qpsk, oqpsk, pcm-psk-pm") from None

    @property
    def bits_per_symbol(self) -> int:
        return 2 if self in (Scheme.QPSK, Scheme.OQPSK) else 1

    @property
    def cli_name(self) -> str:
        return self.name.lower().replace("_", "-")


class Coding(enum.IntEnum):
    NRZ_L = lib.LR_MOD_NRZ_L
    NRZ_M = lib.LR_MOD_NRZ_M

    @classmethod
    def parse(cls, name: str) -> Coding:
        try:
            return cls[name.upper().replace("-", "_")]
        except KeyError:
            raise ValueError(f"unknown symbol coding {name!r}; known: nrz-l, nrz-m") from None


SPAN_SYMBOLS = lib.LR_MOD_SPAN
FRAME_SAMPLES = lib.LR_DEMOD_FRAME


def bits_of(octets) -> np.ndarray:
    """Channel bits (one uint8 0/1 per bit, MSB first) of octets."""
    return np.unpackbits(np.frombuffer(memoryview(octets).cast("B"), dtype=np.uint8)
                         if not isinstance(octets, np.ndarray) else octets.astype(np.uint8, copy=False))


def soft_to_u8(soft: np.ndarray, scale: float = 64.0) -> np.ndarray:
    """Soft symbols (positive for bit 1, about +/-1) as uint8: 128 + scale * soft, clipped."""
    return np.clip(np.rint(128.0 + scale * np.asarray(soft, dtype=np.float32)), 0, 255).astype(np.uint8)


def _out_array(n: int, fmt: SampleFormat) -> tuple[np.ndarray, object]:
    if fmt is SampleFormat.CF32:
        arr = np.empty(n, dtype=np.complex64)
        return arr, ffi.from_buffer("float[]", arr.view(np.float32), require_writable=True)
    arr = np.empty((n, 2), dtype=fmt.component_dtype)
    return arr, ffi.from_buffer(arr, require_writable=True)


class Modulator:
    """Channel bits in, samples out in ``fmt`` (complex64, or (n, 2) int16 / int8 I, Q).

    ``amplitude`` is the RMS of a unit-power symbol stream in output units (for ci16 a few
    thousand leaves room for the RRC peaks).  PCM/PSK/PM needs ``fs_hz``, ``subcarrier_hz``
    and ``mod_index_rad``; its symbols are rectangular, ``sps`` samples each.
    """

    def __init__(self, scheme: Scheme | str, sps: float, *, rolloff: float = 0.35,
                 coding: Coding | str = Coding.NRZ_L, amplitude: float = 1.0,
                 fmt: SampleFormat | str = SampleFormat.CF32, fs_hz: float | None = None,
                 subcarrier_hz: float | None = None, mod_index_rad: float = 1.0):
        self.scheme = Scheme.parse(scheme) if isinstance(scheme, str) else Scheme(scheme)
        self.coding = Coding.parse(coding) if isinstance(coding, str) else Coding(coding)
        self.fmt = SampleFormat.parse(fmt) if isinstance(fmt, str) else SampleFormat(fmt)
        cfg = ffi.new("struct lr_mod_config *")
        cfg.scheme, cfg.coding = int(self.scheme), int(self.coding)
        cfg.sps, cfg.rolloff, cfg.amplitude = float(sps), float(rolloff), float(amplitude)
        if self.scheme is Scheme.PCM_PSK_PM:
            if not fs_hz or not subcarrier_hz:
                raise ValueError("PCM/PSK/PM needs the sample rate and the subcarrier frequency")
            cfg.subcarrier_cycles_per_sample = float(subcarrier_hz) / float(fs_hz)
            cfg.mod_index_rad = float(mod_index_rad)
        self._m = ffi.new("struct lr_mod *")
        status = lib.lr_mod_init(self._m, cfg)
        if status < 0:
            raise ValueError(f"modulator: {self.scheme.cli_name} at {sps} samples/symbol, roll-off "
                             f"{rolloff}, amplitude {amplitude} is outside the supported range "
                             "(sps >= 2, roll-off 0.2-0.5, PM index 0-3 rad, subcarrier below fs/2)")
        self.sps = float(sps)
        self.rolloff = float(rolloff)
        self.amplitude = float(amplitude)

    @property
    def samples(self) -> int:
        return self._m.samples

    @property
    def symbols(self) -> int:
        return self._m.n_symbols

    @property
    def clipped(self) -> int:
        return self._m.clipped

    def max_samples(self, n_bits: int) -> int:
        return lib.lr_mod_max_samples(self._m, n_bits)

    def _run(self, fn, bits) -> np.ndarray:
        src = np.ascontiguousarray(bits, dtype=np.uint8).reshape(-1)
        cap = lib.lr_mod_max_samples(self._m, src.size)
        out, ptr = _out_array(cap, self.fmt)
        n = check(fn(self._m, ffi.from_buffer(src), src.size, int(self.fmt), ptr, cap), "modulate")
        return out[:n]

    def modulate(self, bits) -> np.ndarray:
        """Samples completed by these channel bits (uint8 0/1, one per bit)."""
        return self._run(lib.lr_mod_process, bits)

    def reference(self, bits) -> np.ndarray:
        """The same samples by the direct polyphase FIR (the tests' oracle, the bench's baseline)."""
        return self._run(lib.lr_mod_reference, bits)

    def flush(self) -> np.ndarray:
        """The tail of the last pulses; the stream ends."""
        cap = lib.lr_mod_max_samples(self._m, 0)
        out, ptr = _out_array(cap, self.fmt)
        n = check(lib.lr_mod_flush(self._m, int(self.fmt), ptr, cap), "modulator flush")
        return out[:n]

    def carrier(self, n_samples: int) -> np.ndarray:
        """PCM/PSK/PM: unmodulated carrier (the uplink's carrier-only period)."""
        out, ptr = _out_array(n_samples, self.fmt)
        check(lib.lr_mod_carrier(self._m, n_samples, int(self.fmt), ptr, n_samples), "carrier")
        return out


@dataclasses.dataclass(frozen=True)
class DemodStatus:
    """What the demodulator reports (its housekeeping)."""

    locked: bool
    lock_metric: float
    freq_offset_hz: float
    esn0_db: float
    cycle_slips: int
    acquisitions: int
    lock_changes: int
    symbols: int
    samples: int
    nonfinite: int
    timing_sps: float
    searching: bool

    def ebn0_db(self, bits_per_symbol: int, code_rate: float = 1.0) -> float:
        """Eb/N0 of the information bits: Es/N0 less 10 log10(bits per symbol * code rate)."""
        return self.esn0_db - 10.0 * math.log10(bits_per_symbol * code_rate)


class Demodulator:
    """Samples in (complex64, or (n, 2) int16/int8 scaled by full scale), soft symbols out.

    Loop bandwidths are fractions of the symbol rate.  ``acq_range_hz`` is the FFT search's
    +/- range (0: none, the loop starts at 0 Hz).  For PCM/PSK/PM, ``subcarrier_hz`` must be
    a whole number of cycles per symbol.
    """

    def __init__(self, scheme: Scheme | str, sps: float, fs_hz: float, *, rolloff: float = 0.35,
                 coding: Coding | str = Coding.NRZ_L, carrier_bw: float = 0.002, timing_bw: float = 0.002,
                 acq_range_hz: float | None = None, acq_frames: int = 8, lock_symbols: int = 512,
                 unlock_symbols: int = 2048, scalar_reference: bool = False,
                 subcarrier_hz: float = 0.0, mod_index_rad: float = 1.0):
        self.scheme = Scheme.parse(scheme) if isinstance(scheme, str) else Scheme(scheme)
        self.coding = Coding.parse(coding) if isinstance(coding, str) else Coding(coding)
        if acq_range_hz is None:
            # at least +/-10 kHz (2% of the symbol rate when that is more), within what the
            # FFT of the squared or fourth-power signal covers
            power = {Scheme.BPSK: 2, Scheme.PCM_PSK_PM: 1}.get(self.scheme, 4)
            acq_range_hz = min(max(10e3, 0.02 * fs_hz / sps), 0.4 * fs_hz / power)
        cfg = ffi.new("struct lr_demod_config *")
        cfg.scheme, cfg.coding = int(self.scheme), int(self.coding)
        cfg.sps, cfg.rolloff, cfg.fs_hz = float(sps), float(rolloff), float(fs_hz)
        cfg.carrier_bw, cfg.timing_bw = float(carrier_bw), float(timing_bw)
        cfg.acq_range_hz, cfg.acq_frames = float(acq_range_hz), int(acq_frames)
        cfg.lock_symbols, cfg.unlock_symbols = int(lock_symbols), int(unlock_symbols)
        cfg.scalar_reference = int(bool(scalar_reference))
        cfg.subcarrier_hz, cfg.mod_index_rad = float(subcarrier_hz), float(mod_index_rad)
        self._d = ffi.new("struct lr_demod *")
        if lib.lr_demod_init(self._d, cfg) < 0:
            raise ValueError(f"demodulator: {self.scheme.cli_name} at {sps} samples/symbol, {fs_hz} Hz, "
                             f"roll-off {rolloff}, search +/-{acq_range_hz} Hz is outside the supported "
                             "range (RRC: sps 2-64, roll-off 0.2-0.5; PM: whole subcarrier cycles per "
                             "symbol, >= 4 samples per cycle)")
        self.sps, self.fs_hz, self.acq_range_hz = float(sps), float(fs_hz), float(acq_range_hz)

    @property
    def bits_per_symbol(self) -> int:
        return self.scheme.bits_per_symbol

    def demodulate(self, samples, fmt: SampleFormat | str = SampleFormat.CF32) -> np.ndarray:
        """Soft symbols (float32, positive for bit 1; QPSK/OQPSK: I then Q per symbol)."""
        fmt = SampleFormat.parse(fmt) if isinstance(fmt, str) else SampleFormat(fmt)
        if fmt is SampleFormat.CF32 and np.asarray(samples).dtype == np.complex64:
            src = np.ascontiguousarray(samples).reshape(-1)
        else:
            from onboard.core.iq import as_complex

            src = as_complex(samples, fmt)
        n = src.size
        cap = lib.lr_demod_max_soft(self._d, n)
        soft = np.empty(cap, dtype=np.float32)
        k = check(lib.lr_demod_process(self._d, ffi.from_buffer("float[]", src.view(np.float32)), n,
                                       ffi.from_buffer("float[]", soft, require_writable=True), cap),
                  "demodulate")
        return soft[:k]

    def status(self) -> DemodStatus:
        d = self._d
        return DemodStatus(locked=bool(d.locked), lock_metric=d.lock_metric, freq_offset_hz=d.freq_offset_hz,
                           esn0_db=d.esn0_db, cycle_slips=d.cycle_slips, acquisitions=d.acquisitions,
                           lock_changes=d.lock_changes, symbols=d.symbols, samples=d.samples,
                           nonfinite=d.nonfinite, timing_sps=d.timing_sps, searching=bool(d.searching))
