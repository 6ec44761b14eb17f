"""`lunarelay inspect` on the uplink: CLTUs of SDLS-protected TC frames as the ground station makes
them (FOP-1 frames without segment header, the emulation's security association) decode to their
command packets, the MAC of each frame is checked, a tampered or replayed frame is counted, and
control commands and uncorrectable CLTUs are filed, with every octet accounted for; user data
segmented over frames is reassembled per MAP; ``--sdls-keys`` verifies with another key file."""

from __future__ import annotations

import importlib.resources
import itertools
import json
import subprocess
import sys

import numpy as np

from hil.ground.chain import tc_frames_to_cltus
from hil.ground.fop import build_tc_frame, set_vr_command
from hil.ground.protection import TcProtector
from lunarelay_tools.inspect.session import Options, StreamInspection
from onboard.bus.packet import pack
from onboard.ccsds import sdls
from onboard.commands import default_dictionary
from onboard.core import tc
from onboard.core.crc import crc16_ccitt
from onboard.core.spp import PacketType, build_packet


def emulation_sdls() -> sdls.Sdls:
    ref = importlib.resources.files("onboard.scenarios") / "sdls_keys.toml"
    return sdls.Sdls(*sdls.parse_key_file(ref.read_text(), "sdls_keys.toml"))


def test_sdls_protected_uplink_decodes_to_its_commands_and_bad_frames_are_counted():
    protector = TcProtector(emulation_sdls(), 1)
    commands = default_dictionary()
    packets, frames = [], []
    for i in range(12):
        user = commands.encode("flight_computer", "SET_MODE", mode=i % 3)
        packets.append(pack(0x015, user, i, 2.1e9 + i, packet_type=1))
        frames.append(protector.protect(build_tc_frame(0x2A1, 0, i, packets[-1])))
    replay = frames[3]
    tampered = bytearray(frames[5])
    tampered[20] ^= 0x01                                     # inside the data: the MAC no longer holds
    tampered[-2:] = crc16_ccitt(bytes(tampered[:-2])).to_bytes(2, "big")
    control = build_tc_frame(0x2A1, 0, 0, set_vr_command(9), bypass=True, control=True)
    stream = tc_frames_to_cltus([control, *frames, replay, bytes(tampered)])
    broken = bytearray(tc_frames_to_cltus([frames[0]]))
    broken[5] ^= 0xFF                                        # beyond one bit: BCH cannot correct it
    data = stream + bytes(broken)
    got = []
    s = StreamInspection("uplink", Options(),
                         [lambda st, b, t: got.extend(b.packet(i) for i in range(len(b)))])
    s.push(data)
    s.finish()
    assert s.params.format == "cltu" and s.params.randomize
    assert s.ledger.balance(len(data)) == 0
    st = s.layer_stats()
    assert st["tc"]["sdls_verified"] == 12 and st["tc"]["sdls_rejected"] == 2    # the replay and the tampered
    assert st["tc"]["control_commands"] == 1
    assert st["cltu"]["uncorrectable"] == 1
    # each command once: the replay and the tampered frame are refused, as the spacecraft refuses them
    assert got == packets
    refused = [(r.start, r.end, r.note) for _, r in s.ledger.all_ranges() if r.reason == "sdls_rejected"]
    assert len(refused) == 2 and "replay" in refused[0][2] and "MAC" in refused[1][2]
    assert s.ledger.totals["not_packet_data"] == 3            # the control command's octets
    assert s.ledger.totals["cltu_uncorrectable"] > 0


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=600)


