"""Link captures: a pcapng writer, and a reader of pcapng and classic pcap files.

The bench writes every link it carries (CADUs, TM/AOS/TC frames, CLTUs, space packets, serial
frames) to pcapng with this module, and ``lunarelay inspect`` reads them back, together with
captures made by other tools (classic pcap or pcapng, UDP payloads and TCP streams over Ethernet,
Linux cooked capture, raw IP or BSD loopback; TCP segments are put back in order per direction
of a connection, retransmissions and overlaps dropped; IP fragments are not reassembled).

Link types (LINKTYPE_USER0..15, the range tcpdump.org leaves to private use): one record is one
unit of the link, whole.

    147  USER0  CADU: attached sync marker and its (coded) frame, 131.0-B-4 §9
    148  USER1  TM transfer frame, 132.0-B-3
    149  USER2  AOS transfer frame, 732.0-B-4
    150  USER3  TC transfer frame, 232.0-B-4
    151  USER4  CLTU, 231.0-B-4 §5 (start sequence, BCH codeblocks, tail sequence)
    152  USER5  space packet, 133.0-B-2
    153  USER6  serial link frame: the octets of one frame on the wire, framing named below

The link's managed parameters travel in the interface description option (``if_description``,
option 3) of its Interface Description Block, as ``lunarelay/1`` followed by ``key=value``
tokens, e.g. ``lunarelay/1 link=tm frame_length=1115 scid=0x2a1 ocf=1 fecf=1``.  Keys used:
``link`` (cadu, tm, aos, tc, cltu, packet, serial), ``frame_length``, ``scid``, ``vcids``
(comma list), ``ocf``, ``fecf``, ``fhec``, ``insert_zone``, ``rs_e``, ``interleave``, ``basis``,
``randomize``, ``conv`` and, for serial frames, ``framing`` (kiss, slip, ...).  A reader takes
what it needs and ignores the rest; the Wireshark dissector in tools/wireshark reads the same
tokens.  Timestamps are nanoseconds (``if_tsresol`` 9).

Reading never raises on a damaged file: blocks that cannot be read end the walk, and
``Capture.problem`` says where and why, so a caller can count what it did not read.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

LINKTYPE_CADU = 147
LINKTYPE_TM = 148
LINKTYPE_AOS = 149
LINKTYPE_TC = 150
LINKTYPE_CLTU = 151
LINKTYPE_SPACE_PACKET = 152
LINKTYPE_SERIAL = 153

# link type -> the ``link`` token of its description
LUNARELAY_LINKS = {LINKTYPE_CADU: "cadu", LINKTYPE_TM: "tm", LINKTYPE_AOS: "aos", LINKTYPE_TC: "tc",
                   LINKTYPE_CLTU: "cltu", LINKTYPE_SPACE_PACKET: "packet", LINKTYPE_SERIAL: "serial"}
LINKTYPE_OF = {v: k for k, v in LUNARELAY_LINKS.items()}
IP_LINKTYPES = (LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL,
                LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2)
DESCRIPTION_TAG = "lunarelay/1"

# pcapng (draft-ietf-opsawg-pcapng) block types and options
SHB, IDB, PB_OBSOLETE, SPB, NRB, ISB, EPB = 0x0A0D0D0A, 1, 2, 3, 4, 5, 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, OPT_COMMENT, IF_NAME, IF_DESCRIPTION, IF_TSRESOL = 0, 1, 2, 3, 9
SHB_USERAPPL = 4
# classic pcap magics (microsecond and nanosecond timestamps), as read little-endian
PCAP_MAGICS = {0xA1B2C3D4: ("<", 1000), 0xD4C3B2A1: (">", 1000),
               0xA1B23C4D: ("<", 1), 0x4D3CB2A1: (">", 1)}
MAX_BLOCK = 1 << 28  # larger blocks are taken as damage, not read


def is_capture(head: bytes) -> bool:
    """Whether ``head`` (the first octets of a file) starts a pcapng or a classic pcap file."""
    if len(head) < 4:
        return False
    word = struct.unpack_from("<I", head)[0]
    return word == SHB or word in PCAP_MAGICS


def format_description(link: str, **params) -> str:
    """The interface description of a lunarelay link, ``lunarelay/1 link=... key=value ...``."""
    def text(v) -> str:
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, (tuple, list)):
            return ",".join(str(x) for x in v)
        return str(v)
    return " ".join([DESCRIPTION_TAG, f"link={link}"] +
                    [f"{k}={text(v)}" for k, v in params.items() if v is not None])


def parse_description(text: str) -> dict[str, str]:
    """The ``key=value`` tokens of a ``lunarelay/1`` description ({} for any other text)."""
    tokens = (text or "").split()
    if not tokens or tokens[0] != DESCRIPTION_TAG:
        return {}
    out = {}
    for tok in tokens[1:]:
        key, sep, value = tok.partition("=")
        if sep:
            out[key] = value
    return out


@dataclasses.dataclass(frozen=True)
class Interface:
    linktype: int
    name: str = ""
    description: str = ""
    ts_unit_ns: float = 1000.0   # nanoseconds per timestamp unit (pcapng default: microseconds)
    snaplen: int = 0
    tsresol: int = 6             # if_tsresol: 10^-n s, or 2^-(n & 0x7F) s when the top bit is set

    def to_ns(self, ticks: int) -> int:
        """A timestamp in this interface's units as integer nanoseconds, exactly."""
        if self.tsresol & 0x80:
            return ticks * 1_000_000_000 >> (self.tsresol & 0x7F)
        if self.tsresol <= 9:
            return ticks * 10 ** (9 - self.tsresol)
        return ticks // 10 ** (self.tsresol - 9)

    @property
    def params(self) -> dict[str, str]:
        return parse_description(self.description)

    @property
    def link(self) -> str | None:
        """The lunarelay link this interface carries, or None for another link type."""
        return LUNARELAY_LINKS.get(self.linktype)


