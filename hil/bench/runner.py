"""The bench runner: what ``lunarelay hil BENCH [SCENARIO]`` adds to the scenario run of
``lunarelay emulate`` (same modules, ground, surface traffic, live status, account and checks).

For the run it starts what the bench file says runs on this host: the emulated board as its own
process (``hil.devices.board``, supervised: restarted when it dies) or nothing for a real board;
puts a tap in the middle of every link (``hil.bench.taps``: the serial line, the CLTUs up, the
CADUs down); points the uplink at the tap's pty (``--flight-computer serial:...``); and at the
end writes the run folder.

A link the bench file schedules faults on gets a fault proxy as one more hop, opened through
``hil.faults.open_proxy(kind, upstream, downstream, schedule, link=...)`` and started before the
run, with the bench's whole plan (``schedule``, a ``hil.faults.FaultSchedule``: the proxy takes
the faults for its link, each keeping its draws from the plan's seed; times are seconds of
wall-clock time from the proxy's start).  The kind is the hop's:

    flight_computer  "serial" between the board and the tap (upstream: the board's pyserial URL;
                     downstream: a pty the proxy offers at a fixed path), so the capture shows
                     what reached the spacecraft's side
    uplink           "outage-zmq-pull" between the tap and the uplink module: the tap's PUSH
                     connects to the proxy's PULL, the proxy's PUSH to the module's bound PULL;
                     the capture shows what the ground sent
    downlink         "outage-zmq-pub" between the downlink module's PUB and the ground's SUB,
                     the tap on the module's side; when the scenario modulates the downlink,
                     "zmq-pub" on its IQ samples (the module is the spacecraft's radio, the
                     ground's demodulator the consumer), which also takes ``peer_restart``,
                     and the tap records the CADUs from an output of the module's own

A modulated link runs over the bench's SDR endpoints of its role (``_radio_link``): the
spacecraft's radio port (role ``downlink``: the downlink module binds its IQ output there;
``uplink``: the uplink module connects its PULL), and, when that radio is real (it names a
flowgraph, which the runner starts and supervises), the ground station's (``ground-downlink``,
``ground-uplink``).  An emulated radio's endpoint is the ground's end as well: the air is in
software.

What each proxy injected goes into the report (``faults``, by link), with the wall-clock time
(Unix seconds) its plan's times count from (``faults_started_at``).

The run folder:

    capture.pcapng   every link, frame by frame (``hil.capture``; ``lunarelay inspect`` reads it);
                     a modulated uplink's CLTUs as the ground gave them to its modulator
    report.json      bench, scenario, checks, commands, the relay's account, link counters
    junit.xml        one test case per closing check, a failure's text its reason
    links.txt        the last frames and the counters of every link
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

from hil.bench.file import Bench, SdrSpec, flowgraph_path
from hil.bench.taps import CltuRecord, LinkCapture, LinkLog, SerialTap, ZmqForward, ZmqRecorder
from hil.capture import format_description
from onboard.core.serial import Framing
from onboard.errors import LunarelayError
from onboard.executive import module_command, stop_process


class BenchRunError(LunarelayError):
    pass


@dataclasses.dataclass(frozen=True)
class RadioLink:
    """A modulated link on a bench's SDR endpoints: the spacecraft's, the ground's when the
    spacecraft's is a real radio, and the sample rate of the scenario's modem."""

    link: str
    craft: SdrSpec
    ground: SdrSpec | None
    fs_hz: float


def flowgraph_python() -> str:
    """The Python a bench's GNU Radio flowgraphs run with: ``LUNARELAY_GR_PYTHON``, or the one
    Debian's gnuradio package is installed for."""
    return os.environ.get("LUNARELAY_GR_PYTHON", "/usr/bin/python3")


