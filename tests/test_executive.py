"""The executive and the modules as real OS processes on a real bus, and the emulation clock.

Waits poll with generous timeouts; nothing asserts on how long something took.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import zmq
from test_bus import _free_port_pair

from hil.ground.command import GroundCommander
from hil.ground.housekeeping import decode_housekeeping
from onboard.bus import messages
from onboard.bus.client import BusClient, wait_for
from onboard.bus.endpoints import BusEndpoints, CurveClientKeys, CurveKeyDir
from onboard.bus.packet import PacketType, pack, tai_from_unix, topic
from onboard.bus.proxy import Proxy
from onboard.bus.registry import default_registry
from onboard.clock import Clock, ClockError, ClockMode, ClockState, SharedClock
from onboard.events import Event, EventId, Severity
from onboard.executive import ExecutiveEvent
from onboard.modules.scheduler import Scheduler, SchedulerEvent
from onboard.modules.store import PLAYBACK_HEAD

R = default_registry()
TIMEOUT = 30.0


class Running:
    def __init__(self, *extra: str):
        self.run_dir = tempfile.mkdtemp(prefix="lrx")
        self.bus = f"ipc://{self.run_dir}/bus"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "onboard.executive", "--run-dir", self.run_dir, "--bus", self.bus,
             "--health-period", "0.2", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            self.ground = GroundCommander(self.bus)
            for module in ("scheduler", "store"):       # up and subscribed: it answers
                wait_for_answer(self, f"{module}.NOOP")
        except BaseException:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.communicate(timeout=TIMEOUT)
            raise

    def hk(self, module: str, match=lambda hk: True) -> dict:
        """The first housekeeping of ``module`` for which ``match`` holds."""
        pipe = self.ground.client.pipe(f"hk-{module}", [R.module(module).hk_topic])
        try:
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                pkt = pipe.receive(deadline - time.monotonic())
                if pkt is not None and match(hk := decode_housekeeping(module, pkt.data)):
                    return hk
            raise AssertionError(f"no matching housekeeping from {module}")
        finally:
            self.ground.client.pipes.remove(pipe)
            pipe.close()

    def accepted(self, line: str):
        event = self.ground.command(line, TIMEOUT)
        assert event is not None, f"no answer to {line}"
        assert event.event_id == EventId.CMD_ACCEPTED, str(event)
        return event

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=TIMEOUT)
        self.ground.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        return out


@pytest.fixture(scope="module")
def onboard():
    running = Running()
    yield running
    running.stop()


@pytest.fixture
def fresh():
    running = Running()
    yield running
    running.stop()


def test_every_module_and_the_bus_publish_housekeeping(onboard):
    assert onboard.hk("scheduler", lambda hk: hk["ticks_sent"] > 0)["tick_period_ms"] == 1000
    assert onboard.hk("store")["stored"] >= 0
    assert onboard.hk("executive", lambda hk: hk["modules_running"] == 2)["clock_mode"] == ClockMode.REALTIME
    pipe = onboard.ground.client.pipe("bus-hk", [R.module("bus").hk_topic])
    pkt = pipe.receive(TIMEOUT)
    assert pkt is not None and messages.ProxyStats.from_bytes(pkt.data).front_msgs_in > 0


def test_ground_command_reaches_its_module_and_the_answer_comes_back(onboard):
    assert "store pid" in onboard.accepted("store.NOOP").text
    answer = onboard.accepted("scheduler.SET_HK_PERIOD ticks=2")
    assert answer.severity == Severity.COMMAND and "every 2 ticks" in answer.text
    assert onboard.hk("scheduler", lambda hk: hk["hk_period_ticks"] == 2)["cmd_accepted"] >= 1
    onboard.accepted("scheduler.SET_HK_PERIOD ticks=1")


def test_command_that_breaks_the_dictionary_is_rejected_with_why(onboard):
    seq = onboard.ground.send_raw("store", bytes([16, 0x10, 0x00]))       # PLAYBACK of 4096 > 1000
    answer = onboard.ground.answer("store", seq, TIMEOUT)
    assert answer is not None and answer.event_id == EventId.CMD_REJECTED
    assert "max_packets: 4096 is outside [1, 1000]" in answer.text
    seq = onboard.ground.send_raw("scheduler", bytes([200]))
    answer = onboard.ground.answer("scheduler", seq, TIMEOUT)
    assert "opcode 200 is not a command of module 'scheduler'" in answer.text
    assert onboard.hk("store", lambda hk: hk["cmd_rejected"] >= 1)


def test_store_keeps_user_packets_plays_them_back_and_deletes_on_acknowledge(onboard):
    client = onboard.ground.client
    before = onboard.hk("store")["received"]
    for i in range(20):
        client.publish(0x101, f"lander {i}".encode())
    hk = onboard.hk("store", lambda hk: hk["received"] >= before + 20)
    assert hk["stored"] >= 20
    playback = client.pipe("playback", [R.message("STORE_PLAYBACK").topic], depth=2000)
    got: dict[int, bytes] = {}
    deadline = time.monotonic() + TIMEOUT
    while len(got) < hk["stored"] and time.monotonic() < deadline:
        # replay from the start until every packet is seen: the new subscription may still be on
        # its way to the store's publisher when the first playback goes out
        onboard.accepted("store.REWIND")
        answer = onboard.accepted(f"store.PLAYBACK max_packets={hk['stored']}")
        assert f"{hk['stored']} packets played back" in answer.text
        while len(got) < hk["stored"] and (pkt := playback.receive(2.0)) is not None:
            got[PLAYBACK_HEAD.unpack_from(pkt.data)[0]] = pkt.data[PLAYBACK_HEAD.size:]
    assert len(got) == hk["stored"]
    assert hk["stored_octets"] == sum(len(raw) for raw in got.values())
    inner = [got[i] for i in sorted(got)]
    assert [b[12:] for b in inner[-20:]] == [f"lander {i}".encode() for i in range(20)]
    last_id = max(got)
    assert f"{hk['stored']} packets deleted" in onboard.accepted(f"store.ACKNOWLEDGE up_to_id={last_id}").text
    after = onboard.hk("store", lambda hk: hk["deleted"] >= 20)
    assert (after["stored"], after["stored_octets"]) == (0, 0)


def test_acknowledging_what_was_not_played_fails_with_why(onboard):
    seq = onboard.ground.send("store", "ACKNOWLEDGE", up_to_id=10**9)
    answer = onboard.ground.answer("store", seq, TIMEOUT)
    assert answer.event_id == EventId.CMD_FAILED and "has not been played back yet" in answer.text


def test_killed_module_is_restarted_with_an_event_while_the_rest_keeps_running(fresh):
    for i in range(10):
        fresh.ground.client.publish(0x102, f"rover {i}".encode())
    stored = fresh.hk("store", lambda hk: hk["stored"] >= 10)["stored"]
    store_pid = int(fresh.accepted("store.NOOP").text.rsplit("pid ", 1)[1])
    scheduler_pid = int(fresh.accepted("scheduler.NOOP").text.rsplit("pid ", 1)[1])
    os.kill(store_pid, signal.SIGKILL)
    died = fresh.ground.wait_event(lambda e: e.event_id == ExecutiveEvent.MODULE_DIED, TIMEOUT)
    assert died is not None and "store" in died.text and "SIGKILL" in died.text
    assert died.severity == Severity.WARNING_HI
    restarted = fresh.ground.wait_event(lambda e: e.event_id == ExecutiveEvent.MODULE_RESTARTED, TIMEOUT)
    assert restarted is not None and restarted.text.startswith("store restarted")
    new_pid = int(wait_for_answer(fresh, "store.NOOP").text.rsplit("pid ", 1)[1])
    assert new_pid != store_pid
    assert int(fresh.accepted("scheduler.NOOP").text.rsplit("pid ", 1)[1]) == scheduler_pid
    assert fresh.hk("executive", lambda hk: hk["restarts"] >= 1)["modules_running"] == 2
    assert fresh.hk("store")["stored"] == stored            # committed packets survive the kill -9


def wait_for_answer(running: Running, line: str):
    """Accepted answer to ``line``, re-sent while a restarted module is still connecting."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        event = running.ground.command(line, 2.0)
        if event is not None:
            assert event.event_id == EventId.CMD_ACCEPTED, str(event)
            return event
    raise AssertionError(f"no answer to {line}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_modules_in_reverse_order_then_the_bus(fresh, sig):
    fresh.proc.send_signal(sig)
    out = fresh.stop()
    assert fresh.proc.returncode == 0
    stops = [line.split()[2] for line in out.splitlines() if line.startswith("executive: stopped")]
    assert stops == ["store", "scheduler", "bus"]
    assert "stopped store (exit code 0)" in out


def test_stepped_clock_ticks_only_when_stepped():
    running = Running("--time-scale", "0")
    try:
        ticks = running.ground.client.pipe("ticks", [R.message("SCHED_TICK").topic])
        clock = running.ground.client.pipe("clock", [R.message("CLOCK").topic])
        assert ClockState.from_bytes(clock.receive(TIMEOUT).data).mode is ClockMode.STEPPED
        while ticks.receive(1.0) is not None:       # the tick at start, if it came after subscribing
            pass
        running.accepted("executive.STEP_CLOCK seconds=5")
        got = [messages.Tick.from_bytes(ticks.receive(TIMEOUT).data).tick for _ in range(5)]
        assert got == [got[0] + i for i in range(5)]
        assert ticks.receive(1.0) is None
    finally:
        running.stop()


def test_stepping_a_realtime_clock_is_refused_with_why(onboard):
    seq = onboard.ground.send("executive", "STEP_CLOCK", seconds=1.0)
    answer = onboard.ground.answer("executive", seq, TIMEOUT)
    assert answer.event_id == EventId.CMD_FAILED and "only a STEPPED clock" in answer.text


def test_unknown_module_name_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "onboard.executive", "--modules", "scheduler,warp"],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2 and "unknown module 'warp'" in result.stderr


