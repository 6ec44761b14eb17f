"""Complex sample formats (csrc/lr_iq.h): cf32, ci16 and ci8 items to and from complex64.

A block of samples is a complex64 array for ``cf32`` and an ``(n, 2)`` array of int16 or
int8 (I, Q) for ``ci16`` and ``ci8``, as SigMF files and gr-zeromq streams carry them.
Integer formats round to nearest and clip at +/-32767 or +/-127; :func:`from_complex`
returns how many components it clipped.
"""

from __future__ import annotations

import numpy as np

from onboard.core._api import check, ffi, lib
from onboard.core.siggen import SampleFormat

__all__ = ["SampleFormat", "as_complex", "from_complex", "full_scale"]


def full_scale(fmt: SampleFormat) -> float:
    """The largest magnitude of one component: 1.0 (cf32), 32767 or 127."""
    return {SampleFormat.CF32: 1.0, SampleFormat.CI16: 32767.0, SampleFormat.CI8: 127.0}[SampleFormat(fmt)]


def _components(block, fmt: SampleFormat) -> np.ndarray:
    arr = np.asarray(block)
    if fmt is SampleFormat.CF32:
        if arr.dtype == np.complex64:
            return np.ascontiguousarray(arr).view(np.float32).reshape(-1)
        want = np.float32
    else:
        want = fmt.component_dtype
    if arr.dtype != want:
        raise ValueError(f"{fmt.name.lower()} samples must be {np.dtype(want).name} components, "
                         f"not {arr.dtype}")
    flat = np.ascontiguousarray(arr).reshape(-1)
    if flat.size % 2:
        raise ValueError(f"odd number of components ({flat.size}); I and Q pair up")
    return flat


def as_complex(block, fmt: SampleFormat | str, scale: float | None = None) -> np.ndarray:
    """Samples of ``fmt`` as complex64, multiplied by ``scale`` (default 1 / full scale)."""
    fmt = SampleFormat.parse(fmt) if isinstance(fmt, str) else SampleFormat(fmt)
    comp = _components(block, fmt)
    n = comp.size // 2
    out = np.empty(n, dtype=np.complex64)
    if scale is None:
        scale = 1.0 / full_scale(fmt)
    check(lib.lr_iq_to_cf32(ffi.from_buffer(comp), n, int(fmt), float(scale),
                            ffi.from_buffer("float[]", out.view(np.float32)), n), "IQ conversion")
    return out


def from_complex(samples: np.ndarray, fmt: SampleFormat | str, scale: float = 1.0) -> tuple[np.ndarray, int]:
    """complex64 samples times ``scale`` in ``fmt``: (block, clipped components)."""
    fmt = SampleFormat.parse(fmt) if isinstance(fmt, str) else SampleFormat(fmt)
    src = np.ascontiguousarray(samples, dtype=np.complex64)
    n = src.size
    if fmt is SampleFormat.CF32:
        out = np.empty(n, dtype=np.complex64)
        target = out.view(np.float32)
    else:
        out = np.empty((n, 2), dtype=fmt.component_dtype)
        target = out
    clipped = check(lib.lr_iq_from_cf32(ffi.from_buffer("float[]", src.view(np.float32)), n, float(scale),
                                        int(fmt), ffi.from_buffer(target, require_writable=True), n),
                    "IQ conversion")
    return out, clipped