class Supervised(threading.Thread):
    """One process of the bench, started again whenever it dies, until ``stop``."""

    def __init__(self, name: str, args: list[str], log=print, restart_after_s: float = 0.2,
                 env: dict[str, str] | None = None):
        super().__init__(name=f"supervise-{name}", daemon=True)
        self.label, self.argv, self.log, self.restart_after_s = name, args, log, restart_after_s
        self.env = env
        self.process: subprocess.Popen | None = None
        self.first_line = ""
        self.starts = 0
        self.stopping = threading.Event()
        self.ready = threading.Event()

    def launch(self) -> None:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True, env=self.env)
        self.first_line = (self.process.stdout.readline() or "").strip()
        self.starts += 1
        if not self.first_line:
            raise BenchRunError(f"{self.label} ({' '.join(self.argv)}) exited with code "
                                f"{self.process.wait()} before it was ready")
        self.ready.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.process is not None and self.process.poll() is None:
                self.stopping.wait(0.05)
                continue
            if self.process is not None:
                self.log(f"{self.label} ended with code {self.process.returncode}; starting it again")
            self.stopping.wait(self.restart_after_s)
            if not self.stopping.is_set():
                try:
                    self.launch()
                except BenchRunError as exc:
                    self.log(str(exc))

    def stop(self) -> None:
        self.stopping.set()
        if self.ident is not None:             # launched, but perhaps never supervised
            self.join(5.0)
        if self.process is not None:
            stop_process(self.process)


def open_fault_proxy(bench: Bench, link: str, kind: str, upstream: str, downstream: str, log=print,
                     **options):
    """The started fault proxy between ``upstream`` and ``downstream`` when the bench schedules
    faults on ``link`` (``hil.faults.open_proxy``; see the module doc), else None."""
    faults = bench.faults_on(link)
    if not faults:
        return None
    from hil import faults as fault_proxies

    if kind == "serial":
        fc = bench.flight_computer
        downstream = f"pty:{downstream}"
        options |= {"framing": Framing[fc.framing.upper()], "crc": fc.crc, "baudrate": fc.baud}
    proxy = fault_proxies.open_proxy(kind, upstream, downstream, bench.faults, link=link, **options)
    proxy.start()
    log(f"{link}: fault proxy ({', '.join(f.kind for f in faults.faults)}) between {upstream} and "
        f"{downstream}")
    return proxy


def board_command(bench: Bench, state_dir: str, link_path: str) -> dict:
    """``module_command`` of the bench's emulated board on a pty at ``link_path`` (or a TCP port)."""
    fc = bench.flight_computer
    args = ["--state-dir", state_dir, "--framing", fc.framing, "--hk-period", repr(fc.hk_period_s)]
    args += ["--pty", "--link", link_path] if fc.transport == "pty" else ["--tcp", "0"]
    return module_command("hil.devices.board", *args, *([] if fc.crc else ["--no-crc"]))


