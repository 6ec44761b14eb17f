"""A seeded, scheduled fault plan: which faults a bench injects into its links, when, and how hard.

A plan is a list of faults, each with a kind, a window (``start_s`` from the moment the proxies
start, ``duration_s`` long or to the end of the run) and the kind's parameters.  A bench file
holds them as ``[[fault]]`` tables, read through ``onboard.tomlfields`` so every error names the
file, the line and the field, and a misspelt field is refused::

    [[fault]]
    kind = "drop"            # a whole frame lost, with this probability per frame
    start_s = 2.0
    duration_s = 5.0
    probability = 0.2
    direction = "to_board"   # serial faults: to_board, to_host or both (the default)

The kinds, by the link they hit (the vocabulary of ``lunarelay emulate --chaos``):

=================  ==========  ============================================================
kind               link        parameters
=================  ==========  ============================================================
``ber``            serial      ``ber``: independent bit errors at this rate
``drop``           serial      ``probability`` per frame: the whole frame is lost
``duplicate``      serial      ``probability`` per frame: the frame arrives twice
``garbage``        serial      ``octets`` of random noise between frames, every ``every_s``
``console``        serial      a line of console ``text`` between frames, every ``every_s``
``disconnect``     serial      the port vanishes for ``down_s`` (once, or every ``every_s``)
``baud_mismatch``  serial      the receiving UART's clock is ``ratio`` times the sender's
``peer_restart``   zmq         the SDR peer's sockets go for ``down_s``; ``lose_samples``
``outage``         comm        the CADU/CLTU stream is cut for the window (or ``down_s`` every
                               ``every_s`` within it)
=================  ==========  ============================================================

Everything random is drawn from the plan's seed: the times of the faults that recur
(``every_s`` is the mean of exponential gaps, a Poisson process over the window) and, through
``rng(name)``, the per-frame and per-bit draws of each proxy direction.  The same seed gives
the same fault sequence.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from onboard.errors import LunarelayError
from onboard.tomlfields import Table, TomlDoc

SERIAL_KINDS = ("ber", "drop", "duplicate", "garbage", "console", "disconnect", "baud_mismatch")
ZMQ_KINDS = ("peer_restart",)
OUTAGE_KINDS = ("outage",)
KINDS = SERIAL_KINDS + ZMQ_KINDS + OUTAGE_KINDS
# faults that happen at instants (once at start_s, or every every_s); the others hold over a window
EVENT_KINDS = ("garbage", "console", "disconnect", "peer_restart", "outage")
DIRECTIONS = ("both", "to_board", "to_host")
MAX_REPEATS = 1_000_000          # occurrences one recurring fault may draw: a plan is drawn at once
DEFAULT_CONSOLE_TEXT = "\r\n[ 12.345678] watchdog: feeding from console\r\n"


class FaultScheduleError(LunarelayError):
    """A fault plan that cannot be used as written."""


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault of the plan: ``kind`` over [start_s, start_s + duration_s) with its parameters."""

    kind: str
    start_s: float = 0.0
    duration_s: float | None = None          # None: to the end of the run
    direction: str = "both"                  # serial faults only
    link: str | None = None                  # the link it hits; None: every link of its kind
    ber: float = 0.0
    probability: float = 0.0
    octets: int = 64
    text: str = DEFAULT_CONSOLE_TEXT
    every_s: float | None = None
    down_s: float = 0.5
    ratio: float = 1.0
    lose_samples: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            problems.append(f"start_s {self.start_s} must be >= 0")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s > 0):
            problems.append(f"duration_s {self.duration_s} must be above 0")
        if self.direction not in DIRECTIONS:
            problems.append(f"direction {self.direction!r} is not one of {', '.join(DIRECTIONS)}")
        if self.every_s is not None and self.duration_s is None:
            problems.append("every_s needs a duration_s: the window the repeats fall in")
        elif self.every_s is not None and not (math.isfinite(self.every_s) and self.every_s > 0
                                               and self.duration_s / self.every_s <= MAX_REPEATS):
            problems.append(f"every_s {self.every_s} over duration_s {self.duration_s} would strike more "
                            f"than {MAX_REPEATS} times")
        if self.kind == "baud_mismatch" and not (0.1 <= self.ratio <= 10.0 and self.ratio != 1.0):
            problems.append(f"ratio {self.ratio} must be within 0.1..10 and not 1")
        if self.kind == "outage" and self.duration_s is None and self.every_s is None:
            problems.append("an outage needs a duration_s")
        if problems:
            raise FaultScheduleError(f"fault {self.kind}: {'; '.join(problems)}")

    @property
    def end_s(self) -> float:
        return math.inf if self.duration_s is None else self.start_s + self.duration_s

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s

    def hits(self, direction: str) -> bool:
        return self.direction == "both" or self.direction == direction


@dataclasses.dataclass(frozen=True)
class Occurrence:
    """One instant fault drawn from the plan: at ``at_s``, lasting until ``until_s``."""

    at_s: float
    until_s: float
    kind: str
    index: int                              # the fault of the whole plan it comes from
    fault: Fault


