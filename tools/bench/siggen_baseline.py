"""The gps-sdr-sim-style scalar baseline of the siggen bench (``csrc/siggen_baseline.c`` beside
this file), built with cffi the first time a bench asks for it and kept in the user's cache
(``$XDG_CACHE_HOME/lunarelay``, else ``~/.cache/lunarelay``) under the digest of its source, so it
is compiled once per source and never ships in the product's C core.

    base = ScalarBaseline.like(synth)     # the channels of a Synthesizer, as they are now
    out = base.generate(n)                # (n, 2) int16 I, Q; phases carry over between calls

The loop knows no noise, Doppler rate, epoch signs or Q component: every channel is taken in
phase, so it does the same work per channel-sample as the gps-sdr-sim loop it stands for.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import os
import pathlib
import re
import shutil
import sys
import tempfile

import numpy as np

from onboard.core.siggen import CHIP_PAD, Synthesizer, chip_table
from onboard.errors import LunarelayError

SOURCE = pathlib.Path(__file__).with_name("csrc") / "siggen_baseline.c"
HEADER = SOURCE.with_suffix(".h")
_CDEF = re.compile(r"/\* BASELINE_CDEF_BEGIN \*/(.*?)/\* BASELINE_CDEF_END \*/", re.S)
E_ARG, E_SPACE = -1, -2


def _cache_dir() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "lunarelay"


@functools.cache
def _library():
    """(ffi, lib) of the baseline, compiled now unless the cache holds this source's build."""
    import cffi

    digest = hashlib.sha256(SOURCE.read_bytes() + HEADER.read_bytes()
                            + f"{sys.implementation.cache_tag} {cffi.__version__}".encode()).hexdigest()[:16]
    name = f"_lr_siggen_baseline_{digest}"
    ffi = cffi.FFI()
    ffi.cdef(_CDEF.search(HEADER.read_text()).group(1))
    # the core's flags (onboard/core/_build.py): the loop must compile as the one it stands for did
    ffi.set_source(name, '#include "siggen_baseline.h"', sources=[str(SOURCE)],
                   include_dirs=[str(SOURCE.parent)], extra_link_args=["-lm"],
                   extra_compile_args=["-std=gnu11", "-O3", "-fno-math-errno"])
    cache = _cache_dir()
    built = next(cache.glob(f"{name}*.so"), None) if cache.is_dir() else None
    if built is None:
        with tempfile.TemporaryDirectory(prefix="lunarelay-bench-") as tmp:
            try:
                so = pathlib.Path(ffi.compile(tmpdir=tmp, verbose=False))
            except Exception as exc:  # noqa: BLE001 - a missing compiler, named in one line
                raise LunarelayError(f"the siggen bench's baseline ({SOURCE.name}) does not compile: "
                                     f"{type(exc).__name__}: {exc}") from None
            try:
                cache.mkdir(parents=True, exist_ok=True)
                built = cache / so.name
                shutil.copy2(so, cache / f".{so.name}.tmp")
                os.replace(cache / f".{so.name}.tmp", built)   # a concurrent bench sees all or nothing
            except OSError:
                built = pathlib.Path(tempfile.mkdtemp(prefix="lunarelay-bench-")) / so.name
                shutil.copy2(so, built)
    spec = importlib.util.spec_from_file_location(name, built)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi, module.lib


@dataclasses.dataclass
class BaselineChannel:
    chips: object                     # the code: 0/1 or +1/-1 chips
    code_rate_cps: float
    code_phase_chips: float = 0.0
    carrier_phase_cycles: float = 0.0
    doppler_hz: float = 0.0
    amplitude: float = 1.0


class ScalarBaseline:
    """The baseline's channels and the phases they carry from one call to the next."""

    @classmethod
    def like(cls, synth: Synthesizer) -> ScalarBaseline:
        """The enabled channels of ``synth`` at their present phases, rate, IF and scale."""
        channels = []
        for k in range(synth.n_channels):
            ch = synth.channel(k)
            if ch.enabled:
                channels.append(BaselineChannel(ch.chip_table[:ch.n_chips], ch.code_rate_cps,
                                                ch.code_phase_chips, ch.carrier_phase_cycles, ch.doppler_hz,
                                                ch.amplitude))
        return cls(synth.fs_hz, channels, synth.if_hz, synth.scale)

    def __init__(self, fs_hz: float, channels: list[BaselineChannel], if_hz: float = 0.0, scale: float = 1.0):
        self._ffi, self._lib = _library()
        self.fs_hz, self.if_hz, self.scale = float(fs_hz), float(if_hz), float(scale)
        self._tables = [chip_table(ch.chips) for ch in channels]
        self._c = self._ffi.new("struct siggen_baseline_channel[]", max(1, len(channels)))
        self.n_channels = len(channels)
        for c, ch, table in zip(self._c, channels, self._tables, strict=False):
            c.chips = self._ffi.from_buffer("int8_t[]", table)
            c.n_table = table.size
            c.n_chips = table.size - CHIP_PAD
            c.code_phase_chips, c.code_rate_cps = ch.code_phase_chips, ch.code_rate_cps
            c.carrier_phase_cycles, c.doppler_hz = ch.carrier_phase_cycles, ch.doppler_hz
            c.amplitude = ch.amplitude

    def code_phase_chips(self, index: int) -> float:
        return self._c[index].code_phase_chips

    def generate(self, n_samples: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next ``n_samples`` samples as an (n, 2) int16 array of I, Q."""
        if out is None:
            out = np.empty((n_samples, 2), np.int16)
        if out.dtype != np.int16 or not out.flags.c_contiguous:
            raise ValueError("the baseline writes into a contiguous int16 array")
        buf = self._ffi.cast("int16_t *", self._ffi.from_buffer(out, require_writable=True))
        r = self._lib.siggen_baseline(self._c, self.n_channels, self.fs_hz, self.if_hz, self.scale,
                                      n_samples, buf, out.size // 2)
        if r == E_SPACE:
            raise ValueError(f"{out.size // 2} samples of output cannot hold {n_samples}")
        if r < 0:
            raise ValueError("the baseline refuses these channels: a chip table that is not +1/-1, a gain "
                             "beyond 2^17, a code step of 32 chips or more per sample, or a value not finite")
        return out
