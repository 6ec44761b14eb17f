"""The uplink chain (CLTU -> TC frame -> SDLS -> FARM-1 -> packet) on its own, and the emulated
flight computer behind its link."""

from __future__ import annotations

import numpy as np
import pytest

from hil.devices.flight_computer import EmulatedFlightComputer
from hil.ground.chain import tc_frames_to_cltus
from hil.ground.fop import build_tc_frame
from hil.ground.protection import TcProtector
from onboard.bus.packet import PacketType, pack, unpack
from onboard.bus.registry import default_registry
from onboard.ccsds.sdls import Sdls, parse_key_file
from onboard.commands import REPEATED, default_dictionary
from onboard.events import Event, EventId
from onboard.modules.uplink import UplinkChain
from onboard.scenario import default_key_file

R = default_registry()
D = default_dictionary()
SCID, VCID = 0x2A1, 0

WRONG_KEYS = """
[[key]]
id = 1
value = "ffeeddccbbaa99887766554433221100"

[[sa]]
spi = 1
key_id = 1
arsn_window = 64
"""


def ground(text: str | None = None) -> TcProtector:
    if text is None:
        return TcProtector(Sdls.from_key_file(default_key_file()), 1)
    return TcProtector(Sdls(*parse_key_file(text, "wrong.toml")), 1)


def onboard() -> UplinkChain:
    return UplinkChain(SCID, VCID, Sdls.from_key_file(default_key_file()))


def command(module: str, name: str, seq: int, **args) -> bytes:
    return pack(R.module(module).apid, D.encode(module, name, **args), seq, 0.0, PacketType.TC)


def cltu(protector: TcProtector, ns: int, packet: bytes) -> bytes:
    return tc_frames_to_cltus([protector.protect(build_tc_frame(SCID, VCID, ns, packet))])


def test_authenticated_command_is_delivered_as_sent():
    chain, g = onboard(), ground()
    packet = command("store", "PLAYBACK", 7, max_packets=3)
    [outcome] = chain.cltus(cltu(g, 0, packet))
    assert outcome.kind == "packet"
    assert outcome.packet == packet
    assert chain.farm.vr == 1 and chain.sdls.accepted == 1


def test_frame_with_flipped_data_bit_is_rejected_by_sdls_not_delivered():
    chain, g = onboard(), ground()
    frame = bytearray(g.protect(build_tc_frame(SCID, VCID, 0, command("store", "REWIND", 1))))
    frame[5 + 14 + 3] ^= 0x04                         # a bit of the packet, after the security header
    from onboard.core.crc import crc16_ccitt
    frame[-2:] = crc16_ccitt(bytes(frame[:-2])).to_bytes(2, "big")   # a forger fixes the FECF
    [outcome] = chain.cltus(tc_frames_to_cltus([bytes(frame)]))
    assert outcome.kind == "sdls" and "MAC does not verify" in outcome.reason
    assert chain.farm.vr == 0 and sum(chain.sdls.rejected.values()) == 1


def test_frame_under_wrong_key_is_rejected():
    chain = onboard()
    [outcome] = chain.cltus(cltu(ground(WRONG_KEYS), 0, command("store", "REWIND", 1)))
    assert outcome.kind == "sdls" and "MAC" in outcome.reason
    assert chain.counts["farm_accepted"] == 0


def test_replayed_frame_is_rejected_even_when_farm_would_take_it():
    chain, g = onboard(), ground()
    recorded = cltu(g, 0, command("store", "REWIND", 1))
    assert chain.cltus(recorded)[0].kind == "packet"
    chain.set_window(10)                               # FARM reset: N(S) 0 would be in sequence again
    [outcome] = chain.cltus(recorded)
    assert outcome.kind == "sdls" and "replay" in outcome.reason
    assert chain.counts["farm_accepted"] == 1


def test_retransmitted_frame_protected_again_passes_sdls_and_farm_orders_it():
    chain, g = onboard(), ground()
    p0, p1 = command("store", "REWIND", 1), command("store", "REWIND", 2)
    plain0, plain1 = build_tc_frame(SCID, VCID, 0, p0), build_tc_frame(SCID, VCID, 1, p1)
    g.protect(plain0)                                  # first copy lost on the way
    assert chain.cltus(tc_frames_to_cltus([g.protect(plain1)]))[0].kind == "farm"   # ahead of V(R)
    got = [o.packet for o in chain.cltus(tc_frames_to_cltus([g.protect(plain0), g.protect(plain1)]))]
    assert got == [p0, p1]


