"""Bench files and `lunarelay hil`: files checked on load (file, line, field; unknown fields
refused), the shipped benches, and a scenario run against the emulated bench whose run folder
holds a JUnit XML, a JSON report and a capture of every link that `lunarelay inspect` reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from hil.bench.file import BENCH_DIR, BenchError, load_bench, parse_bench
from hil.capture import LINKTYPE_CADU, LINKTYPE_CLTU, LINKTYPE_SERIAL, read_capture

MINIMAL = """
[bench]
name = "t"

[flight_computer]
kind = "emulated"
"""


def test_shipped_benches_load_with_what_each_names():
    emulated = load_bench(os.path.join(BENCH_DIR, "emulated.toml"))
    assert emulated.flight_computer.emulated and emulated.flight_computer.transport == "pty"
    assert {s.role for s in emulated.sdrs} == {"navigation", "downlink", "uplink"}
    assert all(s.emulated for s in emulated.sdrs) and not emulated.spans_hosts and not emulated.curve
    board = load_bench("board-on-ttyUSB0")                       # a bare name: from hil/benches
    assert board.flight_computer.kind == "serial" and board.flight_computer.url == "/dev/ttyUSB0"
    assert {s.flowgraph for s in board.sdrs} == {"nav_tx.py", "comm_tx.py", "comm_rx.py"}
    assert "radio:navigation" in board.resources and "radio:navigation" not in emulated.resources


def test_readme_fault_example_is_one_plan_for_a_bench_file_and_for_the_fault_proxies():
    from hil.faults.schedule import FaultSchedule

    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    section = readme[readme.index("### Fault injection"):]
    example = section[section.index("```toml\n") + 8:section.index("```\n", section.index("```toml"))]
    plan = FaultSchedule.from_toml(example, "README.md")
    bench = parse_bench(MINIMAL + example, "README.md")
    assert bench.faults.seed == plan.seed == 7 and bench.faults.faults == plan.faults
    serial = bench.faults_on("flight_computer").faults
    assert [f.kind for f in serial] == ["disconnect", "drop", "baud_mismatch"]
    assert [f.kind for f in bench.faults_on("downlink").faults] == ["outage"]
    assert not bench.faults_on("uplink")


def test_shipped_fault_bench_disconnects_its_serial_line():
    bench = load_bench("emulated-faults")
    assert "fault:disconnect" in bench.resources
    assert {f.kind for f in bench.faults_on("flight_computer").faults} == {"disconnect", "ber"}


FC = '[flight_computer]\nkind = "emulated"\n'


@pytest.mark.parametrize(("extra", "line", "message"), [
    (FC + 'baudrate = 9600\n', 8, r"flight_computer\.baudrate: unknown field"),
    ('[flight_computer]\nkind = "jtag"\n', 7, r"flight_computer\.kind: 'jtag' is not one of emulated"),
    ('[flight_computer]\nkind = "serial"\nurl = ""\n', 8, r"flight_computer\.url: empty"),
    (FC + 'framing = "hdlc"\n', 8, r"flight_computer\.framing: 'hdlc' is not one of"),
    (FC + '[[sdr]]\nname = "nav"\nrole = "navigation"\n'
     'address = "udp://x"\nsocket = "push"\nsample_rate_hz = 1e6\n', 11, r"sdr\[0\]\.address: 'udp://x'"),
    (FC + '[[fault]]\nlink = "flight_computer"\nkind = "peer_restart"\n',
     10, r"fault\[0\]\.kind: 'peer_restart' is not a fault of the flight_computer link"),
    (FC + '[[fault]]\nlink = "uplink"\nkind = "peer_restart"\n',
     10, r"fault\[0\]\.kind: 'peer_restart' is not a fault of the uplink link"),
    (FC + '[[fault]]\nlink = "radio"\nkind = "outage"\n',
     9, r"fault\[0\]\.link: 'radio' is not a link"),
    (FC + '[[fault]]\nlink = "flight_computer"\nkind = "ber"\n',
     8, r"fault\[0\]\.ber: missing"),
    (FC + '[[fault]]\nlink = "flight_computer"\nkind = "drop"\nrate = 0.1\n',
     11, r"fault\[0\]\.rate: unknown field \(a drop fault has: .*probability\)"),
    (FC + 'host = "lab-2"\n', 8, r"flight_computer\.host: 'lab-2' is not a \[\[host\]\]"),
])
def test_bench_file_errors_name_file_line_and_field(extra, line, message):
    text = f'[bench]\nname = "t"\n\n[[host]]\nname = "local"\n{extra}'
    with pytest.raises(BenchError, match=rf"^b\.toml:{line}: {message}"):
        parse_bench(text, "b.toml")


def test_bench_spanning_hosts_turns_curve_on_and_refuses_it_off():
    text = MINIMAL.replace('[flight_computer]', '[[host]]\nname = "a"\n[[host]]\nname = "b"\n'
                                                '[flight_computer]\nhost = "b"')
    assert parse_bench(text, "b.toml").curve
    with pytest.raises(BenchError, match="bench.curve: false, yet the bench spans hosts"):
        parse_bench(text.replace('name = "t"', 'name = "t"\ncurve = false'), "b.toml")


def test_missing_bench_file_is_one_clear_error(tmp_path):
    with pytest.raises(BenchError, match="nosuch.toml: cannot read the bench file"):
        load_bench(tmp_path / "nosuch.toml")


@pytest.mark.slow
def test_hil_runs_the_scenario_against_the_emulated_board_and_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "hil", "emulated", "--duration", "40",
                           "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "pass  exactly once" in proc.stdout
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")] == ["modules", "answers", "relay", "acknowledged",
                                                              "exactly once"]
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["bench"] == "emulated"
    fc_sent = [c for c in report["commands"] if c["module"] == "flight_computer"]
    assert fc_sent and all(c["answer"] for c in fc_sent)
    cap = read_capture(str(out / "capture.pcapng"))
    assert cap.problem is None
    kinds = {cap.interfaces[r.interface].linktype for r in cap.records}
    assert {LINKTYPE_SERIAL, LINKTYPE_CLTU, LINKTYPE_CADU} <= kinds
    to_board = [r for r in cap.records if "to_board" in cap.interfaces[r.interface].description]
    assert len(to_board) == report["links"]["flight_computer"]["frames_to_board"] >= len(fc_sent)
    inspected = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "inspect",
                                str(out / "capture.pcapng")], capture_output=True, text=True, timeout=300)
    assert inspected.returncode == 0, inspected.stderr[-2000:]
    assert "detected ASM serial frames holding space packets" in inspected.stdout
    assert "detected CADU stream" in inspected.stdout
    assert "flight_computer.event" in inspected.stdout


# A stand-in for hil.faults.open_proxy with the interface the runner calls: each proxy passes everything on
# unchanged (the taps' own forwarding), and says where it was put.
PASS_THROUGH_FAULTS = '''
import json, threading, zmq
from hil.bench.taps import LinkLog, SerialTap, ZmqForward
from onboard.core.serial import Framing

calls = []

class Republish(threading.Thread):
    def __init__(self, upstream, downstream):
        super().__init__(daemon=True)
        ctx = zmq.Context.instance()
        self.sub, self.pub = ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(upstream)
        self.pub.bind(downstream)
        self.done = threading.Event()
    def run(self):
        while not self.done.is_set():
            if self.sub.poll(50):
                self.pub.send(self.sub.recv())
    def stop(self):
        self.done.set()
        self.join(5)

def open_proxy(kind, upstream, downstream, schedule, seed=None, **options):
    link = options["link"]
    calls.append({"kind": kind, "upstream": upstream, "downstream": downstream, "link": link,
                  "seed": schedule.seed, "faults": [(f.kind, f.start_s, f.duration_s) for f in
                                                    schedule.faults if f.link in (None, link)]})
    with open(CALLS, "w") as f:
        json.dump(calls, f)
    if kind == "serial":
        proxy = SerialTap(upstream, downstream.removeprefix("pty:"), 921600, Framing.ASM, True, None,
                          LinkLog("proxy"))
    elif kind == "outage-zmq-pull":
        proxy = ZmqForward(upstream, downstream)
    else:
        proxy = Republish(upstream, downstream)
    proxy.counters = lambda: {"placed": 1}
    return proxy

import hil.faults
hil.faults.open_proxy = open_proxy
'''

FAULTY_BENCH = '''
[bench]
name = "faulty"

[flight_computer]
kind = "emulated"

[faults]
seed = 11

[[fault]]
link = "flight_computer"
kind = "ber"
ber = 1e-4

[[fault]]
link = "flight_computer"
kind = "disconnect"
start_s = 5
down_s = 1

[[fault]]
link = "uplink"
kind = "outage"
start_s = 4
duration_s = 3

[[fault]]
link = "downlink"
kind = "outage"
start_s = 8
duration_s = 1
'''


@pytest.mark.slow
def test_runner_puts_a_fault_proxy_in_the_middle_of_each_link_with_faults(tmp_path):
    bench_file = tmp_path / "faulty.toml"
    bench_file.write_text(FAULTY_BENCH)
    calls = tmp_path / "calls.json"
    code = (f"CALLS = {str(calls)!r}\n{PASS_THROUGH_FAULTS}\nfrom lunarelay_tools.cli import main\n"
            f"raise SystemExit(main(['hil', {str(bench_file)!r}, '--duration', '30', '--quiet', "
            f"'--out', {str(tmp_path / 'run')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    placed = {c["kind"] + ":" + c["downstream"].rsplit("/", 1)[-1]: c for c in json.loads(calls.read_text())}
    assert set(placed) == {"serial:board-faults.tty", "outage-zmq-pull:uplink-spacecraft",
                           "outage-zmq-pub:downlink"}
    serial = placed["serial:board-faults.tty"]
    assert serial["upstream"].endswith("/board.tty") and serial["downstream"].startswith("pty:")
    assert serial["link"] == "flight_computer" and serial["seed"] == 11
    assert serial["faults"] == [["ber", 0.0, None], ["disconnect", 5.0, None]]
    uplink = placed["outage-zmq-pull:uplink-spacecraft"]
    assert uplink["upstream"].endswith("/uplink-faults") and uplink["faults"] == [["outage", 4.0, 3.0]]
    assert placed["outage-zmq-pub:downlink"]["upstream"].endswith("/downlink-spacecraft")
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["ok"] and report["links"]["downlink"]["frames_from_spacecraft"] > 0
    assert report["faults"] == {link: {"placed": 1} for link in ("flight_computer", "uplink", "downlink")}
    assert report["links"]["uplink"]["frames_to_spacecraft"] > 0


KILL_THE_BOARD = '''
import os, signal, threading, time
import hil.bench.runner as runner

launch = runner.Supervised.launch

def launch_and_plan_a_kill(self):
    launch(self)
    if self.starts == 1:
        pid = self.process.pid
        threading.Timer(KILL_AFTER_S, lambda: os.kill(pid, signal.SIGKILL)).start()

runner.Supervised.launch = launch_and_plan_a_kill
'''


@pytest.mark.slow
def test_board_killed_mid_run_is_started_again_and_every_command_still_runs_once(tmp_path):
    out = tmp_path / "run"
    code = (f"KILL_AFTER_S = 8.0\n{KILL_THE_BOARD}\nfrom lunarelay_tools.cli import main\n"
            f"raise SystemExit(main(['hil', 'emulated', '--duration', '60', '--time-scale', '3', '--quiet', "
            f"'--out', {str(out)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["board_starts"] == 2
    assert report["links"]["flight_computer"]["board_opens"] == 2      # the tap reopened it
    assert {c["name"]: c["ok"] for c in report["checks"]}["exactly once"]


def test_hil_refuses_a_bench_whose_board_is_on_another_host_with_one_line(tmp_path):
    bench_file = tmp_path / "two.toml"
    bench_file.write_text('[bench]\nname = "two"\nmain_host = "a"\n[[host]]\nname = "a"\n'
                          '[[host]]\nname = "b"\n[flight_computer]\nkind = "emulated"\nhost = "b"\n')
    proc = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "hil", str(bench_file), "--quiet",
                           "--duration", "5", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("lunarelay hil: error: ")
    assert "assigned to host(s) b" in proc.stderr


def test_bench_file_takes_an_sdr_peer_restart_on_the_downlink():
    text = MINIMAL + '[[fault]]\nlink = "downlink"\nkind = "peer_restart"\nstart_s = 3.0\ndown_s = 1.0\n'
    restart = parse_bench(text, "b.toml").faults_on("downlink").faults
    assert [(f.kind, f.start_s, f.down_s) for f in restart] == [("peer_restart", 3.0, 1.0)]


def test_hil_refuses_a_peer_restart_on_a_downlink_that_carries_no_samples_with_one_line(tmp_path):
    bench_file = tmp_path / "restart.toml"
    bench_file.write_text(MINIMAL + '[[fault]]\nlink = "downlink"\nkind = "peer_restart"\nstart_s = 3.0\n')
    proc = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "hil", str(bench_file), "--quiet",
                           "--duration", "5", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lunarelay hil: error: ")
    assert "peer_restart on the downlink needs a modulated" in last


# ---- the modem on the bench's SDR endpoints --------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp() -> str:
    return f"tcp://127.0.0.1:{_free_port()}"


def _sdr(name: str, role: str, address: str, socket: str, **fields) -> str:
    """One ``[[sdr]]`` table of a bench file (strings quoted, lists as arrays of strings)."""
    lines = ["[[sdr]]", *(f"{k} = {json.dumps(v)}" for k, v in
                          dict(name=name, role=role, address=address, socket=socket, **fields).items())]
    return "\n" + "\n".join(lines) + "\n"


def _radio_bench(down: str, up: str, **downlink) -> str:
    """Both of the spacecraft's radios emulated: cf32 down (with ``downlink``'s fields), ci16 up."""
    return (MINIMAL + _sdr("tm-radio", "downlink", down, "push", format="cf32", **downlink)
            + _sdr("tc-radio", "uplink", up, "pull", format="ci16"))


def _hil_rf_links(bench_file, out, duration_s: int, **kwargs) -> subprocess.CompletedProcess:
    """``lunarelay hil BENCH onboard/scenarios/rf-links.toml`` at four times real time (both
    modems keep up: a few Msps), from the repository's root."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "hil", str(bench_file),
                           os.path.join("onboard", "scenarios", "rf-links.toml"), "--duration",
                           str(duration_s), "--time-scale", "4", "--quiet", "--out", str(out)],
                          capture_output=True, text=True,
                          timeout=300, cwd=root, **kwargs)


