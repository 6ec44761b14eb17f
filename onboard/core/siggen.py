"""Multi-channel GNSS signal synthesis (csrc/lr_siggen.h), and its numpy reference.

A :class:`Synthesizer` holds up to 64 channels, each a spreading code with its code
rate and phase, carrier Doppler and Doppler rate, amplitude (or C/N0), I or Q
component and a sign per code epoch (navigation symbols times overlay codes).  Each
:meth:`Synthesizer.generate` call writes the next block of samples; phases carry over
exactly, and channel parameters may be changed between blocks.  A :class:`Schedule` of
code counts and Doppler per update makes the kernel change them itself on the way
(:meth:`Synthesizer.generate_scheduled`), so channels that follow a geometry at 100 Hz
cost no Python per update.

C/N0 convention: complex noise of ``noise_sigma`` per real dimension has power
N0 * fs = 2 * noise_sigma**2 per sample, and a channel's carrier power is amplitude**2,
so ``amplitude = noise_sigma * sqrt(2 * 10**(cn0_dbhz / 10) / fs_hz)``.

:func:`reference_signal` is the float64 numpy oracle of the noise-free signal that the
tests hold the C kernel to.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from onboard.core._api import check, ffi, lib

MAX_CHANNELS = lib.LR_SIGGEN_MAX_CHANNELS
CHIP_PAD = lib.LR_SIGGEN_CHIP_PAD


class SampleFormat(enum.IntEnum):
    CF32 = lib.LR_SIGGEN_CF32
    CI16 = lib.LR_SIGGEN_CI16
    CI8 = lib.LR_SIGGEN_CI8

    @property
    def component_dtype(self) -> np.dtype:
        """numpy dtype of one real component (I or Q)."""
        return np.dtype({SampleFormat.CF32: np.float32, SampleFormat.CI16: np.int16,
                         SampleFormat.CI8: np.int8}[self])

    @classmethod
    def parse(cls, name: str) -> SampleFormat:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown sample format {name!r}; known: cf32, ci16, ci8") from None


class Component(enum.IntEnum):
    I = lib.LR_SIGGEN_I  # noqa: E741 - the field's own name
    Q = lib.LR_SIGGEN_Q


def amplitude_for_cn0(cn0_dbhz: float, fs_hz: float, noise_sigma: float = 1.0) -> float:
    """Channel amplitude giving ``cn0_dbhz`` against noise of ``noise_sigma`` per real dimension."""
    return noise_sigma * math.sqrt(2.0 * 10.0 ** (cn0_dbhz / 10.0) / fs_hz)


def chip_table(chips: np.ndarray) -> np.ndarray:
    """The C kernel's table of a code: logic 0 -> +1, logic 1 -> -1 (int8), padded by wrapping.

    ``chips`` is either logic levels (0/1, as ``onboard.core.codes`` returns them) or
    already +1/-1.
    """
    chips = np.asarray(chips)
    if chips.ndim != 1 or chips.size == 0:
        raise ValueError("a chip table must be a non-empty 1-D array")
    values = set(np.unique(chips).tolist())
    if values <= {0, 1}:
        table = (1 - 2 * chips.astype(np.int8)).astype(np.int8)
    elif values <= {-1, 1}:
        table = chips.astype(np.int8)
    else:
        raise ValueError(f"chips must be 0/1 logic levels or +1/-1 values, found {sorted(values)[:4]}")
    return np.concatenate([table, np.resize(table, CHIP_PAD)])


def _signs(epoch_signs) -> np.ndarray:
    signs = np.asarray(epoch_signs)
    if signs.ndim != 1 or signs.size == 0:
        raise ValueError("epoch signs must be a non-empty 1-D array")
    if not np.all((signs == 1) | (signs == -1)):
        raise ValueError("epoch signs must be +1 or -1")
    return np.ascontiguousarray(signs, dtype=np.int8)


@dataclasses.dataclass
class ChannelState:
    """A snapshot of one channel (what the SigMF annotations record as truth)."""

    n_chips: int
    code_phase_chips: float
    code_rate_cps: float
    carrier_phase_cycles: float
    doppler_hz: float
    doppler_rate_hz_s: float
    amplitude: float
    component: Component
    enabled: bool
    sign_index: int
    epochs: int


class Channel:
    """Live view of one channel of a :class:`Synthesizer`; setting a field takes effect at the
    next block, with no phase jump."""

    _FIELDS = ("code_phase_chips", "code_rate_cps", "carrier_phase_cycles", "doppler_hz",
               "doppler_rate_hz_s", "amplitude")

    def __init__(self, owner: Synthesizer, index: int):
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_c", owner._state.channel[index])
        object.__setattr__(self, "index", index)

    def __getattr__(self, name):
        if name in Channel._FIELDS or name in ("sign_index", "epochs", "n_chips"):
            return getattr(self._c, name)
        if name == "component":
            return Component(self._c.component)
        if name == "enabled":
            return bool(self._c.enabled)
        raise AttributeError(name)

    def __setattr__(self, name, value):
        if name in Channel._FIELDS:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"channel {self.index}: {name} must be finite, not {value}")
            if name == "code_phase_chips":
                value %= self._c.n_chips
            if name == "carrier_phase_cycles":
                value %= 1.0
            setattr(self._c, name, value)
        elif name == "enabled":
            self._c.enabled = 1 if value else 0
        elif name == "component":
            self._c.component = int(Component(value))
        else:
            raise AttributeError(f"channel field {name!r} cannot be set")

    @property
    def chip_table(self) -> np.ndarray:
        """The channel's chips as the kernel reads them: +1/-1 (int8), padded by wrapping."""
        return self._owner._keep[self.index][0]

    def set_epoch_signs(self, epoch_signs, sign_index: int = 0) -> None:
        """Signs of the code epochs from the current one on (cycled when exhausted)."""
        signs = _signs(epoch_signs)
        if not 0 <= sign_index < signs.size:
            raise ValueError(f"sign index {sign_index} is outside the {signs.size} epoch signs")
        self._owner._keep[self.index] = (self._owner._keep[self.index][0], signs)
        self._c.epoch_signs = ffi.from_buffer("int8_t[]", signs)
        self._c.n_signs = signs.size
        self._c.sign_index = sign_index

    def snapshot(self) -> ChannelState:
        c = self._c
        return ChannelState(c.n_chips, c.code_phase_chips, c.code_rate_cps, c.carrier_phase_cycles,
                            c.doppler_hz, c.doppler_rate_hz_s, c.amplitude, Component(c.component),
                            bool(c.enabled), c.sign_index, c.epochs)


