"""Typed Python API over the lunarelay C core (csrc/), one module per C module."""

from onboard.core._api import CoreError, Status

__all__ = ["CoreError", "Status"]