@dataclasses.dataclass(frozen=True)
class Record:
    interface: int           # index into Capture.interfaces
    timestamp_ns: int
    data: memoryview         # the captured octets
    original_length: int
    offset: int              # file offset of the captured octets


@dataclasses.dataclass
class Capture:
    """A capture read whole: its interfaces, its records, and how its octets divide between
    records' captured data and the file's own structure (headers, padding, options)."""

    format: str                           # "pcapng" or "pcap"
    interfaces: list[Interface]
    records: list[Record]
    size: int                             # file octets
    structure_octets: int = 0             # headers, block framing, options, padding
    unread_octets: int = 0                # octets after the point where reading stopped
    problem: str | None = None            # why reading stopped early (damage), if it did
    skipped_blocks: int = 0               # blocks of types that carry no packets


class _Damaged(Exception):
    pass


def read_capture(source: str | os.PathLike | bytes) -> Capture:
    """Read a pcapng or classic pcap file (a path, or its octets)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        with open(source, "rb") as f:
            data = f.read()
    if len(data) >= 4 and struct.unpack_from("<I", data)[0] in PCAP_MAGICS:
        return _read_pcap(data)
    return _read_pcapng(data)


def _read_pcap(data: bytes) -> Capture:
    magic = struct.unpack_from("<I", data)[0]
    order, unit = PCAP_MAGICS[magic]
    cap = Capture("pcap", [], [], len(data))
    if len(data) < 24:
        cap.unread_octets = len(data)
        cap.problem = f"classic pcap header cut short ({len(data)} of 24 octets)"
        return cap
    _, major, _minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(order + "IHHiIII", data)
    # the top bits of the link-type word carry FCS information (pcap-savefile(5))
    cap.interfaces.append(Interface(network & 0x0FFFFFFF, "", "", float(unit), snaplen))
    cap.structure_octets = 24
    pos = 24
    rec = struct.Struct(order + "IIII")
    while pos < len(data):
        if pos + 16 > len(data):
            cap.problem = f"record header at offset {pos} cut short"
            break
        sec, frac, incl, orig = rec.unpack_from(data, pos)
        if incl > MAX_BLOCK or pos + 16 + incl > len(data):
            cap.problem = (f"record at offset {pos} announces {incl} captured octets; "
                           f"{len(data) - pos - 16} remain")
            break
        payload = memoryview(data)[pos + 16:pos + 16 + incl]
        cap.records.append(Record(0, sec * 1_000_000_000 + frac * int(unit), payload, orig, pos + 16))
        cap.structure_octets += 16
        pos += 16 + incl
    cap.unread_octets = len(data) - pos
    del major
    return cap


def _options(body: memoryview, order: str) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == OPT_END:
            break
        if pos + 4 + length > len(body):
            raise _Damaged(f"option {code} runs past its block")
        out.setdefault(code, []).append(bytes(body[pos + 4:pos + 4 + length]))
        pos += 4 + (length + 3) // 4 * 4
    return out


def _tsresol(raw: bytes | None) -> float:
    """Nanoseconds per timestamp unit from if_tsresol (default 10^-6 s)."""
    if not raw:
        return 1000.0
    v = raw[0]
    seconds = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
    return seconds * 1e9


def _read_pcapng(data: bytes) -> Capture:
    cap = Capture("pcapng", [], [], len(data))
    view = memoryview(data)
    pos = 0
    order = "<"
    first_iface = 0          # interfaces of the current section start here in cap.interfaces
    try:
        while pos < len(data):
            if pos + 12 > len(data):
                raise _Damaged(f"block header at offset {pos} cut short")
            btype = struct.unpack_from(order + "I", data, pos)[0]
            if btype == SHB:
                if pos + 16 > len(data):
                    raise _Damaged(f"section header at offset {pos} cut short")
                bom = struct.unpack_from("<I", data, pos + 8)[0]
                if bom == BYTE_ORDER_MAGIC:
                    order = "<"
                elif bom == 0x4D3C2B1A:
                    order = ">"
                else:
                    raise _Damaged(f"section header at offset {pos} has no byte-order magic")
                first_iface = len(cap.interfaces)
            length = struct.unpack_from(order + "I", data, pos + 4)[0]
            if length < 12 or length % 4 or length > MAX_BLOCK or pos + length > len(data):
                raise _Damaged(f"block of type {btype:#x} at offset {pos} announces {length} octets"
                               f" ({len(data) - pos} remain)")
            if struct.unpack_from(order + "I", data, pos + length - 4)[0] != length:
                raise _Damaged(f"block at offset {pos}: its two length fields differ")
            body = view[pos + 8:pos + length - 4]
            captured = 0
            if btype == SHB:
                if len(body) < 16:
                    raise _Damaged(f"section header at offset {pos} is too short")
            elif btype == IDB:
                if len(body) < 8:
                    raise _Damaged(f"interface description at offset {pos} is too short")
                linktype, _, snaplen = struct.unpack_from(order + "HHI", body)
                opts = _options(body[8:], order)
                name = opts.get(IF_NAME, [b""])[0].decode(errors="replace")
                desc = opts.get(IF_DESCRIPTION, [b""])[0].decode(errors="replace")
                raw = opts.get(IF_TSRESOL, [b""])[0]
                cap.interfaces.append(Interface(linktype, name, desc, _tsresol(raw), snaplen,
                                                raw[0] if raw else 6))
            elif btype in (EPB, PB_OBSOLETE):
                if len(body) < 20:
                    raise _Damaged(f"packet block at offset {pos} is too short")
                if btype == EPB:
                    iface, hi, lo, incl, orig = struct.unpack_from(order + "IIIII", body)
                else:
                    iface, _drops, hi, lo, incl, orig = struct.unpack_from(order + "HHIIII", body)
                if incl > len(body) - 20:
                    raise _Damaged(f"packet block at offset {pos} announces {incl} captured octets")
                index = first_iface + iface
                if index >= len(cap.interfaces):
                    raise _Damaged(f"packet block at offset {pos} names interface {iface}, not described")
                ts = cap.interfaces[index].to_ns((hi << 32) | lo)
                cap.records.append(Record(index, ts, body[20:20 + incl], orig, pos + 28))
                captured = incl
            elif btype == SPB:
                if len(body) < 4:
                    raise _Damaged(f"simple packet block at offset {pos} is too short")
                orig = struct.unpack_from(order + "I", body)[0]
                index = first_iface
                if index >= len(cap.interfaces):
                    raise _Damaged(f"simple packet block at offset {pos} comes before any interface")
                snap = cap.interfaces[index].snaplen or orig
                incl = min(orig, snap, len(body) - 4)
                cap.records.append(Record(index, 0, body[4:4 + incl], orig, pos + 12))
                captured = incl
            else:
                cap.skipped_blocks += 1
            cap.structure_octets += length - captured
            pos += length
    except _Damaged as exc:
        cap.problem = str(exc)
    cap.unread_octets = len(data) - pos
    return cap


# --- UDP payloads and TCP segments ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Datagram:
    src: str
    dst: str
    src_port: int
    dst_port: int
    payload_offset: int      # of the payload within the record's data
    payload_length: int


@dataclasses.dataclass(frozen=True)
class Segment:
    """A TCP segment (RFC 9293 §3.1): its ports, sequence number, SYN/FIN/RST flags and payload."""

    src: str
    dst: str
    src_port: int
    dst_port: int
    seq: int
    syn: bool
    fin: bool
    rst: bool
    payload_offset: int
    payload_length: int


HEADERS_READ = 192        # link, IP (with options) and TCP (with options) headers fit in this


def _ip_payload(linktype: int, b: bytes) -> tuple[int, str, str, int, int] | None:
    """(IP protocol, source, destination, offset of the transport header, end of the IP packet) of
    a captured frame's IPv4 or IPv6 packet (not a fragment, no IPv6 extension header), or None."""
    pos, ethertype = 0, None
    if linktype == LINKTYPE_ETHERNET:
        if len(b) < 14:
            return None
        ethertype, pos = struct.unpack_from(">H", b, 12)[0], 14
        while ethertype in (0x8100, 0x88A8) and len(b) >= pos + 4:   # 802.1Q / QinQ tags
            ethertype, pos = struct.unpack_from(">H", b, pos + 2)[0], pos + 4
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(b) < 16:
            return None
        ethertype, pos = struct.unpack_from(">H", b, 14)[0], 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(b) < 20:
            return None
        ethertype, pos = struct.unpack_from(">H", b, 0)[0], 20
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(b) < 4:
            return None
        family = struct.unpack_from("<I" if linktype == LINKTYPE_NULL else ">I", b)[0]
        if family > 0xFFFF:
            family = struct.unpack_from(">I" if linktype == LINKTYPE_NULL else "<I", b)[0]
        ethertype, pos = (0x0800 if family == 2 else 0x86DD if family in (10, 24, 28, 30) else None), 4
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not b:
            return None
        ethertype = {4: 0x0800, 6: 0x86DD}.get(b[0] >> 4)
    if ethertype == 0x0800:
        if len(b) < pos + 20 or b[pos] >> 4 != 4:
            return None
        ihl = (b[pos] & 0x0F) * 4
        total = struct.unpack_from(">H", b, pos + 2)[0]
        frag = struct.unpack_from(">H", b, pos + 6)[0]
        if frag & 0x3FFF or ihl < 20:                 # a fragment: not reassembled
            return None
        src, dst = ".".join(map(str, b[pos + 12:pos + 16])), ".".join(map(str, b[pos + 16:pos + 20]))
        return b[pos + 9], src, dst, pos + ihl, pos + total
    if ethertype == 0x86DD:
        if len(b) < pos + 40 or b[pos] >> 4 != 6:
            return None
        src, dst = b[pos + 8:pos + 24].hex(), b[pos + 24:pos + 40].hex()
        return b[pos + 6], src, dst, pos + 40, pos + 40 + struct.unpack_from(">H", b, pos + 4)[0]
    return None


