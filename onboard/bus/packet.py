"""Bus messages: CCSDS space packets with a CUC time secondary header.

Every message on the software bus is one space packet (CCSDS 133.0-B-2 §4.1):

    primary header (6 octets, §4.1.3)         secondary header (6 octets)      user data
    ver(3) type(1) shf(1) apid(11)             CUC coarse (4) + fine (2)
    seq flags(2) seq count(14)                 TAI seconds since 1958-01-01
    data length - 1 (16)                       (CCSDS 301.0-B-4 §3.2, level 1, P-field implicit)

The APID (with the type bit) is the message ID.  Because the first two octets of the packet
are version, type, secondary-header flag and APID, a ZeroMQ topic filter on them selects a
message exactly, and a filter on the first octet alone selects a block of 256 APIDs (the
three APID bits it holds), which is how the registry groups messages.

``onboard.core.spp`` (batches in C) is the general space-packet tool; the bus keeps this small
per-packet path because it runs once per message in Python, and tests/test_bus.py checks it
against both construct and spacepackets.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from onboard.errors import LunarelayError

PRIMARY_HEADER_LEN = 6
SECONDARY_HEADER_LEN = 6
HEADER_LEN = PRIMARY_HEADER_LEN + SECONDARY_HEADER_LEN
MAX_APID = 0x7FF
IDLE_APID = 0x7FF                 # CCSDS 133.0-B-2 §4.1.3.3.4.4: reserved for idle packets
MAX_SEQ = 0x3FFF
MAX_USER_DATA = 65536 - SECONDARY_HEADER_LEN
# Seconds from the CUC epoch 1958-01-01 TAI to the Unix epoch, and TAI-UTC since 2017-01-01.
TAI_1958_TO_UNIX_S = 378_691_200
TAI_MINUS_UTC_S = 37

_HEADER = struct.Struct(">HHHIH")
_UNSEGMENTED = 0b11 << 14          # §4.1.3.4.2.2: sequence flags '11', an unsegmented packet
_SEC_HDR_FLAG = 1 << 11


class PacketError(LunarelayError):
    """A buffer that is not a well-formed bus packet."""


class PacketType(enum.IntEnum):
    """CCSDS 133.0-B-2 §4.1.3.3.3: 0 telemetry (reporting), 1 telecommand (requesting)."""

    TM = 0
    TC = 1


_TYPES = (PacketType.TM, PacketType.TC)


class BusPacket(NamedTuple):
    # a NamedTuple: built once per packet on the receive path, where a dataclass costs twice as much
    apid: int
    packet_type: PacketType
    seq_count: int
    time_tai: float
    data: bytes

    @property
    def topic(self) -> bytes:
        return topic(self.apid, self.packet_type)


def topic(apid: int, packet_type: PacketType = PacketType.TM) -> bytes:
    """The two header octets that name a message exactly, for a ZeroMQ subscription."""
    if not 0 <= apid <= MAX_APID:
        raise ValueError(f"APID {apid:#x} does not fit 11 bits")
    return ((int(packet_type) << 12) | _SEC_HDR_FLAG | apid).to_bytes(2, "big")


def block_topic(apid_block: int, packet_type: PacketType = PacketType.TM) -> bytes:
    """The first header octet: every APID from ``apid_block * 256`` to ``apid_block * 256 + 255``."""
    if not 0 <= apid_block <= 7:
        raise ValueError(f"APID block {apid_block} is not in 0..7")
    return bytes([(int(packet_type) << 4) | 0x08 | apid_block])


def tai_from_unix(unix_s: float) -> float:
    """TAI seconds since 1958 for a Unix (UTC) time after 2017-01-01."""
    return unix_s + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S


def pack(apid: int, data: bytes, seq_count: int, time_tai: float,
         packet_type: PacketType = PacketType.TM) -> bytes:
    """One space packet.  ``data`` is the user data field after the secondary header."""
    if not 0 <= apid <= MAX_APID:
        raise ValueError(f"APID {apid:#x} does not fit 11 bits")
    if len(data) > MAX_USER_DATA:
        raise ValueError(f"{len(data)} octets of user data exceed the {MAX_USER_DATA}-octet maximum")
    if not 0 <= time_tai < 2**32:                  # nan included: no comparison holds
        raise ValueError(f"time {time_tai!r} s is outside the 4-octet CUC range")
    coarse = int(time_tai)
    fine = int((time_tai - coarse) * 65536.0)
    # §4.1.3.5.3: the packet data length field holds the data field length minus one.
    return _HEADER.pack((int(packet_type) << 12) | _SEC_HDR_FLAG | apid,
                        _UNSEGMENTED | (seq_count & MAX_SEQ),
                        SECONDARY_HEADER_LEN + len(data) - 1, coarse, min(fine, 0xFFFF)) + data


def unpack(buf: bytes) -> BusPacket:
    """Parse one bus packet; raise PacketError naming what is wrong."""
    if len(buf) < HEADER_LEN:
        raise PacketError(f"packet of {len(buf)} octets is shorter than the {HEADER_LEN}-octet headers")
    word0, word1, length, coarse, fine = _HEADER.unpack_from(buf)
    if word0 >> 13:
        raise PacketError(f"packet version {word0 >> 13} is not 0 (CCSDS 133.0-B-2 §4.1.3.2)")
    if not word0 & _SEC_HDR_FLAG:
        raise PacketError("packet has no secondary header; bus packets carry CUC time")
    if length + 1 + PRIMARY_HEADER_LEN != len(buf):
        raise PacketError(f"data length field says {length + 1 + PRIMARY_HEADER_LEN} octets, "
                          f"packet has {len(buf)}")
    return BusPacket(word0 & MAX_APID, _TYPES[(word0 >> 12) & 1], word1 & MAX_SEQ,
                     coarse + fine / 65536.0, bytes(buf[HEADER_LEN:]))


def peek_apid_seq(buf: bytes) -> tuple[int, int, int]:
    """(type, APID, sequence count) of a buffer of at least 4 octets, without a full parse."""
    word0, word1 = struct.unpack_from(">HH", buf)
    return (word0 >> 12) & 1, word0 & MAX_APID, word1 & MAX_SEQ