def test_scaled_clock_runs_scale_times_wall_time():
    state = ClockState(ClockMode.SCALED, 10.0, epoch_tai=100.0, anchor_unix=1000.0)
    assert state.now_tai(1002.5) == pytest.approx(125.0)
    assert state.wall_seconds_until(state.now_tai() + 50.0) == pytest.approx(5.0, abs=0.01)


def test_rescaling_keeps_emulated_time_continuous():
    clock = Clock(ClockState.start(0.0, epoch_tai=5000.0))
    clock.step(12.5)
    assert clock.now_tai() == 5012.5
    clock.set_scale(100.0)
    assert clock.state.mode is ClockMode.SCALED and clock.now_tai() == pytest.approx(5012.5, abs=1.0)
    with pytest.raises(ClockError, match="only a STEPPED clock"):
        clock.step(1.0)


def test_shared_clock_steps_are_seen_by_readers_who_cannot_write(tmp_path):
    owner = SharedClock(tmp_path / "clock", owner=True, state=ClockState.start(0.0, epoch_tai=7.0))
    reader = SharedClock(tmp_path / "clock")
    owner.step(3.0)
    assert reader.now_tai() == 10.0
    assert reader.state.mode is ClockMode.STEPPED
    with pytest.raises(ClockError, match="only the clock's owner"):
        reader.step(1.0)


