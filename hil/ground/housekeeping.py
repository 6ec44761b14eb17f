"""Housekeeping as the ground reads it: a module's HK packet user data decoded into named fields.

Every module's housekeeping is the skeleton's common part (``onboard.modules.base``: command
and event counters, then the command and data pipe statistics) followed by the module's own
``HK_FIELDS``; the layout of each registered module, and of the executive, comes from its class.
"""

from __future__ import annotations

import importlib
import struct
from typing import Any

from onboard.bus.client import PIPE_HK_LEN, PipeStats
from onboard.executive import Executive
from onboard.modules import MODULES
from onboard.modules.base import COMMON_HK, COMMON_HK_FIELDS


def hk_layout(module_name: str) -> tuple[tuple[str, str], ...]:
    """The module-specific housekeeping fields of a registered module."""
    if module_name == Executive.NAME:
        return Executive.HK_FIELDS
    if module_name not in MODULES:
        return ()
    return importlib.import_module(MODULES[module_name]).MODULE.HK_FIELDS


def decode_housekeeping(module_name: str, data: bytes) -> dict[str, Any]:
    """Housekeeping user data -> {field: value}, pipes as ``PipeStats`` under command_pipe/data_pipe."""
    own = hk_layout(module_name)
    need = COMMON_HK.size + 2 * PIPE_HK_LEN + struct.calcsize(">" + "".join(c for _, c in own))
    if len(data) < need:
        raise ValueError(f"{module_name} housekeeping of {len(data)} octets, expected {need}")
    fields = dict(zip(COMMON_HK_FIELDS, COMMON_HK.unpack_from(data), strict=True))
    at = COMMON_HK.size
    fields["command_pipe"] = PipeStats.from_hk(data[at:at + PIPE_HK_LEN])
    fields["data_pipe"] = PipeStats.from_hk(data[at + PIPE_HK_LEN:at + 2 * PIPE_HK_LEN])
    if own:
        values = struct.unpack_from(">" + "".join(c for _, c in own), data, at + 2 * PIPE_HK_LEN)
        fields.update(zip((n for n, _ in own), values, strict=True))
    return fields
