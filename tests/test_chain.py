"""The TM/TC coding chain of onboard.ccsds.chain: round trips over the option matrix, errors
corrected and counted, garbage and truncation survived, TC CLTUs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_cpu

from onboard.ccsds.chain import (
    TcReceiveChain,
    TmLinkConfig,
    TmReceiveChain,
    TmSendChain,
    cltus_to_tc_frames,
    tc_frames_to_cltus,
)
from onboard.core import simd, tc
from onboard.core.spp import build_packet
from onboard.errors import UsageError


def make_packets(rng, n=120, apid=100, first_seq=0, max_len=300) -> bytes:
    return b"".join(build_packet(apid, rng.integers(0, 256, int(rng.integers(8, max_len)), dtype=np.uint8)
                                 .tobytes(), seq_count=(first_seq + i) & 0x3FFF) for i in range(n))


def send(cfg: TmLinkConfig, packets: bytes) -> np.ndarray:
    tx = TmSendChain(cfg)
    return np.concatenate([tx.packets_to_cadus(packets), tx.flush()])


def receive(cfg: TmLinkConfig, stream, soft: bool, piece: int = 5003) -> tuple[bytes, dict]:
    rx = TmReceiveChain(cfg)
    out = []
    for i in range(0, len(stream), piece):
        chunk = stream[i:i + piece]
        out.append((rx.push_soft(chunk) if soft else rx.push_bytes(chunk)).packets)
    out.append(rx.flush().packets)
    return b"".join(out), rx.stats()


MATRIX = [
    dict(),
    dict(frame="aos", scid=0x5A),
    dict(rs_e=8, rs_interleave=1, frame_length=239),
    dict(rs_interleave=2, frame_length=446, rs_dual_basis=False),
    dict(rs_interleave=3, frame_length=669),
    dict(rs_interleave=4, frame_length=892, rs_dual_basis=False),
    dict(rs_interleave=8, frame_length=1784),
    dict(rs_interleave=4, virtual_fill=23, frame_length=800),
    dict(frame="aos", scid=3, rs_e=8, rs_interleave=8, virtual_fill=39, frame_length=1600),
    dict(rs_e=0, frame_length=512),
    dict(randomize=False),
    dict(rs_e=0, randomize=False, frame_length=256, fecf=False, ocf=True),
]


@pytest.mark.parametrize("kw", MATRIX, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "dflt")
@pytest.mark.parametrize("soft", [False, True], ids=["bytes", "soft"])
def test_chain_round_trip_returns_every_packet(kw, soft, rng):
    cfg = TmLinkConfig(**kw)
    packets = make_packets(rng)
    cadus = send(cfg, packets)
    assert len(cadus) % cfg.cadu_length == 0
    stream = TmSendChain(cfg).cadus_to_symbols(cadus) if soft else cadus
    got, st = receive(cfg, stream, soft)
    assert got == packets
    assert st["cadus_found"] == len(cadus) // cfg.cadu_length
    assert st["frames"] == st["cadus_found"]
    assert st["packets"] == 120
    for k in ("crc_failures", "rs_uncorrectable_codewords", "packet_sequence_gaps", "sync_losses"):
        assert st[k] == 0, k


@pytest.mark.parametrize("rate", ["1/2", "2/3", "3/4", "5/6", "7/8"])
def test_chain_round_trip_through_every_convolutional_rate(rate, rng):
    cfg = TmLinkConfig(conv=rate, rs_interleave=1, frame_length=223)
    packets = make_packets(rng, n=40)
    tx = TmSendChain(cfg)
    cadus = np.concatenate([tx.packets_to_cadus(packets), tx.flush()])
    symbols = tx.cadus_to_symbols(cadus, final=True)
    got, st = receive(cfg, symbols, soft=True, piece=4001)
    assert got == packets
    assert st["frames"] == len(cadus) // cfg.cadu_length


def test_chain_viterbi_corrects_noisy_soft_symbols(rng):
    cfg = TmLinkConfig(conv="1/2", rs_interleave=1, frame_length=223)
    packets = make_packets(rng, n=40)
    tx = TmSendChain(cfg)
    symbols = tx.cadus_to_symbols(np.concatenate([tx.packets_to_cadus(packets), tx.flush()]), final=True)
    noisy = np.where(symbols > 127, 200, 56).astype(np.int16) + rng.normal(0, 45, symbols.size)
    noisy = noisy.clip(0, 255).astype(np.uint8)
    hard_errors = int(((noisy > 127) != (symbols > 127)).sum())
    assert hard_errors > 100  # the channel really flips symbols
    got, st = receive(cfg, noisy, soft=True)
    assert got == packets


@pytest.mark.parametrize("level", [simd.SimdLevel.PORTABLE, simd.SimdLevel.AVX2], ids=["portable", "avx2"])
def test_chain_rs_corrects_and_counts_injected_symbol_errors(level, rng):
    cfg = TmLinkConfig()
    packets = make_packets(rng, n=200)
    cadus = send(cfg, packets).copy()
    n = len(cadus) // cfg.cadu_length
    rows = cadus.reshape(n, cfg.cadu_length)
    # 10 errors in each of the first 3 CADUs (spread over codewords: at most 16 per codeword)
    for r in range(3):
        pos = rng.choice(np.arange(4, cfg.cadu_length), 10, replace=False)
        rows[r, pos] ^= rng.integers(1, 256, 10, dtype=np.uint8)
    # CADU 5: 40 consecutive corrupted symbols in codeword 0 -> uncorrectable
    rows[5, 4 + 5 * np.arange(40)] ^= 0xA5
    require_cpu(level.name)
    with simd.forced(level):
        got, st = receive(cfg, cadus, soft=False)
    assert st["rs_corrected_symbols"] == 30
    assert st["rs_uncorrectable_codewords"] == 1
    assert st["frames_dropped"] == 1
    assert st["frames"] == n - 1
    assert st["mc_gaps"] == 1 and st["frames_lost"] == 1
    assert st["packet_sequence_gaps"] >= 1
    assert got != packets and len(got) < len(packets)


@pytest.mark.sanitize
@pytest.mark.parametrize("frame", ["tm", "aos"])
def test_chain_survives_garbage_prefix_middle_and_suffix(frame, rng):
    cfg = TmLinkConfig(frame=frame, scid=0x42)
    first, second = make_packets(rng, n=60), make_packets(rng, n=60, first_seq=60)
    tx = TmSendChain(cfg)
    a = np.concatenate([tx.packets_to_cadus(first), tx.flush()])
    b = np.concatenate([tx.packets_to_cadus(second), tx.flush()])
    junk = [rng.integers(0, 256, k, dtype=np.uint8) for k in (777, 3001, 555)]
    stream = np.concatenate([junk[0], a, junk[1], b, junk[2]])
    got, st = receive(cfg, stream, soft=False, piece=997)
    n_a, n_b = len(a) // cfg.cadu_length, len(b) // cfg.cadu_length
    assert st["frames"] == n_a + n_b
    assert st["sync_losses"] >= 1
    assert got == first + second


@pytest.mark.sanitize
def test_chain_counts_a_truncated_stream_and_keeps_the_whole_frames(rng):
    cfg = TmLinkConfig()
    packets = make_packets(rng, n=100)
    cadus = send(cfg, packets)
    n = len(cadus) // cfg.cadu_length
    got, st = receive(cfg, cadus[:-cfg.cadu_length // 2], soft=False)
    assert st["frames"] == n - 1
    assert packets.startswith(got) and len(got) < len(packets)


@pytest.mark.sanitize
def test_chain_random_garbage_gives_no_frames(rng):
    cfg = TmLinkConfig(conv="1/2")
    rx = TmReceiveChain(cfg)
    out = rx.push_soft(rng.integers(0, 256, 200_000, dtype=np.uint8))
    rest = rx.flush()
    assert len(out.frames) + len(rest.frames) == 0
    assert rx.stats()["packets"] == 0


def test_chain_counts_packet_sequence_gaps(rng):
    cfg = TmLinkConfig()
    packets = make_packets(rng, n=10) + make_packets(rng, n=10, first_seq=13)
    got, st = receive(cfg, send(cfg, packets), soft=False)
    assert got == packets
    assert st["packet_sequence_gaps"] == 1 and st["packets_lost"] == 3


@pytest.mark.parametrize("kw, words", [
    (dict(frame_length=1000), "frame must be 1115"),
    (dict(frame="aos", scid=0x1AB), "spacecraft ID"),
    (dict(rs_interleave=6, frame_length=6 * 223), "interleave"),
    (dict(conv="4/5"), "convolutional"),
    (dict(rs_e=0, virtual_fill=3, frame_length=100), "virtual fill"),
    (dict(vcids=(9,)), "virtual channel"),
])
def test_link_config_refuses_impossible_combinations(kw, words):
    with pytest.raises(UsageError, match=words):
        TmLinkConfig(**kw)


@pytest.mark.parametrize("randomize", [True, False])
def test_tc_frames_round_trip_through_cltus_with_a_bit_error_per_codeblock(randomize, rng):
    cfg = tc.TcConfig(scid=0x1AB, vcid=2)
    frames = [tc.build_frame(cfg, rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes(),
                             frame_seq_num=i) for i in range(12)]
    stream = bytearray(tc_frames_to_cltus(frames, randomize=randomize))
    # one bit flipped in the first codeblock of every CLTU (after its 2-octet start sequence)
    pos = 0
    flipped = 0
    while (pos := stream.find(b"\xeb\x90", pos)) >= 0:
        stream[pos + 3] ^= 0x10
        flipped += 1
        pos += 10
    assert flipped >= 12
    got, st = cltus_to_tc_frames(bytes(rng.integers(0, 256, 33, dtype=np.uint8)) + bytes(stream), randomize)
    assert got == frames
    assert st["frames"] == 12 and st["bch_corrected"] == 12


@pytest.mark.sanitize
def test_tc_truncated_cltu_is_counted_not_decoded(rng):
    cfg = tc.TcConfig(scid=7, vcid=0)
    frames = [tc.build_frame(cfg, bytes(range(50)), frame_seq_num=i) for i in range(3)]
    stream = tc_frames_to_cltus(frames)
    got, st = cltus_to_tc_frames(stream[:-20])
    assert got == frames[:2]
    assert st["truncated"] == 1


@pytest.mark.interop
def test_chain_bench_runs_both_chains_and_reports_each_with_its_libfec_baseline():
    from conftest import require_libfec

    from lunarelay_tools.bench import ccsds_chain

    require_libfec(("encode_rs_ccsds", "decode_rs_ccsds"))
    ms = ccsds_chain.run(quick=True)  # raises if the two chains disagree on CADUs or packets
    assert [m.unit for m in ms][:3] == ["Gbit/s", "Mbit/s", "Mbit/s"]
    assert any("(portable)" in m.name for m in ms)
    assert all(m.suite == "ccsds" and m.value > 0 and m.baseline_value > 0 for m in ms)
    assert all("libfec" in m.baseline for m in ms)


@pytest.mark.parametrize("rate", [None, "1/2", "7/8"])
def test_chain_decodes_inverted_soft_symbols_of_a_bpsk_phase_flip(rate, rng):
    # both generators have odd weight, so the code is transparent: inverted symbols decode to
    # inverted bits, and the synchroniser finds the inverted marker
    cfg = TmLinkConfig(conv=rate)
    packets = make_packets(rng, n=80)
    tx = TmSendChain(cfg)
    symbols = tx.cadus_to_symbols(np.concatenate([tx.packets_to_cadus(packets), tx.flush()]), final=True)
    got, st = receive(cfg, 255 - symbols, soft=True)
    assert got == packets
    assert st["inverted_cadus"] == st["cadus_found"] > 0


@pytest.mark.parametrize("frame", ["tm", "aos"])
def test_chain_counts_a_missing_frame_as_a_vc_count_gap(frame, rng):
    cfg = TmLinkConfig(frame=frame, scid=0x42)
    packets = make_packets(rng, n=120)
    cadus = send(cfg, packets).reshape(-1, cfg.cadu_length)
    stream = np.concatenate([cadus[:4], cadus[6:]]).reshape(-1)  # frames 4 and 5 never arrive
    got, st = receive(cfg, stream, soft=False, piece=3 * cfg.cadu_length + 17)
    assert st["vc_gaps"] == 1 and st["frames_lost"] == 2
    assert st["frames"] == len(cadus) - 2
    assert st["packet_sequence_gaps"] == 1 and st["packets_lost"] >= 1
    assert len(got) < len(packets)


@pytest.mark.sanitize
@pytest.mark.parametrize("piece", [1, 2, 9, 64, 1000])
def test_tc_receive_chain_takes_cltus_in_pieces_of_any_size(piece, rng):
    cfg = tc.TcConfig(scid=0x33, vcid=1)
    frames = [tc.build_frame(cfg, rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes(),
                             frame_seq_num=i) for i in range(10)]
    stream = bytearray(tc_frames_to_cltus(frames))
    starts = [i for i in range(len(stream) - 1) if stream[i:i + 2] == b"\xeb\x90"]
    stream[starts[3] + 2:starts[3] + 4] = b"\xff\x00"  # CLTU 3: two flipped octets, uncorrectable
    junk = rng.integers(0, 256, 101, dtype=np.uint8).tobytes()
    data = junk + bytes(stream) + b"\xeb"  # ends with half a start sequence
    rx = TcReceiveChain()
    got = []
    for i in range(0, len(data), piece):
        got += rx.push_bytes(data[i:i + piece])
    got += rx.flush()
    assert got == frames[:3] + frames[4:]
    st = rx.stats()
    assert st["frames"] == 9 and st["uncorrectable"] >= 1 and st["bad_frames"] == 0
