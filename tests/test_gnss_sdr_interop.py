"""GNSS-SDR acquires and tracks every PRN of a `lunarelay siggen` GPS L1 C/A recording.

Debian's gnss-sdr 0.0.17 reads the .sigmf-data file (File_Signal_Source, ishort or ibyte
items) with the receiver in tests/peers/gnss-sdr/gps_l1ca_file.conf.  The test checks
that every recorded PRN is acquired and still tracked at the end of the file, and that
each tracking loop's carrier Doppler agrees with the SigMF annotation.  The navigation
data is all zero: a bit edge inside the 4 ms coherent acquisition splits the Doppler peak,
and the loop then sometimes locks a bin (250 Hz) away.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, require_command

from onboard.links.sigmf import read_truths

CONF = ROOT / "tests" / "peers" / "gnss-sdr" / "gps_l1ca_file.conf"
FS = 4_000_000
SECONDS = 4.0
PRNS = [3, 7, 11, 19, 24, 31]
DOPPLERS = [-4800.0, -2500.0, -700.0, 900.0, 3100.0, 5000.0]
CN0S = [45.0, 42.0, 40.0, 44.0, 48.0, 50.0]
ITEM = {"ci16": ("ishort", "Ishort_To_Complex"), "ci8": ("ibyte", "Ibyte_To_Complex")}
# gnss-sdr 0.0.17 dll_pll_veml tracking dump: one 96-byte record per correlation
# period; the PRN start sample stamp (uint64) at byte 28, the carrier Doppler (float32, Hz)
# at byte 40 and the PRN (uint32) at byte 92.
RECORD = np.dtype({"names": ["sample", "doppler_hz", "prn"], "formats": ["<u8", "<f4", "<u4"],
                   "offsets": [28, 40, 92], "itemsize": 96})


def receiver_config(data: pathlib.Path, fmt: str, dump_dir: pathlib.Path) -> str:
    item_type, adapter = ITEM[fmt]
    # One channel per recorded PRN: a blind search of all 32 spends the short file on
    # PRNs that are absent.
    satellites = "\n".join(f"Channel{i}.satellite={prn}" for i, prn in enumerate(PRNS))
    fields = {"fs": FS, "filename": data, "item_type": item_type, "adapter": adapter, "channels": len(PRNS),
              "coherent_ms": 4, "pfa": "1e-7", "dump": "true", "dump_dir": dump_dir, "satellites": satellites}
    text = CONF.read_text()
    for key, value in fields.items():
        text = text.replace("{" + key + "}", str(value))
    assert "{" not in text, "unfilled field in the GNSS-SDR configuration"
    return text


def read_tracking_dump(path: pathlib.Path) -> np.ndarray:
    raw = path.read_bytes()
    if not raw or len(raw) % RECORD.itemsize:
        pytest.fail(f"{path.name}: {len(raw)} bytes is not a whole number of 0.0.17 tracking records")
    records = np.frombuffer(raw, RECORD)
    steps = np.diff(records["sample"].astype(np.int64))
    if not np.all((steps > 0.9e-3 * FS) & (steps < 1.1e-3 * FS)):
        pytest.fail(f"{path.name}: sample stamps do not advance by 1 ms; not the 0.0.17 dump layout")
    return records


@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["ci16", "ci8"])
def test_gnss_sdr_tracks_every_prn_at_the_annotated_doppler(tmp_path, fmt):
    gnss_sdr = require_command("gnss-sdr", "gnss-sdr")
    base = tmp_path / "gps"
    gen = subprocess.run(
        [sys.executable, "-m", "lunarelay_tools.cli", "siggen", "--signal", "gps-l1ca",
         "--prn", ",".join(map(str, PRNS)), "--doppler=" + ",".join(map(str, DOPPLERS)),
         "--cn0", ",".join(map(str, CN0S)), "--fs", str(FS), "--format", fmt, "--duration", str(SECONDS),
         "--nav-data", "zero", "--seed", "5", "-o", str(base), "--quiet"],
        capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr
    truths = {t.prn: t for t in read_truths(base)}
    assert sorted(truths) == PRNS

    dump_dir = tmp_path / "gnss-sdr"
    dump_dir.mkdir()
    conf = tmp_path / "receiver.conf"
    conf.write_text(receiver_config(base.with_name("gps.sigmf-data"), fmt, dump_dir))
    run = subprocess.run([gnss_sdr, f"--config_file={conf}", f"--log_dir={dump_dir}"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]

    tracked = {int(p) for p in re.findall(r"Tracking of GPS L1 C/A signal started on channel \d+ for "
                                          r"satellite GPS PRN (\d+)", run.stdout)}
    assert tracked == set(PRNS), run.stdout[-3000:]

    last_doppler: dict[int, float] = {}
    end_sample = SECONDS * FS
    for dump in sorted(dump_dir.glob("tracking_ch_*.dat")):
        records = read_tracking_dump(dump)
        for prn in set(records["prn"].tolist()) & set(PRNS):
            mine = records[records["prn"] == prn]
            # Still in lock at the end of the file: the channel ran to its last 0.3 s.
            if mine["sample"][-1] > end_sample - 0.3 * FS:
                last_doppler[prn] = float(np.median(mine["doppler_hz"][-200:]))
    assert sorted(last_doppler) == PRNS
    for prn, doppler in last_doppler.items():
        assert doppler == pytest.approx(truths[prn].doppler_hz, abs=2.0), f"PRN {prn}"
