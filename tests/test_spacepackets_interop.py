"""Interop with the spacepackets library (PyPI): packets, TM frames and CDS time codes built by
either side parse on the other."""

import numpy as np
import pytest
from conftest import require_module

from onboard.ccsds import timecode as tc
from onboard.core.spp import PacketType, PrimaryHeader, SeqFlags, build_packet, index_packets

sp = require_module("spacepackets.ccsds", "spacepackets", "pip install -e '.[test]'")

pytestmark = pytest.mark.interop


def _random_fields(rng):
    return dict(apid=int(rng.integers(0, 2048)), seq_count=int(rng.integers(0, 16384)),
                seq_flags=int(rng.integers(0, 4)), ptype=int(rng.integers(0, 2)),
                sec=bool(rng.integers(0, 2)),
                data=rng.integers(0, 256, int(rng.integers(2, 200)), dtype=np.uint8).tobytes())


def test_our_packets_parse_in_spacepackets(rng):
    for _ in range(200):
        f = _random_fields(rng)
        ours = build_packet(f["apid"], f["data"], seq_count=f["seq_count"],
                            seq_flags=SeqFlags(f["seq_flags"]), type=PacketType(f["ptype"]),
                            sec_hdr_flag=f["sec"])
        theirs = sp.SpacePacketHeader.unpack(ours[:6])
        assert (theirs.apid, theirs.seq_count, int(theirs.seq_flags), int(theirs.packet_type),
                theirs.sec_header_flag) == (f["apid"], f["seq_count"], f["seq_flags"], f["ptype"], f["sec"])
        assert theirs.packet_len == len(ours)


def test_spacepackets_packets_parse_in_ours(rng):
    stream = []
    for _ in range(200):
        f = _random_fields(rng)
        header = sp.SpacePacketHeader(packet_type=sp.PacketType(f["ptype"]), apid=f["apid"],
                                      seq_count=f["seq_count"], data_len=len(f["data"]) - 1,
                                      sec_header_flag=f["sec"], seq_flags=sp.SequenceFlags(f["seq_flags"]))
        sec_header = f["data"][:1] if f["sec"] else None
        packet = sp.SpacePacket(header, sec_header, f["data"][1:] if f["sec"] else f["data"]).pack()
        assert bytes(packet[6:]) == f["data"]
        h = PrimaryHeader.unpack(packet)
        assert (h.apid, h.seq_count, int(h.seq_flags), int(h.type), h.sec_hdr_flag) == (
            f["apid"], f["seq_count"], f["seq_flags"], f["ptype"], f["sec"])
        stream.append(bytes(packet))
    idx = index_packets(b"".join(stream))
    assert len(idx) == 200 and idx.entries["length"].tolist() == [len(p) for p in stream]


def test_spacepackets_stream_parser_finds_our_packets():
    packets = [build_packet(0x55, bytes([i]) * (i + 1), seq_count=i) for i in range(30)]
    pid = sp.PacketId(sp.PacketType.TM, False, 0x55)
    result = sp.parse_space_packets(b"".join(packets), [pid])
    assert [bytes(p) for p in result.tm_list] == packets


def test_cds_short_time_codes_agree_both_ways(rng):
    from spacepackets.ccsds.time import CdsShortTimestamp

    cds = tc.Cds(2, 0)
    for _ in range(50):
        days, ms = int(rng.integers(0, 65536)), int(rng.integers(0, 86_400_000))
        theirs = CdsShortTimestamp(days, ms, init_dt_unix_stamp=False).pack()
        t, layout = tc.decode(theirs)
        assert layout == cds and t * 1000 == days * 86_400_000 + ms
        back = CdsShortTimestamp.unpack(cds.encode(t, with_pfield=True))
        assert (back.ccsds_days, back.ms_of_day) == (days, ms)


def test_our_tm_frames_unpack_in_spacepackets(rng):
    from spacepackets.ccsds.tm_frame import TmTransferFrame

    from onboard.core import tm

    cfg = tm.TmConfig(scid=0x3A1, frame_len=512, ocf=True, fecf=True, sec_hdr_len=5)
    mux = tm.TmMux(cfg, ocf=0x01020304, secondary_header=b"SHDR")
    packets = b"".join(build_packet(i, bytes([i]) * int(rng.integers(1, 300)), seq_count=i)
                       for i in range(60))
    frames = tm.frames_array(mux.pack(4, packets) + mux.flush(4), cfg)
    data = b""
    for i, f in enumerate(frames):
        theirs = TmTransferFrame.unpack(f.tobytes(), cfg.frame_len, has_error_control_field=True)
        h = theirs.primary_header
        assert (h.master_channel_id.spacecraft_id, h.vc_id, h.ocf_flag, h.master_ch_frame_count) == (
            0x3A1, 4, True, i)
        assert theirs.secondary_header.data_field == b"SHDR"
        assert theirs.op_ctrl_field == bytes([1, 2, 3, 4])
        ours = tm.parse_frame(f.tobytes(), cfg)
        assert h.frame_datafield_status.first_header_pointer == ours.header.first_header_pointer
        assert theirs.data_field == ours.data
        data += theirs.data_field
    assert data.startswith(packets)


def test_spacepackets_tm_frames_demultiplex_in_ours():
    from spacepackets.ccsds.tm_frame import (
        MasterChannelId,
        TmFramePrimaryHeader,
        TmTransferFrame,
        TransferFrameDataFieldStatus,
    )

    from onboard.core import tm
    from onboard.core.crc import crc16_ccitt

    cfg = tm.TmConfig(scid=0x155, frame_len=128, ocf=False, fecf=True)
    packets = [build_packet(7, bytes([i]) * 50, seq_count=i) for i in range(8)]
    stream = b"".join(packets)
    plen = len(packets[0])
    dlen = cfg.data_len
    frames = b""
    for k in range(len(stream) // dlen):
        starts = [o - k * dlen for o in range(0, len(stream), plen) if k * dlen <= o < (k + 1) * dlen]
        status = TransferFrameDataFieldStatus(False, False, False, 3, starts[0] if starts else 0x7FF)
        header = TmFramePrimaryHeader(MasterChannelId(0, 0x155), 2, False, k, k, status)
        body = header.pack() + stream[k * dlen:(k + 1) * dlen]
        frame = TmTransferFrame(128, header, None, stream[k * dlen:(k + 1) * dlen], None,
                                crc16_ccitt(body).to_bytes(2, "big")).pack()
        frames += frame
    demux = tm.TmDemux(cfg, vcids=[2])
    out = demux.feed(frames)
    n_whole = (len(stream) // dlen) * dlen // plen
    assert out == b"".join(packets[:n_whole]) and demux.stats()["crc_errors"] == 0