@pytest.mark.slow
def test_hil_carries_both_modulated_links_over_the_benchs_sdr_endpoints(tmp_path):
    # The downlink's BPSK samples leave the downlink module on the bench's TCP endpoint (a
    # gr-zeromq PUSH of cf32), the ground's PCM/PSK/PM samples reach the uplink module on the
    # other (ci16 I/Q pairs): the run's own sockets carry neither, so every check passing means
    # both streams went through the endpoints the bench file names.
    down, up = _tcp(), _tcp()
    bench_file = tmp_path / "radios.toml"
    bench_file.write_text(_radio_bench(down, up))
    out = tmp_path / "run"
    proc = _hil_rf_links(bench_file, out, 40)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["ok"]
    assert report["radio_ends"] == {"downlink": {"address": down, "socket": "pull", "format": "cf32"},
                                    "uplink": {"address": up, "socket": "push", "format": "ci16"}}
    demod = report["ground"]["downlink_demod"]
    assert demod["samples"] > 30 * 165_760 and report["ground"]["frames_received"] > 300
    fc_sent = [c for c in report["commands"] if c["module"] == "flight_computer"]
    assert fc_sent and all(c["answer"] for c in fc_sent)
    _capture_holds_the_modulated_cltus(out, report)


@pytest.mark.slow
def test_hil_on_a_bench_without_sdrs_runs_the_modulated_links_on_its_own_sockets(tmp_path):
    bench_file = tmp_path / "plain.toml"
    bench_file.write_text(MINIMAL)
    out = tmp_path / "run"
    proc = _hil_rf_links(bench_file, out, 30)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["radio_ends"] == {}
    _capture_holds_the_modulated_cltus(out, report)