def test_clock_record_round_trips_for_other_hosts():
    state = ClockState(ClockMode.SCALED, 3.0, 123456.5, 1.7e9)
    assert ClockState.from_bytes(state.to_bytes()) == state
    with pytest.raises(ClockError, match="octets"):
        ClockState.from_bytes(b"short")


def test_command_packets_use_the_tc_type_bit():
    raw = R.module("store").cmd_topic
    assert raw[0] >> 4 & 1 == PacketType.TC and R.module("store").hk_topic[0] >> 4 & 1 == PacketType.TM


def test_unresponsive_module_is_killed_and_restarted():
    running = Running("--unresponsive", "2")
    try:
        pid = int(running.accepted("scheduler.NOOP").text.rsplit("pid ", 1)[1])
        os.kill(pid, signal.SIGSTOP)
        silent = running.ground.wait_event(lambda e: e.event_id == ExecutiveEvent.MODULE_UNRESPONSIVE,
                                           TIMEOUT)
        assert silent is not None and silent.text.startswith(f"scheduler (pid {pid}) gave no pong")
        died = running.ground.wait_event(lambda e: e.event_id == ExecutiveEvent.MODULE_DIED, TIMEOUT)
        assert "killed by SIGKILL" in died.text
        assert running.ground.wait_event(lambda e: e.event_id == ExecutiveEvent.MODULE_RESTARTED, TIMEOUT)
        assert int(wait_for_answer(running, "scheduler.NOOP").text.rsplit("pid ", 1)[1]) != pid
    finally:
        running.stop()


