"""SigMF recordings: the writer checked by the `sigmf` package, and `lunarelay siggen` end to end."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from sigmf import sigmffile

from onboard.core import codes
from onboard.core.siggen import reference_signal
from onboard.links.sigmf import ChannelTruth, SigmfError, SigmfWriter, read_truths

TRUTH = ChannelTruth("gps-l1ca", 7, -1234.5, 44.0, 100.25, 1.023e6, 1575.42e6)


def lunarelay(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("fmt,dtype", [("cf32", np.complex64), ("ci16", np.int16), ("ci8", np.int8)])
def test_written_recording_validates_and_reads_back_with_the_sigmf_package(tmp_path, rng, fmt, dtype):
    if fmt == "cf32":
        blocks = [(rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
                  for n in (1000, 17, 4096)]
    else:
        lim = np.iinfo(dtype).max
        blocks = [rng.integers(-lim, lim, (n, 2)).astype(dtype) for n in (1000, 17, 4096)]
    with SigmfWriter(tmp_path / "rec", fmt, 4e6, center_frequency_hz=1575.42e6, truths=[TRUTH]) as w:
        for b in blocks:
            w.write(b)
    handle = sigmffile.fromfile(str(tmp_path / "rec"), autoscale=False)  # checks the SHA-512 too
    handle.validate()
    datatype = {"cf32": "cf32_le", "ci16": "ci16_le", "ci8": "ci8"}[fmt]
    assert handle.get_global_field("core:datatype") == datatype
    assert handle.get_global_field("core:sample_rate") == 4e6
    got = handle.read_samples()
    if fmt == "cf32":
        want = np.concatenate(blocks)
    else:
        both = np.concatenate(blocks).astype(np.float64)
        want = both[:, 0] + 1j * both[:, 1]
    np.testing.assert_array_equal(got, want)
    [ann] = handle.get_annotations()
    assert ann["core:sample_count"] == 5113
    assert ann["lunarelay:prn"] == 7 and ann["lunarelay:doppler_hz"] == -1234.5
    assert read_truths(tmp_path / "rec.sigmf-meta") == [TRUTH]


def test_writer_rejects_a_block_of_the_wrong_type(tmp_path):
    with SigmfWriter(tmp_path / "rec", "ci16", 4e6) as w, pytest.raises(SigmfError, match="ci16 needs int16"):
        w.write(np.zeros(10, np.complex64))


def test_writer_leaves_the_optional_sha512_out_unless_asked_and_the_recording_still_validates(tmp_path, rng):
    block = rng.integers(-100, 100, (5000, 2)).astype(np.int8)
    for name, sha512 in (("plain", False), ("hashed", True)):
        with SigmfWriter(tmp_path / name, "ci8", 4e6, sha512=sha512) as w:
            w.write(block)
        meta = json.loads((tmp_path / f"{name}.sigmf-meta").read_text())
        assert ("core:sha512" in meta["global"]) == sha512
        handle = sigmffile.fromfile(str(tmp_path / name), autoscale=False)
        handle.validate()
        np.testing.assert_array_equal(handle.read_samples(), block[:, 0] + 1j * block[:, 1])
    digest = json.loads((tmp_path / "hashed.sigmf-meta").read_text())["global"]["core:sha512"]
    assert digest == hashlib.sha512((tmp_path / "hashed.sigmf-data").read_bytes()).hexdigest()


def test_siggen_writes_the_data_sha512_only_with_the_flag(tmp_path):
    common = ("siggen", "--prn", "4", "--fs", "2e6", "--format", "ci8", "--duration", "0.01", "--quiet")
    assert lunarelay(*common, "-o", str(tmp_path / "plain")).returncode == 0
    result = lunarelay(*common, "--sha512", "-o", str(tmp_path / "hashed"))
    assert result.returncode == 0, result.stderr
    plain = json.loads((tmp_path / "plain.sigmf-meta").read_text())["global"]
    hashed = json.loads((tmp_path / "hashed.sigmf-meta").read_text())["global"]
    assert "core:sha512" not in plain
    data = (tmp_path / "hashed.sigmf-data").read_bytes()
    assert data == (tmp_path / "plain.sigmf-data").read_bytes()
    assert hashed["core:sha512"] == hashlib.sha512(data).hexdigest()
    result = lunarelay("siggen", "--prn", "4", "--format", "ci16", "--sha512", "--zmq", "tcp://127.0.0.1:0")
    assert result.returncode == 2 and "--sha512 is for a SigMF recording" in result.stderr


def test_siggen_file_holds_each_prn_at_its_annotated_code_phase_and_doppler(tmp_path):
    result = lunarelay("siggen", "--prn", "3,11,24", "--doppler=-4000,1500,4800", "--cn0", "50",
                       "--fs", "4e6", "--format", "ci16", "--duration", "0.05", "--seed", "9",
                       "-o", str(tmp_path / "gps"))
    assert result.returncode == 0, result.stderr
    assert "3 channel(s)" in result.stdout
    handle = sigmffile.fromfile(str(tmp_path / "gps"), autoscale=False)
    handle.validate()
    x = handle.read_samples()[:4000 * 10]
    truths = read_truths(tmp_path / "gps")
    assert [(t.prn, t.doppler_hz) for t in truths] == [(3, -4000.0), (11, 1500.0), (24, 4800.0)]
    for t in truths:
        channel = dict(chips=codes.gps_l1ca(t.prn), code_rate_cps=t.code_rate_cps,
                       code_phase_chips=t.code_phase_chips, doppler_hz=t.doppler_hz, amplitude=1.0)
        replica = reference_signal(4e6, x.size, [channel])
        # 1 ms coherent sums; navigation bits flip at most once in 10 ms, so take magnitudes.
        right = np.abs((x * np.conj(replica)).reshape(10, -1).sum(axis=1)).mean()
        shifted = np.roll(replica, 37)  # about 9.5 chips off
        wrong = np.abs((x * np.conj(shifted)).reshape(10, -1).sum(axis=1)).mean()
        assert right > 5 * wrong  # 50 dB-Hz over 1 ms: about 11x above the noise


def test_siggen_reads_a_scenario_file(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('[siggen]\nfs_hz = 2e6\nformat = "ci8"\nduration_s = 0.01\nseed = 4\n'
                    '[[siggen.channel]]\nsignal = "gps-l1ca"\nprn = 5\ndoppler_hz = 250.0\ncn0_dbhz = 42.0\n'
                    'code_phase_chips = 12.5\n')
    result = lunarelay("siggen", str(plan), "-o", str(tmp_path / "s"), "--quiet")
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "s.sigmf-meta").read_text())
    assert meta["global"]["core:datatype"] == "ci8"
    assert (tmp_path / "s.sigmf-data").stat().st_size == 2 * 20000
    [truth] = read_truths(tmp_path / "s")
    assert (truth.prn, truth.doppler_hz, truth.cn0_dbhz, truth.code_phase_chips) == (5, 250.0, 42.0, 12.5)


def test_siggen_afs_annotates_both_components_of_each_node(tmp_path):
    result = lunarelay("siggen", "--signal", "afs", "--prn", "2,12", "--fs", "12e6", "--duration", "0.004",
                       "--format", "cf32", "-o", str(tmp_path / "afs"), "--quiet")
    assert result.returncode == 0, result.stderr
    truths = read_truths(tmp_path / "afs")
    assert [(t.signal, t.prn, t.component) for t in truths] == [
        ("afs-i", 2, "I"), ("afs-q", 2, "Q"), ("afs-i", 12, "I"), ("afs-q", 12, "Q")]
    # The pilot's code phase is the data code's scaled by the chip-rate ratio (epochs aligned).
    assert truths[1].code_phase_chips == pytest.approx(5 * truths[0].code_phase_chips)


def test_siggen_bad_scenario_field_names_file_line_and_field(tmp_path):
    plan = tmp_path / "bad.toml"
    plan.write_text('[siggen]\nfs_hz = 4e6\nduration_s = 1.0\n[[siggen.channel]]\nsignal = "gps-l1ca"\n'
                    'prn = 99\ndoppler_hz = 0.0\ncn0_dbhz = 45.0\n')
    result = lunarelay("siggen", str(plan), "-o", str(tmp_path / "x"))
    assert result.returncode == 1
    assert f"{plan}:6: siggen.channel[0].prn:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["--prn", "1,2", "--doppler", "1,2,3"], "3 Doppler values for 2 PRNs"),
    (["--prn", "40"], "PRN 40 is outside 1..37"),
    (["--fs", "1e6"], "argument --fs: 1e6 must be within"),
    (["--prn", "x"], "argument --prn: 'x': 'x' is not an integer"),
])
def test_siggen_usage_errors_are_one_line_with_exit_code_2(tmp_path, args, message):
    result = lunarelay("siggen", *args, "-o", str(tmp_path / "x"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