class Schedule:
    """Updates of tracked channels every ``interval`` samples (``struct lr_siggen_schedule``).

    Update u starts at sample u * interval; column j of the (tracks, updates) arrays is update
    ``first_update + j``.  At its start, channel ``channels[t]`` gets the code rate that brings its
    code count (code epochs * code length + code phase) to ``code_chips[t, j]`` at the update's
    end, and the carrier Doppler ``doppler_hz[t, j]``."""

    def __init__(self, interval: int, first_update: int, channels, code_chips, doppler_hz):
        channels = np.ascontiguousarray(channels, dtype=np.uint32)
        code_chips = np.ascontiguousarray(code_chips, dtype=np.float64)
        doppler_hz = np.ascontiguousarray(doppler_hz, dtype=np.float64)
        if interval < 1 or first_update < 0:
            raise ValueError(f"a schedule needs interval >= 1 and first_update >= 0, not {interval}, "
                             f"{first_update}")
        if (channels.ndim != 1 or code_chips.ndim != 2 or code_chips.shape != doppler_hz.shape
                or code_chips.shape[0] != channels.size):
            raise ValueError(f"a schedule needs one row of code counts and Doppler per channel: "
                             f"{channels.size} channels, {code_chips.shape} and {doppler_hz.shape}")
        self.first_update = int(first_update)
        self.n_updates = code_chips.shape[1]
        self._arrays = (channels, code_chips, doppler_hz)  # what the struct points into
        self._plan = ffi.new("struct lr_siggen_schedule *")
        self._plan.interval = int(interval)
        self._plan.first_update = self.first_update
        self._plan.n_updates = self.n_updates
        self._plan.n_tracks = channels.size
        self._plan.channel = ffi.from_buffer("uint32_t[]", channels)
        self._plan.code_chips = ffi.from_buffer("double[]", code_chips)
        self._plan.doppler_hz = ffi.from_buffer("double[]", doppler_hz)

    def holds(self, update: int) -> bool:
        return self.first_update <= update < self.first_update + self.n_updates


