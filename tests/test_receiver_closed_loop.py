"""The navigation loop closed (issue 14): `lunarelay siggen --signal afs --receiver-moon-llh --start`
synthesises every node of the default constellation in view of a receiver near the lunar south pole,
and `lunarelay receive` acquires, tracks and decodes them and fixes the position against the truth
the recording carries.

The fixes once SB2 is decoded must land within 10 m (3D) with the nodes' own broadcast ephemerides
and within 3 m with the truth ephemeris, and the error budget must add up: the error of each fix is
the receiver's noise (the fix with the true orbits and clocks) plus the broadcast ephemeris' error
along each line of sight (SISE, measured against the truth orbit; siggen records it) carried
through the geometry.  The same recording converted to LSISIQ decodes identically, and a truncated
or hostile one ends with a clear error and the fixes found before, never a hang.

At this start time, 12 h after the constellation's epoch (siggen's default), the four nodes stand
22 to 47 deg above the site's horizon, two pairs on opposite sides (PDOP 3.2).
"""

import json
import pathlib
import statistics
import subprocess
import sys

import numpy as np
import pytest

from hil.receiver.source import open_recording
from lunarelay_tools import cli
from onboard.nav import lsis_formats

SITE = "-89.66,129.20,100"
# Half a second before a frame boundary of AFS time (12 s grid): the first whole frame starts 0.5 s
# in, so SB2 is decoded and fixes begin 12.5 s into the recording.
START = "2400,388799.5"
FS = 4.2e6
DURATION_S = 16.0
FIX_INTERVAL_S = "0.25"
PRNS = (1, 2, 3, 4)  # the default constellation's four navigation nodes, all in view then
# What the broadcast ephemeris of the nodes costs today: |SISE| 0.56 to 0.81 m along the lines of
# sight, about 4.1 m in 3D through this geometry; the receiver's noise about 0.2 m.
pytestmark = pytest.mark.slow