def udp_datagram(linktype: int, frame: memoryview | bytes) -> Datagram | None:
    """The UDP datagram a captured frame carries (IPv4 or IPv6, not fragmented), or None."""
    b = bytes(frame[:HEADERS_READ])  # headers only; the payload stays in ``frame``
    ip = _ip_payload(linktype, b)
    if ip is None or ip[0] != 17:
        return None
    _, src, dst, udp, ip_end = ip
    if len(b) < udp + 8:
        return None
    sport, dport, ulen = struct.unpack_from(">HHH", b, udp)
    end = min(len(frame), ip_end, udp + ulen) if ulen >= 8 else min(len(frame), ip_end)
    if end < udp + 8:
        return None
    return Datagram(src, dst, sport, dport, udp + 8, end - udp - 8)


def tcp_segment(linktype: int, frame: memoryview | bytes) -> Segment | None:
    """The TCP segment a captured frame carries (IPv4 or IPv6, not fragmented), or None."""
    b = bytes(frame[:HEADERS_READ])
    ip = _ip_payload(linktype, b)
    if ip is None or ip[0] != 6:
        return None
    _, src, dst, tcp, ip_end = ip
    if len(b) < tcp + 20:
        return None
    sport, dport, seq, _ack, off_flags = struct.unpack_from(">HHIIH", b, tcp)
    start = tcp + (off_flags >> 12) * 4
    end = min(len(frame), ip_end)
    if (off_flags >> 12) < 5 or end < start:
        return None
    return Segment(src, dst, sport, dport, seq, bool(off_flags & 0x02), bool(off_flags & 0x01),
                   bool(off_flags & 0x04), start, end - start)