def _capture_holds_the_modulated_cltus(out, report) -> None:
    """The capture's uplink holds the CLTUs the ground modulated (not sample blocks): each starts
    with the start sequence and ends with the tail sequence (231.0-B-4 §5.2), one per frame sent."""
    cap = read_capture(str(out / "capture.pcapng"))
    cltus = [r.data for r in cap.records if cap.interfaces[r.interface].linktype == LINKTYPE_CLTU]
    assert cltus and all(c[:2] == b"\xeb\x90" and c[-8:] == b"\xc5" * 7 + b"\x79" for c in cltus)
    assert len(cltus) == report["links"]["uplink"]["frames_to_spacecraft"] >= len(report["commands"])


@pytest.mark.parametrize(("extra", "message"), [
    ({"sample_rate_hz": 2e6}, "runs at 2e+06 samples/s; scenario rf-links's downlink modem makes 165760"),
    ({"flowgraph": "comm_tx.py"}, "(flowgraph comm_tx.py): name the ground station's end, an [[sdr]] of "
                                  "role ground-downlink"),
])
def test_hil_refuses_an_sdr_endpoint_its_modem_cannot_use_with_one_line(tmp_path, extra, message):
    bench_file = tmp_path / "radios.toml"
    bench_file.write_text(_radio_bench(_tcp(), _tcp(), **extra))
    proc = _hil_rf_links(bench_file, tmp_path / "run", 5)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lunarelay hil: error: ") and message in last, proc.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.interop
