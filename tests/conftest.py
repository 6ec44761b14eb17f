"""Shared test fixtures and the interop-peer policy.

Every interop test reaches its third-party peer through one of the ``require_*`` functions here,
and they all end in ``require_peer``: a peer that is not installed skips the test, except in CI
(CI=true), where it is a failure; a peer that is installed but does not work (an import that
raises, a library that does not load or lacks a function) is a failure everywhere, never a skip.
``require_cpu`` applies the same policy to the AVX2 kernels: CI must test both SIMD paths.

Property tests (hypothesis) run a moderate number of examples each; ``LUNARELAY_FUZZ_EXAMPLES``
raises it for a long run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib
import importlib.util
import os
import pathlib
import shutil
import subprocess
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

ROOT = pathlib.Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"
IN_CI = os.environ.get("CI", "").lower() == "true"
SYSTEM_PYTHON = "/usr/bin/python3"      # GNU Radio and gr-satellites live in Debian's Python

settings.register_profile("lunarelay", max_examples=int(os.environ.get("LUNARELAY_FUZZ_EXAMPLES", "60")),
                          deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("lunarelay")


def require_peer(name: str, available: bool, hint: str = "") -> None:
    if available:
        return
    message = f"interop peer {name} is not installed" + (f" ({hint})" if hint else "")
    if IN_CI:
        pytest.fail(message + "; CI requires every peer (tests/peers/install-debian.sh)")
    pytest.skip(message, allow_module_level=True)


def peer_broken(name: str, why: str) -> None:
    """An installed peer that does not work: always a failure."""
    pytest.fail(f"interop peer {name} is installed but does not work: {why}")


def require_command(command: str, package: str) -> str:
    path = shutil.which(command)
    require_peer(package, path is not None, f"Debian package {package}")
    return path or ""


def require_module(module: str, peer: str, hint: str = "") -> ModuleType:
    """Import a Python peer in this interpreter (e.g. spacepackets from the test extra)."""
    top = module.split(".")[0]
    require_peer(peer, importlib.util.find_spec(top) is not None, hint)
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - whatever breaks the import is the finding
        peer_broken(peer, f"import {module}: {type(exc).__name__}: {exc}")
        raise


def require_system_modules(modules: tuple[str, ...], peer: str, hint: str = "") -> str:
    """Peers that live in Debian's Python (GNU Radio, gr-satellites): installed means their
    top-level packages are found there, working means they import.  Returns that interpreter."""
    found = ("import importlib.util, sys; "
             "sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 3)")
    present = pathlib.Path(SYSTEM_PYTHON).exists() and subprocess.run(
        [SYSTEM_PYTHON, "-c", found, *(m.split(".")[0] for m in modules)], capture_output=True,
        timeout=120).returncode == 0
    require_peer(peer, present, hint)
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "; ".join(f"import {m}" for m in modules)],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode:
        peer_broken(peer, f"{SYSTEM_PYTHON} cannot import {', '.join(modules)}: "
                          f"{(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    return SYSTEM_PYTHON


def libfec_path() -> str | None:
    """Where Debian's libfec is, if it is installed."""
    candidates = [ctypes.util.find_library("fec"), *sorted(glob.glob("/usr/lib/*/libfec.so.0"))]
    return next((c for c in candidates if c), None)


def require_libfec(functions: tuple[str, ...] = ()) -> ctypes.CDLL:
    """Phil Karn's libfec (Debian libfec-dev), loaded, with ``functions`` present."""
    path = libfec_path()
    require_peer("libfec", path is not None, "Debian package libfec-dev")
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        peer_broken("libfec", f"{path} does not load: {exc}")
    missing = [f for f in functions if not hasattr(lib, f)]
    if missing:
        peer_broken("libfec", f"{path} lacks {', '.join(missing)}")
    return lib


def require_cpu(level_name: str) -> None:
    """Tests of a SIMD path need a CPU that has it; CI must run them (both paths tested)."""
    from onboard.core import simd

    level = simd.SimdLevel[level_name.upper()]
    if simd.supported() >= level:
        return
    message = f"this CPU has no {level_name} path"
    if IN_CI:
        pytest.fail(message + "; CI must run on a CPU with it so that both kernel paths are tested")
    pytest.skip(message)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(20261122)