class Synthesizer:
    """Sum of spread-spectrum channels plus complex AWGN, block by block (csrc/lr_siggen.c)."""

    def __init__(self, fs_hz: float, if_hz: float = 0.0, seed: int = 0, noise_sigma: float = 1.0,
                 scale: float = 1.0):
        if not 1e3 <= fs_hz <= 1e9:
            raise ValueError(f"sample rate {fs_hz} Hz is outside 1 kHz .. 1 GHz")
        if noise_sigma < 0 or not math.isfinite(noise_sigma):
            raise ValueError(f"noise sigma must be >= 0, not {noise_sigma}")
        self._state = ffi.new("struct lr_siggen *")
        check(lib.lr_siggen_init(self._state, float(fs_hz), float(if_hz), int(seed) & (2**64 - 1)),
              "siggen init")
        self._state.noise_sigma = float(noise_sigma)
        self._state.scale = float(scale)
        # Chip tables and sign arrays the C struct points into, kept alive with it.
        self._keep: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    fs_hz = property(lambda self: self._state.fs_hz)
    if_hz = property(lambda self: self._state.if_hz)
    noise_sigma = property(lambda self: self._state.noise_sigma)
    sample_index = property(lambda self: self._state.sample_index,
                            doc="samples generated so far")
    clipped = property(lambda self: self._state.clipped,
                       doc="ci16/ci8 components clipped so far")
    n_channels = property(lambda self: self._state.n_channels)

    @property
    def scale(self) -> float:
        return self._state.scale

    @scale.setter
    def scale(self, value: float) -> None:
        if not math.isfinite(value):
            raise ValueError(f"scale must be finite, not {value}")
        self._state.scale = float(value)

    def add_channel(self, chips, code_rate_cps: float, *, code_phase_chips: float = 0.0,
                    doppler_hz: float = 0.0, doppler_rate_hz_s: float = 0.0,
                    carrier_phase_cycles: float = 0.0, amplitude: float | None = None,
                    cn0_dbhz: float | None = None, component: Component = Component.I,
                    epoch_signs=None, sign_index: int = 0) -> Channel:
        """Add a channel; give either ``amplitude`` or ``cn0_dbhz`` (relative to this noise)."""
        index = self._state.n_channels
        if index >= MAX_CHANNELS:
            raise ValueError(f"a synthesizer holds at most {MAX_CHANNELS} channels")
        if (amplitude is None) == (cn0_dbhz is None):
            raise ValueError("give exactly one of amplitude and cn0_dbhz")
        if cn0_dbhz is not None:
            if self.noise_sigma == 0:
                raise ValueError("cn0_dbhz needs noise: set noise_sigma > 0 or give an amplitude")
            amplitude = amplitude_for_cn0(cn0_dbhz, self.fs_hz, self.noise_sigma)
        if not 0 <= code_rate_cps / self.fs_hz < 32:
            raise ValueError(f"code rate {code_rate_cps} chip/s is outside 0 .. 32 chips per sample")
        table = chip_table(chips)
        c = self._state.channel[index]
        c.chips = ffi.from_buffer("int8_t[]", table)
        c.n_chips = table.size - CHIP_PAD
        c.n_table = table.size
        c.component = int(Component(component))
        c.enabled = 1
        self._keep[index] = (table, None)
        self._state.n_channels = index + 1
        ch = Channel(self, index)
        ch.code_rate_cps = code_rate_cps
        ch.code_phase_chips = code_phase_chips
        ch.carrier_phase_cycles = carrier_phase_cycles
        ch.doppler_hz = doppler_hz
        ch.doppler_rate_hz_s = doppler_rate_hz_s
        ch.amplitude = amplitude
        if epoch_signs is not None:
            ch.set_epoch_signs(epoch_signs, sign_index)
        return ch

    def channel(self, index: int) -> Channel:
        if not 0 <= index < self._state.n_channels:
            raise IndexError(f"no channel {index}; there are {self._state.n_channels}")
        return Channel(self, index)

    def _output(self, n_samples: int, fmt: SampleFormat, out: np.ndarray | None):
        """The output array (given or new) and its cffi buffer, room checked by the kernel."""
        if n_samples < 0:
            raise ValueError(f"sample count must be >= 0, not {n_samples}")
        if out is None:
            out = (np.empty(n_samples, np.complex64) if fmt == SampleFormat.CF32
                   else np.empty((n_samples, 2), fmt.component_dtype))
        elif not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("output array must be contiguous and writable")
        allowed = (fmt.component_dtype, np.dtype(np.complex64) if fmt == SampleFormat.CF32 else None)
        if out.dtype not in allowed:
            raise ValueError(f"{fmt.name.lower()} output needs a {fmt.component_dtype} array, "
                             f"not {out.dtype}")
        n_out = out.nbytes // (2 * fmt.component_dtype.itemsize)
        return out, ffi.from_buffer(out, require_writable=True), n_out

    def generate(self, n_samples: int, fmt: SampleFormat = SampleFormat.CF32,
                 out: np.ndarray | None = None) -> np.ndarray:
        """The next ``n_samples`` samples: complex64 for cf32, else an (n, 2) array of I, Q."""
        fmt = SampleFormat(fmt)
        out, buf, n_out = self._output(n_samples, fmt, out)
        check(lib.lr_siggen_generate(self._state, n_samples, int(fmt), buf, n_out), "siggen generate")
        return out

    def generate_scheduled(self, schedule: Schedule, n_samples: int, fmt: SampleFormat,
                           out: np.ndarray) -> int:
        """Up to ``n_samples`` samples into ``out`` with ``schedule``'s updates made on the way;
        returns how many: fewer when the next update is not in the schedule."""
        fmt = SampleFormat(fmt)
        out, buf, n_out = self._output(n_samples, fmt, out)
        return check(lib.lr_siggen_generate_scheduled(self._state, schedule._plan, n_samples, int(fmt), buf,
                                                      n_out), "siggen generate")