def test_hil_carries_both_links_through_gnu_radio_flowgraphs_between_real_radio_endpoints(tmp_path):
    # Both of the spacecraft's radios are "real": each SDR names a flowgraph the runner starts,
    # here GNU Radio's gr-zeromq blocks as a cable to the ground station's endpoints (role
    # ground-downlink, ground-uplink).  Every sample of both links goes through GNU Radio.
    from conftest import require_system_modules

    gr_python = require_system_modules(("gnuradio.zeromq",), "gnuradio", "Debian package gnuradio")
    cable = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flowgraphs", "cable.py")
    a, b, c, d = _tcp(), _tcp(), _tcp(), _tcp()
    bench_file = tmp_path / "cabled.toml"
    bench_file.write_text(MINIMAL + _sdr("tm-radio", "downlink", a, "push", flowgraph=cable, args=["--to", b])
                          + _sdr("ground-rx", "ground-downlink", b, "pull")
                          + _sdr("tc-radio", "uplink", d, "pull", format="ci16", flowgraph=cable,
                                 args=["--from", c])
                          + _sdr("ground-tx", "ground-uplink", c, "push", format="ci16"))
    out = tmp_path / "run"
    proc = _hil_rf_links(bench_file, out, 40, env={**os.environ, "LUNARELAY_GR_PYTHON": gr_python})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["flowgraph_starts"] == {"tm-radio": 1, "tc-radio": 1}
    assert report["radio_ends"] == {"downlink": {"address": b, "socket": "pull", "format": "cf32"},
                                    "uplink": {"address": c, "socket": "push", "format": "ci16"}}
    assert report["ground"]["frames_received"] > 300


def test_a_flowgraph_that_dies_at_start_ends_the_run_with_one_line_and_leaves_nothing_running(tmp_path):
    # The runner has opened the board and the taps when it starts the radios' flowgraphs: a
    # flowgraph that exits before it runs stops all of that, and the run ends at once.
    dead = tmp_path / "dead_radio.py"
    dead.write_text("import sys\nsys.exit(3)\n")
    bench_file = tmp_path / "dead.toml"
    bench_file.write_text(MINIMAL + _sdr("tm-radio", "downlink", _tcp(), "push", flowgraph=str(dead))
                          + _sdr("ground-rx", "ground-downlink", _tcp(), "pull"))
    env = {**os.environ, "LUNARELAY_GR_PYTHON": sys.executable}
    proc = _hil_rf_links(bench_file, tmp_path / "run", 5, env=env)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lunarelay hil: error: flowgraph tm-radio (") and "exited with code 3" in last