class FaultSchedule:
    """The plan: its faults and the seed everything random in them is drawn from."""

    def __init__(self, faults: Iterable[Fault] = (), seed: int = 0, indices: Sequence[int] | None = None):
        self.faults = tuple(faults)
        self.seed = int(seed)
        # each fault's place in the whole plan: its draws are named by it, so the part of the plan
        # one proxy selects strikes at the same times as in the whole
        self.indices = tuple(range(len(self.faults))) if indices is None else tuple(indices)
        self._occurrences = tuple(sorted(self._draw(), key=lambda o: (o.at_s, o.index)))

    def _draw(self) -> list[Occurrence]:
        out = []
        for index, fault in zip(self.indices, self.faults, strict=True):
            if fault.kind not in EVENT_KINDS:
                continue
            if fault.kind == "outage" and fault.every_s is None:
                out.append(Occurrence(fault.start_s, fault.end_s, fault.kind, index, fault))
                continue
            length = 0.0 if fault.kind in ("garbage", "console") else fault.down_s
            if fault.every_s is None:
                out.append(Occurrence(fault.start_s, fault.start_s + length, fault.kind, index, fault))
                continue
            rng = self.rng(f"occurrences/{index}")
            t = fault.start_s + rng.exponential(fault.every_s)
            while t < fault.end_s:
                out.append(Occurrence(t, t + length, fault.kind, index, fault))
                # the next one starts after this one is over: a port cannot vanish twice at once
                t += length + rng.exponential(fault.every_s)
        return out

    # ---- what the proxies ask ----------------------------------------------------------------
    def occurrences(self, kinds: Sequence[str] = KINDS) -> tuple[Occurrence, ...]:
        """Every instant fault of these kinds, in time order (the same for the same seed)."""
        return tuple(o for o in self._occurrences if o.kind in kinds)

    def active(self, kind: str, t_s: float, direction: str = "both") -> list[Fault]:
        """The window faults of ``kind`` holding at ``t_s`` in ``direction``."""
        return [f for f in self.faults if f.kind == kind and f.active(t_s) and f.hits(direction)]

    def select(self, kinds: Sequence[str], link: str | None = None) -> FaultSchedule:
        """The plan of one link: the faults of these kinds meant for it (or for every link)."""
        chosen = [(i, f) for i, f in zip(self.indices, self.faults, strict=True)
                  if f.kind in kinds and f.link in (None, link)]
        return FaultSchedule((f for _, f in chosen), self.seed, [i for i, _ in chosen])

    def rng(self, name: str) -> np.random.Generator:
        """A generator for one named stream of draws (``"serial/to_board"``): the seed and the
        name fix it, so proxies draw the same sequence whatever else the plan holds."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, zlib.crc32(name.encode())]))

    @property
    def last_s(self) -> float:
        """When the last fault with an end is over (0 for an empty plan)."""
        ends = [o.until_s for o in self._occurrences] + [f.end_s for f in self.faults if f.duration_s]
        return max(ends, default=0.0)

    def __len__(self) -> int:
        return len(self.faults)

    def __repr__(self) -> str:
        return f"FaultSchedule({len(self.faults)} faults, seed {self.seed})"

    # ---- from TOML -----------------------------------------------------------------------------
    @classmethod
    def from_tables(cls, tables: Sequence[Table], seed: int = 0) -> FaultSchedule:
        """The plan of a bench file's ``[[fault]]`` tables (``root.tables("fault")``)."""
        return cls((fault_from_table(t) for t in tables), seed)

    @classmethod
    def from_toml(cls, text: str, source: str, seed: int | None = None) -> FaultSchedule:
        """A TOML text holding ``[[fault]]`` tables and, optionally, ``[faults] seed = N``
        (``seed`` given here wins)."""
        doc = TomlDoc(text, source, FaultScheduleError)
        top = doc.root.table("faults")
        file_seed = top.get("seed", int, 0, lo=0)
        top.finish()
        plan = cls.from_tables(doc.root.tables("fault"), file_seed if seed is None else seed)
        doc.root.finish()
        return plan


_FIELDS: dict[str, tuple[str, ...]] = {
    "ber": ("ber",), "drop": ("probability",), "duplicate": ("probability",),
    "garbage": ("octets", "every_s"), "console": ("text", "every_s"),
    "disconnect": ("down_s", "every_s"), "baud_mismatch": ("ratio",),
    "peer_restart": ("down_s", "every_s", "lose_samples"), "outage": ("down_s", "every_s"),
}


def fault_from_table(t: Table) -> Fault:
    """One ``[[fault]]`` table as a :class:`Fault`; an error names the file, line and field."""
    kind = t.get("kind", str, choices=KINDS)
    known = ("kind", "start_s", "duration_s", "link") + (("direction",) if kind in SERIAL_KINDS else ()) \
        + _FIELDS[kind]
    for key in t.data:
        # before any value is read, so a misspelt field is named as such, not as a missing one
        if key not in known:
            raise t.fail(key, f"unknown field (a {kind} fault has: {', '.join(known)})")
    args: dict[str, Any] = {"kind": kind, "start_s": t.get("start_s", float, 0.0, lo=0.0),
                            "duration_s": t.get("duration_s", float, None, above=0.0),
                            "link": t.get("link", str, None)}
    if kind in SERIAL_KINDS:
        args["direction"] = t.get("direction", str, "both", choices=DIRECTIONS)
    for name in _FIELDS[kind]:
        if name == "ber":
            args[name] = t.get(name, float, lo=0.0, hi=1.0)
        elif name == "probability":
            args[name] = t.get(name, float, lo=0.0, hi=1.0)
        elif name == "octets":
            args[name] = t.get(name, int, 64, lo=1, hi=65536)
        elif name == "text":
            args[name] = t.get(name, str, DEFAULT_CONSOLE_TEXT)
        elif name == "every_s":
            args[name] = t.get(name, float, None, above=0.0)
        elif name == "down_s":
            args[name] = t.get(name, float, 0.5, above=0.0)
        elif name == "ratio":
            args[name] = t.get(name, float, lo=0.1, hi=10.0)
        elif name == "lose_samples":
            args[name] = t.get(name, bool, True)
    t.finish()
    try:
        return Fault(**args)
    except FaultScheduleError as exc:
        raise t.fail(None, str(exc)) from None
