"""Typed Python API over the lunarelay C core (csrc/), one module per C module.

The core is loaded on first use, not on import of this package, so that
``python -m onboard.core._build`` works even when the installed core is stale.
"""

__all__ = ["CoreError", "Status"]


def __getattr__(name: str):
    if name in __all__:
        from onboard.core import _api

        return getattr(_api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
