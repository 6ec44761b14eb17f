"""The cffi build: declarations gathered from every header, and the stale-build guard."""

import os
import pathlib
import shutil
import subprocess
import sys
import types

import pytest

from onboard.core import _api, _build


def test_source_digest_changes_with_any_c_source(tmp_path):
    (tmp_path / "lr_a.c").write_text("int a;\n")
    (tmp_path / "lr_a.h").write_text("int a(void);\n")
    before = _build.source_digest(tmp_path)
    (tmp_path / "lr_a.h").write_text("int a(int);\n")
    assert _build.source_digest(tmp_path) != before


def test_a_core_built_from_other_sources_is_refused(monkeypatch):
    monkeypatch.delenv("LUNARELAY_CORE", raising=False)
    fake_lib = types.SimpleNamespace(lr_core_source_digest=lambda: b"0" * 64)
    fake = types.SimpleNamespace(ffi=types.SimpleNamespace(string=lambda s: s), lib=fake_lib)
    with pytest.raises(_api.StaleCoreError, match="older than csrc"):
        _api._check_fresh(fake)


def test_the_loaded_core_matches_the_sources():
    built = _api.ffi.string(_api.lib.lr_core_source_digest()).decode()
    assert built == _build.source_digest()



def test_an_installed_core_loads_without_importing_its_builder(tmp_path):
    # Outside a source checkout the freshness check has no sources to compare with, and the
    # builder (cffi parsing every header) would cost every process a tenth of a second at start.
    import onboard

    site = pathlib.Path(onboard.__file__).resolve().parents[1]
    if (site / "csrc").is_dir():           # a source checkout: the package, with its extension,
        copy = tmp_path / "site"            # where no csrc/ sits beside it
        shutil.copytree(site / "onboard", copy / "onboard", ignore=shutil.ignore_patterns("__pycache__"))
        site = copy
    probe = "import sys, onboard.core.spp; print('onboard.core._build' in sys.modules)"
    out = subprocess.run([sys.executable, "-P", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(site)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


def test_the_command_line_starts_without_the_orbit_propagator_s_scipy():
    # Every lunarelay command builds the parser of all of them: the integrator's import (half a
    # second) waits until a run propagates an orbit.
    probe = ("import sys; from lunarelay_tools.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('scipy.integrate', 'scipy.optimize') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