class TcpStream:
    """One direction of a TCP connection, put back in order: segments in any order, retransmitted
    or overlapping; ``push`` returns the octets that became contiguous.  Sequence numbers count
    from the SYN when it was captured, else from the first segment seen (RFC 9293 §3.4); a hole
    the capture never fills is skipped at ``finish``, and counted."""

    MAX_PENDING = 64 << 20       # out-of-order octets held before a hole is given up

    def __init__(self):
        self.next: int | None = None           # sequence number of the next octet to deliver
        self.pending: dict[int, bytes] = {}    # out of order, by sequence number
        self.pending_octets = 0
        self.delivered = 0
        self.duplicate_octets = 0              # retransmitted or overlapping, already delivered
        self.holes = 0                         # gaps the capture did not fill
        self.hole_octets = 0

    def push(self, seg: Segment, payload: bytes) -> bytes:
        if seg.syn:
            if self.next is None:
                self.next = (seg.seq + 1) & 0xFFFFFFFF
            payload_seq = (seg.seq + 1) & 0xFFFFFFFF
        else:
            payload_seq = seg.seq
        if not payload:
            return b""
        if self.next is None:
            self.next = payload_seq
        ahead = (payload_seq - self.next) & 0xFFFFFFFF
        if ahead >= 1 << 31:                   # starts before what was delivered: trim the copy
            behind = (1 << 32) - ahead
            self.duplicate_octets += min(behind, len(payload))
            payload = payload[behind:]
            payload_seq = self.next
            if not payload:
                return b""
        if payload_seq != self.next:
            old = self.pending.get(payload_seq)
            if old is not None:
                self.duplicate_octets += min(len(old), len(payload))
                if len(old) >= len(payload):
                    return b""
                self.pending_octets -= len(old)
            self.pending[payload_seq] = payload
            self.pending_octets += len(payload)
            if self.pending_octets > self.MAX_PENDING:
                return self._skip_hole()
            return b""
        return self._drain(payload)

    def _drain(self, first: bytes) -> bytes:
        out = [first]
        self.next = (self.next + len(first)) & 0xFFFFFFFF
        while self.pending:
            ready = [q for q in self.pending if (q - self.next) & 0xFFFFFFFF >= 1 << 31 or q == self.next]
            if not ready:
                break
            for q in sorted(ready, key=lambda q: (q - self.next) & 0xFFFFFFFF):
                data = self.pending.pop(q)
                self.pending_octets -= len(data)
                behind = (self.next - q) & 0xFFFFFFFF
                if behind >= len(data) and q != self.next:
                    self.duplicate_octets += len(data)
                    continue
                skip = 0 if q == self.next else behind
                self.duplicate_octets += skip
                out.append(data[skip:])
                self.next = (self.next + len(data) - skip) & 0xFFFFFFFF
        got = b"".join(out)
        self.delivered += len(got)
        return got

    def _skip_hole(self) -> bytes:
        """Give up the hole before the earliest pending segment and go on from it."""
        q = min(self.pending, key=lambda q: (q - self.next) & 0xFFFFFFFF)
        self.holes += 1
        self.hole_octets += (q - self.next) & 0xFFFFFFFF
        self.next = q
        data = self.pending.pop(q)
        self.pending_octets -= len(data)
        return self._drain(data)

    def finish(self) -> bytes:
        """What is still held after the capture's last segment, holes skipped."""
        out = []
        while self.pending:
            out.append(self._skip_hole())
        return b"".join(out)


