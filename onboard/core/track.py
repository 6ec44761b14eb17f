"""Tracking correlators and loops (csrc/lr_track.h), and their numpy reference.

A :class:`Tracker` runs up to 64 channels over blocks of complex baseband samples (cf32,
or interleaved ci16 / ci8, unscaled).  Each channel has one carrier NCO and one code NCO,
a "main" code with early, prompt and late taps (the code the loops follow) and an optional
"data" code with a prompt tap that shares the main code's epoch.  :meth:`Tracker.process`
returns one record per completed code epoch and channel (:data:`DUMP_DTYPE`): the four
complex correlations, where in the stream the epoch began (fractional sample), the NCO
values and the loop discriminators.  Channel parameters may change between blocks through
the live :class:`TrackChannel` view; phases carry over.

:func:`reference_correlate` computes one run of correlations in float64 numpy: the oracle the
tests hold the C kernels to.
"""

from __future__ import annotations

import enum
import math

import numpy as np

from onboard.core._api import check, ffi, lib
from onboard.core.siggen import SampleFormat  # the tracker reads the codes the synthesiser writes

MAX_CHANNELS = lib.LR_TRACK_MAX_CHANNELS
CODE_PAD = lib.LR_TRACK_CODE_PAD


class Mode(enum.IntEnum):
    COSTAS = lib.LR_TRACK_COSTAS  # symbol signs unknown: two-quadrant discriminators
    PILOT = lib.LR_TRACK_PILOT  # the main code's sign per epoch is known: wiped, summed coherently


class Kernel(enum.IntEnum):
    SIMD = lib.LR_TRACK_KERNEL_SIMD  # AVX2 or portable (onboard.core.simd)
    SCALAR = lib.LR_TRACK_KERNEL_SCALAR  # one sample and one tap at a time: the benchmark's baseline


_DUMP_FIELDS = (("channel", "u4"), ("mode", "i4"), ("epoch", "u8"), ("start_sample", "f8"),
                ("carrier_cycles", "f8"), ("carrier_hz", "f8"), ("code_rate_cps", "f8"),
                ("e_re", "f4"), ("e_im", "f4"), ("p_re", "f4"), ("p_im", "f4"),
                ("l_re", "f4"), ("l_im", "f4"),
                ("d_re", "f4"), ("d_im", "f4"), ("pll_error_cycles", "f4"), ("fll_error_hz", "f4"),
                ("dll_error_chips", "f4"), ("n_samples", "u4"), ("pilot_index", "u4"), ("reserved", "u4"))
DUMP_DTYPE = np.dtype({"names": [n for n, _ in _DUMP_FIELDS], "formats": [f for _, f in _DUMP_FIELDS],
                       "offsets": [ffi.offsetof("struct lr_track_dump", n) for n, _ in _DUMP_FIELDS],
                       "itemsize": ffi.sizeof("struct lr_track_dump")})


def code_table(chips) -> np.ndarray:
    """The tracker's table of a code given as logic levels (0/1): 0 for logic 0 (+1), -1 for logic 1,
    wrapped by CODE_PAD chips on both sides."""
    chips = np.asarray(chips)
    if chips.ndim != 1 or chips.size == 0 or not np.isin(chips, (0, 1)).all():
        raise ValueError("a code must be a non-empty 1-D array of 0/1 chips")
    levels = -chips.astype(np.int8)
    return np.ascontiguousarray(np.take(levels, np.arange(-CODE_PAD, chips.size + CODE_PAD), mode="wrap"))


