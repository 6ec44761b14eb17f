"""Live inputs of ``lunarelay inspect`` and the ``--follow`` dashboard.

A reader thread per source only receives and queues (it never decodes, so the socket is always
drained): UDP (one datagram at a time, an 8 MiB receive buffer), TCP as client or server, a serial
URL (pyserial ``serial_for_url``), a ZeroMQ PUB of CADUs (``zmq+sub://``), stdin, or the onboard
bus.  The bus tap is one more subscriber on the proxy's XPUB side, subscribed to everything: it
publishes nothing and the proxy forwards to the other subscribers exactly what it did before.

The main thread takes whatever has arrived, hands it to the same ``StreamInspection`` a file
goes through, and redraws the dashboard (rich ``Live``) a few times a second: the link and its
sync state, octets and frames per second, per-APID packets, rates, gaps and limits, the layers'
losses, and the last events.
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import socket
import sys
import threading
import time

from lunarelay_tools.inspect import report
from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.cadu import CaduLayer
from lunarelay_tools.inspect.session import Options, StreamInspection
from onboard.errors import LunarelayError

RECV_BUFFER = 8 << 20
REDRAW_S = 0.25
BATCH_OCTETS = 4 << 20


class Source(threading.Thread):
    """Receives octets into ``queue`` until ``stop`` is set or the source ends."""

    def __init__(self, name: str):
        super().__init__(name=f"inspect-{name}", daemon=True)
        self.queue: queue.Queue[bytes | None] = queue.Queue()
        self.stop = threading.Event()
        self.error: str | None = None
        self.octets = 0
        self.messages = 0
        self.ended = threading.Event()

    def put(self, data: bytes) -> None:
        self.octets += len(data)
        self.messages += 1
        self.queue.put(data)

    def run(self) -> None:
        try:
            self.receive()
        except Exception as exc:  # noqa: BLE001 - reported by the command as one line
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ended.set()
            self.queue.put(None)

    def receive(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop.set()


def _host_port(text: str, default_host: str = "") -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise LunarelayError(f"{text!r}: expected HOST:PORT")
    return host.strip("[]") or default_host, int(port)


class UdpSource(Source):
    def __init__(self, spec: str):
        super().__init__("udp")
        host, port = _host_port(spec, "0.0.0.0")
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        self.sock.settimeout(0.1)
        self.sock.bind((host, port))
        self.address = self.sock.getsockname()

    def receive(self) -> None:
        buf = bytearray(65536)
        while not self.stop.is_set():
            try:
                n = self.sock.recv_into(buf)
            except TimeoutError:
                continue
            self.put(bytes(buf[:n]))
        self.sock.close()


class TcpSource(Source):
    def __init__(self, spec: str, listen: bool):
        super().__init__("tcp")
        host, port = _host_port(spec, "0.0.0.0" if listen else "127.0.0.1")
        self.listen = listen
        if listen:
            self.server = socket.create_server((host, port))
            self.server.settimeout(0.1)
            self.address = self.server.getsockname()
        else:
            self.target = (host, port)

    def receive(self) -> None:
        while not self.stop.is_set():
            if self.listen:
                try:
                    conn, _ = self.server.accept()
                except TimeoutError:
                    continue
            else:
                conn = socket.create_connection(self.target, timeout=5)
            conn.settimeout(0.1)
            with conn:
                while not self.stop.is_set():
                    try:
                        data = conn.recv(1 << 20)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    self.put(data)
            if not self.listen:
                return


class SerialSource(Source):
    """A serial URL; a port that goes away (a cable pulled, a peer gone) is opened again every half
    second until it comes back or the inspection ends."""

    def __init__(self, url: str):
        super().__init__("serial")
        import serial

        self.url = url
        self.reopened = 0
        try:
            self.port = serial.serial_for_url(url, timeout=0.05)
        except (serial.SerialException, ValueError) as exc:
            raise LunarelayError(f"serial:{url}: {exc}") from None

    def receive(self) -> None:
        import serial

        while not self.stop.is_set():
            try:
                if self.port is None:
                    self.port = serial.serial_for_url(self.url, timeout=0.05)
                    self.reopened += 1
                # up to 4 KiB, or what came within the port's 50 ms timeout (pyserial's socket://
                # drops what a read has gathered when the peer closes in the middle of it)
                data = self.port.read(1 << 12)
            except (serial.SerialException, OSError):
                if self.port is not None:
                    self.port.close()
                self.port = None
                self.stop.wait(0.5)
                continue
            if data:
                self.put(data)
        if self.port is not None:
            self.port.close()


class ZmqSource(Source):
    """A SUB socket: on a PUB of CADUs, or (``bus``) on the onboard bus proxy's XPUB side."""

    def __init__(self, endpoint: str, name: str = "zmq"):
        super().__init__(name)
        import zmq

        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 1_000_000)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)

    def receive(self) -> None:
        import zmq

        while not self.stop.is_set():
            if self.sock.poll(100):
                while True:
                    try:
                        self.put(self.sock.recv(zmq.NOBLOCK))
                    except zmq.Again:
                        break
        self.sock.close()


