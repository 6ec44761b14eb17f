"""Typed fields from TOML files (scenarios, dictionaries, registries), with errors that name the
file, the line and the field: ``file:line: table.field: problem``.

``TomlDoc`` parses the text and finds the line of every key and table header, arrays of tables
included (``[[relay]]`` ... ``[relay.orbit]`` is ``relay[0].orbit``).  A ``Table`` reads its fields
with their type, range and finiteness checked (TOML has ``nan`` and ``inf``; a float field takes
neither unless asked), and ``finish`` refuses any field that was not read, so a typo is an error
instead of a setting silently ignored.

    doc = TomlDoc(text, "mission.toml", ScenarioError)
    top = doc.root.table("scenario", required=True)
    duration = top.get("duration_s", float, above=0.0)
    for relay in doc.root.tables("relay"): ...
    top.finish()
"""

from __future__ import annotations

import math
import re
import tomllib
from typing import Any

from onboard.errors import LunarelayError

REQUIRED: Any = object()          # ``get(default=REQUIRED)``: the field must be given

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?")
_KEYVAL = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY)
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               list: "an array", dict: "a table"}


class TomlFieldError(LunarelayError):
    """A TOML file whose content does not fit what is read from it."""


def _parts(dotted: str) -> list[str]:
    out = []
    for m in _PART.finditer(dotted):
        p = m.group(0)
        if p[0] in "\"'":
            p = p[1:-1].encode().decode("unicode_escape") if p[0] == '"' else p[1:-1]
        out.append(p)
    return out


def _scan_value(line: str, state: tuple[str | None, int]) -> tuple[str | None, int]:
    """Carry (open multi-line string delimiter, bracket depth) across one line of a value."""
    delim, depth = state
    i, n = 0, len(line)
    while i < n:
        if delim is not None:
            end = line.find(delim, i)
            while end > 0 and delim == '"""' and line[end - 1] == "\\":
                end = line.find(delim, end + 1)
            if end < 0:
                return delim, depth
            i, delim = end + 3, None
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            delim, i = line[i:i + 3], i + 3
            continue
        if c in "\"'":
            j = i + 1
            while j < n and line[j] != c:
                j += 2 if c == '"' and line[j] == "\\" else 1
            i = j + 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return delim, depth


def key_lines(text: str) -> dict[tuple, int]:
    """Line (from 1) of every key and table header, by path: names and array-of-table indices."""
    lines: dict[tuple, int] = {}
    arrays: dict[tuple, int] = {}        # path of an array of tables -> tables so far
    current: tuple = ()
    state: tuple[str | None, int] = (None, 0)

    def resolve(parts: list[str]) -> tuple:
        path: tuple = ()
        for p in parts:
            path += (p,)
            if path in arrays:
                path += (arrays[path] - 1,)
        return path

    for number, line in enumerate(text.splitlines(), 1):
        if state != (None, 0):
            state = _scan_value(line, state)
            continue
        m = _HEADER.match(line)
        if m:
            parts = _parts(m.group(2))
            if m.group(1) == "[[":
                parent = resolve(parts[:-1]) + (parts[-1],)
                arrays[parent] = arrays.get(parent, 0) + 1
                lines.setdefault(parent, number)
                current = parent + (arrays[parent] - 1,)
            else:
                current = resolve(parts)
            lines.setdefault(current, number)
            continue
        m = _KEYVAL.match(line)
        if m:
            lines.setdefault(current + tuple(_parts(m.group(1))), number)
            state = _scan_value(line[m.end():], (None, 0))
    return lines


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array of tables" if value and all(isinstance(v, dict) for v in value) else "an array"
    return f"{type(value).__name__} {value!r}"


class TomlDoc:
    """A parsed TOML text and where each of its keys is."""

    def __init__(self, text: str, source: str, error: type[LunarelayError] = TomlFieldError):
        self.source, self.error = source, error
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise error(f"{source}: {exc}") from None
        self.lines = key_lines(text)
        self.root = Table(self, (), self.data)

    def line_of(self, path: tuple) -> int:
        """The line of ``path``, or of the nearest table around it that has one (0: none)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 0


def _name(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


class Table:
    """One TOML table; reads its fields and remembers which it read."""

    def __init__(self, doc: TomlDoc, path: tuple, data: dict[str, Any]):
        self.doc, self.path, self.data = doc, path, data
        self.read: set[str] = set()

    @property
    def name(self) -> str:
        return _name(self.path)

    def where(self, key: str | None = None) -> str:
        path = self.path + ((key,) if key is not None else ())
        return f"{self.doc.source}:{self.doc.line_of(path)}: {_name(path) or '(top level)'}"

    def fail(self, key: str | None, problem: str) -> LunarelayError:
        """The error to raise for ``key`` of this table (or the table itself)."""
        return self.doc.error(f"{self.where(key)}: {problem}")

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: type, default: Any = REQUIRED, *, lo: float | None = None,
            hi: float | None = None, above: float | None = None, choices: tuple | None = None,
            finite: bool = True) -> Any:
        """The field ``key``: of ``kind`` (an int is taken where a float is asked), within
        [``lo``, ``hi``], greater than ``above``, one of ``choices``, finite unless told
        otherwise; ``default`` when absent (None: optional)."""
        self.read.add(key)
        if key not in self.data:
            if default is REQUIRED:
                raise self.fail(key, "missing")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise self.fail(key, f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {describe(value)}")
        if kind is float and finite and not math.isfinite(value):
            raise self.fail(key, f"{value} is not a finite number")
        if lo is not None and value < lo or hi is not None and value > hi:
            raise self.fail(key, f"{value!r} is outside [{lo if lo is not None else '-inf'}, "
                                 f"{hi if hi is not None else 'inf'}]")
        if above is not None and not value > above:
            raise self.fail(key, f"{value!r} must be above {above}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(map(str, choices))}")
        return value

    def numbers(self, key: str, count: int, default: Any = REQUIRED) -> list[float] | Any:
        """An array of ``count`` finite numbers."""
        if key not in self.data:
            return self.get(key, list, default)
        value = self.get(key, list)
        ok = len(value) == count and all(isinstance(v, int | float) and not isinstance(v, bool)
                                         and math.isfinite(v) for v in value)
        if not ok:
            raise self.fail(key, f"expected {count} finite numbers, got {value!r}")
        return [float(v) for v in value]

    def table(self, key: str, required: bool = False) -> Table:
        """The sub-table ``key`` (``[this.key]``); an empty one when absent and not required."""
        self.read.add(key)
        if key not in self.data:
            if required:
                raise self.fail(key, "missing table")
            return Table(self.doc, self.path + (key,), {})
        value = self.data[key]
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table ([{_name(self.path + (key,))}]), got {describe(value)}")
        return Table(self.doc, self.path + (key,), value)

    def optional_table(self, key: str) -> Table | None:
        """The sub-table ``key``, or None when absent."""
        self.read.add(key)
        return self.table(key) if key in self.data else None

    def tables(self, key: str) -> list[Table]:
        """The array of tables ``key`` (``[[this.key]]``); empty when absent."""
        self.read.add(key)
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, f"expected an array of tables ([[{_name(self.path + (key,))}]]), "
                                 f"got {describe(value)}")
        return [Table(self.doc, self.path + (key, i), v) for i, v in enumerate(value)]

    def finish(self) -> None:
        """Refuse the fields of this table that nothing read: unknown, or misspelt."""
        for key in self.data:
            if key not in self.read:
                known = ", ".join(sorted(self.read)) or "none"
                raise self.fail(key, f"unknown field (this table has: {known})")