class TrackChannel:
    """Live view of one channel of a :class:`Tracker`; a field set here takes effect at the next block."""

    _FLOAT_FIELDS = ("code_phase_chips", "code_rate_cps", "chip_rate_cps", "carrier_cycles", "carrier_hz",
                     "carrier_freq_hz", "pll_bw_hz", "fll_bw_hz", "dll_bw_hz", "early_late_chips",
                     "pll_rate_hz_s", "pll_freq_hz", "epoch_start")
    _READ_ONLY = ("epochs", "pll_error_cycles", "fll_error_hz", "dll_error_chips", "pilot_index",
                  "n_coherent", "epoch_samples")

    def __init__(self, owner: Tracker, index: int):
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_c", owner._state.channel[index])
        object.__setattr__(self, "index", index)

    def __getattr__(self, name):
        if name in TrackChannel._FLOAT_FIELDS or name in TrackChannel._READ_ONLY:
            return getattr(self._c, name)
        if name == "mode":
            return Mode(self._c.mode)
        if name == "enabled":
            return bool(self._c.enabled)
        raise AttributeError(name)

    def __setattr__(self, name, value):
        if name in TrackChannel._FLOAT_FIELDS:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"channel {self.index}: {name} must be finite, not {value}")
            setattr(self._c, name, value)
        elif name == "enabled":
            self._c.enabled = 1 if value else 0
        else:
            raise AttributeError(f"channel field {name!r} cannot be set")

    @property
    def epoch_duration_s(self) -> float:
        return self._c.main.n_chips / self._c.chip_rate_cps

    def set_doppler(self, carrier_hz: float) -> None:
        """Move the carrier NCO and the loop filter's frequency state together (no transient)."""
        self.carrier_hz = carrier_hz
        self.pll_freq_hz = carrier_hz
        self.pll_rate_hz_s = 0.0
        self._c.fll_have_prev = 0

    def set_loops(self, pll_bw_hz: float, fll_bw_hz: float, dll_bw_hz: float) -> None:
        self.pll_bw_hz, self.fll_bw_hz, self.dll_bw_hz = pll_bw_hz, fll_bw_hz, dll_bw_hz

    def set_costas(self) -> None:
        """Sign-blind discriminators, one loop update per epoch."""
        self._c.mode = int(Mode.COSTAS)
        self._c.fll_have_prev = 0
        self._c.coherent_count = 0
        for k in range(6):
            self._c.coh[k] = 0.0

    def set_pilot(self, signs, index: int, n_coherent: int) -> None:
        """Wipe the main code's sign of each epoch with ``signs`` (+1/-1, cycled), starting at entry
        ``index`` for the epoch in progress, and update the loops every ``n_coherent`` epochs."""
        s = np.ascontiguousarray(signs, dtype=np.int8)
        if s.ndim != 1 or s.size == 0 or not np.isin(s, (-1, 1)).all():
            raise ValueError("pilot signs must be a non-empty 1-D array of +1/-1")
        if not 0 <= index < s.size:
            raise ValueError(f"pilot index {index} is outside the {s.size} signs")
        if not 1 <= n_coherent <= 1000:
            raise ValueError(f"coherent epochs {n_coherent} outside 1..1000")
        self._owner._keep[self.index]["signs"] = s
        self._c.pilot_signs = ffi.from_buffer("int8_t[]", s)
        self._c.n_pilot_signs = s.size
        self._c.pilot_index = index
        self._c.n_coherent = n_coherent
        self._c.coherent_count = 0
        for k in range(6):
            self._c.coh[k] = 0.0
        self._c.fll_have_prev = 0
        self._c.mode = int(Mode.PILOT)

    def shift_carrier_phase(self, cycles: float) -> None:
        """Turn the carrier NCO (0.5 resolves a Costas loop's half-cycle ambiguity)."""
        self._c.carrier_cycles += float(cycles)