class StdinSource(Source):
    def __init__(self):
        super().__init__("stdin")

    def receive(self) -> None:
        stream = sys.stdin.buffer
        while not self.stop.is_set():
            data = stream.read1(1 << 20) if hasattr(stream, "read1") else stream.read(1 << 16)
            if not data:
                return
            self.put(data)


def open_source(spec: str) -> tuple[Source, dict]:
    """The source a live input names, and what it pins (the bus carries bare packets)."""
    if spec == "-":
        return StdinSource(), {}
    if spec.startswith("udp://"):
        return UdpSource(spec[len("udp://"):]), {}
    if spec.startswith("tcp-listen://"):
        return TcpSource(spec[len("tcp-listen://"):], listen=True), {}
    if spec.startswith("tcp://"):
        return TcpSource(spec[len("tcp://"):], listen=False), {}
    if spec.startswith("serial:"):
        return SerialSource(spec[len("serial:"):]), {}
    if spec.startswith("zmq+sub://"):
        return ZmqSource(spec[len("zmq+sub://"):]), {}
    if spec.startswith("bus:"):
        from onboard.bus.endpoints import BusEndpoints

        return ZmqSource(BusEndpoints.from_url(spec[len("bus:"):]).subscribe, "bus"), {"format": "packets"}
    raise LunarelayError(f"{spec!r} is not a live input")


@dataclasses.dataclass
class Follow:
    """The live state the dashboard shows (rates over the last few seconds)."""

    started: float = dataclasses.field(default_factory=time.monotonic)
    history: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=64))
    events: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=6))

    def sample(self, stream: StreamInspection) -> None:
        frames = 0
        if isinstance(stream.layer, CaduLayer):
            frames = stream.layer.stats["cadus"]
        elif stream.frame_layer() is not None and hasattr(stream.frame_layer(), "mc"):
            frames = stream.frame_layer().mc["frames"]
        counts = {a: st.packets for a, st in stream.stats.apids.items()}
        self.history.append((time.monotonic(), stream.input_octets, frames, counts))

    def rates(self) -> tuple[float, float, dict[int, float]]:
        if len(self.history) < 2:
            return 0.0, 0.0, {}
        (t0, o0, f0, c0), (t1, o1, f1, c1) = self.history[max(0, len(self.history) - 12)], self.history[-1]
        dt = max(t1 - t0, 1e-9)
        return (o1 - o0) / dt, (f1 - f0) / dt, {a: (n - c0.get(a, 0)) / dt for a, n in c1.items()}


