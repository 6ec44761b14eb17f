"""Loading of the C core and the error type every wrapper raises.

Wrappers in this package import ``ffi`` and ``lib`` from here; nothing outside
``onboard.core`` sees them.  If LUNARELAY_CORE names an extension file (a
sanitizer build, see ``_build.py``), that file is loaded instead of the
installed one.
"""

from __future__ import annotations

import enum
import importlib.util
import os
import pathlib

from onboard.errors import LunarelayError


def _load():
    path = os.environ.get("LUNARELAY_CORE")
    if not path:
        from onboard.core import _lrcore

        return _lrcore
    spec = importlib.util.spec_from_file_location("onboard.core._lrcore", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"LUNARELAY_CORE={path!r} is not a loadable extension")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StaleCoreError(LunarelayError, ImportError):
    """The compiled core is older than the C sources beside it (an editable install not rebuilt)."""


def _check_fresh(core) -> None:
    """In a source checkout, refuse a core built from other C sources than the ones present.
    Elsewhere (an installed package) the builder, which parses every header, is not imported."""
    csrc = pathlib.Path(__file__).resolve().parents[2] / "csrc"      # _build.CSRC, without cffi
    if os.environ.get("LUNARELAY_CORE") or not csrc.is_dir():
        return
    from onboard.core import _build

    built = core.ffi.string(core.lib.lr_core_source_digest()).decode()
    if built != _build.source_digest():
        raise StaleCoreError("the compiled C core is older than csrc/: rebuild it with "
                             "'pip install -e .' (or run tests/check.sh)")


_core = _load()
_check_fresh(_core)
ffi = _core.ffi
lib = _core.lib


class Status(enum.IntEnum):
    OK = lib.LR_OK
    ARG = lib.LR_E_ARG
    SPACE = lib.LR_E_SPACE
    FORMAT = lib.LR_E_FORMAT
    UNCORRECTABLE = lib.LR_E_UNCORRECTABLE
    CHECK = lib.LR_E_CHECK
    STATE = lib.LR_E_STATE


class CoreError(LunarelayError):
    """A C core function returned a negative status."""

    def __init__(self, status: int, what: str):
        self.status = Status(status) if status in Status._value2member_map_ else status
        name = self.status.name if isinstance(self.status, Status) else str(status)
        super().__init__(f"{what}: {name.lower()} (core status {int(status)})")


def check(result: int, what: str) -> int:
    """Return ``result`` if it is a count, raise CoreError if it is a status."""
    if result < 0:
        raise CoreError(result, what)
    return result


def as_bytes_view(data) -> memoryview:
    """A contiguous byte view of bytes, bytearray, memoryview or a numpy array, without copying."""
    view = memoryview(data)
    if not view.contiguous:
        raise ValueError("buffer must be contiguous")
    if view.nbytes == 0:
        # memoryview.cast refuses a zero in the shape; an empty bytearray stays writable.
        return memoryview(bytearray()) if not view.readonly else memoryview(b"")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def byte_ptr(data, writable: bool = False):
    """``(uint8_t *, length)`` over any contiguous buffer, without copying."""
    view = as_bytes_view(data)
    return ffi.from_buffer("uint8_t[]", view, require_writable=writable), len(view)
