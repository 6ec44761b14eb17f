"""The ground's side of store-and-forward: while the relay is in view, dump its store.

    PLAYBACK(batch) -> the STORE_PLAYBACK packets of the ids the answer names come down ->
    every packet checked (space packet, and its user data as the surface user made it) ->
    ACKNOWLEDGE(last id): the store deletes them

A packet counts as delivered only once it is on the ground and checked, and the store deletes
only what the ground acknowledged, so a loss anywhere (frames lost at loss of signal, a dropped
answer, a module restarted) costs a repetition, never a packet.  When ids are missing the dump
asks the store to REWIND (play again from the oldest packet not acknowledged).  A command
whose answer does not come is sent again, the same packet, until it is answered: the store
answers a packet it already executed from its command log, and one that never reached it (a
REWIND lost with a restarting store) runs then, before any later ACKNOWLEDGE, which is
cumulative and would otherwise delete the packets the lost REWIND was to bring down again.
"""

from __future__ import annotations

import collections
import re
import time

from hil.surface.user import check_payload
from onboard.bus.packet import PacketError, unpack
from onboard.modules.base import response_to

_PLAYED = re.compile(r"(\d+) packets played back(?:, ids (\d+)\.\.(\d+))?")


class StoreDump:
    def __init__(self, station, batch: int = 200, answer_timeout_s: float = 3.0, idle_wait_s: float = 0.5):
        self.station, self.batch = station, batch
        self.answer_timeout_s, self.idle_wait_s = answer_timeout_s, idle_wait_s
        self.store_apid = station.registry.module("store").apid
        self.delivered: dict[int, set[int]] = collections.defaultdict(set)   # APID -> packet numbers
        self.bad_packets = self.duplicates = self.rewinds = self.acknowledged_to = 0
        self._pending: tuple[str, int, float] | None = None     # (command, seq, wall time sent)
        self._expect: tuple[range, int, float] | None = None     # ids played back, how many here, since
        self._next_at = 0.0
        self._seen_events = 0

    def step(self) -> None:
        """Call after every ``station.poll``."""
        st = self.station
        answers = self._answers()
        now = time.monotonic()
        if self._pending is not None:
            name, seq, sent = self._pending
            text = answers.get(seq)
            if text is None:
                if now - sent > self.answer_timeout_s and st.in_view:
                    st.repeat("store", seq)          # lost going up or coming down: the same packet
                    self._pending = (name, seq, now)
                return
            self._pending = None
            if name == "PLAYBACK":
                m = _PLAYED.search(text)
                if m and m.group(2):
                    self._expect = (range(int(m.group(2)), int(m.group(3)) + 1), -1, now)
                else:
                    self._next_at = now + self.idle_wait_s            # the store is empty
            return
        if self._expect is not None:
            ids, had, since = self._expect
            have = sum(i in st.playback for i in ids)
            if have == len(ids):
                self._expect = None
                self._take(ids)
                self._send("ACKNOWLEDGE", up_to_id=ids[-1])
            elif have > had:
                self._expect = (ids, have, now)             # still coming: wait on
            elif now - since > self.answer_timeout_s and st.in_view:
                self._expect = None                         # some were lost on the way
                self._send("REWIND")
            return
        if st.in_view and now >= self._next_at and not st.queue:
            self._send("PLAYBACK", max_packets=self.batch)

    def _send(self, name: str, **args) -> None:
        if name == "REWIND":
            self.rewinds += 1
        if name == "ACKNOWLEDGE":
            self.acknowledged_to = args["up_to_id"]
        self._pending = (name, self.station.send("store", name, **args), time.monotonic())

    def _answers(self) -> dict[int, str]:
        events = self.station.events
        out = {}
        for event in events[self._seen_events:]:
            resp = response_to(event)
            if event.source_apid == self.store_apid and resp is not None:
                out[resp[1]] = event.text
        self._seen_events = len(events)
        return out

    def _take(self, ids: range) -> None:
        for i in ids:
            raw = self.station.playback.pop(i)
            try:
                pkt = unpack(raw)
            except PacketError:
                self.bad_packets += 1
                continue
            number = check_payload(pkt.apid, pkt.data)
            if number is None:
                self.bad_packets += 1
            elif number in self.delivered[pkt.apid]:
                self.duplicates += 1
            else:
                self.delivered[pkt.apid].add(number)
        for stale in [i for i in self.station.playback if i <= ids[-1]]:
            del self.station.playback[stale]
