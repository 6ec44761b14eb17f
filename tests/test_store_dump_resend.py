"""The ground's store dump (hil.ground.playback) when a command to the store is lost on the way:
it sends the same packet again (the store answers it from its command log if it ran) instead of
moving on, so a lost REWIND cannot let a later ACKNOWLEDGE delete packets that never came down."""

from __future__ import annotations

import time

from hil.ground.playback import StoreDump
from hil.surface.user import check_payload, payload
from onboard.bus.packet import pack, unpack
from onboard.bus.registry import default_registry
from onboard.events import Event, EventId, Severity

APID = 0x101


class StoreBehindALink:
    """The store's PLAYBACK / ACKNOWLEDGE / REWIND, exactly once per packet, behind an uplink that
    loses the commands named in ``lose`` (once each) and a downlink that loses the store ids in
    ``lost_ids`` the first time they are played."""

    def __init__(self, n_packets: int):
        self.registry = default_registry()
        self.apid = self.registry.module("store").apid
        self.rows = {i: pack(APID, payload(APID, i, 40), i, 1.9e9 + i) for i in range(1, n_packets + 1)}
        self.cursor = 0
        self.events: list[Event] = []
        self.playback: dict[int, bytes] = {}
        self.in_view, self.queue = True, []
        self.lose: set[str] = set()
        self.lost_ids: set[int] = set()
        self._commands: dict[int, tuple[str, dict]] = {}
        self._answered: dict[int, str] = {}

    def send(self, module: str, name: str, **args) -> int:
        seq = len(self._commands)
        self._commands[seq] = (name, args)
        self._arrive(seq)
        return seq

    def repeat(self, module: str, seq: int) -> None:
        self._arrive(seq)

    def _arrive(self, seq: int) -> None:
        name, args = self._commands[seq]
        if name in self.lose:
            self.lose.discard(name)               # lost on the way up: never executed
            return
        if seq not in self._answered:
            self._answered[seq] = f"{name} seq {seq}: accepted: {self._execute(name, args)}"
        self.events.append(Event(self.apid, EventId.CMD_ACCEPTED, Severity.COMMAND, self._answered[seq]))

    def _execute(self, name: str, args: dict) -> str:
        if name == "REWIND":
            self.cursor = 0
            return "playback starts again from the oldest packet"
        if name == "ACKNOWLEDGE":
            gone = [i for i in self.rows if i <= args["up_to_id"]]
            for i in gone:
                del self.rows[i]
            return f"{len(gone)} packets deleted"
        ids = sorted(i for i in self.rows if i > self.cursor)[:args["max_packets"]]
        for i in ids:
            if i in self.lost_ids:
                self.lost_ids.discard(i)          # lost on the way down this time
            else:
                self.playback[i] = self.rows[i]
        if ids:
            self.cursor = ids[-1]
        return f"{len(ids)} packets played back" + (f", ids {ids[0]}..{ids[-1]}" if ids else "")


def test_lost_rewind_is_sent_again_so_no_packet_is_deleted_before_it_came_down():
    store = StoreBehindALink(400)
    store.lost_ids = set(range(150, 161))         # part of the first batch does not come down
    store.lose = {"REWIND"}                       # and the REWIND asked for then is lost too
    dump = StoreDump(store, batch=200, answer_timeout_s=0.02, idle_wait_s=0.01)
    deadline = time.monotonic() + 10.0
    while store.rows and time.monotonic() < deadline:
        dump.step()
        time.sleep(0.005)
    delivered = dump.delivered[APID]
    deleted = set(range(1, 401)) - set(store.rows)
    assert deleted <= delivered, f"deleted before they came down: {sorted(deleted - delivered)[:5]}..."
    assert delivered == set(range(1, 401)) and not store.rows
    assert all(check_payload(APID, unpack(raw).data) is not None for raw in store.playback.values())
