"""Per-APID statistics of `lunarelay inspect`: sequence gaps, packets lost, duplicates and packets out
of order (modulo 16384, across batches), and times and rates from CUC or CDS secondary headers."""

from __future__ import annotations

import struct

import numpy as np

from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.packets import PacketStream
from lunarelay_tools.inspect.stats import PacketStats
from lunarelay_tools.inspect.timecode import cds_construct
from onboard.core.spp import build_packet


def feed(stats: PacketStats, packets: list[bytes], pieces: int = 3) -> None:
    stream = PacketStream(Ledger())
    data = b"".join(packets)
    cut = np.linspace(0, len(data), pieces + 1).astype(int)
    for a, b in zip(cut[:-1], cut[1:], strict=True):
        stats.update(stream.push(data[a:b]))
    stats.update(stream.finish())


def test_sequence_gaps_losses_duplicates_and_reordering_are_counted_per_apid_across_batches():
    counts_a = [16380, 16381, 16383, 0, 1, 1, 2, 5]          # wrap, one lost, a duplicate, two lost
    counts_b = [10, 11, 12, 9, 13]                             # one packet back in time
    packets = [build_packet(0x10, b"\x00" * 20, seq_count=c) for c in counts_a]
    packets += [build_packet(0x20, b"\x00" * 20, seq_count=c) for c in counts_b]
    order = np.random.default_rng(1).permutation(len(packets))
    # keep each APID's own order while interleaving the two
    a_idx, b_idx = iter(range(len(counts_a))), iter(range(len(counts_a), len(packets)))
    mixed = [packets[next(a_idx) if k < len(counts_a) else next(b_idx)] for k in sorted(order)]
    stats = PacketStats()
    feed(stats, mixed)
    a, b = stats.apids[0x10], stats.apids[0x20]
    assert (a.packets, a.sequence_gaps, a.packets_lost, a.duplicates, a.out_of_order) == (8, 3, 3, 1, 0)
    assert (b.packets, b.sequence_gaps, b.out_of_order) == (5, 2, 1)


def test_times_and_rates_come_from_cuc_or_cds_secondary_headers():
    tai0 = 2_100_000_000
    cuc = [build_packet(0x30, struct.pack(">IH", tai0 + i, 0x8000) + b"\x01", seq_count=i, sec_hdr_flag=True)
           for i in range(50)]
    stats = PacketStats("cuc")
    feed(stats, cuc)
    st = stats.apids[0x30]
    assert st.first_time == tai0 + 0.5 and st.last_time == tai0 + 49.5 and st.rate_hz == 1.0
    days, ms = divmod(tai0, 86400)
    code = cds_construct(sub_ms_octets=2)             # days 2, ms of day 4, microseconds of ms 2
    cds = [build_packet(0x31, code.build({"day": days, "ms_of_day": ms * 1000 + 250 * i, "sub_ms": 0})
                        + b"\x02", seq_count=i, sec_hdr_flag=True) for i in range(9)]
    stats = PacketStats("cds")
    feed(stats, cds)
    st = stats.apids[0x31]
    assert st.first_time == tai0 and st.last_time == tai0 + 2.0 and st.rate_hz == 4.0
    untimed = PacketStats("none")
    feed(untimed, cuc)
    assert untimed.apids[0x30].timed == 0 and untimed.apids[0x30].rate_hz != untimed.apids[0x30].rate_hz


def test_the_per_packet_series_is_kept_in_stream_order_only_when_asked_for():
    counts = [0, 1, 2, 5, 6, 6]                                # a gap of two lost, then a duplicate
    packets = [build_packet(0x40, b"\x00" * 8, seq_count=c) for c in counts] + \
              [build_packet(0x41, b"\x00" * 8, seq_count=c) for c in (7, 8)]
    mixed = [packets[i] for i in (0, 6, 1, 2, 7, 3, 4, 5)]
    plain = PacketStats()
    feed(plain, mixed)
    assert plain.series_array() is None and plain.apids[0x40].sequence_gaps == 2
    kept = PacketStats(keep_series=True)
    feed(kept, mixed)
    series = kept.series_array()
    assert series["apid"].tolist() == [0x40, 0x41, 0x40, 0x40, 0x41, 0x40, 0x40, 0x40]
    assert series["seq_count"].tolist() == [0, 7, 1, 2, 8, 5, 6, 6]
    assert series["gap"].tolist() == [False, False, False, False, False, True, False, True]
