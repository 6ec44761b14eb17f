"""Relay store: surface users' packets kept in SQLite until the ground has them.

Messages in:   surface-user packets: PROXIMITY_PACKET (one packet that came over the proximity
               link), and the whole APID block 0x100-0x1FF (one topic octet) for users on the bus;
               its commands; PING; SCHED_TICK.
Messages out:  STORE_PLAYBACK: store id u32, then the stored packet as it arrived.
               STORE_COMMITTED: (APID u16, sequence count u16) of every packet of a committed
               batch, duplicates included, so their senders stop sending them again.
Commands:      PLAYBACK(max_packets): the next stored packets after the last played, oldest
               first.  ACKNOWLEDGE(up_to_id): the ground holds them, delete.  REWIND: play
               again from the oldest not acknowledged.  And the common ones.
Events:        STORE_FULL (WARNING_HI) when a packet is refused because the store holds
               ``capacity`` packets (counted in ``refused``); PLAYED_BACK (ACTIVITY_LO).
Housekeeping:  stored u32, stored_octets u32, received u32, refused u32, played u32,
               deleted u32, oldest_id u32, newest_id u32, duplicates u32.

Packets are committed once per batch taken from the data pipe, in WAL mode, and acknowledged
(STORE_COMMITTED) only after the commit, so a kill -9 loses no acknowledged packet: what was
not committed was not acknowledged and comes again.  A packet that comes again after it was
committed (same APID, sequence count and time code) is counted as a duplicate and kept once.
A packet is deleted only when the ground acknowledges it.

PLAYBACK, ACKNOWLEDGE and REWIND change the database: each commits its effect (cursor,
deletions) in one transaction with its entry in the command log, which lives in the same
database, so a command packet sent again after a restart is answered, not executed again.
"""

from __future__ import annotations

import argparse
import enum
import itertools
import os
import sqlite3
import struct
import tempfile

from onboard.bus.packet import BusPacket, PacketError, pack, unpack
from onboard.bus.registry import USER_DATA_TOPIC
from onboard.commands.log import CommandLog
from onboard.events import Severity
from onboard.modules.base import CommandFailed, Module

PLAYBACK_HEAD = struct.Struct(">I")
COMMITTED_ENTRY = struct.Struct(">HH")       # APID, sequence count
COMMITTED_PER_MESSAGE = 1024


class StoreEvent(enum.IntEnum):
    STORE_FULL = 100
    PLAYED_BACK = 101


