"""Bench files: which device of a bench is real and which is emulated, where each one is, and
the faults to inject, as data (TOML), checked on load with file, line and field in every error
and unknown fields refused (``onboard.tomlfields``).

    [bench]            name, description, main_host (the host that gives the closing account),
                       curve (true: the bus is authenticated with ZeroMQ CURVE; on by itself
                       whenever a process runs on another host)
    [[host]]           name, address (where the others reach it); one per machine
    [flight_computer]  kind = "emulated": the board of ``hil.devices.board`` as its own process,
                       on a pty (transport "pty") or a TCP port ("tcp");
                       kind = "serial": a real board at ``url`` (any pyserial URL);
                       baud, framing (asm, kiss, slip), crc, host, hk_period_s (emulated)
    [[sdr]]            name, role (navigation, downlink, uplink: the spacecraft's radio ports;
                       ground-downlink, ground-uplink: the ground station's, where the
                       spacecraft's are real radios), address (ZeroMQ), socket
                       (pub, push, rep, sub, pull, req: the gr-zeromq pattern of this end),
                       sample_rate_hz (0 or none: the rate the scenario's modem makes; a rate
                       given must be that one), format (cf32, ci16), host, and for a real radio the
                       GNU Radio flowgraph that carries the stream to it (``flowgraph``, a file
                       of ``hil/flowgraphs/`` or a path, with its ``args``)
    [faults]           seed: everything random in the faults is drawn from it
    [[fault]]          the plan of ``hil.faults.schedule`` (its kinds and fields: kind, start_s,
                       duration_s, every_s, direction, ...; seconds of wall-clock time from the
                       start of the run: on a bench, time is the wall clock's) and the link it
                       hits: flight_computer (the serial line: ber, drop, duplicate, garbage,
                       console, disconnect, baud_mismatch), an SDR's name (its ZeroMQ stream:
                       peer_restart) or the comm links "uplink" (CLTUs) and "downlink" (CADUs):
                       outage; and peer_restart on the downlink when the scenario modulates it
                       (its IQ samples between the spacecraft's radio and the ground's
                       demodulator).  Without a link, a fault hits every link its kind acts on.

A bench names each host once; every process names the host it runs on (default: the main host).
"""

from __future__ import annotations

import dataclasses
import os

from hil.faults.schedule import OUTAGE_KINDS, SERIAL_KINDS, ZMQ_KINDS, FaultSchedule, fault_from_table
from onboard.errors import LunarelayError
from onboard.tomlfields import Table, TomlDoc

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benches")
FLOWGRAPH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "flowgraphs")
FRAMINGS = ("asm", "kiss", "slip")
SDR_ROLES = ("navigation", "downlink", "uplink", "ground-downlink", "ground-uplink")
ZMQ_SOCKETS = ("pub", "push", "rep", "sub", "pull", "req")
SAMPLE_FORMATS = ("cf32", "ci16")
COMM_LINKS = ("uplink", "downlink")


class BenchError(LunarelayError):
    pass


@dataclasses.dataclass(frozen=True)
class Host:
    name: str
    address: str


@dataclasses.dataclass(frozen=True)
class FlightComputerSpec:
    kind: str                 # "emulated" | "serial"
    transport: str = "pty"    # emulated: "pty" | "tcp"
    url: str = ""             # serial: the pyserial URL
    baud: int = 921600
    framing: str = "asm"
    crc: bool = True
    host: str = ""
    hk_period_s: float = 1.0

    @property
    def emulated(self) -> bool:
        return self.kind == "emulated"


@dataclasses.dataclass(frozen=True)
class SdrSpec:
    name: str
    role: str
    address: str
    socket: str
    sample_rate_hz: float            # 0: whatever the stream's maker runs at
    format: str
    host: str
    flowgraph: str = ""              # empty: emulated (the stream stays in software)
    args: tuple[str, ...] = ()

    @property
    def emulated(self) -> bool:
        return not self.flowgraph


@dataclasses.dataclass(frozen=True)
class Bench:
    name: str
    description: str
    main_host: str
    hosts: tuple[Host, ...]
    flight_computer: FlightComputerSpec
    sdrs: tuple[SdrSpec, ...]
    faults: FaultSchedule
    curve: bool
    source: str

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    @property
    def spans_hosts(self) -> bool:
        return len({self.flight_computer.host, *(s.host for s in self.sdrs)} | {self.main_host}) > 1

    @property
    def resources(self) -> frozenset[str]:
        """What a test may ask of this bench (``hil.bench.plugin``'s ``needs`` marker)."""
        have = {"flight_computer", f"flight_computer:{self.flight_computer.kind}",
                f"framing:{self.flight_computer.framing}"}
        for sdr in self.sdrs:
            have |= {f"sdr:{sdr.role}", f"sdr:{sdr.name}"}
            if not sdr.emulated:
                have.add(f"radio:{sdr.role}")
        have |= {f"fault:{f.kind}" for f in self.faults.faults}
        if self.spans_hosts:
            have.add("hosts")
        return frozenset(have)

    def faults_on(self, link: str) -> FaultSchedule:
        """The part of the plan that hits ``link`` (each fault keeps its place, so its draws are
        those of the whole plan)."""
        return self.faults.select(link_kinds(link), link)


def link_kinds(link: str) -> tuple[str, ...]:
    """The fault kinds a link can take: the serial line's, the comm links' or an SDR stream's."""
    if link == "flight_computer":
        return SERIAL_KINDS
    if link == "downlink":          # a modulated downlink is an IQ stream: its SDR peer can restart
        return OUTAGE_KINDS + ZMQ_KINDS
    return OUTAGE_KINDS if link in COMM_LINKS else ZMQ_KINDS


