"""`lunarelay inspect` on the uplink: CLTUs of SDLS-protected TC frames as the ground station makes
them (FOP-1 frames without segment header, the emulation's security association) decode to their
command packets, the MAC of each frame is checked, a tampered or replayed frame is counted, and
control commands and uncorrectable CLTUs are filed, with every octet accounted for."""

from __future__ import annotations

import importlib.resources

from lunarelay_tools.inspect.session import Options, StreamInspection
from onboard.bus.packet import pack
from onboard.ccsds import sdls
from onboard.ccsds.chain import tc_frames_to_cltus
from onboard.ccsds.cop1 import build_tc_frame, set_vr_command
from onboard.commands import default_dictionary
from onboard.core.crc import crc16_ccitt
from onboard.modules.uplink import TcProtector


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
