"""The cffi build: declarations gathered from every header, and the stale-build guard."""

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