def reference_signal(fs_hz: float, n_samples: int, channels: list[dict], if_hz: float = 0.0) -> np.ndarray:
    """Noise-free float64 oracle of the synthesis, for the tests.

    Each channel is a dict with ``chips`` (0/1 or +/-1), ``code_rate_cps``, ``code_phase_chips``,
    ``carrier_phase_cycles``, ``doppler_hz``, ``doppler_rate_hz_s``, ``amplitude``, ``component``
    and optional ``epoch_signs``/``sign_index``, as given to :meth:`Synthesizer.add_channel`.
    """
    t = np.arange(n_samples) / fs_hz
    total = np.zeros(n_samples, np.complex128)
    for ch in channels:
        table = chip_table(ch["chips"])[:-CHIP_PAD].astype(np.float64)
        n_chips = table.size
        phase = ch.get("code_phase_chips", 0.0) + ch["code_rate_cps"] * t
        epoch = np.floor(phase / n_chips).astype(np.int64)
        chip = table[np.floor(phase).astype(np.int64) % n_chips]
        if ch.get("epoch_signs") is not None:
            signs = np.asarray(ch["epoch_signs"], np.float64)
            chip = chip * signs[(ch.get("sign_index", 0) + epoch) % signs.size]
        f0 = if_hz + ch.get("doppler_hz", 0.0)
        rate = ch.get("doppler_rate_hz_s", 0.0)
        carrier = ch.get("carrier_phase_cycles", 0.0) + f0 * t + 0.5 * rate * t * t
        sig = ch["amplitude"] * chip * np.exp(2j * np.pi * carrier)
        if Component(ch.get("component", Component.I)) == Component.Q:
            sig = 1j * sig
        total += sig
    return total