@pytest.mark.sanitize
def test_garbage_and_truncated_cltus_are_counted_and_survived():
    chain, g = onboard(), ground()
    rng = np.random.default_rng(5)
    good = cltu(g, 0, command("store", "REWIND", 1))
    junk = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    outcomes = chain.cltus(junk)
    outcomes += chain.cltus(good[: len(good) // 2])
    outcomes += chain.cltus(junk[:77] + good)
    assert [o.kind for o in outcomes if o.kind == "packet"] == ["packet"]
    assert chain.counts["cltus_truncated"] >= 1
    assert chain.decoder.counters["octets_skipped"] > 0


def test_frame_for_another_spacecraft_is_rejected_before_sdls():
    chain = onboard()
    frame = ground().protect(build_tc_frame(SCID ^ 1, VCID, 0, command("store", "REWIND", 1)))
    [outcome] = chain.cltus(tc_frames_to_cltus([frame]))
    assert outcome.kind == "frame" and "SCID" in outcome.reason
    assert chain.sdls.accepted == 0 and not chain.sdls.rejected


def test_emulated_flight_computer_executes_and_answers_with_the_sequence_count():
    fc = EmulatedFlightComputer()
    fc.send(command("flight_computer", "SET_MODE", 42, mode=2))
    fc.send(pack(R.module("flight_computer").apid, bytes([17, 1]), 43, 0.0, PacketType.TC))  # short args
    answers = [Event.from_bytes(unpack(p).data) for p in fc.receive()]
    assert fc.mode == 2 and fc.executed == [("SET_MODE", {"mode": 2})]
    assert answers[0].event_id == EventId.CMD_ACCEPTED and answers[0].text.startswith("SET_MODE seq 42:")
    assert answers[1].event_id == EventId.CMD_REJECTED and " seq 43:" in answers[1].text
    assert fc.receive() == []


def test_flight_computer_answers_carry_the_spacecraft_time_or_the_wall_clock_as_tai():
    import time

    from hil.devices.flight_computer import open_emulated
    from onboard.bus.packet import tai_from_unix

    spacecraft_tai = 2_100_000_123.5                      # the emulated clock the uplink passes
    fc = open_emulated("", registry=R, dictionary=None, state_dir=None, clock=lambda: spacecraft_tai)
    fc.send(command("flight_computer", "SET_MODE", 1, mode=1))
    assert [unpack(p).time_tai for p in fc.receive()] == [pytest.approx(spacecraft_tai, abs=1e-3)]
    alone = EmulatedFlightComputer()                      # no spacecraft clock: TAI from the wall clock
    alone.send(command("flight_computer", "SET_MODE", 2, mode=1))
    [answer] = alone.receive()
    assert abs(unpack(answer).time_tai - tai_from_unix(time.time())) < 60.0


def test_uplink_derandomizes_and_refuses_frames_sent_without_the_tc_randomizer():
    g = ground()
    packet = command("store", "REWIND", 1)
    plain_cltu = tc_frames_to_cltus([g.protect(build_tc_frame(SCID, VCID, 0, packet))], randomize=False)
    randomizing = onboard()
    [outcome] = randomizing.cltus(plain_cltu)
    assert outcome.kind == "frame" and randomizing.counts["farm_accepted"] == 0
    plain = UplinkChain(SCID, VCID, Sdls.from_key_file(default_key_file()), derandomize=False)
    [outcome] = plain.cltus(plain_cltu)
    assert outcome.kind == "packet" and outcome.packet == packet
    # and the default link, randomized on the ground, is derandomized on board
    [outcome] = randomizing.cltus(cltu(g, 0, packet))
    assert outcome.kind == "packet" and outcome.packet == packet


def test_flight_computer_answers_a_repeated_packet_again_without_executing_it_twice():
    fc = EmulatedFlightComputer()
    packet = command("flight_computer", "SET_COUNTER", 9, value=5)
    fc.send(packet)
    fc.send(command("flight_computer", "SET_COUNTER", 10, value=6))
    fc.send(packet)                                   # its answer was lost: the ground sends it again
    assert fc.executed == [("SET_COUNTER", {"value": 5}), ("SET_COUNTER", {"value": 6})]
    assert fc.counter == 6
    texts = [Event.from_bytes(unpack(p).data).text for p in fc.receive()]
    assert texts == ["SET_COUNTER seq 9: accepted: counter 5", "SET_COUNTER seq 10: accepted: counter 6",
                     "SET_COUNTER seq 9: accepted: counter 5" + REPEATED]


def test_protection_that_would_overflow_the_tc_frame_limit_is_refused_naming_the_sizes():
    # 232.0-B-4 §4.1.2.7: a TC frame is at most 1024 octets; SA 1 adds 30 (SPI 2, IV 12, MAC 16)
    from onboard.core.tc import FrameError

    plain = build_tc_frame(SCID, VCID, 0, bytes(1010))
    assert len(plain) == 1017
    with pytest.raises(FrameError, match=r"1017-octet TC frame.*30.*1047.*1024"):
        ground().protect(plain)


def test_largest_frame_that_fits_protected_keeps_its_ids_and_is_delivered():
    chain, g = onboard(), ground()
    packet = bytes(1024 - 5 - 2 - 30)
    protected = g.protect(build_tc_frame(SCID, VCID, 0, packet))
    assert len(protected) == 1024
    assert ((protected[2] & 3) << 8 | protected[3]) + 1 == 1024 and protected[2] >> 2 == VCID
    [outcome] = chain.cltus(tc_frames_to_cltus([protected]))
    assert outcome.kind == "packet" and outcome.packet == packet


def test_the_flight_computer_is_the_one_the_configuration_names(tmp_path):
    from onboard.errors import UsageError
    from onboard.links.flight_computer import open_flight_computer

    fc = open_flight_computer("emulated", registry=R, dictionary=D, state_dir=str(tmp_path))
    fc.send(command("flight_computer", "SET_MODE", 3, mode=1))
    assert isinstance(fc, EmulatedFlightComputer) and fc.mode == 1
    fc.close()
    assert (tmp_path / "flight_computer.sqlite").exists()
    with pytest.raises(UsageError, match=r"no flight computer 'nosuch' is installed \(installed: emulated"):
        open_flight_computer("nosuch:/dev/ttyUSB0", registry=R, dictionary=D, state_dir=None)
    with pytest.raises(UsageError, match="takes no argument"):
        open_flight_computer("emulated:x", registry=R, dictionary=D, state_dir=None)
