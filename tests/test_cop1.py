"""COP-1: FOP-1 (ground, Python) with FARM-1 (onboard, C) over a lossy simulated uplink, the
FARM-1 state table through the Python API, and the CLCW fields (CCSDS 232.1-B-2, 232.0-B-4)."""

import numpy as np
import pytest

from onboard.ccsds.cop1 import (
    Alert,
    Fop1,
    FopError,
    FopState,
    build_tc_frame,
    fecf_ok,
    set_vr_command,
)
from onboard.core.cltu import CltuDecoder, encode_cltu
from onboard.core.farm import Clcw, Farm, FarmResult, FarmState, InvalidTcFrame
from onboard.core.rand import Sequence, randomize

SCID, VCID = 0x2A5, 3


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class LossyLink:
    """Ground FOP-1 -> CLTU (TC randomizer, BCH) -> noisy channel -> onboard FARM-1, and the
    CLCW back on a downlink that also loses reports."""

    def __init__(self, rng, drop=0.15, noisy=0.3, clcw_loss=0.3, window=10, **fop_args):
        self.rng, self.drop, self.noisy, self.clcw_loss = rng, drop, noisy, clcw_loss
        self.clock = Clock()
        self.farm = Farm(window=window, vcid=VCID)
        self.fop = Fop1(SCID, VCID, self.uplink, clock=self.clock, **fop_args)
        self.decoder = CltuDecoder()
        self.delivered: list[bytes] = []
        self.results: list[FarmResult] = []
        self.rejected_by_fecf = 0

    def uplink(self, frame: bytes) -> None:
        if self.rng.random() < self.drop:
            return
        cltu = bytearray(encode_cltu(randomize(frame, Sequence.TC)))
        if self.rng.random() < self.noisy:  # bit errors: single ones get corrected, pairs not
            for _ in range(int(self.rng.integers(1, 4))):
                bit = int(self.rng.integers(16, 8 * (len(cltu) - 8)))
                cltu[bit // 8] ^= 0x80 >> (bit % 8)
        for decoded in self.decoder.decode(bytes(cltu)):
            data = randomize(decoded.data, Sequence.TC).tobytes()
            length = ((data[2] & 3) << 8 | data[3]) + 1 if len(data) >= 5 else 0
            frame_rx = data[:length]
            if length < 7 or len(frame_rx) < length or not fecf_ok(frame_rx):
                self.rejected_by_fecf += 1
                continue
            result = self.farm.receive(frame_rx)
            self.results.append(result)
            if result.delivers:
                self.delivered.append(frame_rx[5:-2])

    def step(self, dt=0.1) -> None:
        self.clock.t += dt
        if self.rng.random() >= self.clcw_loss:
            self.fop.receive_clcw(self.farm.clcw)
        self.fop.tick()


def test_fop_and_farm_deliver_every_fdu_once_in_order_over_a_lossy_link(rng):
    link = LossyLink(rng, window_k=5, t1_s=1.0, transmission_limit=30)
    link.fop.initiate_ad(check_clcw=True)
    fdus = [f"telecommand {i}".encode() * int(rng.integers(1, 12)) for i in range(300)]
    pending = list(fdus)
    for _ in range(20000):
        if pending and link.fop.transfer(pending[0]):
            pending.pop(0)
        link.step()
        if not pending and link.fop.idle:
            break
    assert link.delivered == fdus
    assert not [e for e in link.fop.events if e.kind == "alert"]
    # The channel really was hostile, and recovery really happened.
    assert link.fop.counters["ad_retransmitted"] > 0
    assert link.rejected_by_fecf + link.decoder.counters["rejected"] > 0
    assert link.decoder.counters["corrected"] > 0
    assert FarmResult.DISCARD_AHEAD in link.results
    assert link.farm.vr == len(fdus) % 256


def test_lost_acknowledgements_cause_duplicates_the_farm_discards(rng):
    link = LossyLink(rng, drop=0, noisy=0, clcw_loss=1.0, t1_s=0.5, transmission_limit=10)
    link.fop.initiate_ad()
    for i in range(3):
        assert link.fop.transfer(bytes([i]))
    for _ in range(12):  # no CLCW gets through: T1 retransmits frames already accepted
        link.step()
    link.clcw_loss = 0.0
    link.step()
    assert link.delivered == [b"\x00", b"\x01", b"\x02"]
    assert link.results.count(FarmResult.DISCARD_BEHIND) >= 3
    assert link.fop.idle and link.fop.state == FopState.ACTIVE


def test_lockout_raises_an_alert_and_unlock_recovers(rng):
    link = LossyLink(rng, drop=0, noisy=0, clcw_loss=0)
    assert link.farm.receive(build_tc_frame(SCID, VCID, 200, b"stray")) == FarmResult.DISCARD_LOCKOUT
    assert link.farm.state == FarmState.LOCKOUT
    assert Clcw.unpack(link.farm.clcw).lockout
    link.fop.initiate_ad()
    link.step()
    assert link.fop.state == FopState.INITIAL
    assert link.fop.events[-1].alert == Alert.LOCKOUT
    with pytest.raises(FopError, match="not initiated"):
        link.fop.transfer(b"x")
    link.fop.initiate_ad_with_unlock()
    assert link.farm.state == FarmState.OPEN and link.farm.counters["farm_b"] == 1
    link.step()
    assert link.fop.state == FopState.ACTIVE
    assert link.fop.transfer(b"second")
    link.step()
    assert link.delivered == [b"second"]


def test_unlock_then_set_vr_recovers_after_frames_were_lost_in_lockout(rng):
    link = LossyLink(rng, drop=0, noisy=0, clcw_loss=0)
    link.fop.initiate_ad()
    assert link.fop.transfer(b"a")
    link.farm.receive(build_tc_frame(SCID, VCID, 99, b"stray"))
    assert link.fop.transfer(b"discarded in lockout")
    link.step()
    assert link.fop.events[-1].alert == Alert.LOCKOUT
    link.fop.initiate_ad_with_unlock()  # V(S) = 2 but V(R) = 1: Unlock alone cannot confirm
    link.step()
    assert link.fop.state == FopState.INITIALISING_WITH_BC
    link.fop.terminate_ad()
    link.fop.initiate_ad_with_set_vr(link.fop.vs)
    link.step()
    assert link.fop.state == FopState.ACTIVE
    assert link.fop.transfer(b"b")
    link.step()
    assert link.delivered == [b"a", b"b"]


def test_set_vr_resynchronises_both_ends(rng):
    link = LossyLink(rng, drop=0, noisy=0, clcw_loss=0)
    link.fop.initiate_ad_with_set_vr(250)
    assert link.farm.vr == 250 and link.fop.vs == 250
    link.step()
    assert link.fop.state == FopState.ACTIVE
    for i in range(10):  # across the modulo-256 wrap
        assert link.fop.transfer(bytes([i]))
        link.step()
    assert link.delivered == [bytes([i]) for i in range(10)]
    assert link.farm.vr == 4


def test_t1_expiry_retransmits_then_alerts_at_the_limit(rng):
    link = LossyLink(rng, drop=1.0, noisy=0, clcw_loss=0, t1_s=1.0, transmission_limit=3)
    link.fop.initiate_ad()
    link.fop.transfer(b"lost")
    for _ in range(45):
        link.step()
    assert link.fop.counters["ad_retransmitted"] == 2
    assert link.fop.state == FopState.INITIAL
    assert link.fop.events[-1].alert == Alert.T1


def test_wait_flag_holds_retransmission_until_buffer_release(rng):
    link = LossyLink(rng, drop=0, noisy=0, clcw_loss=0, t1_s=100.0)
    link.fop.initiate_ad()
    link.farm.buffer_available(False)
    link.fop.transfer(b"held")
    assert link.farm.state == FarmState.WAIT
    link.step()
    assert link.fop.state == FopState.RETRANSMIT_WITH_WAIT
    assert link.delivered == []
    link.farm.buffer_available(True)
    link.step()
    assert link.delivered == [b"held"]
    link.step()
    assert link.fop.state == FopState.ACTIVE and link.fop.idle


def test_buffer_release_in_lockout_clears_the_wait_flag_and_keeps_lockout():
    # 232.1-B-2 Table 6-1, E10 in S3: Wait_Flag := 0, the FARM stays in Lockout
    farm = Farm(window=10, vcid=VCID)
    farm.buffer_available(False)
    assert farm.receive(build_tc_frame(SCID, VCID, 0, b"0")) == FarmResult.DISCARD_WAIT
    assert farm.receive(build_tc_frame(SCID, VCID, 100, b"x")) == FarmResult.DISCARD_LOCKOUT
    assert Clcw.unpack(farm.clcw).wait and farm.state == FarmState.LOCKOUT
    assert farm.buffer_available(True) == FarmState.LOCKOUT
    clcw = Clcw.unpack(farm.clcw)
    assert clcw.lockout and not clcw.wait
    unlock = build_tc_frame(SCID, VCID, 0, b"\x00", bypass=True, control=True)
    assert farm.receive(unlock) == FarmResult.UNLOCK
    assert farm.receive(build_tc_frame(SCID, VCID, 0, b"0")) == FarmResult.ACCEPT_AD


def test_clcw_acknowledging_unsent_frames_is_an_alert(rng):
    link = LossyLink(rng, drop=0, noisy=0, clcw_loss=0)
    link.fop.initiate_ad()
    link.fop.transfer(b"a")
    clcw = link.farm.clcw
    link.fop.receive_clcw((clcw & ~0xFF) | 7)  # N(R) = 7 while V(S) = 1
    assert link.fop.events[-1].alert == Alert.NNR
    assert link.fop.state == FopState.INITIAL


def test_terminate_purges_and_directives_need_initial(rng):
    link = LossyLink(rng, drop=1.0, noisy=0, clcw_loss=0)
    link.fop.initiate_ad()
    link.fop.transfer(b"a")
    with pytest.raises(FopError, match="needs state Initial"):
        link.fop.initiate_ad()
    link.fop.terminate_ad()
    assert link.fop.state == FopState.INITIAL and link.fop.idle
    assert link.fop.events[-1].alert == Alert.TERM


def test_farm_state_table_through_python(rng):
    farm = Farm(window=10, vcid=VCID)
    assert farm.receive(build_tc_frame(SCID, VCID, 0, b"0")) == FarmResult.ACCEPT_AD
    assert farm.receive(build_tc_frame(SCID, VCID, 5, b"5")) == FarmResult.DISCARD_AHEAD
    assert farm.flags["retransmit"]
    assert farm.receive(build_tc_frame(SCID, VCID, 0, b"0")) == FarmResult.DISCARD_BEHIND
    assert farm.receive(build_tc_frame(SCID, VCID, 6, b"6")) == FarmResult.DISCARD_LOCKOUT
    assert farm.receive(build_tc_frame(SCID, VCID, 0, set_vr_command(9), bypass=True, control=True)) \
        == FarmResult.BC_IGNORED
    assert farm.receive(build_tc_frame(SCID, VCID, 0, b"bd", bypass=True)) == FarmResult.ACCEPT_BD
    assert farm.receive(build_tc_frame(SCID, VCID, 0, b"\x00", bypass=True, control=True)) \
        == FarmResult.UNLOCK
    assert farm.state == FarmState.OPEN and farm.vr == 1
    with pytest.raises(InvalidTcFrame):
        farm.receive(b"\x00\x01")


def test_clcw_fields_unpack_as_232_0_b_4_lays_them_out():
    farm = Farm(window=10, vcid=33)
    farm.receive(build_tc_frame(SCID, 33, 3, b"x"))  # positive window: retransmit
    farm.set_physical_flags(no_rf_available=False, no_bit_lock=True)
    word = farm.clcw
    assert word == (1 << 24) | (33 << 18) | (1 << 14) | (1 << 11)
    clcw = Clcw.unpack(word)
    assert (clcw.control_word_type, clcw.version, clcw.status, clcw.cop_in_effect) == (0, 0, 0, 1)
    assert clcw.vcid == 33 and clcw.no_bit_lock and not clcw.no_rf_available
    assert clcw.retransmit and not clcw.lockout and not clcw.wait and clcw.report_value == 0


@pytest.mark.sanitize
def test_farm_survives_random_frames(rng):
    farm = Farm(window=254)
    for _ in range(3000):
        frame = rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes()
        try:
            farm.receive(frame)
        except InvalidTcFrame:
            pass
    assert farm.counters["invalid"] > 0


def test_tc_frame_header_and_fecf():
    frame = build_tc_frame(0x3FF, 63, 0xAB, b"\x01\x02", bypass=True)
    assert frame[:5] == bytes([0x23, 0xFF, 0xFC, 8, 0xAB]) and len(frame) == 9
    assert fecf_ok(frame) and not fecf_ok(frame[:-1] + bytes([frame[-1] ^ 1]))


def test_fop_refuses_an_fdu_whose_frame_would_not_fit_after_the_layers_below():
    from onboard.core.tc import FrameError

    sent = []
    fop = Fop1(SCID, VCID, sent.append, frame_overhead=30)
    fop.initiate_ad()
    with pytest.raises(FrameError, match=r"1010-octet FDU.*1017-octet TC frame.*30.*1047.*1024"):
        fop.transfer(bytes(1010))
    with pytest.raises(FrameError, match="1024"):
        fop.transmit_bd(bytes(1010))
    assert sent == [] and fop.idle
    assert fop.transfer(bytes(987))
    assert len(sent) == 1 and len(sent[0]) + 30 == 1024