def dashboard(stream: StreamInspection, follow: Follow, source: Source, outputs):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    octets_s, frames_s, apid_rates = follow.rates()
    det = stream.detection
    if det is None:
        link = Text(f"detecting... ({stream.input_octets} octets so far)", style="yellow")
    elif det.params is None:
        link = Text(f"nothing fits yet: {det.why_not()}", style="red")
    else:
        link = Text(f"{det.params.describe()}", style="green")
    lines = [Text.assemble(("lunarelay inspect ", "bold"), (source.name.replace("inspect-", ""), "cyan"),
                           f"  {time.monotonic() - follow.started:7.1f} s  {stream.input_octets} octets  "
                           f"{octets_s / 1e3:8.1f} kB/s  {frames_s:7.1f} frames/s"), link]
    layers = stream.layer_stats()
    state = ""
    if isinstance(stream.layer, CaduLayer):
        state = stream.layer._sync.state.name.lower()
        c = layers["cadu"]
        bad = c["rs_failed_cadus"] or c["sync_losses"]
        lines.append(Text(f"sync {state}: {c['cadus']} CADUs, {c['sync_losses']} sync losses, "
                          f"{c['rs_corrected_symbols']} RS corrections, {c['rs_uncorrectable_codewords']} "
                          "uncorrectable", style="red" if bad else None))
    mc = layers.get("master_channel")
    if mc:
        lines.append(Text(f"frames {mc['frames']}: {mc['crc_failures']} FECF failures, {mc['mc_gaps']} "
                          f"MC gaps ({mc['mc_frames_lost']} lost), {mc['idle_frames']} idle",
                          style="red" if mc["mc_gaps"] or mc["crc_failures"] else None))
    t = Table(show_edge=False, title="packets by APID", title_justify="left")
    for c in ("APID", "name", "packets", "rate /s", "gaps", "lost", "limits Y/R", "last (UTC)"):
        t.add_column(c, justify="left" if c in ("name", "last (UTC)") else "right")
    names = outputs.dictionary
    for apid, st in sorted(stream.stats.apids.items()):
        style = "red" if st.limit_red else "yellow" if st.limit_yellow or st.sequence_gaps else None
        t.add_row(f"{apid:#05x}", names.name_of(apid) if names else "", str(st.packets),
                  f"{apid_rates.get(apid, 0.0):.1f}", str(st.sequence_gaps), str(st.packets_lost),
                  f"{st.limit_yellow}/{st.limit_red}", report.utc(st.last_time), style=style)
    problems = {k: v for k, v in stream.ledger.totals.items() if report.REASONS[k][0] == "problem"}
    parts = [*lines, t]
    if problems:
        parts.append(Text("losses: " + ", ".join(f"{k} {v} octets" for k, v in sorted(problems.items())),
                          style="red"))
    if follow.events:
        parts.append(Text("last events:", style="bold"))
        parts.extend(Text(f"  {e}") for e in follow.events)
    return Group(*parts)


class EventTap:
    """Keeps the text of the last events the dictionary decodes, for the dashboard."""

    def __init__(self, follow: Follow):
        self.follow = follow

    def write(self, batch, times, index, decoded) -> None:
        for d in decoded:
            if d.ptype.name.endswith(".event") and "text" in d.columns:
                for sev, text in zip(d.columns["severity"][-6:], d.columns["text"][-6:], strict=True):
                    self.follow.events.append(f"[{sev}] {d.ptype.name}: {text}")

    def close(self) -> None:
        pass


def run_live(args, options: Options, outputs, dictionary, console) -> tuple[dict, bool, list]:
    source, pins = open_source(args.input)
    pinned = dict(options.pinned)
    for k, v in pins.items():
        pinned.setdefault(k, v)
    options = dataclasses.replace(options, pinned=pinned, probe_octets=16 << 10)
    stream = StreamInspection(args.input, options, [outputs])
    follow = Follow()
    outputs.add(EventTap(follow))
    deadline = time.monotonic() + args.duration if args.duration else None
    source.start()
    live = None
    if args.follow:
        from rich.live import Live

        live = Live(dashboard(stream, follow, source, outputs), console=console, refresh_per_second=4,
                    transient=False)
        live.start()
    next_draw = 0.0
    try:
        ended = False
        while not ended:
            timeout = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            try:
                first = source.queue.get(timeout=timeout)
            except queue.Empty:
                first = b""
            pieces = [first] if first else []
            if first is None:
                ended = True
                pieces = []
            size = len(first or b"")
            while size < BATCH_OCTETS:
                try:
                    more = source.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    ended = True
                    break
                pieces.append(more)
                size += len(more)
            if pieces:
                stream.push(b"".join(pieces))
            now = time.monotonic()
            if now >= next_draw:
                follow.sample(stream)
                if live is not None:
                    live.update(dashboard(stream, follow, source, outputs))
                next_draw = now + REDRAW_S
            if deadline is not None and now >= deadline:
                break
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        source.join(2.0)
        # what arrived before the source closed is still decoded
        while True:
            try:
                more = source.queue.get_nowait()
            except queue.Empty:
                break
            if more:
                stream.push(more)
        stream.finish()
        follow.sample(stream)
        if live is not None:
            live.update(dashboard(stream, follow, source, outputs))
            live.stop()
    if source.error:
        raise LunarelayError(f"{args.input}: {source.error}")
    ledger = Ledger(args.input)
    ledger.merge(stream.ledger)
    summary = report.summary(args.input, stream.input_octets, ledger, [stream], dictionary)
    summary["live"] = {"seconds": time.monotonic() - follow.started, "messages": source.messages,
                       "octets": source.octets}
    ok = stream.input_octets == 0 or (stream.detection is not None and stream.detection.params is not None)
    return summary, ok, [stream]

