"""The durable record of the commands a module (or the flight computer) executed: each command
runs at most once and is answered at least once, across any restart of its process.

A command packet is known by its sequence count and time code (the ground stamps every packet
it makes; a packet sent again is the same packet).  The record is a table of the process's
SQLite database in WAL mode, committed before the answer that reports it goes out, so a
``kill -9`` at any instant leaves one of three things:

- no entry: the command did not run, and runs when its packet comes again;
- "done" with the answer: it ran once; a packet that comes again gets that answer again
  (text + ``REPEATED``) and is not executed;
- "executing" without an answer (``begin`` committed, ``finish`` not): see below.

How a command is executed depends on where its effect lives:

- ``durable=True``: the effect is state in the same database (the store's packets and
  playback cursor, FARM-1's window, the flight computer's mode and counter).  The handler
  writes it inside the transaction that also writes the entry "done" with its answer, so
  the two commit together or not at all: there is no window between executing and
  recording.
- ``durable=False``: the effect is elsewhere (the process's memory, a message, the clock
  file).  "executing" is committed before the handler runs and "done" with the answer after
  it.  A crash between the two means the command ran at most once, possibly not to its end,
  and its effect, if it lived in the memory of the process that died, is gone with it.  The
  packet sent again is not executed again: it is answered CMD_FAILED "interrupted ... not
  run again", and that becomes its recorded answer, so the ground learns that the command
  must be checked and sent anew (as a new packet) if still wanted.

Test hook: ``LUNARELAY_KILL_AFTER_EXECUTING="name=N[,name=N...]"``, read when the log
opens, makes the process SIGKILL itself right after the N-th command the executor ``name``
(a module's NAME, or ``flight_computer``) executed in this database is committed, before its
answer goes out: the worst moment for exactly-once.  The count is the record's own, so the
kill happens once per N however often the process restarts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from onboard.commands import REPEATED
from onboard.errors import LunarelayError
from onboard.events import EventId, Severity

KILL_ENV = "LUNARELAY_KILL_AFTER_EXECUTING"
# the WAL is copied into the database off the commit path (``_CheckpointedDatabase``)
CHECKPOINT_POLL_S = 0.05
CHECKPOINT_IDLE_S = 0.2          # nothing written for this long: the database is idle
CHECKPOINT_LATEST_S = 30.0       # a database never idle is checkpointed this long after a write

Answer = tuple[int, Severity, str]     # (event ID, severity, text): one command answer event


class CommandFailed(LunarelayError):
    """A command that matched the dictionary but could not be carried out; the message says why."""


@dataclasses.dataclass(frozen=True)
class Executed:
    """One command that ran, in the order the commands ran."""

    seq: int
    time_tai: float
    name: str
    args: dict[str, Any]
    answer: str


class _CheckpointedDatabase(sqlite3.Connection):
    """A connection whose WAL is checkpointed by a thread of its own, on a connection of its
    own, while the database is idle.

    SQLite checkpoints by itself in the commit that takes the WAL past 1000 pages, and the
    checkpoint is where the fsyncs are: every couple of hundred commands one commit, and the
    answer waiting on it, took milliseconds; and a checkpoint run beside the writer still held
    up its writes to the WAL while the WAL was synced.  Here commits only append to the WAL
    (durable against a process kill as before), and the thread checkpoints (passive, synced as
    before: sqlite.org/wal.html, "Checkpointing") once nothing was written for
    ``CHECKPOINT_IDLE_S``, or ``CHECKPOINT_LATEST_S`` after a write at the latest."""

    def start_checkpoints(self, path: str) -> None:
        self.execute("PRAGMA wal_autocheckpoint=0")
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_when_idle, args=(path,),
                                              name="wal-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint_when_idle(self, path: str) -> None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # checkpointed_at is a WAL modification time, never the clock's reading: a file's times
        # come from the kernel's coarse clock, a tick behind time.time(); and writes made before
        # this thread first ran (it may start late on a loaded machine) count as well
        wal, checkpointed_at, written_since = f"{path}-wal", 0.0, None
        try:
            db.execute("PRAGMA busy_timeout=5000")
            while not self._closing.wait(CHECKPOINT_POLL_S):
                try:
                    written = os.stat(wal).st_mtime
                except OSError:
                    continue
                if written <= checkpointed_at:
                    continue
                now = time.time()
                written_since = written_since or now
                if now - written >= CHECKPOINT_IDLE_S or now - written_since >= CHECKPOINT_LATEST_S:
                    with contextlib.suppress(sqlite3.Error):     # busy or closing: later
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    checkpointed_at, written_since = written, None
        finally:
            db.close()

    def close(self) -> None:
        checkpointer = getattr(self, "_checkpointer", None)
        if checkpointer is not None:
            self._closing.set()
            checkpointer.join(10.0)
        super().close()


def open_database(path: str | os.PathLike | None) -> sqlite3.Connection:
    """A SQLite connection in WAL mode with autocommit (transactions are explicit); in memory
    when ``path`` is None.  A file's WAL is checkpointed off the commit path
    (``_CheckpointedDatabase``)."""
    name = ":memory:" if path is None else os.fspath(path)
    db = sqlite3.connect(name, isolation_level=None, check_same_thread=False, factory=_CheckpointedDatabase)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")          # WAL + NORMAL: durable against a process kill
    db.execute("PRAGMA busy_timeout=5000")
    if path is not None:
        db.start_checkpoints(name)
    return db


def kill_points(executor: str, spec: str | None = None) -> frozenset[int]:
    """The execution counts after which ``executor`` kills itself (``KILL_ENV``)."""
    spec = os.environ.get(KILL_ENV, "") if spec is None else spec
    counts = set()
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, n = item.partition("=")
        if name == executor and n.isdigit():
            counts.add(int(n))
    return frozenset(counts)


class CommandLog:
    """The record of one executor's commands in ``db`` (shared with the executor's own durable
    state, so a command's effect and its entry commit in one transaction)."""

    def __init__(self, db: sqlite3.Connection, executor: str, kill_after: frozenset[int] | None = None,
                 owns_db: bool = False):
        self.db, self.executor, self.owns_db = db, executor, owns_db
        db.execute("CREATE TABLE IF NOT EXISTS command_log (n INTEGER PRIMARY KEY AUTOINCREMENT, "
                   "seq INTEGER NOT NULL, time_tai REAL NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL, "
                   "state TEXT NOT NULL, executed INTEGER NOT NULL DEFAULT 0, event_id INTEGER, "
                   "severity INTEGER, text TEXT, UNIQUE (seq, time_tai))")
        (self.executed_count,) = db.execute("SELECT count(*) FROM command_log WHERE executed").fetchone()
        self.kill_after = kill_points(executor) if kill_after is None else kill_after
        self.repeated = self.interrupted = 0

    @classmethod
    def open(cls, path: str | os.PathLike | None, executor: str) -> CommandLog:
        return cls(open_database(path), executor, owns_db=True)

    def close(self) -> None:
        if self.owns_db:
            self.db.close()

    # ---- the three outcomes of a packet -------------------------------------------------
    def previous(self, seq: int, time_tai: float) -> Answer | None:
        """The answer for a packet seen before, or None when it is new.  A packet whose
        command was interrupted between ``begin`` and ``finish`` is answered (and recorded)
        as interrupted here."""
        row = self.db.execute("SELECT name, state, event_id, severity, text FROM command_log "
                              "WHERE seq = ? AND time_tai = ?", (seq, time_tai)).fetchone()
        if row is None:
            return None
        name, state, event_id, severity, text = row
        if state == "executing":
            self.interrupted += 1
            answer = (EventId.CMD_FAILED, Severity.WARNING_HI,
                      f"{name} seq {seq}: interrupted by a restart of {self.executor}: ran at most once, "
                      "not run again")
            self._finish(seq, time_tai, answer, executed=False)
            return answer
        self.repeated += 1
        return (event_id, Severity(severity), text + REPEATED)

    def record(self, seq: int, time_tai: float, name: str, answer: Answer) -> None:
        """A command that did not run (rejected, or failed before any effect): its answer."""
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO command_log (seq, time_tai, name, args, state, event_id, "
                            "severity, text) VALUES (?, ?, ?, '{}', 'done', ?, ?, ?)",
                            (seq, time_tai, name, int(answer[0]), int(answer[1]), answer[2]))

    def execute(self, seq: int, time_tai: float, name: str, args: dict[str, Any],
                run: Callable[[], tuple[Answer, bool]], durable: bool) -> Answer:
        """Run a command once and record it; return its answer.  ``run`` executes it and returns
        (answer, done); done is False when it could not be carried out, and then a durable
        effect is rolled back and the command does not count as executed."""
        if durable:
            try:
                with self._transaction():
                    answer, done = run()
                    if not done:
                        raise _Undone(answer)
                    self._insert(seq, time_tai, name, args, "done", answer, executed=True)
            except _Undone as undone:
                self.record(seq, time_tai, name, undone.answer)
                return undone.answer
        else:
            with self._transaction():
                self._insert(seq, time_tai, name, args, "executing", None, executed=False)
            answer, done = run()
            self._finish(seq, time_tai, answer, executed=done)
            if not done:
                return answer
        self.executed_count += 1
        if self.executed_count in self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)       # test hook: executed, committed, not answered
        return answer

    def executed(self) -> list[Executed]:
        """Every command that ran, in order."""
        rows = self.db.execute("SELECT seq, time_tai, name, args, text FROM command_log WHERE executed "
                               "ORDER BY n").fetchall()
        return [Executed(seq, t, name, json.loads(args), text) for seq, t, name, args, text in rows]

    # ---- machinery ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One transaction on the executor's database (for its own durable state)."""
        return self._transaction()

    def _insert(self, seq: int, time_tai: float, name: str, args: dict[str, Any], state: str,
                answer: Answer | None, executed: bool) -> None:
        event_id, severity, text = answer if answer is not None else (None, None, None)
        self.db.execute("INSERT OR REPLACE INTO command_log (seq, time_tai, name, args, state, executed, "
                        "event_id, severity, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (seq, time_tai, name, json.dumps(args, default=str), state, int(executed),
                         None if event_id is None else int(event_id),
                         None if severity is None else int(severity), text))

    def _finish(self, seq: int, time_tai: float, answer: Answer, executed: bool) -> None:
        with self._transaction():
            self.db.execute("UPDATE command_log SET state = 'done', executed = ?, event_id = ?, "
                            "severity = ?, text = ? WHERE seq = ? AND time_tai = ?",
                            (int(executed), int(answer[0]), int(answer[1]), answer[2], seq, time_tai))


class _Undone(Exception):
    def __init__(self, answer: Answer):
        super().__init__(answer[2])
        self.answer = answer