# --- writing -----------------------------------------------------------------------------------
def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * _pad4(len(value))


def _block(btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


class PcapngWriter:
    """Writes one pcapng section: interfaces added as needed, one record per ``write``.

        with PcapngWriter(open("link.pcapng", "wb")) as w:
            tm = w.add_interface(LINKTYPE_TM, "downlink", format_description("tm", frame_length=1115))
            w.write(tm, timestamp_ns, frame)
    """

    def __init__(self, f: BinaryIO, application: str = "lunarelay"):
        self.f = f
        self.interfaces: list[Interface] = []
        opts = _option(SHB_USERAPPL, application.encode()) + _option(OPT_END, b"")
        f.write(_block(SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts))
        self.records = 0

    def add_interface(self, linktype: int, name: str = "", description: str = "", snaplen: int = 0) -> int:
        opts = b""
        if name:
            opts += _option(IF_NAME, name.encode())
        if description:
            opts += _option(IF_DESCRIPTION, description.encode())
        opts += _option(IF_TSRESOL, bytes([9])) + _option(OPT_END, b"")
        self.f.write(_block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + opts))
        self.interfaces.append(Interface(linktype, name, description, 1.0, snaplen, 9))
        return len(self.interfaces) - 1

    def write(self, interface: int, timestamp_ns: int, data: bytes | memoryview) -> None:
        if not 0 <= interface < len(self.interfaces):
            raise ValueError(f"interface {interface} has not been added")
        n = len(data)
        ts = max(0, int(timestamp_ns))
        head = struct.pack("<IIIII", interface, ts >> 32, ts & 0xFFFFFFFF, n, n)
        length = 12 + 20 + n + _pad4(n)
        self.f.write(struct.pack("<II", EPB, length) + head)
        self.f.write(data)
        self.f.write(b"\0" * _pad4(n) + struct.pack("<I", length))
        self.records += 1

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_link_records(cap: Capture, linktype: int) -> Iterator[Record]:
    """Records of every interface of ``linktype``."""
    wanted = {i for i, itf in enumerate(cap.interfaces) if itf.linktype == linktype}
    return (r for r in cap.records if r.interface in wanted)