def test_sequence_gap_in_user_data_shows_in_an_event_and_housekeeping(onboard):
    store = R.module("store").apid
    for seq in (0, 1, 50):
        onboard.ground.client.publish_raw(pack(0x1A0, b"gap", seq, 0.0))
    lost = onboard.ground.wait_event(
        lambda e: e.source_apid == store and e.event_id == EventId.PACKETS_LOST, TIMEOUT)
    assert lost is not None and "48 packets lost before arrival" in lost.text
    assert onboard.hk("store", lambda hk: hk["data_pipe"].lost >= 48)["data_pipe"].received >= 3


def test_ground_command_line_tool_prints_the_answer(onboard):
    tool = [sys.executable, "-m", "hil.ground.command", "--bus", onboard.bus, "--timeout", str(TIMEOUT)]
    ok = subprocess.run([*tool, "store.NOOP"], capture_output=True, text=True, timeout=TIMEOUT * 2)
    assert ok.returncode == 0 and "[COMMAND]" in ok.stdout and "NOOP seq 0: accepted" in ok.stdout
    bad = subprocess.run([*tool, "store.PLAYBACK max_packets=0"], capture_output=True, text=True,
                         timeout=TIMEOUT * 2)
    assert bad.returncode == 2 and "max_packets: 0 is outside [1, 1000]" in bad.stderr


