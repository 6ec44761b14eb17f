"""CADU reception: the ground station's end of the downlink's ZeroMQ CADU output
(``onboard.links.cadu.ZmqSink``)."""

from __future__ import annotations

import zmq


class CaduInput:
    """Subscribes to a downlink's ZeroMQ output; ``receive`` returns the octets that arrived."""

    def __init__(self, url: str, context: zmq.Context | None = None):
        self._sock = (context or zmq.Context.instance()).socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, 100000)
        self._sock.setsockopt(zmq.SUBSCRIBE, b"")
        self._sock.connect(url)

    def receive(self, timeout_s: float) -> bytes:
        if not self._sock.poll(max(0, int(timeout_s * 1000))):
            return b""
        chunks = []
        while True:
            try:
                chunks.append(self._sock.recv(zmq.NOBLOCK))
            except zmq.Again:
                return b"".join(chunks)

    def close(self) -> None:
        self._sock.close()
