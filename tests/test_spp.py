"""Space Packet Protocol (CCSDS 133.0-B-2): headers, idle packets, segmentation and the batch indexer."""

import numpy as np
import pytest

from lunarelay_tools.inspect.headers import SpacePacket, SpacePacketPrimaryHeader
from onboard.ccsds.timecode import cuc_construct
from onboard.core.spp import (
    APID_IDLE,
    IndexStop,
    PacketError,
    PacketIndexer,
    PacketType,
    PrimaryHeader,
    Reassembler,
    SeqFlags,
    build_packet,
    idle_packet,
    index_packets,
    iter_packets,
    segment,
)


def reference_header(version, ptype, sec, apid, flags, count, length) -> bytes:
    """§4.1.3 bit layout, written out with integer arithmetic."""
    word = ((version << 45) | (ptype << 44) | (sec << 43) | (apid << 32) | (flags << 30) | (count << 16)
            | length)
    return word.to_bytes(6, "big")


def test_primary_header_bits_match_the_blue_book_layout(rng):
    for _ in range(200):
        ptype, sec, apid, flags, count, length = (int(rng.integers(0, m)) for m in
                                                   (2, 2, 2048, 4, 16384, 65536))
        h = PrimaryHeader(apid, count, SeqFlags(flags), PacketType(ptype), bool(sec), length)
        assert h.pack() == reference_header(0, ptype, sec, apid, flags, count, length)
        assert PrimaryHeader.unpack(h.pack()) == h


def test_construct_and_c_agree_on_random_headers(rng):
    for _ in range(300):
        raw = rng.integers(0, 256, 6, dtype=np.uint8).tobytes()
        raw = bytes([raw[0] & 0x1F]) + raw[1:]
        c_view = PrimaryHeader.unpack(raw)
        k_view = SpacePacketPrimaryHeader.parse(raw)
        assert (c_view.apid, c_view.seq_count, int(c_view.seq_flags), int(c_view.type), c_view.sec_hdr_flag,
                c_view.data_length) == (k_view.apid, k_view.seq_count, k_view.seq_flags, k_view.type,
                                        k_view.sec_hdr_flag, k_view.data_length)
        assert SpacePacketPrimaryHeader.build(k_view) == c_view.pack() == raw


def test_packet_with_cuc_secondary_header_parses_with_construct():
    sec = cuc_construct(4, 2).build({"coarse": 0x01020304, "fine": 0x8000})
    pkt = build_packet(100, sec + b"payload", sec_hdr_flag=True, seq_count=9)
    parsed = SpacePacket(cuc_construct(4, 2)).parse(pkt)
    assert parsed.secondary_header.coarse == 0x01020304
    assert parsed.secondary_header.fine == 0x8000
    assert parsed.data == b"payload"
    assert parsed.primary_header.data_length == len(sec) + 7 - 1


def test_header_fields_out_of_range_are_rejected():
    with pytest.raises(ValueError, match="apid 2048 is outside"):
        PrimaryHeader(2048).pack()
    with pytest.raises(ValueError, match="seq_count 16384"):
        build_packet(1, b"x", seq_count=16384)
    with pytest.raises(ValueError, match="1..65536 octets, not 0"):
        build_packet(1, b"")
    with pytest.raises(PacketError, match="5 octets cannot hold"):
        PrimaryHeader.unpack(b"12345")


def test_idle_packet_is_apid_2047_with_fill():
    pkt = idle_packet(12, seq_count=3, fill=0xAA)
    h = PrimaryHeader.unpack(pkt)
    assert h.apid == APID_IDLE and h.is_idle and h.packet_length == 12 and h.seq_count == 3
    assert pkt[6:] == b"\xaa" * 6
    with pytest.raises(ValueError, match="7..65542"):
        idle_packet(6)


def test_segmentation_flags_and_reassembly():
    data = bytes(range(256)) * 3
    packets = segment(42, data, 100, first_seq_count=16383)
    flags = [PrimaryHeader.unpack(p).seq_flags for p in packets]
    assert flags == [SeqFlags.FIRST] + [SeqFlags.CONTINUATION] * 6 + [SeqFlags.LAST]
    assert [PrimaryHeader.unpack(p).seq_count for p in packets][:2] == [16383, 0]
    r = Reassembler()
    out = [r.feed(p) for p in packets]
    assert out[:-1] == [None] * 7 and out[-1] == data
    assert PrimaryHeader.unpack(segment(1, b"abc", 10)[0]).seq_flags == SeqFlags.UNSEGMENTED


def test_reassembly_drops_a_sequence_with_a_missing_segment():
    packets = segment(7, bytes(500), 100)
    r = Reassembler()
    got = [r.feed(p) for i, p in enumerate(packets) if i != 2]
    assert all(g is None for g in got)
    assert r.broken == 1


def test_indexer_matches_python_walk(rng):
    packets = [build_packet(int(rng.integers(0, 2047)), rng.integers(0, 256, int(rng.integers(1, 300)),
                                                                       dtype=np.uint8).tobytes(),
                            seq_count=i, seq_flags=SeqFlags(int(rng.integers(0, 4))))
               for i in range(500)]
    packets.insert(17, idle_packet(40))
    stream = b"".join(packets)
    idx = index_packets(stream)
    assert idx.stop == IndexStop.END and idx.consumed == len(stream) and len(idx) == 501
    offsets = np.cumsum([0] + [len(p) for p in packets[:-1]])
    assert idx.entries["offset"].tolist() == offsets.tolist()
    for e, p in zip(idx.entries, packets, strict=True):
        h = PrimaryHeader.unpack(p)
        assert (e["apid"], e["length"], e["seq_count"], e["seq_flags"]) == (h.apid, len(p), h.seq_count,
                                                                             h.seq_flags)


def test_indexer_stops_cleanly_at_truncation_and_resumes():
    packets = [build_packet(5, bytes(50), seq_count=i) for i in range(10)]
    stream = b"".join(packets)
    ix = PacketIndexer()
    first = ix.index(stream[:300])
    assert first.truncated and len(first) == 5 and first.consumed == 280 and first.missing == 36
    rest = ix.index(stream[first.consumed:])
    assert rest.stop == IndexStop.END and len(rest) == 5
    assert ix.packets == 10 and ix.truncated == 1
    header_cut = index_packets(stream[:57 + 3])
    assert header_cut.truncated and len(header_cut) == 1


def test_indexer_counts_idle_and_rejects_bad_version():
    stream = build_packet(1, b"a") + idle_packet(9) + bytes([0x20]) + bytes(7)
    ix = PacketIndexer()
    got = ix.index(stream)
    assert len(got) == 2 and got.stop == IndexStop.VERSION and got.consumed == 16
    assert ix.idle == 1 and ix.rejected == 1
    with pytest.raises(PacketError, match="offset 16 has version number 1"):
        list(iter_packets(stream))


@pytest.mark.sanitize
def test_indexer_never_overruns_on_random_streams(rng):
    ix = PacketIndexer()
    for n in list(range(0, 40)) + [1000, 4096, 70000]:
        data = rng.integers(0, 256, n, dtype=np.uint8)
        data[::5] &= 0x1F
        got = ix.index(data)
        assert got.consumed <= n
        if len(got):
            ends = got.entries["offset"] + got.entries["length"]
            assert int(ends.max()) <= n and int(ends[-1]) == got.consumed
