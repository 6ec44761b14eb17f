"""Scheduler: the tick of the onboard software, on emulation time.

Messages in:   its commands; PING; SCHED_TICK (its own, for its housekeeping like everyone's).
Messages out:  SCHED_TICK every ``tick_period_s`` emulated seconds: tick number, and
               "housekeeping due" on every ``hk_period_ticks``-th tick; every module sends its
               housekeeping on such a tick.
Commands:      SET_HK_PERIOD(ticks), SET_TICK_PERIOD(seconds), and the common ones.
Events:        TICKS_SKIPPED (WARNING_LO) when emulated time jumped further than
               ``MAX_CATCH_UP`` ticks (a big clock step, a stalled process): the skipped ticks
               are counted, not sent in a burst.
Housekeeping:  ticks_sent u32, ticks_skipped u32, tick_period_ms u32, hk_period_ticks u16.

With a scaled clock the ticks come ``scale`` times faster in wall time; with a stepped clock
they come when the clock is stepped, as many as the step covers.
"""

from __future__ import annotations

import argparse
import enum
import math

from onboard.bus import messages
from onboard.events import Severity
from onboard.modules.base import Module

MAX_CATCH_UP = 100


class SchedulerEvent(enum.IntEnum):
    TICKS_SKIPPED = 100


class Scheduler(Module):
    NAME = "scheduler"
    HK_FIELDS = (("ticks_sent", "I"), ("ticks_skipped", "I"), ("tick_period_ms", "I"),
                 ("hk_period_ticks", "H"))

    def __init__(self, tick_period_s: float = 1.0, hk_period_ticks: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.tick_period_s = tick_period_s
        self.hk_period_ticks = hk_period_ticks
        self.tick_apid = self.registry.message("SCHED_TICK").apid
        self.ticks_sent = self.ticks_skipped = 0
        self.next_tick_tai = 0.0

    def setup(self) -> None:
        self.next_tick_tai = self.clock.now_tai()

    def poll_timeout_s(self) -> float:
        wait = self.clock.state.wall_seconds_until(self.next_tick_tai)
        return 0.05 if wait is None else min(wait, 0.5)

    def on_idle(self) -> None:
        now = self.clock.now_tai()
        if now < self.next_tick_tai:
            return
        due = math.floor((now - self.next_tick_tai) / self.tick_period_s) + 1
        if due > MAX_CATCH_UP:
            skipped = due - MAX_CATCH_UP
            self.ticks_skipped += skipped
            self.next_tick_tai += skipped * self.tick_period_s
            self.events(SchedulerEvent.TICKS_SKIPPED, Severity.WARNING_LO,
                        f"emulated time jumped {skipped * self.tick_period_s:.3f} s ahead: {skipped} ticks "
                        "skipped")
            due = MAX_CATCH_UP
        for _ in range(due):
            tick = messages.Tick(self.ticks_sent, self.ticks_sent % self.hk_period_ticks == 0)
            self.client.publish(self.tick_apid, tick.to_bytes())
            self.ticks_sent += 1
            self.next_tick_tai += self.tick_period_s

    def housekeeping(self) -> tuple:
        return (self.ticks_sent & 0xFFFFFFFF, self.ticks_skipped & 0xFFFFFFFF,
                round(self.tick_period_s * 1000), self.hk_period_ticks)

    def cmd_set_hk_period(self, ticks: int) -> str:
        self.hk_period_ticks = ticks
        return f"housekeeping every {ticks} ticks"

    def cmd_set_tick_period(self, seconds: float) -> str:
        self.tick_period_s = seconds
        self.next_tick_tai = self.clock.now_tai() + seconds
        return f"tick every {seconds} s"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--tick-period", type=float, default=1.0, help="emulated seconds per tick")
        parser.add_argument("--hk-period", type=int, default=1, help="ticks per housekeeping request")

    @classmethod
    def options(cls, args: argparse.Namespace) -> dict:
        return {"tick_period_s": args.tick_period, "hk_period_ticks": args.hk_period}


MODULE = Scheduler

if __name__ == "__main__":
    raise SystemExit(Scheduler.main())