def load_bench(path: str | os.PathLike) -> Bench:
    """The bench file at ``path`` (a name without a directory is looked for in ``hil/benches``)."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.sep not in path:
        candidate = os.path.join(BENCH_DIR, path if path.endswith(".toml") else f"{path}.toml")
        if os.path.exists(candidate):
            path = candidate
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise BenchError(f"{path}: cannot read the bench file: {exc.strerror or exc}") from None
    return parse_bench(text, path)


def parse_bench(text: str, source: str) -> Bench:
    doc = TomlDoc(text, source, BenchError)
    root = doc.root
    top = root.table("bench", required=True)
    name = top.get("name", str)
    description = top.get("description", str, "")
    hosts = _hosts(root.tables("host"), root)
    names = [h.name for h in hosts]
    main_host = top.get("main_host", str, names[0])
    if main_host not in names:
        raise top.fail("main_host", f"{main_host!r} is not a [[host]] of this bench ({', '.join(names)})")
    curve_given = top.get("curve", bool, None)
    top.finish()
    fc = _flight_computer(root.table("flight_computer", required=True), names, main_host)
    sdrs = _sdrs(root.tables("sdr"), names, main_host)
    links = {"flight_computer", *COMM_LINKS, *(s.name for s in sdrs)}
    seeds = root.table("faults")
    seed = seeds.get("seed", int, 0, lo=0, hi=2**63 - 1)
    seeds.finish()
    faults = FaultSchedule((_fault(t, links) for t in root.tables("fault")), seed)
    root.finish()
    bench = Bench(name, description, main_host, hosts, fc, sdrs, faults, bool(curve_given), source)
    if bench.spans_hosts:
        if curve_given is False:
            raise top.fail("curve", "false, yet the bench spans hosts: the bus is authenticated whenever "
                                    "it leaves the machine")
        bench = dataclasses.replace(bench, curve=True)
    return bench


def _hosts(tables: list[Table], root: Table) -> tuple[Host, ...]:
    if not tables:
        return (Host("local", "127.0.0.1"),)
    hosts, seen = [], set()
    for t in tables:
        name = t.get("name", str)
        if name in seen:
            raise t.fail("name", f"host {name!r} is named twice")
        seen.add(name)
        hosts.append(Host(name, t.get("address", str, "127.0.0.1")))
        t.finish()
    return tuple(hosts)


def _host(t: Table, hosts: list[str], main_host: str) -> str:
    host = t.get("host", str, main_host)
    if host not in hosts:
        raise t.fail("host", f"{host!r} is not a [[host]] of this bench ({', '.join(hosts)})")
    return host


def _flight_computer(t: Table, hosts: list[str], main_host: str) -> FlightComputerSpec:
    kind = t.get("kind", str, choices=("emulated", "serial"))
    transport = t.get("transport", str, "pty", choices=("pty", "tcp")) if kind == "emulated" else "pty"
    url = t.get("url", str) if kind == "serial" else ""
    if kind == "serial" and not url:
        raise t.fail("url", "empty: a serial flight computer needs its port (a pyserial URL)")
    spec = FlightComputerSpec(
        kind=kind, transport=transport, url=url, baud=t.get("baud", int, 921600, lo=50, hi=20_000_000),
        framing=t.get("framing", str, "asm", choices=FRAMINGS), crc=t.get("crc", bool, True),
        host=_host(t, hosts, main_host),
        hk_period_s=t.get("hk_period_s", float, 1.0, above=0.0, hi=3600.0) if kind == "emulated" else 1.0)
    t.finish()
    return spec


def _sdrs(tables: list[Table], hosts: list[str], main_host: str) -> tuple[SdrSpec, ...]:
    out, seen = [], set()
    for t in tables:
        name = t.get("name", str)
        if name in seen or name in ("flight_computer", *COMM_LINKS):
            raise t.fail("name", f"{name!r} is taken (by another [[sdr]] or a link)")
        seen.add(name)
        address = t.get("address", str)
        if not address.startswith(("tcp://", "ipc://", "inproc://")):
            raise t.fail("address", f"{address!r} is not a ZeroMQ tcp://, ipc:// or inproc:// address")
        flowgraph = t.get("flowgraph", str, "")
        args = t.get("args", list, [])
        if not all(isinstance(a, str) for a in args):
            raise t.fail("args", f"expected an array of strings, got {args!r}")
        if flowgraph and not os.path.exists(flowgraph_path(flowgraph)):
            raise t.fail("flowgraph", f"{flowgraph!r} is neither in hil/flowgraphs nor a file")
        out.append(SdrSpec(name, t.get("role", str, choices=SDR_ROLES), address,
                           t.get("socket", str, choices=ZMQ_SOCKETS),
                           t.get("sample_rate_hz", float, 0.0, lo=0.0, hi=1e9),
                           t.get("format", str, "cf32", choices=SAMPLE_FORMATS), _host(t, hosts, main_host),
                           flowgraph, tuple(args)))
        t.finish()
    return tuple(out)


def flowgraph_path(name: str) -> str:
    """A flowgraph named in a bench file: a file of ``hil/flowgraphs``, or a path."""
    inside = os.path.join(FLOWGRAPH_DIR, name)
    return inside if os.sep not in name and os.path.exists(inside) else name


def _fault(t: Table, links: set[str]):
    link = t.data.get("link")
    if isinstance(link, str) and link not in links:
        raise t.fail("link", f"{link!r} is not a link of this bench ({', '.join(sorted(links))})")
    fault = fault_from_table(t)
    if link is not None and fault.kind not in link_kinds(link):
        raise t.fail("kind", f"{fault.kind!r} is not a fault of the {link} link "
                             f"({', '.join(link_kinds(link))})")
    return fault
