"""The bus: a ZeroMQ XPUB/XSUB proxy, run in its own process by the executive.

Messages in:  SCHED_TICK (housekeeping due), PING.
Messages out: bus housekeeping (APID of module ``bus``): the proxy's message and octet
              counters (``ProxyStats``); pong.
The forwarding itself runs inside libzmq (``zmq_proxy_steerable``) in a thread; the
statistics come over its control socket, so counting costs the data path nothing.

    python -m onboard.bus.proxy [--bus URL] [--curve-secret FILE --curve-clients DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

import zmq

from onboard.bus import messages
from onboard.bus.client import BusClient
from onboard.bus.endpoints import BusEndpoints, CurveClientKeys, CurveServerKeys, remove_ipc_file
from onboard.bus.packet import tai_from_unix
from onboard.bus.registry import default_registry


class Proxy:
    """XSUB (publishers connect) -> XPUB (subscribers connect), forwarding in a libzmq thread."""

    def __init__(self, endpoints: BusEndpoints, context: zmq.Context | None = None,
                 curve: CurveServerKeys | None = None, hwm: int = 10000):
        self.endpoints = endpoints
        self.context = context or zmq.Context.instance()
        self.curve = curve
        self.hwm = hwm
        self._auth = None
        self._thread: threading.Thread | None = None
        self._control_addr = f"inproc://lunarelay-proxy-control-{id(self)}"

    def start(self) -> None:
        if self.curve:
            from zmq.auth.thread import ThreadAuthenticator

            self._auth = ThreadAuthenticator(self.context)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(self.curve.authorized_clients))
        front = self.context.socket(zmq.XSUB)
        back = self.context.socket(zmq.XPUB)
        for sock in (front, back):
            if self.curve:
                self.curve.apply(sock)
            sock.sndhwm = self.hwm
            sock.rcvhwm = self.hwm
            sock.linger = 0
        bind_front, bind_back = self.endpoints.bind_addresses()
        for sock, addr in ((front, bind_front), (back, bind_back)):
            remove_ipc_file(addr)                    # a stale socket file from a killed proxy
            sock.bind(addr)
        control = self.context.socket(zmq.PAIR)
        control.bind(self._control_addr)
        self._control = self.context.socket(zmq.PAIR)
        self._control.connect(self._control_addr)
        self._lock = threading.Lock()

        def forward():
            try:
                zmq.proxy_steerable(front, back, None, control)
            except zmq.ContextTerminated:
                pass
            finally:
                for sock in (front, back, control):
                    sock.close(linger=0)

        self._thread = threading.Thread(target=forward, name="bus-proxy", daemon=True)
        self._thread.start()

    def statistics(self) -> messages.ProxyStats:
        with self._lock:
            self._control.send(b"STATISTICS")
            frames = self._control.recv_multipart()
        # libzmq sends each counter as a native-endian uint64
        return messages.ProxyStats(*(int.from_bytes(f, sys.byteorder) for f in frames))

    def stop(self) -> None:
        if self._thread is None:
            return
        with self._lock:
            self._control.send(b"TERMINATE")
        self._thread.join(timeout=5)
        self._control.close(linger=0)
        self._thread = None
        if self._auth:
            self._auth.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onboard.bus.proxy", description=__doc__.split("\n")[0])
    parser.add_argument("--bus", help="bus URL (default: $LUNARELAY_BUS or an ipc:// socket in /tmp)")
    parser.add_argument("--curve-secret", help="the proxy's secret CURVE certificate")
    parser.add_argument("--curve-clients", help="directory of authorized client public certificates")
    parser.add_argument("--curve-client-secret", help="secret certificate the proxy's own HK client uses")
    parser.add_argument("--hwm", type=int, default=10000, help="messages queued per peer before drops")
    args = parser.parse_args(argv)
    endpoints = BusEndpoints.from_url(args.bus)
    server = client_keys = None
    if args.curve_secret:
        server = CurveServerKeys.from_files(args.curve_secret, args.curve_clients or ".")
        client_keys = CurveClientKeys.from_files(args.curve_client_secret or args.curve_secret,
                                                 args.curve_secret)
    proxy = Proxy(endpoints, curve=server, hwm=args.hwm)
    proxy.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    registry = default_registry()
    me = registry.module("bus")
    client = BusClient(endpoints, time_source=lambda: tai_from_unix(time.time()), curve=client_keys)
    pipe = client.pipe("control", [registry.message("SCHED_TICK").topic, registry.message("PING").topic])
    ping_apid = registry.message("PING").apid
    try:
        while not stop.is_set():
            pkt = pipe.receive(0.2)
            if pkt is None:
                continue
            if pkt.apid == ping_apid:
                (token,) = messages.PING.unpack(pkt.data[:messages.PING.size])
                client.publish(me.pong_apid, messages.PONG.pack(token, os.getpid()))
            elif messages.Tick.from_bytes(pkt.data).hk_due:
                client.publish(me.apid, proxy.statistics().to_bytes())
    finally:
        client.close()
        proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
