"""The pytest plugin of the bench: one test body, run against the emulated bench or a real board.

Installed through the ``pytest11`` entry point (``lunarelay_bench``), or loaded with
``-p hil.bench.plugin``.  The bench comes from the command line:

    pytest tests/bench                                            # hil/benches/emulated.toml
    pytest --bench hil/benches/board-on-ttyUSB0.toml tests/bench  # the same tests on a board
    pytest --bench-record DIR ...       # keep each session's serial traffic (DIR/serial.pcapng)
    pytest --bench-replay FILE ...      # the board replaced by such a recording, played back

Fixtures (the bench is brought up once per session, only when a test asks for it):

    bench            the ``hil.bench.session.BenchSession`` (``bench.spec`` is the bench file)
    flight_computer  its client: ``command(NAME, **args)`` -> the answer's text, exactly once
    ground           what the ground sees of the bench: every decoded packet (``ground.packets``)
    sdr              the bench's SDR endpoints by role and name (``sdr["navigation"].address``)
    faults           the bench file's fault plan (a ``hil.faults.FaultSchedule``; its times count
                     from the bench's start, before the first test)
    expect_packet    ``expect_packet(apid=..., where=..., timeout=...)``: the first decoded packet
                     that matches, arrived since the test began; fails naming what did arrive

``@pytest.mark.needs("sdr:navigation", "fault:disconnect", ...)`` skips a test, with the reason,
on a bench that lacks one of those (``Bench.resources`` lists what a bench has).  A failing
test's report carries a "bench links" section: the last frames on each link and its counters.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import pytest

DEFAULT_BENCH = "emulated"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("lunarelay bench")
    group.addoption("--bench", default=None, metavar="FILE",
                    help="bench file the bench tests run against (default: hil/benches/emulated.toml)")
    group.addoption("--bench-record", default=None, metavar="DIR",
                    help="keep the session's serial traffic in DIR/serial.pcapng for --bench-replay")
    group.addoption("--bench-replay", default=None, metavar="FILE",
                    help="replace the bench's board by this recording (a --bench-record serial.pcapng)")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "needs(*resources): skip unless the bench has each resource "
                                       "(flight_computer, sdr:navigation, radio:downlink, "
                                       "fault:disconnect, hosts)")


def _spec(config):
    from hil.bench.file import load_bench

    return load_bench(config.getoption("--bench") or DEFAULT_BENCH)


def pytest_runtest_setup(item) -> None:
    marks = list(item.iter_markers("needs"))
    if not marks:
        return
    spec = _spec(item.config)
    missing = [r for m in marks for r in m.args if r not in spec.resources]
    if missing:
        pytest.skip(f"bench {spec.name} ({spec.source}) has no {', '.join(missing)}")


@pytest.fixture(scope="session")
def bench(request):
    from hil.bench.session import BenchSession

    config = request.config
    spec = _spec(config)
    record = config.getoption("--bench-record")
    workdir = tempfile.mkdtemp(prefix="lunarelay-bench-")
    session = BenchSession(spec, workdir, replay=config.getoption("--bench-replay"))
    session.spec = spec
    with session:
        yield session
    if record:
        os.makedirs(record, exist_ok=True)
        shutil.copy(os.path.join(workdir, "serial.pcapng"), os.path.join(record, "serial.pcapng"))
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def flight_computer(bench):
    return bench.flight_computer


@pytest.fixture
def ground(bench):
    return bench.hub


@pytest.fixture(scope="session")
def sdr(request):
    spec = _spec(request.config)
    return {**{s.role: s for s in spec.sdrs}, **{s.name: s for s in spec.sdrs}}


@pytest.fixture(scope="session")
def faults(request):
    return _spec(request.config).faults


@pytest.fixture
def expect_packet(bench):
    began = time.monotonic()

    def expect(apid: int | None = None, where=None, timeout: float = 5.0):
        from hil.bench.session import BenchTimeout

        try:
            return bench.expect_packet(apid, where, timeout, after=began)
        except BenchTimeout as exc:
            pytest.fail(str(exc), pytrace=False)

    return expect


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "bench" not in getattr(item, "fixturenames", ()):
        return
    session = item.funcargs.get("bench")
    if session is None:
        try:
            session = item._request.getfixturevalue("bench")
        except Exception:  # noqa: BLE001 - the report must not fail because the bench did
            return
    report.sections.append(("bench links", session.report()))
