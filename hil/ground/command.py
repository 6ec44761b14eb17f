"""Send a command from the dictionary over the bus and wait for its answer.

    python -m hil.ground.command [--bus URL] [--timeout S] [--events] "store.PLAYBACK max_packets=5"

The command is encoded with the same dictionary the modules check it against, sent as a TC
packet to the module's APID, and the module's CMD_ACCEPTED / CMD_REJECTED / CMD_FAILED event
for that packet's sequence count is printed.  Exit code 0 if accepted, 1 if refused or no
answer came, 2 if the command line is wrong.  ``--events`` keeps printing every event on the
bus until interrupted.  (The TM/TC link path, CLTU and SDLS included, replaces the bus hop
when the uplink module arrives; the dictionary and the answers stay the same.)
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from onboard.bus.client import BusClient
from onboard.bus.endpoints import CurveClientKeys, CurveKeyDir
from onboard.bus.packet import PacketType
from onboard.bus.registry import EVENTS_TOPIC, Registry, default_registry
from onboard.commands import CommandDictionary, CommandRejected, default_dictionary
from onboard.errors import LunarelayError
from onboard.events import Event, EventId
from onboard.modules.base import response_to


class AnswerMatching:
    """How every ground client pairs a dictionary command with its answer: the event from
    the command's module that names the command packet's sequence count.  Needs ``registry``,
    ``dictionary``, ``send(module, name, **args) -> seq`` and ``wait_event(match, timeout_s)``.
    A client that also has ``repeat(module, seq)`` (send the very same packet again) gets
    ``attempts`` tries: the modules answer a repeated packet again without executing it twice
    (``onboard.commands.log``), so a lost command or a lost answer costs only time."""

    answer_timeout_s = 10.0
    attempts = 1

    def answer(self, module: str, seq: int, timeout_s: float | None = None) -> Event | None:
        """The module's answer to the command with sequence count ``seq``."""
        source = self.registry.module(module).apid

        def match(event: Event) -> bool:
            resp = response_to(event)
            return event.source_apid == source and resp is not None and resp[1] == seq

        return self.wait_event(match, self.answer_timeout_s if timeout_s is None else timeout_s)

    def command(self, line: str, timeout_s: float | None = None) -> Event | None:
        """Send one command line (``module.NAME arg=value ...``) and wait for its answer, at most
        ``timeout_s`` in all."""
        module, name, args = self.dictionary.parse_line(line)
        seq = self.send(module, name, **args)
        wait = (self.answer_timeout_s if timeout_s is None else timeout_s) / self.attempts
        for attempt in range(self.attempts):
            if attempt:
                self.repeat(module, seq)
            event = self.answer(module, seq, wait)
            if event is not None:
                return event
        return None


class GroundCommander(AnswerMatching):
    """Encodes, sends and matches answers; usable from tests and tools."""

    def __init__(self, bus: str | None = None, registry: Registry | None = None,
                 dictionary: CommandDictionary | None = None, client: BusClient | None = None,
                 curve: CurveClientKeys | None = None):
        self.registry = registry or default_registry()
        self.dictionary = dictionary or default_dictionary()
        self.client = client or BusClient(bus, curve=curve)
        self.me = self.registry.module("ground")
        self.events = self.client.pipe("events", [EVENTS_TOPIC], depth=10000)
        self.seen: list[Event] = []
        if not self.client.await_connection(self.me.pong_apid):
            raise ConnectionError(f"no bus answers at {self.client.endpoints.url}")

    def send(self, module: str, name: str, /, **args: Any) -> int:
        """Send; return the command packet's sequence count."""
        data = self.dictionary.encode(module, name, **args)
        return self.client.publish(self.registry.module(module).apid, data, PacketType.TC)

    def send_raw(self, module: str, data: bytes) -> int:
        """Send user data as it is, unchecked (to exercise the onboard check)."""
        return self.client.publish(self.registry.module(module).apid, data, PacketType.TC)

    def wait_event(self, match, timeout_s: float) -> Event | None:
        """The first event (already seen or arriving within ``timeout_s``) that ``match``es."""
        for event in self.seen:
            if match(event):
                return event
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            pkt = self.events.receive(left)
            if pkt is None:
                break
            try:
                event = Event.from_bytes(pkt.data)
            except ValueError:
                continue
            self.seen.append(event)
            if match(event):
                return event
        return None

    def close(self) -> None:
        self.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hil.ground.command", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", help='e.g. "store.PLAYBACK max_packets=5"')
    parser.add_argument("--bus", help="bus URL (default: $LUNARELAY_BUS or an ipc:// socket in /tmp)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer")
    parser.add_argument("--events", action="store_true", help="then print every event until Ctrl-C")
    parser.add_argument("--curve-keys", help="the bus's CURVE key directory, if it uses CURVE")
    args = parser.parse_args(argv)
    try:
        curve = CurveKeyDir.open(args.curve_keys).client() if args.curve_keys else None
        ground = GroundCommander(args.bus, curve=curve)
    except (ConnectionError, ValueError, LunarelayError) as exc:
        print(f"ground: error: {exc}", file=sys.stderr)
        return 1
    status = 0
    try:
        if args.command:
            try:
                event = ground.command(args.command, args.timeout)
            except CommandRejected as exc:
                print(f"ground: usage error: {exc}", file=sys.stderr)
                return 2
            if event is None:
                print(f"ground: no answer within {args.timeout} s", file=sys.stderr)
                return 1
            print(event)
            status = 0 if event.event_id == EventId.CMD_ACCEPTED else 1
        if args.events:
            while True:
                event = ground.wait_event(lambda e: True, 3600)
                if event:
                    print(f"{ground.registry.module_of_apid(event.source_apid).name}: {event}", flush=True)
                    ground.seen.clear()
    except KeyboardInterrupt:
        pass
    finally:
        ground.close()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
