"""Implementations named by the installation, not by onboard code: entry points.

Onboard code depends on an interface (a flight-computer link, a reader of a scenario table) and
finds the implementation the installed distributions register under a group name, so it never
imports the package that provides it: the emulated flight computer and the signal plans live in
``hil``, which ``onboard`` does not import (``pyproject.toml``, ``[tool.importlinter]``).

    [project.entry-points."lunarelay.flight_computers"]   NAME = "module:factory"
    [project.entry-points."lunarelay.scenario_tables"]    TABLE = "module:reader"
"""

from __future__ import annotations

import functools
import importlib.metadata
from typing import Any

from onboard.errors import UsageError

FLIGHT_COMPUTERS = "lunarelay.flight_computers"
SCENARIO_TABLES = "lunarelay.scenario_tables"


@functools.cache
def _entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def names(group: str) -> list[str]:
    """The names installed in ``group``."""
    return sorted(_entry_points(group))


def load(group: str, name: str, what: str) -> Any:
    """The object installed as ``name`` in ``group``; ``what`` names it in the error."""
    ep = _entry_points(group).get(name)
    if ep is None:
        known = ", ".join(names(group)) or "none"
        raise UsageError(f"no {what} {name!r} is installed (installed: {known})")
    return ep.load()
