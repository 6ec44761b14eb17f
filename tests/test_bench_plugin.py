"""The bench's pytest plugin, run as a user runs it (pytest in a subprocess): the example tests
pass on the emulated bench and on one whose serial line drops out, a test needing what the bench
lacks is skipped with the reason, a failing test's report shows the last frames and counters of
each link, and a recorded session replays with the board replaced by its recording."""

from __future__ import annotations

import pathlib

import pytest

pytest_plugins = ["pytester"]
EXAMPLES = pathlib.Path(__file__).resolve().parent / "bench" / "test_board_examples.py"


@pytest.fixture
def examples(pytester):
    return pytester.makepyfile(test_examples=EXAMPLES.read_text())


def test_example_tests_pass_against_the_emulated_bench_and_skip_what_it_lacks(pytester, examples):
    result = pytester.runpytest_subprocess("-p", "hil.bench.plugin", "-rs")
    result.assert_outcomes(passed=5, skipped=2)
    result.stdout.fnmatch_lines_random(["*bench emulated (*emulated.toml) has no radio:navigation*",
                                        "*bench emulated (*emulated.toml) has no fault:disconnect*"])


def test_example_tests_pass_against_a_bench_whose_serial_line_disconnects(pytester, examples):
    from hil.bench.file import BENCH_DIR

    # run after the examples in the same session: the line did drop out under them, and came back
    pytester.makepyfile(test_zz_line_dropped="""
        def test_the_line_was_cut_and_reopened(bench):
            counters = bench.counters()
            assert counters["flight_computer faults"]["disconnects"] >= 1
            assert counters["flight_computer faults"]["reconnects"] >= 1
            assert counters["flight_computer"]["board_opens"] >= 2
    """)
    bench = pathlib.Path(BENCH_DIR) / "emulated-faults.toml"
    result = pytester.runpytest_subprocess("--bench", str(bench), "-rs")
    result.assert_outcomes(passed=7, skipped=1)
    result.stdout.fnmatch_lines(["*bench emulated-faults (*emulated-faults.toml) has no radio:navigation*"])


def test_failing_bench_test_reports_last_frames_and_link_counters(pytester):
    pytester.makepyfile(test_fails="""
        def test_counter_is_wrong(flight_computer, expect_packet):
            flight_computer.command("SET_COUNTER", value=5)
            expect_packet(apid=0x015, where=lambda p: False, timeout=1.5)
    """)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no packet of APID 0x015 matching within 1.5 s*",
                                 "*bench links*",
                                 "flight_computer: *frames_from_board*frames_to_board 1*",
                                 "*last * frames to_board:*",
                                 "*1a cf fc 1d*",
                                 "flight_computer link: *crc_errors 0*"])


def test_recorded_session_replays_without_the_board(pytester, examples, tmp_path):
    record = tmp_path / "rec"
    pytester.runpytest_subprocess("--bench-record", str(record)).assert_outcomes(passed=5, skipped=2)
    recording = record / "serial.pcapng"
    assert recording.stat().st_size > 1000
    replayed = pytester.runpytest_subprocess("--bench-replay", str(recording))
    replayed.assert_outcomes(passed=5, skipped=2)


def test_unknown_bench_file_is_one_clear_error(pytester, examples):
    result = pytester.runpytest_subprocess("--bench", "nosuch.toml")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*nosuch.toml: cannot read the bench file*"])
