"""Link captures (hil/capture.py): pcapng written and read back, read by tshark, pcap and pcapng from
Wireshark's own writer read here, UDP payloads found under every link layer, damage reported without
an exception, and `lunarelay inspect` decoding a capture's flows."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from hil import capture as cap
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.core.spp import build_packet
from tests.conftest import require_command


def udp_ipv4(payload: bytes, sport: int, dport: int, src=(10, 0, 0, 1), dst=(10, 0, 0, 2)) -> bytes:
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4B4B", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0, *src, *dst)
    return ip + udp


def ethernet(ip: bytes, vlan: bool = False) -> bytes:
    head = b"\x02" * 6 + b"\x04" * 6
    if vlan:
        head += struct.pack(">HH", 0x8100, 7)
    return head + struct.pack(">H", 0x0800) + ip


def classic_pcap(linktype: int, frames: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + i, 250_000, len(f), len(f)) + f
    return out


def test_pcapng_written_reads_back_with_its_interfaces_descriptions_and_times(tmp_path):
    path = tmp_path / "link.pcapng"
    with cap.PcapngWriter(open(path, "wb")) as w:
        desc = cap.format_description("tm", frame_length=1115, scid=673, ocf=True, vcids=(0, 1))
        tm = w.add_interface(cap.LINKTYPE_TM, "downlink", desc)
        pk = w.add_interface(cap.LINKTYPE_SPACE_PACKET, "bus")
        w.write(tm, 1_700_000_000_123_456_789, b"\x0a" * 1115)
        w.write(pk, 5, b"\x08\x01\xc0\x00\x00\x00\x99")
        w.write(tm, 7, b"\x0b" * 3)
    c = cap.read_capture(path)
    assert c.format == "pcapng" and c.problem is None and c.unread_octets == 0
    assert [i.linktype for i in c.interfaces] == [cap.LINKTYPE_TM, cap.LINKTYPE_SPACE_PACKET]
    assert c.interfaces[0].params == {"link": "tm", "frame_length": "1115", "scid": "673", "ocf": "1",
                                      "vcids": "0,1"}
    assert c.interfaces[0].link == "tm" and c.interfaces[1].link == "packet"
    assert [(r.interface, r.timestamp_ns, bytes(r.data)) for r in c.records] == [
        (0, 1_700_000_000_123_456_789, b"\x0a" * 1115), (1, 5, b"\x08\x01\xc0\x00\x00\x00\x99"),
        (0, 7, b"\x0b" * 3)]
    assert c.structure_octets + sum(len(r.data) for r in c.records) == path.stat().st_size


@pytest.mark.interop
def test_tshark_reads_our_pcapng_and_we_read_pcapng_written_by_wireshark(tmp_path):
    tshark = require_command("tshark", "tshark")
    ours = tmp_path / "ours.pcapng"
    payloads = [bytes([k]) * (10 + k) for k in range(20)]
    with cap.PcapngWriter(open(ours, "wb")) as w:
        i = w.add_interface(cap.LINKTYPE_CADU, "downlink", cap.format_description("cadu", rs_e=16))
        for k, p in enumerate(payloads):
            w.write(i, 1_700_000_000_000_000_000 + k * 1_000_000, p)
    r = subprocess.run([tshark, "-r", str(ours), "-T", "fields", "-e", "frame.len", "-e",
                        "frame.interface_description", "-e", "frame.time_epoch"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [int(x[0]) for x in rows] == [len(p) for p in payloads]
    assert {x[1] for x in rows} == {"lunarelay/1 link=cadu rs_e=16"}
    assert float(rows[3][2]) == pytest.approx(1_700_000_000.003, abs=1e-6)
    # Wireshark's own pcapng writer, from a classic pcap of UDP datagrams
    classic = tmp_path / "udp.pcap"
    frames = [ethernet(udp_ipv4(p, 4000, 5000)) for p in payloads]
    classic.write_bytes(classic_pcap(cap.LINKTYPE_ETHERNET, frames))
    theirs = tmp_path / "theirs.pcapng"
    r = subprocess.run([tshark, "-r", str(classic), "-F", "pcapng", "-w", str(theirs)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    c = cap.read_capture(theirs)
    assert c.problem is None and c.unread_octets == 0
    got = []
    for rec in c.records:
        dg = cap.udp_datagram(c.interfaces[rec.interface].linktype, rec.data)
        got.append(bytes(rec.data[dg.payload_offset:dg.payload_offset + dg.payload_length]))
    assert got == payloads
    assert c.records[1].timestamp_ns == 1_700_000_001_250_000_000


def test_udp_payloads_are_found_under_every_link_layer():
    payload = b"CCSDS" * 7
    ip4 = udp_ipv4(payload, 1, 2)
    ip6 = (struct.pack(">IHBB", 6 << 28, 8 + len(payload), 17, 64) + bytes(16) + bytes(15) + b"\x01"
           + struct.pack(">HHHH", 1, 2, 8 + len(payload), 0) + payload)
    cases = {
        cap.LINKTYPE_ETHERNET: ethernet(ip4),
        cap.LINKTYPE_LINUX_SLL: b"\x00\x00\x00\x01\x00\x06" + b"\x01" * 8 + b"\x08\x00" + ip4,
        cap.LINKTYPE_LINUX_SLL2: b"\x08\x00\x00\x00" + b"\x00" * 16 + ip4,
        cap.LINKTYPE_RAW: ip4,
        cap.LINKTYPE_IPV6: ip6,
        cap.LINKTYPE_NULL: struct.pack("<I", 2) + ip4,
    }
    for link, frame in cases.items():
        dg = cap.udp_datagram(link, frame)
        assert dg is not None, link
        assert frame[dg.payload_offset:dg.payload_offset + dg.payload_length] == payload, link
    assert cap.udp_datagram(cap.LINKTYPE_ETHERNET, ethernet(ip4, vlan=True)).dst_port == 2
    fragment = bytearray(ip4)
    fragment[6:8] = b"\x20\x00"                     # more fragments follow: not a whole datagram
    assert cap.udp_datagram(cap.LINKTYPE_RAW, bytes(fragment)) is None
    assert cap.udp_datagram(cap.LINKTYPE_ETHERNET, b"\x00" * 10) is None


def test_a_damaged_capture_is_read_up_to_the_damage_and_says_why(tmp_path):
    path = tmp_path / "d.pcapng"
    with cap.PcapngWriter(open(path, "wb")) as w:
        i = w.add_interface(cap.LINKTYPE_TM)
        for k in range(10):
            w.write(i, k, bytes(100))
    data = path.read_bytes()
    for cut in (len(data) - 5, len(data) // 2 + 1, 13, 3):
        c = cap.read_capture(data[:cut])
        assert c.problem is not None or cut < 12
        assert c.structure_octets + sum(len(r.data) for r in c.records) + c.unread_octets == cut
    lying = bytearray(data)
    first_epb = data.index(struct.pack("<I", cap.EPB))
    lying[first_epb + 4:first_epb + 8] = struct.pack("<I", 1 << 30)
    c = cap.read_capture(bytes(lying))
    assert not c.records and "announces" in c.problem
    c = cap.read_capture(classic_pcap(1, [b"abc"])[:-1])
    assert c.format == "pcap" and not c.records and c.unread_octets == 16 + 2


def test_inspect_decodes_every_udp_flow_of_a_capture(tmp_path):
    rng = np.random.default_rng(4)
    tx = TmSendChain(TmLinkConfig(scid=0x2A1, ocf=True))
    packets = [build_packet(0x101 + i % 2, rng.integers(0, 256, 150, dtype=np.uint8).tobytes(),
                            seq_count=i // 2) for i in range(120)]
    cadus = np.concatenate([tx.packets_to_cadus(b"".join(packets)), tx.flush()]).tobytes()
    n = len(cadus) // 1279
    frames = [ethernet(udp_ipv4(cadus[k * 1279:(k + 1) * 1279], 40000, 5000)) for k in range(n)]
    frames += [ethernet(udp_ipv4(p, 40001, 6000)) for p in packets[:30]]     # a second flow: bare packets
    frames.append(b"\x02" * 12 + b"\x08\x06" + bytes(28))                    # ARP: not UDP
    path, summary = tmp_path / "downlink.pcap", tmp_path / "s.json"
    path.write_bytes(classic_pcap(cap.LINKTYPE_ETHERNET, frames))
    r = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "inspect", str(path), "--summary",
                        str(summary)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads(summary.read_text())
    assert s["capture"]["records"] == len(frames) and s["capture"]["unsupported_records"] == 1
    flows = {x["stream"].rsplit(":", 1)[1]: x for x in s["streams"]}
    assert flows["5000"]["link"]["format"] == "cadu" and flows["5000"]["packets"]["packets"] == 120
    assert flows["6000"]["link"]["format"] == "packets" and flows["6000"]["packets"]["packets"] == 30
    assert s["accounting"]["unaccounted"] == 0 and s["accounting"]["octets"]["unsupported_link"] == 42


def tcp_ipv4(payload: bytes, sport: int, dport: int, seq: int, flags: int = 0x18, src=(10, 0, 0, 1),
             dst=(10, 0, 0, 2), options: bytes = b"") -> bytes:
    """An IPv4 packet holding one TCP segment (RFC 9293 §3.1; checksums are not read)."""
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 1, (5 + len(options) // 4) << 4, flags,
                      65535, 0, 0) + options + payload
    ip = struct.pack(">BBHHHBBH4B4B", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, *src, *dst)
    return ip + tcp


def tcp_capture(stream: bytes, isn: int, rng, drop: int | None = None) -> tuple[list[bytes], int]:
    """A capture of ``stream`` sent over TCP from sequence number ``isn`` (its SYN included): segments
    of random sizes, some retransmitted or overlapping, sent out of order; (frames, copies' octets)."""
    cuts = np.unique(np.concatenate([[0, len(stream)], rng.integers(1, len(stream), len(stream) // 700)]))
    segs = [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    if drop is not None:
        del segs[drop]
    order = list(range(len(segs)))
    for k in range(0, len(order) - 3, 5):                      # every fifth, three segments reversed
        order[k:k + 3] = order[k:k + 3][::-1]
    frames = [ethernet(tcp_ipv4(b"", 40000, 7000, isn, flags=0x02))]
    copies = 0
    for i, k in enumerate(order):
        a, b = segs[k]
        frames.append(ethernet(tcp_ipv4(stream[a:b], 40000, 7000, isn + 1 + a,
                                        options=b"\x01\x01\x08\x0a" + bytes(8))))
        if i % 7 == 3:                                          # a retransmission, whole
            frames.append(ethernet(tcp_ipv4(stream[a:b], 40000, 7000, isn + 1 + a)))
            copies += b - a
        if i % 11 == 5 and a >= 10:                             # the segment again, 10 octets earlier
            frames.append(ethernet(tcp_ipv4(stream[a - 10:b], 40000, 7000, isn + 1 + a - 10)))
            copies += b - a + 10
        frames.append(ethernet(tcp_ipv4(b"", 7000, 40000, 1, flags=0x10)))   # the other side's ACK
    return frames, copies


def test_inspect_puts_a_tcp_stream_back_in_order_and_decodes_it(tmp_path):
    rng = np.random.default_rng(9)
    tx = TmSendChain(TmLinkConfig(scid=0x2A1, ocf=True))
    packets = [build_packet(0x101 + i % 2, rng.integers(0, 256, 150, dtype=np.uint8).tobytes(),
                            seq_count=i // 2) for i in range(120)]
    cadus = np.concatenate([tx.packets_to_cadus(b"".join(packets)), tx.flush()]).tobytes()
    # the sequence numbers wrap through 2**32 inside the stream
    frames, copies = tcp_capture(cadus, (1 << 32) - 5000, rng)
    path, summary = tmp_path / "tcp.pcap", tmp_path / "s.json"
    path.write_bytes(classic_pcap(cap.LINKTYPE_ETHERNET, frames))
    r = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "inspect", str(path), "--summary",
                        str(summary)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads(summary.read_text())
    flows = {x["stream"].split(" TCP ")[1]: x for x in s["streams"] if x["input_octets"]}
    down = flows["10.0.0.1:40000 to 10.0.0.2:7000"]
    assert down["input_octets"] == len(cadus) and down["link"]["format"] == "cadu"
    assert down["packets"]["packets"] == 120 and down["layers"]["cadu"]["sync_losses"] == 0
    assert down["layers"]["tcp"] == {"delivered_octets": len(cadus), "retransmitted_octets": copies,
                                     "holes": 0, "hole_octets": 0}
    assert s["accounting"]["unaccounted"] == 0 and s["accounting"]["octets"]["retransmitted"] == copies
    assert s["capture"]["unsupported_records"] == 0


def test_a_segment_the_capture_missed_is_a_hole_the_decoder_resynchronises_after():
    rng = np.random.default_rng(10)
    tx = TmSendChain(TmLinkConfig(scid=0x2A1))
    packets = [build_packet(0x101, rng.integers(0, 256, 300, dtype=np.uint8).tobytes(), seq_count=i)
               for i in range(100)]
    cadus = np.concatenate([tx.packets_to_cadus(b"".join(packets)), tx.flush()]).tobytes()
    frames, _ = tcp_capture(cadus, 1000, rng, drop=35)         # after the CADUs detection looks at
    stream = cap.TcpStream()
    got = b""
    for f in frames:
        seg = cap.tcp_segment(cap.LINKTYPE_ETHERNET, f)
        if seg.dst_port == 7000:
            got += stream.push(seg, f[seg.payload_offset:seg.payload_offset + seg.payload_length])
    got += stream.finish()
    assert stream.holes == 1 and len(got) + stream.hole_octets == len(cadus)
    from lunarelay_tools.inspect.session import Options, StreamInspection

    s = StreamInspection("tcp", Options())
    s.push(got)
    s.finish()
    st = s.layer_stats()
    # the frames around the hole are lost (those it cut, and the ones sync needs to lock again), the
    # packets in them and no others
    lost_frames = st["master_channel"]["mc_frames_lost"]
    assert s.ledger.balance(len(got)) == 0 and st["cadu"]["sync_losses"] == 1
    assert 0 < lost_frames <= stream.hole_octets // 1279 + 5
    assert 0 < 100 - s.stats.packets <= lost_frames * 1115 // 306 + 2


def test_ip_fragments_and_other_protocols_are_not_tcp_segments():
    seg = tcp_ipv4(b"abc", 1, 2, 5)
    assert cap.tcp_segment(cap.LINKTYPE_RAW, seg).payload_length == 3
    fragment = bytearray(seg)
    fragment[6:8] = struct.pack(">H", 0x2000)                   # more fragments follow
    assert cap.tcp_segment(cap.LINKTYPE_RAW, bytes(fragment)) is None
    assert cap.tcp_segment(cap.LINKTYPE_RAW, udp_ipv4(b"abc", 1, 2)) is None
    assert cap.udp_datagram(cap.LINKTYPE_RAW, seg) is None
