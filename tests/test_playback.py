"""The ground's store dump (hil.ground.playback) against a store that answers at once: the ground
acknowledges only packets it has checked, contiguous from the start of a batch, so the store never
deletes a packet that did not reach the ground intact."""

from __future__ import annotations

import time

from hil.ground.playback import StoreDump
from hil.surface.user import payload
from onboard.bus.packet import pack
from onboard.bus.registry import default_registry
from onboard.events import Event, EventId, Severity

APID = 0x101


def user_packet(n: int) -> bytes:
    return pack(APID, payload(APID, n, 60), n, 2.0e9 + n)


class StationWithStore:
    """The parts of the ground station the dump uses, and a store behind it that plays back at once.
    ``damaged`` names store ids whose next playback arrives with one octet changed."""

    def __init__(self, n_packets: int, damaged: set[int], lost_commands: int = 0):
        self.registry = default_registry()
        self.store_apid = self.registry.module("store").apid
        self.events: list[Event] = []
        self.playback: dict[int, bytes] = {}
        self.in_view, self.queue = True, []
        self.store = {i: user_packet(i - 1) for i in range(1, n_packets + 1)}
        self.damaged = set(damaged)
        self.played = 0
        self.acknowledged: list[int] = []
        self.deleted_unchecked: list[int] = []      # store ids deleted before the ground checked them
        self.dump: StoreDump | None = None
        self.lost_commands = lost_commands           # the next REWINDs vanish on the uplink
        self.seq = 0
        self.sent: dict[int, tuple[str, dict]] = {}
        self.repeated: list[str] = []

    def send(self, module: str, name: str, /, **args) -> int:
        seq, self.seq = self.seq, self.seq + 1
        self.sent[seq] = (name, args)
        self._execute(name, args, seq)
        return seq

    def repeat(self, module: str, seq: int) -> None:
        name, args = self.sent[seq]
        self.repeated.append(name)
        self._execute(name, args, seq)

    def _execute(self, name: str, args: dict, seq: int) -> None:
        if name == "REWIND" and self.lost_commands:
            self.lost_commands -= 1
            return
        if name == "PLAYBACK":
            ids = sorted(i for i in self.store if i > self.played)[:args["max_packets"]]
            for i in ids:
                raw = bytearray(self.store[i])
                if i in self.damaged:
                    self.damaged.discard(i)
                    raw[-1] ^= 0x20
                self.playback[i] = bytes(raw)
            self.played = ids[-1] if ids else self.played
            text = f"{len(ids)} packets played back" + (f", ids {ids[0]}..{ids[-1]}" if ids else "")
        elif name == "ACKNOWLEDGE":
            self.acknowledged.append(args["up_to_id"])
            gone = [i for i in self.store if i <= args["up_to_id"]]
            self.deleted_unchecked += [i for i in gone if i - 1 not in self.dump.delivered[APID]]
            for i in gone:
                del self.store[i]
            text = f"{len(gone)} packets deleted"
        else:
            assert name == "REWIND"
            self.played = 0
            text = "playback starts again from the oldest packet"
        self.events.append(Event(self.store_apid, EventId.CMD_ACCEPTED, Severity.COMMAND,
                                 f"{name} seq {seq}: accepted: {text}"))


def dump_until_empty(station: StationWithStore, batch: int) -> StoreDump:
    dump = station.dump = StoreDump(station, batch=batch, answer_timeout_s=0.02, idle_wait_s=0.0)
    deadline = time.monotonic() + 10.0
    while station.store or dump._pending is not None:
        assert time.monotonic() < deadline, f"the dump stalled: store holds {sorted(station.store)}"
        dump.step()
    return dump


def test_ground_acknowledges_only_the_checked_packets_before_the_first_damaged_one():
    station = StationWithStore(10, damaged={4})
    dump = dump_until_empty(station, batch=10)
    assert station.acknowledged[0] == 3                 # 1..3 checked; 4 damaged; 5..10 played again
    assert dump.bad_packets == 1 and dump.rewinds == 2     # one at the start, one for 4..10
    assert station.deleted_unchecked == []
    assert dump.delivered[APID] == set(range(10))      # nothing the store deleted was lost
    assert station.acknowledged[-1] == 10


def test_a_damaged_first_packet_acknowledges_nothing_and_rewinds():
    station = StationWithStore(5, damaged={1, 2})
    dump = dump_until_empty(station, batch=5)
    assert station.acknowledged == [5]                  # only after a playback that checked from its start
    assert dump.rewinds == 2 and dump.bad_packets == 1   # the check stops at the first damaged packet
    assert dump.delivered[APID] == set(range(5))


def test_no_acknowledgement_deletes_a_packet_the_ground_has_not_checked():
    station = StationWithStore(40, damaged={7, 8, 19, 33})
    dump = dump_until_empty(station, batch=8)
    assert station.deleted_unchecked == []
    assert dump.delivered[APID] == set(range(40))


def test_a_lost_rewind_is_sent_again_before_any_further_playback():
    station = StationWithStore(30, damaged={5}, lost_commands=3)
    dump = dump_until_empty(station, batch=10)
    assert station.deleted_unchecked == []
    assert dump.delivered[APID] == set(range(30))
    assert station.repeated.count("REWIND") == 3        # the same packet, until it got through