class BenchRun:
    """The bench's part of one scenario run (the ``bench`` of ``lunarelay emulate``'s ``run``)."""

    def __init__(self, bench: Bench, out_dir: str, host: str | None = None, log=print):
        self.bench, self.out_dir = bench, out_dir
        self.host = host or bench.main_host
        self.log = log
        # the executive's bus and CURVE key directory (None: its own ipc:// bus in the run directory)
        self.bus_url: str | None = None
        self.curve_keys: str | None = None
        self.board: Supervised | None = None
        self.taps: list = []
        self.links: dict[str, LinkLog] = {}
        self.capture: LinkCapture | None = None
        self.serial_tap: SerialTap | None = None
        self.scenario = None
        self.started_at = 0.0
        self.proxies: dict[str, object] = {}
        self.fault_counts: dict[str, dict[str, int]] = {}
        self.fault_clocks: dict[str, float] = {}      # when each proxy started (Unix s): its plan's zero
        # where the ground's modem meets a modulated link the bench gives an SDR endpoint
        # (``hil.ground.rf.RadioEnd`` by link name; read by the scenario run's ground)
        self.radio_ends: dict[str, object] = {}
        self.flowgraphs: dict[str, Supervised] = {}    # a real radio's flowgraph, by its SDR's name
        self.record_cltu = None     # the capture's hand for the CLTUs a modulated uplink carries

    # ---- the hooks of the scenario run ----------------------------------------------------------
    def start(self, run_dir: str, start_tai: float, scenario, module_args: dict[str, list[str]]) -> None:
        """Bring the bench up; add to (or change) the modules' arguments."""
        try:
            self._start(run_dir, scenario, module_args)
        except BaseException:
            self.stop()
            raise

    def _start(self, run_dir: str, scenario, module_args: dict[str, list[str]]) -> None:
        bench, fc = self.bench, self.bench.flight_computer
        if scenario.downlink.rf is None and any(f.kind == "peer_restart" and f.link == "downlink"
                                                for f in bench.faults.faults):
            raise BenchRunError(f"{bench.source}: a peer_restart on the downlink needs a modulated downlink "
                                f"(IQ samples); scenario {scenario.name}'s [downlink] names no modulation")
        # the modem's SDR endpoints are checked before anything starts
        radio_links = {link: self._radio_link(link, scenario) for link, rf in
                       (("downlink", scenario.downlink.rf), ("uplink", scenario.uplink.rf)) if rf is not None}
        elsewhere = sorted({fc.host, *(s.host for s in bench.sdrs if not s.emulated)} - {self.host})
        if elsewhere:
            self._span_hosts(elsewhere)
        self.scenario, self.started_at = scenario, time.time()
        os.makedirs(self.out_dir, exist_ok=True)
        self.capture = LinkCapture(os.path.join(self.out_dir, "capture.pcapng"))
        framing = Framing[fc.framing.upper()]
        if fc.emulated and fc.host != self.host:
            board_url = self._board_elsewhere()
        elif fc.emulated:
            self.board = Supervised("board", log=self.log,
                                    **board_command(bench, run_dir, os.path.join(run_dir, "board.tty")))
            self.board.launch()
            self.board.start()
            board_url = (os.path.join(run_dir, "board.tty") if fc.transport == "pty"
                         else self.board.first_line)
        else:
            board_url = fc.url
        self.links["flight_computer"] = LinkLog("flight_computer")
        board_url = self._in_the_middle("flight_computer", "serial", board_url,
                                        os.path.join(run_dir, "board-faults.tty"))
        self.serial_tap = SerialTap(board_url, os.path.join(run_dir, "fc.tty"), fc.baud, framing, fc.crc,
                                    self.capture, self.links["flight_computer"])
        self.taps.append(self.serial_tap)
        relay, dl = scenario.relays[0], scenario.downlink
        # uplink: ground -> tap -> [faults] -> uplink module
        to_uplink = f"ipc://{run_dir}/uplink-spacecraft"
        after_tap = f"ipc://{run_dir}/uplink-faults" if self.bench.faults_on("uplink") else to_uplink
        self._in_the_middle("uplink", "outage-zmq-pull", after_tap, to_uplink)
        self.links["uplink"] = LinkLog("uplink")
        cltus = CltuRecord(self.capture, self.links["uplink"], format_description(
            "cltu", scid=relay.scid, randomize=int(scenario.uplink.randomize)))
        # a modulated uplink carries samples here, not CLTUs: the tap only forwards them, and the
        # ground hands the CLTUs it modulates to the record itself
        modulated_up = scenario.uplink.rf is not None
        self.record_cltu = cltus if modulated_up else None
        self.taps.append(ZmqForward(f"ipc://{run_dir}/uplink", after_tap, None if modulated_up else cltus))
        # downlink: downlink module -> [faults] -> ground; the tap listens on the module's side
        ground_side = downlink_out = f"ipc://{run_dir}/downlink"
        outputs = module_args.setdefault("downlink", [])
        modulated = dl.rf is not None
        if radio_links.get("downlink"):
            self._radio_downlink(radio_links["downlink"], outputs)
        elif self.bench.faults_on("downlink").select(self._downlink_kinds(modulated), "downlink").faults:
            after_radio = f"ipc://{run_dir}/downlink-spacecraft"
            outputs[:] = [after_radio if a == ground_side else a for a in outputs]
            self._in_the_middle("downlink", "zmq-pub" if modulated else "outage-zmq-pub", after_radio,
                                ground_side)
            downlink_out = after_radio
        if modulated:
            # the ground's end carries samples: the tap takes the CADUs from an output of their own
            downlink_out = f"ipc://{run_dir}/downlink-cadus"
            outputs.extend(["--output", downlink_out])
        cadu_length = 0 if dl.conv != "none" else 4 + (255 * dl.rs_interleave if dl.rs_interleave
                                                       else relay.frame_length)
        params = {"frame_length": relay.frame_length, "scid": relay.scid, "randomize": int(dl.randomize)}
        if dl.rs_interleave:
            params |= {"rs_e": 16, "interleave": dl.rs_interleave}
        if dl.conv != "none":
            params["conv"] = dl.conv
        self.links["downlink"] = LinkLog("downlink")
        self.taps.append(ZmqRecorder(downlink_out, cadu_length, self.capture, self.links["downlink"],
                                     format_description("cadu", **params)))
        for tap in self.taps:
            tap.start()
        spec = f"serial:{os.path.join(run_dir, 'fc.tty')},baud={fc.baud},framing={fc.framing}"
        spec += "" if fc.crc else ",crc=no"
        module_args.setdefault("uplink", []).append(f"--flight-computer={spec}")
        if radio_links.get("uplink"):
            self._radio_uplink(radio_links["uplink"], module_args["uplink"])
        else:
            module_args["uplink"].append(f"--cltu-url={to_uplink}")

    # ---- the modem's IQ on the bench's SDR endpoints --------------------------------------------
    def _radio_link(self, link: str, scenario) -> RadioLink | None:
        """The bench's SDR endpoints of the scenario's modulated ``link``, checked, or None (the
        link stays on the run's own sockets).

        The ``link`` role's endpoint is the spacecraft's radio port: the downlink module binds
        its IQ output there (PUSH or PUB), the uplink module connects its PULL (a radio's
        gr-zeromq push_sink binds).  Emulated (no flowgraph), the air is in software and the
        ground's modem takes the other end of that endpoint.  A real radio carries the samples
        out of the software; the ground station then hears them, or sends its own, through the
        ``ground-`` role's endpoint (a ground radio's flowgraph, or whatever the bench puts
        there): it connects a PULL (or SUB) to hear the downlink, and binds a PUSH to send the
        uplink."""
        from onboard.ccsds.rf import ModemConfig

        def of_role(role: str):
            return next((s for s in self.bench.sdrs if s.role == role), None)

        craft, ground = of_role(link), of_role(f"ground-{link}")
        if craft is None and ground is None:
            return None
        rf = scenario.downlink.rf if link == "downlink" else scenario.uplink.rf
        fs = ModemConfig.from_spec(rf).fs_hz
        at = f"{self.bench.source}: [[sdr]]"
        if craft is None:
            raise BenchRunError(f"{at} {ground.name} is the ground's end of the {link}, but no [[sdr]] of "
                                f"role {link} is the spacecraft's")
        if craft.emulated and ground is not None:
            raise BenchRunError(f"{at} {craft.name} is emulated (no flowgraph): the ground hears it there, "
                                f"so {ground.name} (role ground-{link}) has nothing to carry; leave it out")
        if not craft.emulated and ground is None:
            raise BenchRunError(f"{at} {craft.name} takes the {link} to a radio (flowgraph "
                                f"{craft.flowgraph}): name the ground station's end, an [[sdr]] of role "
                                f"ground-{link}")
        ends = {"downlink": (("push", "pub"), ("pull", "sub")), "uplink": (("pull",), ("push",))}[link]
        for sdr, sockets, whose in ((craft, ends[0], "spacecraft's"), (ground, ends[1], "ground's")):
            if sdr is None:
                continue
            if sdr.sample_rate_hz and abs(sdr.sample_rate_hz - fs) > 1e-9 * fs:
                raise BenchRunError(f"{at} {sdr.name} runs at {sdr.sample_rate_hz:g} samples/s; scenario "
                                    f"{scenario.name}'s {link} modem makes {fs:g} (give its rate, or none)")
            if sdr.socket not in sockets:
                raise BenchRunError(f"{at} {sdr.name}: the {whose} {link} end is a {' or '.join(sockets)} "
                                    f"socket, not {sdr.socket}")
        if self.bench.faults_on(link).faults:
            raise BenchRunError(f"{at} {craft.name}: faults on the {link} act between the run's own sockets; "
                                f"with the {link} on SDR endpoints, schedule them on an SDR-less bench")
        return RadioLink(link, craft, ground, fs)

    def _radio_downlink(self, radio: RadioLink, outputs: list[str]) -> None:
        from hil.ground.rf import RadioEnd

        sdr = radio.craft
        at = outputs.index("--iq-output")
        outputs[at + 1] = sdr.address
        outputs.extend([f"--iq-socket={sdr.socket}", f"--iq-format={sdr.format}"])
        if radio.ground is None:
            end = RadioEnd(sdr.address, "pull" if sdr.socket == "push" else "sub", sdr.format)
        else:
            end = RadioEnd(radio.ground.address, radio.ground.socket, radio.ground.format)
        self.radio_ends["downlink"] = end
        self._start_flowgraphs(radio)
        self.log(f"downlink: the modem's {sdr.format} samples on {sdr.name} ({sdr.socket} {sdr.address}); "
                 f"the ground hears {end.address}")

    def _radio_uplink(self, radio: RadioLink, uplink_args: list[str]) -> None:
        from hil.ground.rf import RadioEnd

        sdr = radio.craft
        uplink_args.extend([f"--cltu-url={sdr.address}", "--cltu-connect", f"--iq-format={sdr.format}"])
        ground = radio.ground or sdr
        self.radio_ends["uplink"] = end = RadioEnd(ground.address, "push", ground.format)
        self._start_flowgraphs(radio)
        self.log(f"uplink: the ground's {end.format} samples on {end.address}; the spacecraft's modem on "
                 f"{sdr.name} ({sdr.socket} {sdr.address})")

    def _start_flowgraphs(self, radio: RadioLink) -> None:
        """The link's real radios: each SDR's flowgraph as a process, supervised (started again
        when it dies), ready once it says it runs."""
        for sdr in (radio.craft, radio.ground):
            if sdr is None or sdr.emulated:
                continue
            argv = [flowgraph_python(), flowgraph_path(sdr.flowgraph), "--address", sdr.address,
                    "--rate", repr(radio.fs_hz), "--format", sdr.format, *sdr.args]
            proc = Supervised(f"flowgraph {sdr.name}", argv, self.log)
            self.flowgraphs[sdr.name] = proc
            proc.launch()
            proc.start()
            self.log(f"{sdr.name}: {proc.first_line} ({' '.join(argv[1:])})")

    @staticmethod
    def _downlink_kinds(modulated: bool) -> tuple[str, ...]:
        """What can strike the downlink: outages, and the SDR peer's restart when it carries samples."""
        from hil.faults.schedule import OUTAGE_KINDS, ZMQ_KINDS

        return OUTAGE_KINDS + ZMQ_KINDS if modulated else OUTAGE_KINDS

    def _span_hosts(self, elsewhere: list[str]) -> None:
        """Processes of the bench run on other hosts (``hil.bench.hosts.SpanningBenchRun`` takes them)."""
        raise BenchRunError(f"{self.bench.source}: processes are assigned to host(s) {', '.join(elsewhere)}; "
                            f"this run takes a bench on one host, its main host {self.host}")

    def _board_elsewhere(self) -> str:
        """The URL of an emulated board that another host's share serves."""
        raise BenchRunError(f"{self.bench.source}: the board is on host {self.bench.flight_computer.host}")

    def flight_computer_journal(self) -> list | None:
        """The flight computer's journal when it is not in the run directory (None: it is there)."""
        return None

    def hosts_report(self) -> dict:
        return {}

    def _in_the_middle(self, link: str, kind: str, upstream: str, downstream: str) -> str:
        """Where the next hop of ``link`` connects: ``downstream`` behind a fault proxy when the
        bench schedules faults on the link, else ``upstream`` itself."""
        proxy = open_fault_proxy(self.bench, link, kind, upstream, downstream, self.log)
        if proxy is None:
            return upstream
        self.proxies[link] = proxy
        self.fault_clocks[link] = time.time()
        return downstream

    def stop(self) -> None:
        """Everything the bench started, stopped (after a failed start too: what never started
        is left alone, and the processes go down whatever the threads did)."""
        for tap in reversed(self.taps):
            if tap.ident is not None:
                tap.stop()
        self.taps = []
        for link, proxy in self.proxies.items():
            proxy.stop()
            self.fault_counts[link] = proxy.counters()
        self.proxies = {}
        if self.board is not None:
            self.board.stop()
        for flowgraph in self.flowgraphs.values():
            flowgraph.stop()

    def finish(self, checks, ground, relayed: list[dict]) -> None:
        self.stop()
        if self.capture is not None:
            self.capture.close()
        elapsed = time.time() - self.started_at
        commands = [{"line": s.line, "module": s.module, "seq": s.seq, "resent": s.resent, "answer": s.answer}
                    for s in ground.sent]
        report = {
            "bench": self.bench.name, "bench_file": self.bench.source, "host": self.host,
            "scenario": self.scenario.name, "duration_s": self.scenario.duration_s,
            "wall_s": round(elapsed, 3),
            "ok": all(c.ok for c in checks),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
            "relay": relayed, "commands": commands,
            "links": {name: dict(log.counts) for name, log in self.links.items()},
            "serial_deframers": self.serial_tap.counters() if self.serial_tap else {},
            "faults": self.fault_counts, "faults_started_at": self.fault_clocks,
            "radio_ends": {link: dataclasses.asdict(end) for link, end in self.radio_ends.items()},
            "flowgraph_starts": {name: f.starts for name, f in self.flowgraphs.items()},
            "board_starts": self.board.starts if self.board else 0,
            "hosts": self.hosts_report(),
            "ground": ground_report(ground.station),
            "capture": "capture.pcapng",
        }
        with open(os.path.join(self.out_dir, "report.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
        write_junit(os.path.join(self.out_dir, "junit.xml"), f"lunarelay hil {self.bench.name}",
                    self.scenario.name, checks, elapsed)
        with open(os.path.join(self.out_dir, "links.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(log.report() for log in self.links.values()) + "\n")
        self.log(f"run folder {self.out_dir}: capture.pcapng, report.json, junit.xml, links.txt")


def ground_report(station) -> dict:
    """What the ground took in: its frames (the last one's wall-clock time, Unix s) and, for a
    modulated downlink, its demodulator's counters."""
    if station is None:
        return {}
    out = {"frames_received": station.frames_received, "last_frame_at": station.last_frame_at}
    if station.downlink_rf is not None:
        st = station.downlink_rf.status()
        out["downlink_demod"] = {"samples": st.samples, "acquisitions": st.acquisitions,
                                 "lock_changes": st.lock_changes, "cycle_slips": st.cycle_slips,
                                 "locked": bool(st.locked), "silences": station.downlink_rf.silences,
                                 **station.downlink_rf.stats()}
    return out


def write_junit(path: str, suite: str, classname: str, checks, elapsed_s: float) -> None:
    """The closing checks as a JUnit XML test suite (the schema Jenkins and GitLab read)."""
    failures = sum(not c.ok for c in checks)
    root = ET.Element("testsuites", tests=str(len(checks)), failures=str(failures), time=f"{elapsed_s:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(checks)), failures=str(failures),
                       errors="0", skipped="0", time=f"{elapsed_s:.3f}")
    for c in checks:
        case = ET.SubElement(ts, "testcase", classname=classname, name=c.name, time="0")
        if not c.ok:
            ET.SubElement(case, "failure", message=c.detail).text = c.detail
        else:
            ET.SubElement(case, "system-out").text = c.detail
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
