"""User-data layouts of the bus's own messages (all big-endian, after the CUC secondary header).

SCHED_TICK   tick u32, housekeeping due u8
PING         token u32
pong         token u32, process id u32                    (0x300 + module APID)
CLOCK        the emulation clock record (onboard.clock.ClockState.to_bytes)
bus HK       libzmq proxy statistics, 8 x u64 (CCSDS has no say here; zmq_proxy_steerable(3))
"""

from __future__ import annotations

import dataclasses
import struct

TICK = struct.Struct(">IB")
PING = struct.Struct(">I")
PONG = struct.Struct(">II")
PROXY_STATS = struct.Struct(">8Q")


@dataclasses.dataclass(frozen=True)
class Tick:
    tick: int
    hk_due: bool

    def to_bytes(self) -> bytes:
        return TICK.pack(self.tick & 0xFFFFFFFF, int(self.hk_due))

    @classmethod
    def from_bytes(cls, data: bytes) -> Tick:
        tick, due = TICK.unpack(data[:TICK.size])
        return cls(tick, bool(due))


@dataclasses.dataclass(frozen=True)
class ProxyStats:
    """Messages and octets through the proxy: publisher side in/out, subscriber side in/out."""

    front_msgs_in: int
    front_bytes_in: int
    front_msgs_out: int
    front_bytes_out: int
    back_msgs_in: int
    back_bytes_in: int
    back_msgs_out: int
    back_bytes_out: int

    def to_bytes(self) -> bytes:
        return PROXY_STATS.pack(*dataclasses.astuple(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> ProxyStats:
        return cls(*PROXY_STATS.unpack(data[:PROXY_STATS.size]))
