"""`lunarelay inspect`'s "why not parsed": every input octet is filed under one reason, the reasons
add up to the input size, and each loss is found where it is (sync loss, uncorrectable CADU, lost
frame, first-header-pointer mismatch, truncation), on clean, damaged and hostile inputs."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from hil import capture as cap
from lunarelay_tools.inspect.packets import PacketBatch
from lunarelay_tools.inspect.session import Options, StreamInspection
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.core.crc import crc16_ccitt
from onboard.core.spp import build_packet

CADU = 1279


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=600)


def make_packets(n: int, seed: int = 3, size=(40, 700)) -> list[bytes]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(*size, n)
    return [build_packet(0x100 + i % 4, rng.integers(0, 256, int(sizes[i]), dtype=np.uint8).tobytes(),
                         seq_count=(i // 4) & 0x3FFF) for i in range(n)]


def inspect(data: bytes, pinned: dict | None = None) -> tuple[StreamInspection, PacketBatch]:
    got: list[PacketBatch] = []
    s = StreamInspection("input", Options(pinned=dict(pinned or {})), [lambda st, b, t: got.append(b)])
    for at in range(0, len(data), 100_000):       # pieces of any size
        s.push(data[at:at + 100_000])
    s.finish()
    return s, PacketBatch.concat(got).without_idle()


def packets_of(batch: PacketBatch) -> list[bytes]:
    return [batch.packet(i) for i in range(len(batch))]


def problems(s: StreamInspection, reason: str) -> list[tuple[int, int]]:
    return [(r.start, r.end) for _, r in s.ledger.all_ranges() if r.reason == reason]


@pytest.fixture(scope="module")
def pk():
    return make_packets(200)


@pytest.fixture(scope="module")
def cadus(pk):
    tx = TmSendChain(TmLinkConfig(scid=0x2A1, vcids=(1,), ocf=True))
    return np.concatenate([tx.packets_to_cadus(b"".join(pk)), tx.flush()]).tobytes()


def test_every_octet_of_a_clean_cadu_stream_is_filed_and_every_packet_delivered(pk, cadus):
    s, got = inspect(cadus)
    assert s.ledger.balance(len(cadus)) == 0
    assert packets_of(got) == pk
    t = s.ledger.totals
    n = len(cadus) // CADU
    assert t["asm"] == 4 * n and t["rs_check"] == 160 * n
    assert t["frame_header"] == 6 * n and t["frame_trailer"] == 6 * n
    assert t["packet"] == sum(map(len, pk))
    assert set(t) <= {"asm", "rs_check", "frame_header", "frame_trailer", "packet", "idle_packet"}


def test_octets_outside_every_cadu_are_filed_as_no_sync_where_they_are(pk, cadus):
    rng = np.random.default_rng(1)
    junk_head, junk_mid = rng.integers(0, 256, 500, dtype=np.uint8).tobytes(), bytes(333)
    data = junk_head + cadus[:7 * CADU] + junk_mid + cadus[7 * CADU:]
    s, got = inspect(data)
    assert s.ledger.balance(len(data)) == 0
    assert problems(s, "no_sync")[0] == (0, 500)
    # the synchroniser flywheels over where the marker should have been, then searches again
    assert s.ledger.totals["no_sync"] + s.ledger.totals.get("rs_uncorrectable", 0) >= 833
    assert set(packets_of(got)) <= set(pk) and len(got) >= len(pk) - 12


def test_an_uncorrectable_cadu_is_filed_whole_and_its_packets_explained(pk, cadus):
    bad = bytearray(cadus)
    k = 5
    bad[k * CADU + 50:k * CADU + 50 + 300] = bytes(300)   # ~60 symbol errors per codeword
    s, got = inspect(bytes(bad))
    assert s.ledger.balance(len(bad)) == 0
    assert problems(s, "rs_uncorrectable") == [(k * CADU, (k + 1) * CADU)]
    st = s.layer_stats()["cadu"]
    assert st["rs_failed_cadus"] == 1 and st["rs_uncorrectable_codewords"] == 5
    # the packet cut by the lost frame and its continuation are both filed, next to the lost CADU
    end_lost, start_lost = problems(s, "packet_end_lost"), problems(s, "packet_start_lost")
    assert end_lost and end_lost[0][1] == (k - 1) * CADU + 4 + 1115 - 6
    assert start_lost and start_lost[0][0] == (k + 1) * CADU + 4 + 6
    assert set(packets_of(got)) <= set(pk) and len(got) < len(pk)


def test_a_truncated_cadu_stream_files_the_cut_cadu_as_truncated(pk, cadus):
    cut = cadus[:9 * CADU + 400]
    s, _ = inspect(cut)
    assert s.ledger.balance(len(cut)) == 0
    assert (9 * CADU, len(cut)) in problems(s, "truncated")


def tm_frames(pk: list[bytes], flen: int = 400) -> list[bytearray]:
    tx = TmSendChain(TmLinkConfig(rs_e=0, frame_length=flen, randomize=False))
    data = tx.packets_to_frames(b"".join(pk)) + tx.flush_frames()
    return [bytearray(data[i:i + flen]) for i in range(0, len(data), flen)]


def refecf(frame: bytearray) -> bytearray:
    frame[-2:] = crc16_ccitt(bytes(frame[:-2])).to_bytes(2, "big")
    return frame


def test_a_lost_frame_files_the_packet_it_cuts_and_the_continuation_after_it(pk):
    frames = tm_frames(pk)
    gone = 6
    data = b"".join(frames[:gone] + frames[gone + 1:])
    s, got = inspect(data, {"format": "tm"})
    assert s.ledger.balance(len(data)) == 0
    fhp_before = int.from_bytes(frames[gone - 1][4:6], "big") & 0x7FF
    fhp_after = int.from_bytes(frames[gone + 1][4:6], "big") & 0x7FF
    stats = s.layer_stats()
    assert stats["virtual_channels"][1]["vc_frames_lost"] == 1
    assert stats["master_channel"]["mc_frames_lost"] == 1
    # the packet open when the frame was lost is filed frame by frame up to the last data octet
    # before the gap; the frame after it begins with a continuation, up to its pointer
    end_lost = problems(s, "packet_end_lost")
    assert end_lost[-1][1] == gone * 400 - 2
    assert all(b - a <= 400 - 8 for a, b in end_lost)
    if len(end_lost) == 1:
        assert end_lost[0][0] >= (gone - 1) * 400 + 6 + fhp_before
    assert problems(s, "packet_start_lost")[0] == (gone * 400 + 6, gone * 400 + 6 + fhp_after)
    assert set(packets_of(got)) <= set(pk)


def test_a_packet_length_that_lies_inside_a_frame_is_a_first_header_pointer_mismatch(pk):
    frames = tm_frames(pk)
    k = 4
    fhp = int.from_bytes(frames[k][4:6], "big") & 0x7FF
    at = 6 + fhp                          # the first packet header that starts in frame k
    length = int.from_bytes(frames[k][at + 4:at + 6], "big")
    frames[k][at + 4:at + 6] = (length + 90).to_bytes(2, "big")
    refecf(frames[k])
    data = b"".join(frames)
    s, got = inspect(data, {"format": "tm"})
    assert s.ledger.balance(len(data)) == 0
    mismatch = problems(s, "fhp_mismatch")
    assert mismatch and mismatch[0][0] == k * 400 + at
    assert s.layer_stats()["virtual_channels"][1]["fhp_errors"] >= 1
    # every packet but the liar (and what it swallowed) is still delivered, byte for byte
    delivered = packets_of(got)
    assert set(delivered) <= set(pk) and len(delivered) >= len(pk) - 3


def test_soft_and_coded_input_files_the_symbols_beyond_the_decoded_octets(pk):
    cfg = TmLinkConfig(conv="1/2", rs_e=16, rs_interleave=5)
    tx = TmSendChain(cfg)
    cadus = np.concatenate([tx.packets_to_cadus(b"".join(pk[:40])), tx.flush()])
    soft = tx.cadus_to_symbols(cadus, final=True).tobytes()
    s, got = inspect(soft)
    assert s.ledger.balance(len(soft)) == 0
    assert packets_of(got) == pk[:40]
    # 16 soft symbols per decoded octet at rate 1/2, the tail symbols and bits included
    assert s.ledger.totals["channel_code"] >= 15 * len(cadus)


@pytest.mark.parametrize("seed", range(12))
def test_mutated_streams_are_always_accounted_for(pk, cadus, seed):
    """Bit flips, cuts, duplicated and inserted runs in CADU, frame and packet streams."""
    rng = np.random.default_rng(seed)
    bases = [cadus, b"".join(tm_frames(pk)), b"".join(pk)]
    data = bytearray(bases[seed % 3])
    for _ in range(int(rng.integers(1, 8))):
        op = rng.integers(0, 4)
        at = int(rng.integers(0, len(data)))
        n = int(rng.integers(1, 3000))
        if op == 0:
            data[at] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:
            del data[at:at + n]
        elif op == 2:
            data[at:at] = data[max(0, at - n):at]
        else:
            data[at:at] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    s, got = inspect(bytes(data))
    assert s.ledger.balance(len(data)) == 0
    assert all(v > 0 for v in s.ledger.totals.values())


def _pcap(link: int, records: list[bytes]) -> bytes:
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)
    return head + b"".join(struct.pack("<IIII", 1, 0, len(r), len(r)) + r for r in records)


def test_hostile_inputs_give_counts_and_a_clean_exit(tmp_path, pk, cadus):
    rng = np.random.default_rng(9)
    lying = bytearray(b"".join(pk))
    lying[4:6] = b"\xff\xff"
    with cap.PcapngWriter(open(tmp_path / "good.pcapng", "wb")) as w:
        i = w.add_interface(cap.LINKTYPE_CADU, "downlink", cap.format_description("cadu"))
        for at in range(0, len(cadus), CADU):
            w.write(i, at, cadus[at:at + CADU])
    good = (tmp_path / "good.pcapng").read_bytes()
    bogus_block = bytearray(good)
    bogus_block[len(good) // 2 - (len(good) // 2) % 4 + 4:][:4] = b"\xff\xff\xff\x7f"
    inputs = {
        "random.bin": rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes(),
        "empty.bin": b"",
        "one.bin": b"\x1a",
        "truncated.cadu": cadus[:len(cadus) // 3 + 17],
        "lying.pkt": bytes(lying),
        "badlink.pcap": _pcap(9999, [bytes(rng.integers(0, 256, 80, dtype=np.uint8)) for _ in range(5)]),
        "truncated.pcapng": good[:len(good) * 2 // 3 + 3],
        "bogus.pcapng": bytes(bogus_block),
        "shortpcap.pcap": _pcap(1, [])[:13],
    }
    for name, data in inputs.items():
        path = tmp_path / name
        path.write_bytes(data)
        out = tmp_path / (name + ".json")
        r = lunarelay("inspect", str(path), "--summary", str(out))
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (name, r.stderr)
        assert r.returncode in (0, 1), (name, r.stderr)
        acc = json.loads(out.read_text())["accounting"]
        assert acc["input_octets"] == len(data) and acc["unaccounted"] == 0, name
        if r.returncode:
            assert f"{path}: nothing fits" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad = json.loads((tmp_path / "badlink.pcap.json").read_text())
    assert bad["capture"]["unsupported_records"] == 5
    assert bad["accounting"]["octets"]["unsupported_link"] == 400
    trunc = json.loads((tmp_path / "truncated.pcapng.json").read_text())
    assert trunc["accounting"]["octets"]["capture_damaged"] > 0 and trunc["streams"][0]["packets"]["packets"]