class Tracker:
    """Channels tracked block by block through the C core (csrc/lr_track.c)."""

    def __init__(self, fs_hz: float, if_hz: float = 0.0, kernel: Kernel = Kernel.SIMD):
        if not 1e3 <= fs_hz <= 1e9:
            raise ValueError(f"sample rate {fs_hz} Hz is outside 1 kHz .. 1 GHz")
        self._state = ffi.new("struct lr_tracker *")
        check(lib.lr_track_init(self._state, float(fs_hz), float(if_hz)), "tracker init")
        self._state.kernel = int(Kernel(kernel))
        self._keep: dict[int, dict[str, np.ndarray]] = {}
        self._dumps = np.empty(0, DUMP_DTYPE)

    fs_hz = property(lambda self: self._state.fs_hz)
    if_hz = property(lambda self: self._state.if_hz)
    next_sample = property(lambda self: self._state.next_sample, doc="samples processed so far")
    n_channels = property(lambda self: self._state.n_channels)

    def add_channel(self, main_chips, chip_rate_cps: float, *, main_component: int = 0, data_chips=None,
                    data_component: int = 0, code_phase_chips: float = 0.0, carrier_hz: float = 0.0,
                    carrier_freq_hz: float = 0.0, carrier_cycles: float = 0.0,
                    early_late_chips: float = 0.5) -> TrackChannel:
        """A channel whose main-code phase at the tracker's next sample is ``code_phase_chips``, with
        the carrier-aided code rate; loops off until :meth:`TrackChannel.set_loops`."""
        index = self._state.n_channels
        if index >= MAX_CHANNELS:
            raise ValueError(f"a tracker holds at most {MAX_CHANNELS} channels")
        main = code_table(main_chips)
        keep = {"main": main}
        c = self._state.channel[index]
        c.main.table = ffi.from_buffer("int8_t[]", main)
        c.main.n_chips = main.size - 2 * CODE_PAD
        c.main.n_table = main.size
        c.main.component = int(main_component)
        if data_chips is not None:
            data = code_table(data_chips)
            keep["data"] = data
            c.data.table = ffi.from_buffer("int8_t[]", data)
            c.data.n_chips = data.size - 2 * CODE_PAD
            c.data.n_table = data.size
            c.data.component = int(data_component)
        self._keep[index] = keep
        n_chips = c.main.n_chips
        c.enabled = 1
        c.mode = int(Mode.COSTAS)
        c.n_coherent = 1
        c.chip_rate_cps = float(chip_rate_cps)
        c.carrier_freq_hz = float(carrier_freq_hz)
        rate = chip_rate_cps * (1.0 + carrier_hz / carrier_freq_hz) if carrier_freq_hz > 0 else chip_rate_cps
        c.code_rate_cps = rate
        c.code_phase_chips = float(code_phase_chips) % n_chips
        c.carrier_cycles = float(carrier_cycles)
        c.early_late_chips = float(early_late_chips)
        # The epoch in progress began code_phase_chips ago.
        c.epoch_start = self._state.next_sample - c.code_phase_chips * self._state.fs_hz / rate
        self._state.n_channels = index + 1
        ch = TrackChannel(self, index)
        ch.set_doppler(carrier_hz)
        return ch

    def channel(self, index: int) -> TrackChannel:
        if not 0 <= index < self._state.n_channels:
            raise IndexError(f"no channel {index}; there are {self._state.n_channels}")
        return TrackChannel(self, index)

    def max_dumps(self, n_samples: int) -> int:
        return int(lib.lr_track_max_dumps(self._state, n_samples))

    def process(self, block: np.ndarray, fmt: SampleFormat | str = SampleFormat.CF32) -> np.ndarray:
        """Track through ``block`` (complex64 for cf32; interleaved or (n, 2) integers for ci16/ci8);
        returns the epochs completed, as a view valid until the next call."""
        fmt = SampleFormat.parse(fmt) if isinstance(fmt, str) else SampleFormat(fmt)
        arr = np.asarray(block)
        if fmt == SampleFormat.CF32:
            if arr.dtype != np.complex64:
                raise ValueError(f"cf32 samples must be complex64, not {arr.dtype}")
            n = arr.size
        else:
            if arr.dtype != fmt.component_dtype:
                raise ValueError(f"{fmt.name.lower()} samples must be {fmt.component_dtype}, not {arr.dtype}")
            if arr.size % 2:
                raise ValueError("integer samples must come in I, Q pairs")
            n = arr.size // 2
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        need = self.max_dumps(n)
        if self._dumps.size < need:
            self._dumps = np.empty(max(need, 2 * self._dumps.size), DUMP_DTYPE)
        got = check(lib.lr_track_process(self._state, ffi.from_buffer(arr), int(fmt), n,
                                         ffi.cast("struct lr_track_dump *", ffi.from_buffer(self._dumps)),
                                         self._dumps.size), "track")
        return self._dumps[:got]


def reference_correlate(samples, fs_hz: float, main_chips, main_phase_chips: float, main_rate_cps: float,
                        carrier_cycles: float, carrier_hz: float, early_late_chips: float = 0.5,
                        data_chips=None, if_hz: float = 0.0) -> np.ndarray:
    """E, P, L (main code) and D (data code prompt) of ``samples``, complex128, in float64.

    Chip k of the main code covers phases [k, k+1) chips; the phase at sample i is
    ``main_phase_chips + i * main_rate_cps / fs_hz`` and the data code's is that times
    len(data) / len(main); the carrier replica is exp(j 2 pi (carrier_cycles + i (if + Doppler) / fs))."""
    x = np.asarray(samples, dtype=np.complex128)
    i = np.arange(x.size)
    main = 1.0 - 2.0 * np.asarray(main_chips, dtype=np.float64)
    phase = main_phase_chips + i * main_rate_cps / fs_hz
    base = x * np.exp(-2j * np.pi * (carrier_cycles + i * (if_hz + carrier_hz) / fs_hz))
    half = 0.5 * early_late_chips
    out = [np.sum(base * main[np.floor(phase + off).astype(np.int64) % main.size])
           for off in (half, 0.0, -half)]
    if data_chips is not None:
        data = 1.0 - 2.0 * np.asarray(data_chips, dtype=np.float64)
        dphase = phase * data.size / main.size
        out.append(np.sum(base * data[np.floor(dphase).astype(np.int64) % data.size]))
    else:
        out.append(0.0)
    return np.array(out, dtype=np.complex128)
