"""The interop-peer policy of tests/conftest.py, run on small test files in a fresh pytest: a
missing peer skips outside CI and fails in CI; an installed peer that does not work fails
everywhere."""

from __future__ import annotations

from conftest import ROOT, require_libfec

pytest_plugins = ["pytester"]

USES = {
    "missing_module": 'from conftest import require_module\n\n'
                      'def test_it():\n    require_module("lunarelay_no_such_peer.sub", "nosuchpeer")\n',
    "missing_module_at_import": 'from conftest import require_module\n\n'
                                'mod = require_module("lunarelay_no_such_peer", "nosuchpeer")\n\n'
                                'def test_it():\n    pass\n',
    "broken_module": 'from conftest import require_module\n\n'
                     'def test_it():\n    require_module("brokenpeer", "brokenpeer")\n',
    "libfec_without_a_function": 'from conftest import require_libfec\n\n'
                                 'def test_it():\n'
                                 '    require_libfec(("encode_rs_ccsds", "no_such_function_in_libfec"))\n',
    "missing_system_module": 'from conftest import require_system_modules\n\n'
                             'def test_it():\n'
                             '    require_system_modules(("lunarelay_no_such_peer",), "nosuch")\n',
}


def outcome(pytester, monkeypatch, uses: list[str], ci: bool) -> dict[str, int]:
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(brokenpeer="raise ImportError('libsomething.so.1: cannot open shared object file')\n")
    pytester.makepyfile(**{f"test_{use}": USES[use] for use in uses})
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--continue-on-collection-errors")
    return result.parseoutcomes()


MISSING = ["missing_module", "missing_module_at_import", "missing_system_module"]


def test_a_missing_peer_skips_outside_ci(pytester, monkeypatch):
    assert outcome(pytester, monkeypatch, MISSING, ci=False) == {"skipped": len(MISSING)}


def test_a_missing_peer_fails_in_ci(pytester, monkeypatch):
    result = outcome(pytester, monkeypatch, MISSING, ci=True)
    assert result.get("failed", 0) + result.get("errors", 0) + result.get("error", 0) == len(MISSING)
    assert "skipped" not in result and "passed" not in result


def test_an_installed_peer_that_does_not_work_fails_even_outside_ci(pytester, monkeypatch):
    require_libfec()                           # the peer must be there to be found wanting
    result = outcome(pytester, monkeypatch, ["broken_module", "libfec_without_a_function"], ci=False)
    assert result == {"failed": 2}
