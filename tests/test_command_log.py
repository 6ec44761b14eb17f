"""The durable command log (onboard.commands.log), the emulated flight computer that keeps its
effects with it, and FARM-1 resuming from its record: exactly once across process deaths.

The deaths here are real: a child process is SIGKILLed by the log's own test hook right after
a command committed and before its answer went out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from hil.devices.flight_computer import EmulatedFlightComputer, executed_commands
from hil.ground.fop import build_tc_frame
from onboard.bus.packet import PacketType, pack, unpack
from onboard.bus.registry import default_registry
from onboard.commands import REPEATED, default_dictionary
from onboard.commands.log import KILL_ENV, CommandLog, kill_points, open_database
from onboard.core.farm import Farm, FarmResult, FarmState
from onboard.events import Event, EventId, Severity
from onboard.links.flight_computer import LinkOutages

R = default_registry()
D = default_dictionary()
FC_APID = R.module("flight_computer").apid


def fc_command(seq: int, name: str = "SET_COUNTER", **args) -> bytes:
    return pack(FC_APID, D.encode("flight_computer", name, **args), seq, 1.9e9 + seq, PacketType.TC)


def texts(fc: EmulatedFlightComputer) -> list[str]:
    return [Event.from_bytes(unpack(p).data).text for p in fc.receive()]


def accepted(name: str, seq: int, text: str = "") -> tuple:
    return (EventId.CMD_ACCEPTED, Severity.COMMAND, f"{name} seq {seq}: accepted{text}")


def test_answer_outlives_the_log_and_a_repeat_is_not_executed_again(tmp_path):
    path = tmp_path / "x-commands.sqlite"
    log = CommandLog.open(path, "x")
    runs = []

    def run():
        runs.append(1)
        return accepted("NOOP", 7), True

    assert log.previous(7, 100.0) is None
    assert log.execute(7, 100.0, "NOOP", {}, run, durable=False) == accepted("NOOP", 7)
    log.close()
    again = CommandLog.open(path, "x")                    # the process restarted
    assert again.previous(7, 100.0) == (EventId.CMD_ACCEPTED, Severity.COMMAND,
                                        "NOOP seq 7: accepted" + REPEATED)
    assert again.previous(7, 100.5) is None               # same count, another packet: new
    assert runs == [1] and again.executed_count == 1


def test_durable_effect_rolls_back_with_a_failed_command(tmp_path):
    db = open_database(tmp_path / "state.sqlite")
    db.execute("CREATE TABLE thing (value INTEGER)")
    log = CommandLog(db, "x")

    def failing():
        db.execute("INSERT INTO thing VALUES (1)")
        return (EventId.CMD_FAILED, Severity.WARNING_HI, "SET seq 3: failed: no"), False

    answer = log.execute(3, 5.0, "SET", {}, failing, durable=True)
    assert answer[0] == EventId.CMD_FAILED
    assert db.execute("SELECT count(*) FROM thing").fetchone() == (0,)
    assert log.previous(3, 5.0)[2] == "SET seq 3: failed: no" + REPEATED
    assert log.executed() == [] and log.executed_count == 0


def test_volatile_command_cut_between_executing_and_done_is_answered_interrupted_not_rerun(tmp_path):
    path = tmp_path / "x-commands.sqlite"
    log = CommandLog.open(path, "scheduler")

    def dies():
        raise KeyboardInterrupt        # the process goes away inside the handler

    with pytest.raises(KeyboardInterrupt):
        log.execute(4, 9.0, "SET_HK_PERIOD", {"ticks": 2}, dies, durable=False)
    log.close()
    after = CommandLog.open(path, "scheduler")
    first = after.previous(4, 9.0)
    assert first[0] == EventId.CMD_FAILED
    assert first[2] == ("SET_HK_PERIOD seq 4: interrupted by a restart of scheduler: ran at most once, "
                        "not run again")
    assert after.previous(4, 9.0)[2] == first[2] + REPEATED     # that answer is now the record
    assert after.executed() == []


def test_kill_points_name_the_executor_and_its_counts():
    assert kill_points("store", "flight_computer=3, store=5,store=9,uplink=x") == {5, 9}
    assert kill_points("downlink", "flight_computer=3") == frozenset()


FC_CHILD = textwrap.dedent("""
    import sys
    from onboard.bus.packet import PacketType, pack
    from onboard.bus.registry import default_registry
    from onboard.commands import default_dictionary
    from hil.devices.flight_computer import EmulatedFlightComputer
    apid = default_registry().module("flight_computer").apid
    fc = EmulatedFlightComputer(state_path=sys.argv[1])
    for seq in range(int(sys.argv[2]), int(sys.argv[3])):
        data = default_dictionary().encode("flight_computer", "SET_COUNTER", value=100 + seq)
        fc.send(pack(apid, data, seq, 1.9e9 + seq, PacketType.TC))
        print(seq, flush=True)        # the answer is out: this one was answered