def test_user_data_segmented_over_tc_frames_is_reassembled_per_map_and_lost_segments_are_filed():
    cfg = tc.TcConfig(scid=0x2A1, vcid=1)
    rng = np.random.default_rng(4)
    units = [b"".join(build_packet(0x30 + m, rng.integers(0, 256, size, dtype=np.uint8).tobytes(),
                                   seq_count=k, type=PacketType.TC) for k, size in enumerate(sizes))
             for m, sizes in enumerate([(700,), (90, 300, 41), (500,), (260,)])]
    segs = [tc.segment_frames(cfg, u, map_id=m, max_data_len=120) for m, u in enumerate(units)]
    # MAPs 0 and 1 interleaved frame by frame; MAP 2 without its first segment; MAP 3 never ends
    mixed = [f for pair in itertools.zip_longest(segs[0], segs[1]) for f in pair if f is not None]
    frames = mixed + segs[2][1:] + segs[3][:-1]
    parsed = [tc.parse_frame(f, cfg)[0] for f in frames]     # renumbered in the order sent
    frames = [tc.build_frame(cfg, p.data, frame_seq_num=i % 256, map_id=p.map_id, seq_flags=p.seq_flags)
              for i, p in enumerate(parsed)]
    data = b"".join(frames)
    got, offsets = [], []

    def sink(st, b, t):
        got.extend(b.packet(i) for i in range(len(b)))
        offsets.extend(b.rows["input_offset"].tolist())

    s = StreamInspection("tc", Options(), [sink])
    s.push(data)
    s.finish()
    assert s.params.format == "tc"
    assert s.ledger.balance(len(data)) == 0
    whole = [p for u in units[:2] for p in iter_packets_of(u)]
    assert sorted(got) == sorted(whole) and len(got) == 4
    st = s.layer_stats()["tc"]
    assert st["reassembled"] == 2 and st["segments"] == len(frames)
    lost = {r.reason: r for _, r in s.ledger.all_ranges()}
    start_lost = sum(r.end - r.start for _, r in s.ledger.all_ranges() if r.reason == "packet_start_lost")
    end_lost = sum(r.end - r.start for _, r in s.ledger.all_ranges() if r.reason == "packet_end_lost")
    assert start_lost == len(units[2]) - 120 and end_lost == 240
    assert "MAP 2" in lost["packet_start_lost"].note and "MAP 3" in lost["packet_end_lost"].note
    # each packet's input offset is where its header starts in the frames
    for packet, at in zip(got, offsets, strict=True):
        assert data[at:at + 4] == packet[:4]


def iter_packets_of(data: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        n = (data[at + 4] << 8 | data[at + 5]) + 7
        out.append(data[at:at + n])
        at += n
    return out


def test_sdls_keys_option_verifies_frames_protected_with_another_key_file(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[[key]]\nid = 7\nvalue = "00112233445566778899aabbccddeeff"\nstate = "active"\n\n'
                    '[[sa]]\nspi = 3\nkey_id = 7\niv_length = 12\narsn_length = 0\narsn_window = 64\n'
                    'mac_length = 16\n')
    protector = TcProtector(sdls.Sdls.from_key_file(keys), 3)
    commands = default_dictionary()
    packets = [pack(0x015, commands.encode("flight_computer", "SET_MODE", mode=i % 3), i, 2.1e9 + i,
                    packet_type=1) for i in range(5)]
    cltus = tmp_path / "uplink.cltu"
    cltus.write_bytes(tc_frames_to_cltus([protector.protect(build_tc_frame(0x2A1, 0, i, p))
                                          for i, p in enumerate(packets)]))
    out = tmp_path / "summary.json"
    r = lunarelay("inspect", str(cltus), "--sdls-keys", str(keys), "--summary", str(out))
    assert r.returncode == 0, r.stderr
    s = json.loads(out.read_text())
    stream = s["streams"][0]
    assert stream["layers"]["tc"]["sdls_verified"] == 5 and stream["packets"]["packets"] == 5
    # the emulation's keys know no SPI 3: the frames are not packet data to them
    r = lunarelay("inspect", str(cltus), "--summary", str(out))
    s = json.loads(out.read_text())
    assert s["streams"][0]["packets"]["packets"] == 0 and s["accounting"]["unaccounted"] == 0
    # a key file that is not one: one line naming it, non-zero exit
    bad = tmp_path / "bad.toml"
    bad.write_text("[[sa]]\nspi = 1\n")
    r = lunarelay("inspect", str(cltus), "--sdls-keys", str(bad))
    assert r.returncode != 0 and str(bad) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = lunarelay("inspect", str(cltus), "--sdls-keys", str(tmp_path / "none.toml"))
    assert r.returncode != 0 and "none.toml: no such file" in r.stderr
