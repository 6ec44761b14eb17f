"""Exactly once across restarts, over real processes: the ground commands the flight computer,
the store and the uplink through the whole TM/TC chain while modules are SIGKILLed at random
moments, and the flight computer, the store and the uplink also die right after executing a
command, before answering it.  Every command must run once, in the order sent, and be answered.

Waits poll with generous timeouts; nothing asserts on how long something took.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from hil.ground.station import GroundStation
from onboard.commands.log import KILL_ENV, CommandLog, open_database
from onboard.events import EventId
from onboard.links.flight_computer import executed_commands

VICTIMS = ("uplink", "downlink", "store", "scheduler")
COMMAND_TIMEOUT_S = 90.0


def module_pids(parent: int) -> dict[str, int]:
    """The onboard modules the executive ``parent`` runs now: name -> pid (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            if int(ppid) != parent or state == "Z":     # a zombie has died already
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        for arg in argv:
            if arg.startswith(b"onboard.modules."):
                found[arg.decode().rsplit(".", 1)[1]] = int(entry)
    return found


class Killer(threading.Thread):
    """SIGKILLs the modules in a shuffled round, one every 1.5 to 4 s."""

    def __init__(self, executive_pid: int, seed: int):
        super().__init__(daemon=True)
        self.executive_pid, self.rng = executive_pid, random.Random(seed)
        self.kills: collections.Counter[str] = collections.Counter()
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            for victim in self.rng.sample(VICTIMS, len(VICTIMS)):
                if self.done.wait(self.rng.uniform(1.5, 4.0)):
                    return
                pid = module_pids(self.executive_pid).get(victim)
                if pid is not None:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.kills[victim] += 1
                    except ProcessLookupError:
                        pass


def command_plan(n: int) -> list[tuple[str, str, dict]]:
    plan = []
    for i in range(1, n + 1):
        if i % 8 == 0:
            plan.append(("store", "REWIND", {}))
        elif i % 10 == 5:
            plan.append(("uplink", "NOOP", {}))
        else:
            plan.append(("flight_computer", "SET_COUNTER", {"value": i}))
    return plan


@pytest.mark.slow
def test_every_command_runs_once_in_order_and_is_answered_while_modules_are_killed():
    run_dir = tempfile.mkdtemp(prefix="lrk")
    hooks = "flight_computer=5,flight_computer=17,store=3,uplink=2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "onboard.executive", "--run-dir", run_dir, "--bus", f"ipc://{run_dir}/bus",
         "--health-period", "0.2", "--time-scale", "5", "--stable", "2",
         "--modules", "scheduler,store,uplink,downlink"],
        env={**os.environ, KILL_ENV: hooks}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    station = GroundStation(f"ipc://{run_dir}/uplink", f"ipc://{run_dir}/downlink", t1_s=1.0)
    killer = Killer(proc.pid, seed=5)
    sent: list[tuple[str, int, dict]] = []
    answers: dict[int, str] = {}
    try:
        assert station.wait_link(60.0), "no CLCW came down the link"
        killer.start()
        for module, name, args in command_plan(60):
            seq = station.send(module, name, **args)
            sent.append((module, seq, args))
            deadline = time.monotonic() + COMMAND_TIMEOUT_S
            while (event := station.answer(module, seq, 3.0)) is None and time.monotonic() < deadline:
                station.repeat(module, seq)            # the answer did not come: the same packet again
            assert event is not None, f"{module}.{name} seq {seq} never answered; kills so far {killer.kills}"
            assert event.event_id == EventId.CMD_ACCEPTED, event.text
            answers[seq] = event.text
    finally:
        killer.done.set()
        killer.join(10.0)
        station.close()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    try:
        fc_sent = [(seq, args) for module, seq, args in sent if module == "flight_computer"]
        journal = executed_commands(os.path.join(run_dir, "flight_computer.sqlite"))
        # once each, in the order sent, with the arguments sent
        assert [(e.seq, e.args) for e in journal] == fc_sent
        for module, database in (("store", "store.sqlite"), ("uplink", "uplink.sqlite")):
            db = open_database(os.path.join(run_dir, database))
            ran = [e.seq for e in CommandLog(db, module, kill_after=frozenset()).executed()]
            db.close()
            assert ran == [seq for m, seq, _ in sent if m == module]
        # the faults happened: every victim killed at random, and the four deaths between
        # executing a command and answering it (the flight computer's two are the uplink's)
        assert set(killer.kills) == set(VICTIMS), killer.kills
        deaths = collections.Counter(line.split(" (pid")[0].split()[-1] for line in output.splitlines()
                                     if "killed by SIGKILL" in line)
        assert deaths["uplink"] == killer.kills["uplink"] + 3, output
        assert deaths["store"] == killer.kills["store"] + 1, output
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