def test_curve_bus_over_tcp_serves_key_holders_only(tmp_path):
    keys = CurveKeyDir.create(tmp_path / "keys")
    bus = f"tcp://127.0.0.1:{_free_port_pair()}"
    proc = subprocess.Popen([sys.executable, "-m", "onboard.executive", "--bus", bus, "--run-dir",
                             str(tmp_path / "run"), "--curve-keys", str(keys.path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ground = None
    try:
        # the executive and its CURVE proxy start slowly on a loaded machine: wait for the bus
        # as long as the test's other waits before the commander takes its own ten seconds
        first = BusClient(BusEndpoints.from_url(bus), curve=keys.client())
        try:
            assert first.await_connection(R.module("ground").pong_apid, timeout_s=TIMEOUT)
        finally:
            first.close()
        ground = GroundCommander(bus, curve=keys.client())
        deadline = time.monotonic() + TIMEOUT
        answer = None
        while answer is None and time.monotonic() < deadline:
            answer = ground.command("store.NOOP", 2.0)
        assert answer is not None and answer.event_id == EventId.CMD_ACCEPTED
        other = CurveKeyDir.create(tmp_path / "other")           # valid keys the proxy never authorized
        stranger = BusClient(BusEndpoints.from_url(bus), curve=CurveClientKeys.from_files(
            other.client_secret, keys.server_public))
        try:
            assert not stranger.await_connection(0x31E, timeout_s=2.0)
            pipe = stranger.pipe("hk", [topic(R.module("scheduler").apid)])
            assert pipe.receive(2.0) is None
        finally:
            stranger.close()
    finally:
        if ground:
            ground.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=TIMEOUT)
    assert "stopped bus" in out


def test_event_filter_set_by_command_suppresses_and_counts(onboard):
    before = onboard.hk("scheduler")
    onboard.ground.send("scheduler", "SET_MIN_SEVERITY", severity=4)     # drop below WARNING_LO, so
    onboard.ground.send("scheduler", "NOOP")                              # both COMMAND answers are dropped
    hk = onboard.hk("scheduler", lambda hk: hk["cmd_accepted"] >= before["cmd_accepted"] + 2)
    assert hk["events_suppressed"] >= before["events_suppressed"] + 2
    seq = onboard.ground.send("scheduler", "SET_MIN_SEVERITY", severity=0)
    answer = onboard.ground.answer("scheduler", seq, TIMEOUT)
    assert answer is not None and "events below DIAGNOSTIC dropped" in answer.text


def test_module_on_another_host_follows_the_clock_messages(tmp_path):
    endpoints = BusEndpoints.from_url(f"ipc://{tmp_path}/bus")
    context = zmq.Context()
    proxy = Proxy(endpoints, context)
    proxy.start()
    scheduler = Scheduler(bus=endpoints, clock=Clock(), follow_bus_clock=True, context=context)
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    ground = BusClient(endpoints, context=context)
    try:
        ticks = ground.pipe("ticks", [R.message("SCHED_TICK").topic], depth=1000)
        events = ground.pipe("events", [topic(R.module("scheduler").event_apid)])
        ahead = tai_from_unix(time.time()) + 1e6                 # the executive's clock, far ahead
        record = ClockState(ClockMode.STEPPED, 0.0, ahead, 0.0).to_bytes()
        tick = wait_for(ticks, lambda p: p.time_tai >= ahead - 1, TIMEOUT,
                        resend=lambda: ground.publish(R.message("CLOCK").apid, record))
        assert tick is not None and tick.time_tai == pytest.approx(ahead, abs=1.0)

        def is_skip(p) -> bool:
            return Event.from_bytes(p.data).event_id == SchedulerEvent.TICKS_SKIPPED

        skipped = wait_for(events, is_skip, TIMEOUT)
        assert skipped is not None and "ticks skipped" in Event.from_bytes(skipped.data).text
    finally:
        scheduler.stop()
        thread.join(TIMEOUT)
        ground.close()
        proxy.stop()
        context.term()
    assert not thread.is_alive()


def test_garbage_on_the_bus_is_counted_reported_and_survived(onboard, rng):
    store = R.module("store").apid
    for n in range(1, 40):                       # random tails behind a user-data topic octet
        onboard.ground.client.publish_raw(b"\x09" + rng.integers(0, 256, n, dtype="uint8").tobytes())
    malformed = onboard.ground.wait_event(
        lambda e: e.source_apid == store and e.event_id == EventId.MALFORMED, TIMEOUT)
    assert malformed is not None and "malformed, discarded" in malformed.text
    assert onboard.hk("store", lambda hk: hk["data_pipe"].malformed >= 39)
    assert "store pid" in onboard.accepted("store.NOOP").text


def test_killed_bus_proxy_is_restarted_and_modules_reconnect(fresh):
    pongs = fresh.ground.client.pipe("bus-pong", [topic(R.module("bus").pong_apid)])

    def proxy_pid(not_pid: int = 0) -> int:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            pkt = pongs.receive(1.0)
            if pkt is not None and len(pkt.data) >= messages.PONG.size:
                pid = messages.PONG.unpack_from(pkt.data)[1]
                if pid != not_pid:
                    return pid
        raise AssertionError("no pong from the bus proxy")

    old = proxy_pid()
    os.kill(old, signal.SIGKILL)
    assert proxy_pid(not_pid=old) != old
    assert "store pid" in wait_for_answer(fresh, "store.NOOP").text
    assert "scheduler pid" in wait_for_answer(fresh, "scheduler.NOOP").text
