"""`lunarelay receive` from the command line: a short recording and a ZeroMQ stream received, and
hostile or truncated inputs ending with one clear line, partial results and a non-zero exit, never
a hang (every run here has a timeout)."""

import json
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from lunarelay_tools import cli

FS = 4.2e6


def lunarelay(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """0.6 s of two AFS nodes, ci8."""
    base = tmp_path_factory.mktemp("short") / "two"
    rc = cli.main(["siggen", "--signal", "afs", "--prn", "5,9", "--doppler=1500,-3200", "--cn0", "45",
                   "--fs", str(FS), "--format", "ci8", "--duration", "0.6", "--nav-data", "lsis", "--quiet",
                   "-o", str(base)])
    assert rc == 0
    return base


def copy_of(short, tmp_path, name: str = "copy"):
    base = tmp_path / name
    for suffix in (".sigmf-meta", ".sigmf-data"):
        shutil.copy(f"{short}{suffix}", f"{base}{suffix}")
    return base


def test_a_short_recording_is_acquired_and_locked_with_events_on_stderr(short, tmp_path):
    out = tmp_path / "fixes.jsonl"
    result = lunarelay("receive", str(short), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "PRN 5: acquired (AFS-I and AFS-Q)" in result.stderr and "PRN 9: locked" in result.stderr
    assert "2 node(s) tracked of 2 searched" in result.stdout
    assert out.read_text() == ""  # no frame in 0.6 s, so no time and no fix


def test_a_recording_at_an_intermediate_frequency_is_searched_around_it(tmp_path):
    base = tmp_path / "if"
    rc = cli.main(["siggen", "--signal", "afs", "--prn", "11", "--doppler=-2750", "--cn0", "45",
                   "--fs", str(FS), "--if", "250e3", "--format", "ci16", "--duration", "0.5", "--quiet",
                   "-o", str(base)])
    assert rc == 0
    result = lunarelay("receive", str(base), "-o", str(tmp_path / "f.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "PRN 11: acquired (AFS-I and AFS-Q) at -27" in result.stderr and "PRN 11: locked" in result.stderr


def test_a_recording_cut_inside_a_sample_ends_with_its_results_and_one_error_line(short, tmp_path):
    base = copy_of(short, tmp_path)
    data = base.with_name(base.name + ".sigmf-data")
    data.write_bytes(data.read_bytes()[:-1])
    result = lunarelay("receive", str(base), "-o", str(tmp_path / "f.jsonl"), "--quiet")
    assert result.returncode == 1
    assert "2 node(s) tracked" in result.stdout  # the partial results
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "ends 1 byte(s) into a sample" in errors[0] and str(data) in errors[0]


@pytest.mark.parametrize("meta, message", [
    ("{not json", "not JSON"),
    ('{"global": {"core:datatype": "cu4", "core:sample_rate": 4e6}}', "core:datatype 'cu4'"),
    ('{"global": {"core:datatype": "ci8", "core:sample_rate": "fast"}}', "'fast' is not a number"),
    ('{"global": {"core:datatype": "ci8", "core:sample_rate": -4e6}}', "outside"),
    ('{"global": {"core:datatype": "ci8", "core:sample_rate": 1e300}}', "outside"),
    ('[1, 2]', "no 'global' object"),
    ('{"global": {"core:datatype": "ci8", "core:sample_rate": 4.2e6, '
     '"lunarelay:receiver_moon_llh": [1, "x", 2]}}', "lunarelay:receiver_moon_llh must be a latitude"),
    ('{"global": {"core:datatype": "ci8", "core:sample_rate": 4.2e6, "lunarelay:afs_time_s": 1.45e9}, '
     '"annotations": [{"core:sample_start": 0, "lunarelay:prn": 1, "lunarelay:node_mci_m": [1, 2], '
     '"lunarelay:range_m": 1e7, "lunarelay:clock_offset_s": 0}]}', "node_mci_m must be three numbers"),
    ('{"global": {"core:datatype": "ci8", "core:sample_rate": 4.2e6, "lunarelay:afs_time_s": 1.45e9}, '
     '"annotations": [{"core:sample_start": 0, "lunarelay:prn": 1, "lunarelay:node_mci_m": [1, 2, 3], '
     '"lunarelay:range_m": NaN, "lunarelay:clock_offset_s": 0}]}', "lunarelay:range_m: nan is not a finite"),
    ('{"global": {"core:datatype": "ci8", "core:sample_rate": 4.2e6}, '
     '"annotations": [{"core:sample_start": 0, "lunarelay:prn": 1, "lunarelay:node_mci_m": [1, 2, 3]}]}',
     "without lunarelay:afs_time_s"),
])
def test_malformed_metadata_is_one_line_naming_the_file_and_field(short, tmp_path, meta, message):
    base = copy_of(short, tmp_path)
    base.with_name(base.name + ".sigmf-meta").write_text(meta)
    result = lunarelay("receive", str(base), "--quiet", timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "copy.sigmf-meta" in lines[0], result.stderr


def test_a_missing_data_file_a_foreign_file_and_a_tiny_file_are_clear_errors(short, tmp_path):
    base = copy_of(short, tmp_path)
    base.with_name(base.name + ".sigmf-data").unlink()
    result = lunarelay("receive", str(base), "--quiet", timeout=120)
    assert result.returncode == 1 and "data file is missing" in result.stderr
    junk = tmp_path / "junk.iq"
    junk.write_bytes(b"NOTLSIS" * 40)
    result = lunarelay("receive", str(junk), "--quiet", timeout=120)
    assert result.returncode == 1 and "neither a SigMF recording" in result.stderr
    tiny = copy_of(short, tmp_path, "tiny")
    data = tiny.with_name("tiny.sigmf-data")
    data.write_bytes(data.read_bytes()[:2000])
    result = lunarelay("receive", str(tiny), "--quiet", timeout=120)
    assert result.returncode == 1 and "shorter than" in result.stderr and "acquisition needs" in result.stderr


def test_noise_nan_and_zeros_find_no_node_and_say_so(short, tmp_path):
    base = copy_of(short, tmp_path)
    meta = json.loads(base.with_name("copy.sigmf-meta").read_text())
    meta["global"]["core:datatype"] = "cf32_le"
    base.with_name("copy.sigmf-meta").write_text(json.dumps(meta))
    rng = np.random.default_rng(1)
    samples = (rng.standard_normal(200_000) + 1j * rng.standard_normal(200_000)).astype(np.complex64)
    samples[::3] = np.nan
    samples[1::7] = np.inf
    base.with_name("copy.sigmf-data").write_bytes(samples.tobytes())
    result = lunarelay("receive", str(base), "--quiet", timeout=120)
    assert result.returncode == 1
    assert "no AFS node found (searched PRN 5, 9 within +/-12000 Hz)" in result.stderr
    base.with_name("copy.sigmf-data").write_bytes(bytes(8 * 200_000))
    result = lunarelay("receive", str(base), "--prn", "1,2,3,4", "--quiet", timeout=120)
    assert result.returncode == 1 and "searched PRN 1..4" in result.stderr


def test_usage_errors_exit_2():
    result = lunarelay("receive", "--zmq", "tcp://127.0.0.1:5555", timeout=60)
    assert result.returncode == 2 and "--zmq needs --fs" in result.stderr
    result = lunarelay("receive", "x.sigmf-meta", "--prn", "0", timeout=60)
    assert result.returncode == 2 and "AFS PRNs are 1..210" in result.stderr
    result = lunarelay("receive", "x.sigmf-meta", "--plot", "x.jpg", timeout=60)
    assert result.returncode == 2 and "PNG" in result.stderr


def test_a_zeromq_stream_from_siggen_is_received_until_it_ends():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    sender = subprocess.Popen([sys.executable, "-m", "lunarelay_tools.cli", "siggen", "--signal", "afs",
                               "--prn", "7", "--doppler=2100", "--cn0", "48", "--fs", str(FS),
                               "--format", "cf32", "--duration", "0.6", "--nav-data", "lsis",
                               "--zmq", endpoint, "--zmq-pace", "consumer", "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        result = lunarelay("receive", "--zmq", endpoint, "--fs", str(FS), "--format", "cf32", "--prn", "7",
                           "--zmq-timeout", "3", timeout=180)
        sender.communicate(timeout=60)
    finally:
        sender.kill()
    assert result.returncode == 0, result.stderr
    assert "PRN 7: acquired (AFS-I and AFS-Q) at 21" in result.stderr and "PRN 7: locked" in result.stderr
    assert "0.600 s of signal" in result.stderr


def test_the_plot_of_errors_needs_fixes_with_truth(tmp_path):
    from hil.receiver.plot import error_plot

    fixes = [{"stream_time_s": t, "error_enu_m": [0.1 * t, -0.2, 0.3], "error_3d_m": 0.5 + t}
             for t in range(5)]
    png = tmp_path / "errors.png"
    error_plot(fixes, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no fix"):
        error_plot([{"stream_time_s": 0.0}], tmp_path / "none.png")


def test_threads_are_not_left_behind_by_a_failed_run(short, tmp_path):
    before = threading.active_count()
    base = copy_of(short, tmp_path)
    base.with_name("copy.sigmf-meta").write_text("{")
    assert cli.main(["receive", str(base), "--quiet"]) == 1
    assert threading.active_count() == before
