"""CADU stream outputs of the downlink: a file, UDP datagrams, or a ZeroMQ PUB socket.

One URL names the output:

    file:PATH            append the CADU stream to PATH (a plain byte stream, for ``lunarelay decode``)
    udp://HOST:PORT      one datagram per CADU (or per channel block when convolutionally coded)
    tcp://... ipc://...  a ZeroMQ PUB socket bound there; one message per block of CADUs

(the ground station's end of a ZeroMQ output is ``hil.ground.cadu.CaduInput``).  Every sink
counts what it wrote; a UDP or ZeroMQ peer that is not there does not stop the downlink (the
datagram or message is dropped, as on a radio link with nobody listening).
"""

from __future__ import annotations

import socket
from typing import Protocol

import zmq

from onboard.bus.endpoints import remove_ipc_file


class CaduSink(Protocol):
    octets: int

    def write(self, data: bytes, unit: int) -> None:
        """Send ``data``, a whole number of ``unit``-octet transfer units."""

    def close(self) -> None: ...


class FileSink:
    def __init__(self, path: str):
        self.path = path
        self._f = open(path, "ab", buffering=0)
        self.octets = 0

    def write(self, data: bytes, unit: int) -> None:
        self._f.write(data)
        self.octets += len(data)

    def close(self) -> None:
        self._f.close()


class UdpSink:
    def __init__(self, host: str, port: int):
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        self._addr = (host, port)
        self.octets = self.errors = 0

    def write(self, data: bytes, unit: int) -> None:
        view = memoryview(data)
        for at in range(0, len(data), unit):
            try:
                self._sock.sendto(view[at:at + unit], self._addr)
                self.octets += unit
            except OSError:
                self.errors += 1

    def close(self) -> None:
        self._sock.close()


class ZmqSink:
    """A bound PUB (every subscriber gets every message) or PUSH (one peer pulls: gr-zeromq's
    ``push_sink`` to a ``pull_source``).  Neither ever waits, as a radio's samples are lost when
    nothing receives them: a PUB drops what a slow subscriber cannot take (ZeroMQ does, without
    a count), a PUSH what finds no peer or a full queue (counted in ``dropped``)."""

    def __init__(self, url: str, context: zmq.Context | None = None, kind: str = "pub"):
        if kind not in ("pub", "push"):
            raise ValueError(f"a sink socket is pub or push, not {kind!r}")
        self.url = url
        self._sock = (context or zmq.Context.instance()).socket(zmq.PUB if kind == "pub" else zmq.PUSH)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SNDHWM, 1000)
        self._sock.bind(url)
        self.octets = self.dropped = 0

    def write(self, data: bytes, unit: int) -> None:
        try:
            self._sock.send(data, zmq.NOBLOCK, copy=len(data) < 65536)
            self.octets += len(data)
        except zmq.Again:
            self.dropped += len(data)

    def close(self) -> None:
        self._sock.close()
        remove_ipc_file(self.url)


def open_sink(url: str, context: zmq.Context | None = None) -> CaduSink:
    if url.startswith("file:"):
        return FileSink(url[len("file:"):])
    if url.startswith("udp://"):
        host, _, port = url[len("udp://"):].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"UDP output {url!r} is not udp://HOST:PORT")
        return UdpSink(host.strip("[]"), int(port))
    if url.startswith(("tcp://", "ipc://", "inproc://")):
        return ZmqSink(url, context)
    raise ValueError(f"CADU output {url!r} is not file:PATH, udp://HOST:PORT or a ZeroMQ tcp:// or "
                     "ipc:// URL")
