"""The `lunarelay` command: help at every level, exit codes, one-line errors, bench JSON shape."""

import json
import re
import subprocess
import sys

import pytest

from lunarelay_tools.commands import NAMES
from onboard.nav import afs_message
from onboard.nav.lsis_formats import read_frame_bin


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [[], *[[name] for name in NAMES]])
def test_help_exists_at_every_level(command):
    result = lunarelay(*command, "--help")
    assert result.returncode == 0
    assert "usage: lunarelay" in result.stdout


def test_unknown_subcommand_is_a_usage_error():
    result = lunarelay("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_a_command_starts_without_importing_the_other_commands():
    # each command's module imports what it runs on: inspect need not load emulate's world
    probe = ("import sys; from lunarelay_tools.cli import main\n"
             "try:\n    main(['--debug', 'inspect', '--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
             "             if m.startswith('lunarelay_tools.commands.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "['inspect']"
    assert "usage: lunarelay inspect" in out.stdout


def test_unknown_bench_suite_is_a_usage_error_naming_it():
    result = lunarelay("bench", "nosuch")
    assert result.returncode == 2
    assert "'nosuch'" in result.stderr


def test_missing_scenario_file_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "absent.toml"
    result = lunarelay("emulate", str(missing))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_scenario_field_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\nduration_s = "long"\n'
                   '[[relay]]\nname = "r"\nscid = 1\nframe_length = 100\n[ground_station]\nname = "g"\n')
    result = lunarelay("emulate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: scenario.duration_s: expected a number, got str 'long'" in result.stderr


def test_debug_shows_traceback(tmp_path):
    result = lunarelay("emulate", "--debug", str(tmp_path / "absent.toml"))
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_emulate_runs_default_scenario_and_exits_zero(tmp_path):
    result = lunarelay("emulate", "--quiet", "--nav-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "scenario moonlight-default" in result.stdout
    assert "TM frames" in result.stdout
    # the contacts come from geometry: the relay goes behind the Moon and comes back
    assert re.search(r"contacts from geometry: ground sees relay-1 0\.0-\d+\.\d s via \w+, "
                     r"\d+\.\d-600\.0 s via \w+\n", result.stdout), result.stdout
    # the relay: the rover's packets reached the ground through the store, across the loss of
    # signal, and every acknowledged one is accounted for; the south-pole lander, with the relay
    # under its mask all run, sent nothing
    relayed = re.findall(r"(\w+) \(APID 0x\w+\): (\d+) packets made, (\d+) acknowledged by the relay, "
                         r"(\d+) delivered to the ground, (\d+) still in the store, (\d+) lost",
                         result.stdout)
    assert [r[0] for r in relayed] == ["lander", "rover"], result.stdout
    for user, made, acknowledged, delivered, in_store, lost in relayed:
        # how many come down within the run depends on how fast a loaded machine keeps up with
        # the emulation clock; that some do, and none is lost, does not
        assert (int(delivered) > 0) == (user == "rover") and int(lost) == 0
        assert int(made) > 0
        # committed at the very end, a packet may be in the store before its acknowledgement is out
        assert int(acknowledged) <= int(delivered) + int(in_store)
    assert "no answer in the downlink" not in result.stdout
    table = result.stdout.split("\nchecks:\n", 1)[1].splitlines()[:5]
    assert [line.split()[0] for line in table] == ["pass"] * 5, result.stdout
    # every navigation node's broadcast: 50 frames (600 s) each, each decoding to its own time
    assert result.stdout.count("50 navigation frames") == 4
    frames = sorted(tmp_path.glob("frame_*.bin"))
    assert len(frames) == 200 and {p.name.split("_")[1] for p in frames} == {"1", "2", "3", "4"}
    for path in frames[:2] + frames[-1:]:
        wn, itow, toi = (int(v) for v in path.stem.split("_")[2:])
        content = afs_message.decode_frame_content(read_frame_bin(path).symbols)
        assert (content.sb2.wn, content.sb2.itow, content.toi) == (wn, itow, toi)


def test_contact_plan_windows_must_be_in_order_without_overlap(tmp_path):
    bad = tmp_path / "overlap.toml"
    bad.write_text('[scenario]\nname = "x"\nduration_s = 10.0\n[[relay]]\nname = "r"\n'
                   'scid = 1\nframe_length = 1115\n[ground_station]\nname = "g"\n'
                   '[[contact]]\nstart_s = 0.0\nend_s = 5.0\n[[contact]]\nstart_s = 4.0\nend_s = 8.0\n')
    result = lunarelay("emulate", str(bad))
    assert result.returncode == 1
    assert "overlap.toml:" in result.stderr and "contact[1].start_s" in result.stderr


def test_bench_crc_json_has_the_measurement_shape():
    result = lunarelay("bench", "crc", "--json", "--quick")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(set(r) == {"suite", "name", "value", "unit", "baseline", "baseline_value", "ratio"}
                        for r in rows)
    for r in rows:
        assert r["suite"] == "crc" and r["unit"] == "GB/s"
        assert r["ratio"] == pytest.approx(r["value"] / r["baseline_value"])
