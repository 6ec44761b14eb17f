"""Option values of the ``lunarelay`` commands, checked where argparse reads them.

Every numeric option goes through :func:`number` or :func:`numbers` (``type=`` of argparse): a
value that is not a number, not finite (nan, inf, or a float too large to hold), or outside its
range is refused there, so the error is one line naming the option, with exit code 2, before any
work starts.  :class:`OneLineParser` keeps argparse's errors to that one line.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: usage error: {message}\n")


def _bounds(lo: float | None, hi: float | None, above: float | None) -> str:
    if above is not None:
        return f"above {above:g}" + (f" and at most {hi:g}" if hi is not None else "")
    if lo is not None and hi is not None:
        return f"within {lo:g}..{hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


def _integer(text: str) -> int:
    try:
        return int(text, 0)              # 42, 0x2A1, 0o17, 0b101
    except ValueError:
        return int(text, 10)             # 007: decimal with leading zeros


def parse_number(text: str, *, integer: bool = False, lo: float | None = None, hi: float | None = None,
                 above: float | None = None) -> int | float:
    """One number from the command line; ``ValueError`` saying what is wrong with it."""
    text = text.strip()
    try:
        value: int | float = _integer(text) if integer else float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {'an integer' if integer else 'a number'}") from None
    if not integer and not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    if (lo is not None and value < lo or hi is not None and value > hi
            or above is not None and not value > above):
        raise ValueError(f"{text} must be {_bounds(lo, hi, above)}")
    return value


def number(integer: bool = False, *, lo: float | None = None, hi: float | None = None,
           above: float | None = None) -> Callable[[str], Any]:
    """``type=`` for one finite number (an integer in any base with ``integer``) in range."""
    def parse(text: str) -> int | float:
        try:
            return parse_number(text, integer=integer, lo=lo, hi=hi, above=above)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = "integer" if integer else "number"      # argparse names the type in some errors
    return parse


def numbers(integer: bool = False, *, count: int | None = None, lo: float | None = None,
            hi: float | None = None, above: float | None = None,
            each: tuple[dict, ...] | None = None) -> Callable[[str], list]:
    """``type=`` for comma-separated numbers: ``count`` of them if given; ``each`` gives the
    bounds (and ``integer``) of every position when they differ, e.g. latitude, longitude, height."""
    def parse(text: str) -> list:
        parts = [p for p in text.split(",") if p.strip()]
        want = len(each) if each is not None else count
        if not parts or want is not None and len(parts) != want:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {want or 'one or more'} comma-separated "
                                             f"{'integers' if integer else 'numbers'}")
        out = []
        for i, part in enumerate(parts):
            spec = each[i] if each is not None else {"integer": integer, "lo": lo, "hi": hi, "above": above}
            try:
                out.append(parse_number(part, **spec))
            except ValueError as exc:
                raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
        return out
    parse.__name__ = "numbers"
    return parse
