"""Shared test fixtures and the interop-peer policy.

``require_peer(name, available)`` skips an interop test when its third-party peer is
missing, except in CI (CI=true), where a missing peer is a failure.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_peer(name: str, available: bool, hint: str = "") -> None:
    if available:
        return
    message = f"interop peer {name} is not installed" + (f" ({hint})" if hint else "")
    if IN_CI:
        pytest.fail(message + "; CI requires every peer (tests/peers/install-debian.sh)")
    pytest.skip(message)


def require_command(command: str, package: str) -> str:
    path = shutil.which(command)
    require_peer(package, path is not None, f"Debian package {package}")
    return path or ""


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(20261122)
