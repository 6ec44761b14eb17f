"""The TM/TC chain end to end over real processes: the executive runs the scheduler, the uplink
and the downlink; the ground-station emulator commands through CLTUs (FOP-1, SDLS) and reads
the answers, the CLCW and housekeeping out of the decoded CADU stream.

Waits poll with generous timeouts; nothing asserts on how long something took.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from hil.ground.command import GroundCommander
from hil.ground.station import GroundStation, Impairments
from onboard.ccsds.chain import tc_frames_to_cltus
from onboard.ccsds.cop1 import build_tc_frame
from onboard.ccsds.sdls import Sdls, parse_key_file
from onboard.commands import REPEATED
from onboard.core.cltu import encode_cltu
from onboard.core.crc import crc16_ccitt
from onboard.events import Event, EventId
from onboard.executive import ExecutiveEvent
from onboard.modules.base import response_to
from onboard.modules.uplink import TcProtector, UplinkEvent

TIMEOUT = 60.0

WRONG_KEYS = """
[[key]]
id = 1
value = "ffeeddccbbaa99887766554433221100"

[[sa]]
spi = 1
key_id = 1
arsn_window = 64
"""


class Onboard:
    """The executive with the TM/TC modules, in a run directory of its own."""

    def __init__(self):
        self.run_dir = tempfile.mkdtemp(prefix="lrt")
        self.bus = f"ipc://{self.run_dir}/bus"
        self.uplink = f"ipc://{self.run_dir}/uplink"
        self.downlink = f"ipc://{self.run_dir}/downlink"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "onboard.executive", "--run-dir", self.run_dir, "--bus", self.bus,
             "--health-period", "0.2", "--time-scale", "5", "--modules", "scheduler,store,uplink,downlink"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.stations: list[GroundStation] = []

    def station(self, **kwargs) -> GroundStation:
        st = GroundStation(self.uplink, self.downlink, t1_s=1.0, **kwargs)
        self.stations.append(st)
        assert st.wait_link(TIMEOUT), "no CLCW came down the link"
        return st

    def stop(self) -> None:
        for st in self.stations:
            st.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(TIMEOUT)
        shutil.rmtree(self.run_dir, ignore_errors=True)


@pytest.fixture
def onboard():
    ob = Onboard()
    try:
        yield ob
    finally:
        ob.stop()


def accepted(station: GroundStation, line: str) -> Event:
    event = station.command(line, TIMEOUT)
    assert event is not None, (f"no answer to {line} in the downlink; FOP {station.fop.state.name} "
                               f"{dict(station.fop.counters)}, CLCW {station.last_clcw}, "
                               f"receive chain {station.rx.stats()}")
    assert event.event_id == EventId.CMD_ACCEPTED, str(event)
    return event


def answers(station: GroundStation, module: str) -> list[tuple[str, int, str]]:
    apid = station.registry.module(module).apid
    return [(*response_to(e), e.text) for e in station.events if e.source_apid == apid and response_to(e)]


def test_command_reaches_its_module_and_the_answer_comes_back_in_the_downlink(onboard):
    st = onboard.station()
    assert "scheduler pid" in accepted(st, "scheduler.NOOP").text
    event = accepted(st, "flight_computer.SET_MODE mode=2")
    assert event.text.endswith("mode 2")
    hk = st.wait_hk("uplink", lambda h: h["packets_to_fc"] >= 1 and h["packets_to_bus"] >= 1)
    assert hk is not None and hk["sdls_rejected"] == 0
    assert st.fop.counters["acknowledged"] >= 2          # the CLCW in the OCF acknowledged the frames


def test_lossy_uplink_executes_every_command_once_and_in_order(onboard):
    st = onboard.station(impairments=Impairments(ber=1e-4, drop=0.2, seed=11), window_k=4)
    values = list(range(100, 125))
    seqs = [st.send("flight_computer", "SET_COUNTER", value=v) for v in values]
    last = st.answer("flight_computer", seqs[-1], TIMEOUT * 2)
    assert last is not None, f"FOP state {st.fop.state.name}, counters {dict(st.fop.counters)}"
    got = [(seq, text) for name, seq, text in answers(st, "flight_computer") if name == "SET_COUNTER"]
    assert [seq for seq, _ in got] == seqs                 # each exactly once, in order
    assert [text.rsplit(" ", 1)[1] for _, text in got] == [str(v) for v in values]
    assert st.impairments.dropped > 0 and st.impairments.bits_flipped > 0
    assert st.fop.counters["ad_retransmitted"] > 0


def _rejections(st: GroundStation) -> list[str]:
    apid = st.registry.module("uplink").apid
    return [e.text for e in st.events if e.source_apid == apid and e.event_id == UplinkEvent.SDLS_REJECTED]


@pytest.mark.sanitize
def test_bad_mac_wrong_key_and_replay_are_rejected_counted_reported_never_executed(onboard):
    st = onboard.station()
    first = response_to(accepted(st, "flight_computer.SET_MODE mode=1"))[1]
    recorded = st.sent_cltus[-1]                         # an accepted command, captured on the air
    # bad MAC: a forger changes the mode argument and fixes the FECF
    packet, bad_seq = st.packet("flight_computer", "SET_MODE", mode=2)
    frame = bytearray(st.protector.protect(build_tc_frame(0x2A1, 0, st.fop.vs, packet)))
    frame[-3 - 16] ^= 0x01                               # the last packet octet, before the MAC
    frame[-2:] = crc16_ccitt(bytes(frame[:-2])).to_bytes(2, "big")
    st.send_raw_cltu(tc_frames_to_cltus([bytes(frame)]))
    # wrong key: a sender with keys of its own
    rogue = TcProtector(Sdls(*parse_key_file(WRONG_KEYS, "wrong.toml")), 1)
    rogue_packet, _ = st.packet("flight_computer", "SET_MODE", mode=2)
    rogue_frame = rogue.protect(build_tc_frame(0x2A1, 0, st.fop.vs, rogue_packet))
    st.send_raw_cltu(tc_frames_to_cltus([rogue_frame]))
    # replay of the recorded CLTU
    st.send_raw_cltu(recorded)
    # a good command after them: when its answer is down, the uplink has judged all three
    last = response_to(accepted(st, "flight_computer.SET_MODE mode=0"))[1]
    assert st.wait_event(lambda e: len(_rejections(st)) >= 3, TIMEOUT) is not None, _rejections(st)
    texts = _rejections(st)
    assert sum("MAC does not verify" in t for t in texts) == 2
    assert sum("replay" in t for t in texts) == 1
    executed = [(seq, text.rsplit(" ", 1)[1]) for _, seq, text in answers(st, "flight_computer")]
    assert executed == [(first, "1"), (last, "0")]        # neither forgery nor replay ran
    assert bad_seq not in (first, last)
    hk = st.wait_hk("uplink", lambda h: h["sdls_rejected"] >= 3)
    assert hk is not None and hk["sdls_rejected"] == 3


def _pid(st: GroundStation, module: str) -> int:
    # A command published in the instant after a restart can miss the new process while its
    # subscription still travels to the uplink's publisher (a bus property), and an answer
    # published while the downlink restarts is lost: the station then sends the same packet
    # again, which the module executes once and answers again.
    return int(accepted(st, f"{module}.NOOP").text.split(" (")[0].rsplit(" ", 1)[1])


@pytest.mark.parametrize("victim", ["uplink", "downlink", "scheduler", "store"])
def test_killed_module_is_restarted_reported_and_the_link_keeps_working(onboard, victim):
    st = onboard.station()
    bus = GroundCommander(onboard.bus)        # the executive's events on the bus itself: while the
    try:                                      # downlink is dead, the TM link cannot carry them
        pid = _pid(st, victim)
        other = "scheduler" if victim != "scheduler" else "uplink"
        os.kill(pid, signal.SIGKILL)
        died = bus.wait_event(lambda e: e.event_id == ExecutiveEvent.MODULE_DIED and victim in e.text,
                              TIMEOUT)
        assert died is not None and "SIGKILL" in died.text
        apid = st.registry.module(victim).apid
        restarted = bus.wait_event(
            lambda e: e.event_id == ExecutiveEvent.MODULE_RESTARTED and victim in e.text, TIMEOUT)
        assert restarted is not None
        started = bus.wait_event(lambda e: e.event_id == EventId.STARTED and e.source_apid == apid and
                                 str(pid) not in e.text, TIMEOUT)
        assert started is not None
    finally:
        bus.close()
    assert _pid(st, victim) != pid                       # answered by the new process
    _pid(st, other)                                      # and the rest still answers


@pytest.mark.parametrize("module, line", [("store", "store.REWIND"),
                                          ("flight_computer", "flight_computer.SET_COUNTER value=7")])
def test_repeated_command_packet_is_answered_again_and_executed_once(onboard, module, line):
    st = onboard.station()
    mod, name, args = st.dictionary.parse_line(line)
    seq = st.send(mod, name, **args)
    first = st.answer(module, seq, TIMEOUT)
    assert first is not None and first.event_id == EventId.CMD_ACCEPTED
    st.repeat(module, seq)                               # as if the answer had been lost
    again = st.wait_event(lambda e: response_to(e) == (name, seq) and e is not first, TIMEOUT)
    assert again is not None and again.text == first.text + REPEATED


def test_ground_station_command_line_sends_a_command_and_prints_the_answer(onboard):
    onboard.station()                                    # the link is up
    cli = [sys.executable, "-m", "hil.ground.station", "--uplink", onboard.uplink,
           "--downlink", onboard.downlink]
    result = subprocess.run([*cli, "--timeout", str(TIMEOUT), "flight_computer.SET_MODE mode=2"],
                            capture_output=True, text=True, timeout=TIMEOUT * 2)
    assert result.returncode == 0, result.stderr
    assert "SET_MODE seq 0: accepted: mode 2" in result.stdout
    bad = subprocess.run([*cli, "flight_computer.SET_MODE mode=9"], capture_output=True, text=True,
                         timeout=TIMEOUT * 2)
    assert bad.returncode == 2 and "usage error" in bad.stderr
    again = subprocess.run([*cli, "--timeout", str(TIMEOUT), "flight_computer.SET_MODE mode=1"],
                           capture_output=True, text=True, timeout=TIMEOUT * 2)
    assert again.returncode == 0, again.stderr          # a second session continues the SA's counter
    assert "accepted: mode 1" in again.stdout


@pytest.mark.sanitize
def test_garbage_on_the_uplink_is_counted_and_survived(onboard):
    st = onboard.station()
    rng = np.random.default_rng(3)
    for n in (1, 7, 100, 4000):
        st.send_raw_cltu(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    good = encode_cltu(bytes(40))
    st.send_raw_cltu(good[:23])                          # truncated CLTU
    st.send_raw_cltu(bytes.fromhex("EB90") + rng.integers(0, 256, 64, dtype=np.uint8).tobytes())
    accepted(st, "flight_computer.SET_MODE mode=1")
    hk = st.wait_hk("uplink", lambda h: h["octets_skipped"] > 0 and h["cltus_truncated"] >= 1)
    assert hk is not None
    accepted(st, "scheduler.NOOP")


def test_farm_resumes_its_state_after_the_uplink_is_killed(onboard):
    st = onboard.station()
    for value in range(4):
        accepted(st, f"flight_computer.SET_COUNTER value={value}")
    pid = _pid(st, "uplink")
    vr = st.last_clcw & 0xFF
    assert vr >= 5 and not st.fop.outstanding
    restarts = st.fop_restarts
    bus = GroundCommander(onboard.bus)
    try:
        os.kill(pid, signal.SIGKILL)
        apid = st.registry.module("uplink").apid
        assert bus.wait_event(lambda e: e.event_id == EventId.STARTED and e.source_apid == apid and
                              str(pid) not in e.text, TIMEOUT) is not None
    finally:
        bus.close()
    # the new process reports the V(R) the old one had committed, not 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        st.poll(0.1)
    assert st.last_clcw & 0xFF == vr
    assert "counter 9" in accepted(st, "flight_computer.SET_COUNTER value=9").text
    # FOP-1 met the FARM where it was: no alert, no re-initialisation
    assert st.fop_restarts == restarts and not [k for k in st.fop.counters if k.startswith("alert")]
    assert st.last_clcw & 0xFF == (vr + 1) % 256