def lunarelay(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    base = tmp_path_factory.mktemp("closed_loop") / "south_pole"
    rc = cli.main(["siggen", "--signal", "afs", "--receiver-moon-llh", SITE, "--start", START, "--cn0", "45",
                   "--fs", str(FS), "--format", "ci8", "--duration", str(DURATION_S), "--quiet",
                   "-o", str(base)])
    assert rc == 0
    return base


def receive(source, out_dir, *extra: str) -> tuple[list[dict], list[dict], str, pathlib.Path]:
    """Fixes, frames and the summary lines of `lunarelay receive` on ``source``, and the error plot
    it writes beside the fixes."""
    out_dir.mkdir(exist_ok=True)
    fixes, frames = out_dir / "fixes.jsonl", out_dir / "frames.jsonl"
    result = lunarelay("receive", str(source), "-o", str(fixes), "--frames", str(frames), "--quiet",
                       "--fix-interval", FIX_INTERVAL_S, *extra)
    assert result.returncode == 0, result.stderr
    return ([json.loads(line) for line in fixes.read_text().splitlines()],
            [json.loads(line) for line in frames.read_text().splitlines()], result.stdout,
            out_dir / "fixes.png")


@pytest.fixture(scope="module")
def budget_run(recording, tmp_path_factory):
    return receive(recording, tmp_path_factory.mktemp("budget"), "--budget")


@pytest.fixture(scope="module")
def truth_run(recording, tmp_path_factory):
    return receive(recording, tmp_path_factory.mktemp("truth"), "--ephemeris", "truth")


def test_every_node_in_view_is_decoded_and_fixes_follow_sb2(recording, budget_run):
    fixes, frames, stdout, _png = budget_run
    meta = json.loads(recording.with_name(recording.name + ".sigmf-meta").read_text())
    assert [n["prn"] for n in meta["global"]["lunarelay:afs_nodes"]] == list(PRNS)
    assert sorted(f["prn"] for f in frames) == list(PRNS)
    assert all(f["crc_ok"] == [True, True, True] and f["wn"] == 2400 for f in frames)
    assert len(fixes) >= 12
    assert all(12.5 <= f["stream_time_s"] <= DURATION_S for f in fixes)  # each after its SB2
    assert all(sorted(n["prn"] for n in f["nodes"]) == list(PRNS) for f in fixes)
    assert all(2.8 < f["pdop"] < 3.6 for f in fixes)
    assert "4 node(s) tracked of 4 searched" in stdout


def test_fixes_from_the_broadcast_ephemeris_are_within_10_m(budget_run):
    fixes, _frames, _stdout, _png = budget_run
    errors = [f["error_3d_m"] for f in fixes]
    print(f"broadcast ephemeris: {len(fixes)} fixes, 3D error median {statistics.median(errors):.2f} m, "
          f"max {max(errors):.2f} m")
    assert max(errors) < 10.0


def test_fixes_from_the_truth_ephemeris_are_within_3_m(truth_run):
    fixes, _frames, _stdout, _png = truth_run
    assert len(fixes) >= 12 and all(f["ephemeris"] == "truth" for f in fixes)
    errors = [f["error_3d_m"] for f in fixes]
    print(f"truth ephemeris (receiver noise): {len(fixes)} fixes, 3D error median "
          f"{statistics.median(errors):.2f} m, max {max(errors):.2f} m")
    assert max(errors) < 3.0
    # The receiver stands still: the Doppler velocity says so to a few decimetres a second.
    assert max(np.linalg.norm(f["velocity_fixed_m_s"]) for f in fixes) < 0.3


def test_the_error_budget_adds_up_to_the_fix_error(recording, budget_run, truth_run):
    fixes, _frames, stdout, _png = budget_run
    truth_fixes, *_ = truth_run
    assert len(fixes) == len(truth_fixes)
    meta = json.loads(recording.with_name(recording.name + ".sigmf-meta").read_text())
    recorded = {(a["lunarelay:prn"], a["core:sample_start"]): a["lunarelay:sise_m"]
                for a in meta["annotations"] if "lunarelay:sise_m" in a}
    compared = 0
    for f, t in zip(fixes, truth_fixes, strict=True):
        b = f["budget"]
        # The receiver's noise part is the fix with the true ephemeris, from the same measurements.
        assert b["noise_3d_m"] == pytest.approx(t["error_3d_m"], abs=1e-3)
        # Noise plus the SISE through the geometry is the error, to the least squares' nonlinearity.
        assert b["closure_m"] < 0.01
        total = np.array(b["noise_enu_m"]) + np.array(b["ephemeris_enu_m"])
        np.testing.assert_allclose(total, f["error_enu_m"], atol=0.01)
        # The SISE the receiver measures against the truth is the one siggen recorded, second by second.
        for n in f["nodes"]:
            key = (n["prn"], f["sample"])
            if key in recorded:
                assert n["sise_m"] == pytest.approx(recorded[key], abs=0.02)
                compared += 1
    assert compared >= 4 * 3
    sise = [abs(n["sise_m"]) for f in fixes for n in f["nodes"]]
    print(f"error budget: 3D error median {statistics.median(f['error_3d_m'] for f in fixes):.2f} m = "
          f"receiver noise {statistics.median(f['budget']['noise_3d_m'] for f in fixes):.2f} m + broadcast "
          f"ephemeris {statistics.median(f['budget']['ephemeris_3d_m'] for f in fixes):.2f} m; |SISE| "
          f"{min(sise):.2f} .. {max(sise):.2f} m; PDOP {statistics.median(f['pdop'] for f in fixes):.2f}")
    assert "error budget over" in stdout and "receiver noise" in stdout


def test_the_error_plot_is_written_beside_the_fixes(budget_run, truth_run):
    for run in (budget_run, truth_run):  # with the budget's parts, and without
        png = run[3].read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_the_recording_converted_to_lsisiq_decodes_identically(recording, budget_run, tmp_path):
    source = open_recording(recording)
    iq_path = tmp_path / "south_pole.iq"
    with lsis_formats.IqWriter(iq_path, lsis_formats.IqHeader(FS, source.total_samples / FS, PRNS[0])) as w:
        while (block := source.read(1 << 21)).size:
            w.write((block[0::2] + 1j * block[1::2].astype(np.float32)).astype(np.complex64))
    fixes, frames, *_ = receive(iq_path, tmp_path / "lsis", "--prn", ",".join(map(str, PRNS)))
    iq_path.unlink()
    want_fixes, want_frames, *_ = budget_run
    assert frames == want_frames
    assert [f["position_fixed_m"] for f in fixes] == [f["position_fixed_m"] for f in want_fixes]
    assert [f["clock_bias_m"] for f in fixes] == [f["clock_bias_m"] for f in want_fixes]
    assert all("error_3d_m" not in f for f in fixes)  # LSISIQ carries no truth


def test_a_recording_cut_short_ends_with_one_error_line_and_the_fixes_before(recording, budget_run, tmp_path):
    base = tmp_path / "cut"
    meta = recording.with_name(recording.name + ".sigmf-meta")
    base.with_name("cut.sigmf-meta").write_bytes(meta.read_bytes())
    data = recording.with_name(recording.name + ".sigmf-data").read_bytes()
    cut = int(14.0 * FS) * 2 + 1  # 14 s and one byte into the next sample
    base.with_name("cut.sigmf-data").write_bytes(data[:cut])
    out = tmp_path / "fixes.jsonl"
    result = lunarelay("receive", str(base), "-o", str(out), "--quiet", "--fix-interval", FIX_INTERVAL_S,
                       timeout=120)
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "ends 1 byte(s) into a sample" in errors[0] and "cut.sigmf-data" in errors[0]
    fixes = [json.loads(line) for line in out.read_text().splitlines()]
    want = [f for f in budget_run[0] if f["stream_time_s"] < 14.0]
    assert fixes and [f["position_fixed_m"] for f in fixes] == [f["position_fixed_m"] for f in want]


def test_junk_samples_after_the_first_fixes_end_the_run_cleanly_with_the_fixes_before(recording, budget_run,
                                                                                       tmp_path):
    base = tmp_path / "hostile"
    meta = recording.with_name(recording.name + ".sigmf-meta")
    base.with_name("hostile.sigmf-meta").write_bytes(meta.read_bytes())
    data = bytearray(recording.with_name(recording.name + ".sigmf-data").read_bytes())
    start = int(14.0 * FS) * 2
    # Full-scale junk from 14 s on: every channel loses lock, no fix comes after.
    data[start:] = np.random.default_rng(7).integers(-128, 128, len(data) - start, dtype=np.int8).tobytes()
    base.with_name("hostile.sigmf-data").write_bytes(bytes(data))
    out = tmp_path / "fixes.jsonl"
    result = lunarelay("receive", str(base), "-o", str(out), "--fix-interval", FIX_INTERVAL_S, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("lock lost") == len(PRNS)
    fixes = [json.loads(line) for line in out.read_text().splitlines()]
    want = [f for f in budget_run[0] if f["stream_time_s"] < 14.0]
    assert [f["position_fixed_m"] for f in fixes[:len(want)]] == [f["position_fixed_m"] for f in want]
    assert all(f["stream_time_s"] < 14.6 for f in fixes)
