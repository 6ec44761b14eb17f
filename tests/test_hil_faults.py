"""Each fault of a bench file's ``[[fault]]`` tables through ``lunarelay hil``, run as a user runs
it: the emulated bench with a fault plan, a short scenario, the run folder read back.  Every run
must pass its closing checks (no acknowledged packet lost, every command once), the proxies'
and the taps' counters must show the fault struck, and the link must carry traffic after the
fault window (the capture's timestamps, against the time the proxy's plan counts from).

The serial faults share one run, one after another in their own windows; the comm links'
outages share another.  Each fault is asserted by its own test."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hil.capture import read_capture

pytestmark = pytest.mark.slow

EMULATED = '''
[bench]
name = "{name}"

[flight_computer]
kind = "emulated"
transport = "pty"
framing = "asm"
baud = 921600
hk_period_s = 0.5

[faults]
seed = 5
'''

# wall-clock seconds from the proxy's start; the run lasts about 40 s (80 emulated s at 2x)
SERIAL_FAULTS = '''
[[fault]]
link = "flight_computer"
kind = "ber"
start_s = 2.0
duration_s = 6.0
ber = 2e-3

[[fault]]
link = "flight_computer"
kind = "drop"
start_s = 9.0
duration_s = 8.0
probability = 0.25

[[fault]]
link = "flight_computer"
kind = "duplicate"
start_s = 9.0
duration_s = 8.0
probability = 0.5

[[fault]]
link = "flight_computer"
kind = "garbage"
start_s = 18.0
duration_s = 4.0
every_s = 0.5
octets = 200

[[fault]]
link = "flight_computer"
kind = "console"
start_s = 18.0
duration_s = 4.0
every_s = 0.5

[[fault]]
link = "flight_computer"
kind = "disconnect"
start_s = 23.0
down_s = 1.0

[[fault]]
link = "flight_computer"
kind = "baud_mismatch"      # 20 % off: octets mangled, until the rates agree again at 28 s
start_s = 25.0
duration_s = 3.0
ratio = 1.2
'''
SERIAL_FAULTS_END_S = 28.0

# the run lasts about 30 s (60 emulated s at 2x)
COMM_FAULTS = '''
[[fault]]
link = "uplink"
kind = "outage"
start_s = 4.0
duration_s = 6.0

[[fault]]
link = "downlink"
kind = "outage"
start_s = 12.0
duration_s = 5.0
'''


class Run:
    """One ``lunarelay hil`` run and its run folder."""

    def __init__(self, tmp_path, name: str, faults: str, duration_s: int):
        bench = tmp_path / f"{name}.toml"
        bench.write_text(EMULATED.format(name=name) + faults)
        out = tmp_path / "run"
        self.proc = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "hil", str(bench),
                                    "--duration", str(duration_s), "--time-scale", "2", "--quiet",
                                    "--out", str(out)], capture_output=True, text=True, timeout=300,
                                   cwd=tmp_path)
        self.out = out
        report, capture = out / "report.json", out / "capture.pcapng"
        self.report = json.loads(report.read_text()) if report.exists() else {}
        self.capture = read_capture(str(capture)) if capture.exists() else None

    def check_passed(self) -> None:
        assert self.proc.returncode == 0, self.proc.stdout[-3000:] + self.proc.stderr[-3000:]
        assert self.report["ok"]
        assert {c["name"]: c["ok"] for c in self.report["checks"]} == dict.fromkeys(
            ("modules", "answers", "relay", "acknowledged", "exactly once"), True)

    def injected(self, link: str, counter: str) -> int:
        """A proxy counter summed over both directions of the serial line (or the link's own)."""
        counts = self.report["faults"][link]
        return sum(v for k, v in counts.items() if k == counter or k.endswith(f".{counter}"))

    def records_after(self, interface: str, link: str, after_s: float) -> int:
        """Frames captured on ``interface`` later than ``after_s`` on ``link``'s fault clock."""
        t0_ns = self.report["faults_started_at"][link] * 1e9
        names = [i.name for i in self.capture.interfaces]
        return sum(1 for r in self.capture.records
                   if names[r.interface] == interface and r.timestamp_ns > t0_ns + after_s * 1e9)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    return Run(tmp_path_factory.mktemp("serial"), "serial-faults", SERIAL_FAULTS, 80)


@pytest.fixture(scope="module")
def comm_run(tmp_path_factory):
    return Run(tmp_path_factory.mktemp("comm"), "comm-faults", COMM_FAULTS, 60)


def fc_commands(run: Run) -> list[dict]:
    return [c for c in run.report["commands"] if c["module"] == "flight_computer"]


def test_serial_run_under_every_serial_fault_passes_its_checks_and_answers_each_command(serial_run):
    serial_run.check_passed()
    sent = fc_commands(serial_run)
    assert sent and all(c["answer"] for c in sent)
    assert any(c["resent"] for c in sent)           # a command or its answer lost, and sent again


def test_serial_bit_errors_are_caught_by_the_crc(serial_run):
    serial_run.check_passed()
    assert serial_run.injected("flight_computer", "bits_flipped") > 0
    # the tap sits between the proxy and the host: what the board sent arrives there damaged
    assert serial_run.report["serial_deframers"]["from_board"]["crc_errors"] > 0


def test_serial_dropped_and_duplicated_frames_leave_each_command_run_once(serial_run):
    serial_run.check_passed()
    assert serial_run.injected("flight_computer", "frames_dropped") > 0
    assert serial_run.injected("flight_computer", "frames_duplicated") > 0


def test_serial_garbage_and_console_text_are_skipped_by_the_deframer(serial_run):
    serial_run.check_passed()
    noise = serial_run.report["faults"]["flight_computer"]
    assert noise["to_host.garbage_octets"] > 0 and noise["to_host.console_lines"] > 0
    assert noise["to_board.garbage_octets"] > 0 and noise["to_board.console_lines"] > 0
    skipped = serial_run.report["serial_deframers"]["from_board"]["garbage_octets"]
    assert skipped >= noise["to_host.garbage_octets"]


def test_serial_disconnect_is_reconnected_and_the_tap_reopens_the_port(serial_run):
    serial_run.check_passed()
    counts = serial_run.report["faults"]["flight_computer"]
    assert counts["disconnects"] == counts["reconnects"] == 1
    assert serial_run.report["links"]["flight_computer"]["board_opens"] >= 2


def test_serial_baud_mismatch_mangles_octets_until_the_rates_agree(serial_run):
    serial_run.check_passed()
    assert serial_run.injected("flight_computer", "uart_framing_errors") > 0


def test_serial_line_carries_commands_and_answers_after_the_last_fault(serial_run):
    serial_run.check_passed()
    after = SERIAL_FAULTS_END_S + 1.0
    assert serial_run.records_after("flight_computer to board", "flight_computer", after) > 0
    assert serial_run.records_after("flight_computer from board", "flight_computer", after) > 0


def test_uplink_outage_drops_cltus_and_the_uplink_carries_them_after(comm_run):
    comm_run.check_passed()
    up = comm_run.report["faults"]["uplink"]
    assert up["outage.outages"] == 1 and up["outage.dropped"] > 0
    # every CLTU outside the window went on to the uplink module, and CLTUs came after it
    assert up["messages_out"] == up["messages_in"] - up["outage.dropped"]
    assert comm_run.records_after("uplink", "uplink", 4.0 + 6.0 + 1.0) > 0
    modules = [c for c in comm_run.report["commands"] if c["module"] != "flight_computer"]
    assert modules and all(c["answer"] for c in modules)


def test_downlink_outage_drops_cadus_and_the_ground_gets_them_after(comm_run):
    comm_run.check_passed()
    down = comm_run.report["faults"]["downlink"]
    assert down["outage.outages"] == 1 and down["outage.dropped"] > 0
    assert down["messages_out"] == down["messages_in"] - down["outage.dropped"]
    assert comm_run.records_after("downlink", "downlink", 12.0 + 5.0 + 1.0) > 0
    assert sum(r["delivered"] for r in comm_run.report["relay"]) > 0