class Store(Module):
    NAME = "store"
    HK_FIELDS = tuple((n, "I") for n in ("stored", "stored_octets", "received", "refused", "played",
                                          "deleted", "oldest_id", "newest_id", "duplicates"))
    DURABLE_COMMANDS = frozenset({"PLAYBACK", "ACKNOWLEDGE", "REWIND"})

    def __init__(self, db_path: str | None = None, capacity: int = 1_000_000, **kwargs):
        super().__init__(**kwargs)
        self.db_path = db_path or os.path.join(tempfile.gettempdir(), f"lunarelay-{os.getuid()}-store.sqlite")
        self.capacity = capacity
        self.playback_apid = self.registry.message("STORE_PLAYBACK").apid
        self.committed_apid = self.registry.message("STORE_COMMITTED").apid
        self.proximity_apid = self.registry.message("PROXIMITY_PACKET").apid
        self.received = self.refused = self.played = self.deleted = self.duplicates = 0
        self._batch: list[tuple[int, int, float, bytes]] = []
        self._full_reported = False

    def data_topics(self) -> list[bytes]:
        return [USER_DATA_TOPIC, self.registry.message("PROXIMITY_PACKET").topic]

    def setup(self) -> None:
        self.db = sqlite3.connect(self.db_path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")     # WAL + NORMAL: durable against a process kill
        self.db.execute("CREATE TABLE IF NOT EXISTS packet (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                        "apid INTEGER NOT NULL, seq INTEGER NOT NULL, time_tai REAL NOT NULL, "
                        "raw BLOB NOT NULL)")
        # one row per packet however often its sender had to send it
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS packet_identity ON packet (apid, seq, time_tai)")
        self.db.execute("CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, id INTEGER NOT NULL)")
        self.db.execute("INSERT OR IGNORE INTO cursor VALUES ('played', 0)")
        self._count, self._octets = self.db.execute(
            "SELECT count(*), coalesce(sum(length(raw)), 0) FROM packet").fetchone()

    def open_command_log(self) -> CommandLog:
        return CommandLog(self.db, self.NAME)

    def before_durable_command(self) -> None:
        self.on_packets_done()        # what came before the command is in the store it acts on

    def teardown(self) -> None:
        self.on_packets_done()
        self.db.close()

    def on_packet(self, pkt: BusPacket) -> None:
        if pkt.apid == self.proximity_apid:
            try:
                pkt = unpack(pkt.data)
            except PacketError:
                self.errors += 1       # the proximity module checked it: a bus fault, counted
                return
        self.received += 1
        if self._count + len(self._batch) >= self.capacity:
            self.refused += 1
            if not self._full_reported:
                self.events(StoreEvent.STORE_FULL, Severity.WARNING_HI,
                            f"store holds {self.capacity} packets: refusing new ones until acknowledged")
                self._full_reported = True
            return
        raw = pack(pkt.apid, pkt.data, pkt.seq_count, pkt.time_tai, pkt.packet_type)
        self._batch.append((pkt.apid, pkt.seq_count, pkt.time_tai, raw))

    def on_packets_done(self) -> None:
        if not self._batch:
            return
        inserted = octets = 0
        with self.db:
            self.db.execute("BEGIN")
            for row in self._batch:                  # row by row: a duplicate inserts nothing
                if self.db.execute("INSERT OR IGNORE INTO packet (apid, seq, time_tai, raw) "
                                   "VALUES (?, ?, ?, ?)", row).rowcount:
                    inserted += 1
                    octets += len(row[3])
        self.duplicates += len(self._batch) - inserted
        self._count += inserted
        self._octets += octets
        # committed: now, and only now, the senders may forget these packets
        entries = [COMMITTED_ENTRY.pack(apid, seq) for apid, seq, _, _ in self._batch]
        for at in itertools.count(0, COMMITTED_PER_MESSAGE):
            if at >= len(entries):
                break
            self.client.publish(self.committed_apid, b"".join(entries[at:at + COMMITTED_PER_MESSAGE]))
        self._batch.clear()

    def _played(self) -> int:
        return self.db.execute("SELECT id FROM cursor WHERE name = 'played'").fetchone()[0]

    def cmd_playback(self, max_packets: int) -> str:
        rows = self.db.execute("SELECT id, raw FROM packet WHERE id > ? ORDER BY id LIMIT ?",
                               (self._played(), max_packets)).fetchall()
        for store_id, raw in rows:
            self.client.publish(self.playback_apid, PLAYBACK_HEAD.pack(store_id) + raw)
        if rows:
            self.db.execute("UPDATE cursor SET id = ? WHERE name = 'played'", (rows[-1][0],))
        self.played += len(rows)
        return f"{len(rows)} packets played back" + (f", ids {rows[0][0]}..{rows[-1][0]}" if rows else "")

    def cmd_acknowledge(self, up_to_id: int) -> str:
        if up_to_id > self._played():
            raise CommandFailed(f"id {up_to_id} has not been played back yet (last played {self._played()})")
        # in the command's transaction (DURABLE_COMMANDS): the deletion and its record commit together
        octets = self.db.execute("SELECT coalesce(sum(length(raw)), 0) FROM packet WHERE id <= ?",
                                 (up_to_id,)).fetchone()[0]
        n = self.db.execute("DELETE FROM packet WHERE id <= ?", (up_to_id,)).rowcount
        self._count -= n
        self._octets -= octets
        self.deleted += n
        self._full_reported = False
        return f"{n} packets deleted"

    def cmd_rewind(self) -> str:
        self.db.execute("UPDATE cursor SET id = 0 WHERE name = 'played'")
        return "playback starts again from the oldest packet"

    def housekeeping(self) -> tuple:
        oldest, newest = self.db.execute(
            "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM packet").fetchone()
        return tuple(v & 0xFFFFFFFF for v in (self._count, self._octets, self.received, self.refused,
                                                self.played, self.deleted, oldest, newest, self.duplicates))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--db", help="SQLite file of the store")
        parser.add_argument("--capacity", type=int, default=1_000_000, help="packets the store may hold")

    @classmethod
    def options(cls, args: argparse.Namespace) -> dict:
        return {"db_path": args.db, "capacity": args.capacity}


MODULE = Store

if __name__ == "__main__":
    raise SystemExit(Store.main())
