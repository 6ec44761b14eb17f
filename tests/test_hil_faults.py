"""Each fault of a bench file's ``[[fault]]`` tables through ``lunarelay hil``, run as a user runs
it: the emulated bench with a fault plan, a short scenario, the run folder read back.  Every run
must pass its closing checks (no acknowledged packet lost, every command once), the proxies'
and the taps' counters must show the fault struck, and the link must carry traffic after the
fault window (the capture's timestamps, against the time the proxy's plan counts from).

The serial faults share one run, one after another in their own windows; the comm links'
outages share another; the SDR peer restart on a modulated downlink (the IQ samples between the
spacecraft's radio and the ground's demodulator) has a run of its own.  Each fault is asserted
by its own test."""

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


# the SDR peer restarts 12 s into a run of about 40 s (40 emulated s at 1x: the ground demodulates
# the samples as they come)
SDR_RESTART = '''
[[fault]]
link = "downlink"
kind = "peer_restart"
start_s = 12.0
down_s = 2.0
'''
SDR_RESTART_END_S = 14.0

# the downlink of the rf-links scenario (BPSK with the orbit's Doppler), the uplink as CLTUs, and
# one contact over the whole run: any acquisition after the first is the restart's
MODULATED_DOWNLINK = '''
[scenario]
name = "modulated-downlink"
description = "One lunar relay, the downlink as BPSK samples"
duration_s = 40.0

[[relay]]
name = "relay-1"
scid = 0x2A1
frame_length = 223
afs_prn = 1
[relay.orbit]
epoch_wn = 2400
epoch_tow_s = 345600.0
a_km = 6541.4
e = 0.6
i_deg = 56.2
raan_deg = 0.0
argp_deg = 90.0
m0_deg = 90.0

[[surface_user]]
name = "lander-farside"
apid = 0x101
packet_length = 240
packets_per_s = 1.0

[ground_station]
name = "ground-1"

[[contact]]
start_s = 0.0
end_s = 40.0

[downlink]
frame_rate_hz = 10.0
rs_interleave = 1
conv = "1/2"
randomize = true
modulation = "bpsk"
samples_per_symbol = 4.0
rolloff = 0.35
ebn0_db = 6.0
cfo_hz = 150.0
doppler = "orbit"
carrier_hz = 2.2e9
'''


class Run:
    """One ``lunarelay hil`` run and its run folder."""

    def __init__(self, tmp_path, name: str, faults: str, duration_s: int, scenario: str | None = None,
                 time_scale: float = 2.0):
        bench = tmp_path / f"{name}.toml"
        bench.write_text(EMULATED.format(name=name) + faults)
        out = tmp_path / "run"
        scenario_args = []
        if scenario is not None:
            (tmp_path / "scenario.toml").write_text(scenario)
            scenario_args = [str(tmp_path / "scenario.toml")]
        self.proc = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "hil", str(bench),
                                    *scenario_args, "--duration", str(duration_s), "--time-scale",
                                    str(time_scale), "--quiet", "--out", str(out)],
                                   capture_output=True, text=True, timeout=300, cwd=tmp_path)
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


@pytest.fixture(scope="module")
def sdr_run(tmp_path_factory):
    return Run(tmp_path_factory.mktemp("sdr"), "sdr-restart", SDR_RESTART, 40, MODULATED_DOWNLINK, 1.0)


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


def test_sdr_peer_restart_on_the_modulated_downlink_is_survived_with_every_check_passing(sdr_run):
    sdr_run.check_passed()
    restarted = sdr_run.report["faults"]["downlink"]
    assert restarted["restarts"] == restarted["comebacks"] == 1
    assert restarted["messages_lost"] > 0            # the samples sent while the peer was away
    assert restarted["messages_out"] == restarted["messages_in"] - restarted["messages_lost"]
    # what the gap took from the ground came again from the store: nothing acknowledged is lost
    assert all(r["lost"] == 0 and r["delivered"] > 0 for r in sdr_run.report["relay"])


def test_sdr_peer_restart_makes_the_ground_demodulator_acquire_again_and_frames_follow(sdr_run):
    sdr_run.check_passed()
    ground = sdr_run.report["ground"]
    demod = ground["downlink_demod"]
    assert demod["silences"] == 1 and demod["acquisitions"] > 1 and demod["locked"]
    restart_end = sdr_run.report["faults_started_at"]["downlink"] + SDR_RESTART_END_S
    assert ground["last_frame_at"] > restart_end + 1.0
    # the spacecraft's side carried CADUs after the gap too (the tap records the module's own output)
    assert sdr_run.records_after("downlink", "downlink", SDR_RESTART_END_S + 1.0) > 0