""")


def run_fc(path, first: int, end: int, kill: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FC_CHILD, str(path), str(first), str(end)],
                          env={**os.environ, KILL_ENV: kill}, capture_output=True, text=True,
                          timeout=60)


def test_flight_computer_killed_after_executing_before_answering_runs_that_command_once(tmp_path):
    path = tmp_path / "flight_computer.sqlite"
    died = run_fc(path, 0, 10, kill="flight_computer=4")
    assert died.returncode == -signal.SIGKILL
    assert died.stdout.split() == ["0", "1", "2"]           # the fourth (seq 3) ran, unanswered
    # the ground heard no answer to seq 3 and sends it again, then goes on
    fc = EmulatedFlightComputer(state_path=path)
    assert fc.counter == 103                               # its effect committed with its record
    fc.send(fc_command(3, value=103))
    fc.send(fc_command(4, value=104))
    assert texts(fc) == ["SET_COUNTER seq 3: accepted: counter 103" + REPEATED,
                         "SET_COUNTER seq 4: accepted: counter 104"]
    fc.close()
    journal = executed_commands(path)
    assert [(e.seq, e.args["value"]) for e in journal] == [(s, 100 + s) for s in range(5)]


def test_flight_computer_state_and_journal_survive_a_clean_restart_too(tmp_path):
    path = tmp_path / "fc.sqlite"
    assert run_fc(path, 0, 3).returncode == 0
    assert run_fc(path, 0, 5).stdout.split() == ["0", "1", "2", "3", "4"]   # 0..2 answered again
    fc = EmulatedFlightComputer(state_path=path)
    fc.send(fc_command(9, "SET_MODE", mode=2))
    assert (fc.mode, fc.counter) == (2, 104)
    assert [name for name, _ in fc.executed] == ["SET_COUNTER"] * 5 + ["SET_MODE"]


def test_cut_link_loses_packets_both_ways_only_during_its_windows():
    now = [0.0]
    fc = EmulatedFlightComputer()
    link = LinkOutages(fc, [(10.0, 20.0)], lambda: now[0])
    link.send(fc_command(0, value=1))
    now[0] = 12.0
    assert link.receive() == [] and link.lost_from == 1     # its answer went into the cut
    link.send(fc_command(1, value=2))                        # never reaches the flight computer
    now[0] = 20.0
    link.send(fc_command(1, value=2))
    assert [Event.from_bytes(unpack(p).data).text for p in link.receive()] == \
        ["SET_COUNTER seq 1: accepted: counter 2"]
    assert link.lost_to == 1 and fc.executed == [("SET_COUNTER", {"value": 1}), ("SET_COUNTER", {"value": 2})]


def frame(ns: int, data: bytes = b"\x01\x02") -> bytes:
    return build_tc_frame(0x2A1, 0, ns, data)


def test_farm_resumed_from_its_record_continues_where_it_was():
    farm = Farm(10)
    for ns in range(3):
        assert farm.receive(frame(ns)) == FarmResult.ACCEPT_AD
    assert farm.receive(frame(5)) == FarmResult.DISCARD_AHEAD          # retransmit flag set
    record = farm.record()
    resumed = Farm(10)
    resumed.restore(record)
    assert resumed.clcw == farm.clcw and resumed.vr == 3 and resumed.flags["retransmit"]
    assert resumed.receive(frame(2)) == FarmResult.DISCARD_BEHIND     # already executed: not again
    assert resumed.receive(frame(3)) == FarmResult.ACCEPT_AD
    locked = Farm(10)
    assert locked.receive(frame(100)) == FarmResult.DISCARD_LOCKOUT
    again = Farm(4)
    again.restore(locked.record())
    assert again.state == FarmState.LOCKOUT and again.receive(frame(0)) == FarmResult.DISCARD_LOCKOUT
    with pytest.raises(ValueError, match="window 7"):
        again.restore(type(record)(7, 1, 0, False, False, False, False, 0))


def _grows_by(path, size: int, octets: int, timeout_s: float = 30.0) -> bool:
    """Whether the database file grows from ``size`` by ``octets`` (a checkpoint) within the time."""
    import time

    deadline = time.monotonic() + timeout_s
    while os.path.getsize(path) < size + octets:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_writes_made_before_the_checkpoint_thread_first_runs_are_checkpointed(tmp_path, monkeypatch):
    # On a loaded machine the checkpointer may first run after the connection's first writes:
    # they are checkpointed all the same (it once took its own start as "checkpointed").
    import threading
    import time

    from onboard.commands import log as command_log

    started = threading.Event()
    real = command_log._CheckpointedDatabase._checkpoint_when_idle

    def late(self, path):
        started.wait(5.0)                           # scheduled only after the writes below
        real(self, path)

    monkeypatch.setattr(command_log._CheckpointedDatabase, "_checkpoint_when_idle", late)
    path = tmp_path / "late.sqlite"
    db = open_database(path)
    try:
        db.execute("CREATE TABLE t (x BLOB)")
        for _ in range(100):
            db.execute("INSERT INTO t VALUES (?)", (os.urandom(1024),))
        before = os.path.getsize(path)
        time.sleep(0.05)
        started.set()
        assert _grows_by(path, before, 100 * 1024)
    finally:
        db.close()


def test_database_wal_is_checkpointed_off_the_commit_path_once_idle(tmp_path):
    path = tmp_path / "state.sqlite"
    db = open_database(path)
    try:
        # no checkpoint inside a commit: SQLite's own, where its fsyncs are, is off
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        db.execute("CREATE TABLE t (x BLOB)")
        for _ in range(200):
            db.execute("INSERT INTO t VALUES (?)", (os.urandom(1024),))
        written_to_wal = os.path.getsize(path)
        # the connection's own thread copies the WAL into the database once nothing is written
        assert _grows_by(path, written_to_wal, 200 * 1024)
    finally:
        db.close()
    again = open_database(path)
    try:
        assert again.execute("SELECT count(*) FROM t").fetchone()[0] == 200
    finally:
        again.close()
