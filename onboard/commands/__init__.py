"""The command dictionary (``dictionary.toml``), shared by the onboard modules and the ground tools.

Loading checks every entry and names file, line and field on an error (onboard.tomlfields). The
same object encodes a command on the ground (``encode``) and checks it onboard (``decode``): an
unknown opcode, a wrong length or an argument out of range raises ``CommandRejected`` whose
message says why; the module turns that into a CMD_REJECTED event.  ``log`` keeps the durable record
of the commands a receiver executed, so each runs once however often its packet comes.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import math
import re
import shlex
import struct
from typing import Any

from onboard.errors import LunarelayError
from onboard.tomlfields import Table, TomlDoc

_FORMATS = {"u8": "B", "u16": "H", "u32": "I", "i16": "h", "i32": "i", "f32": "f", "f64": "d",
            "bool": "?", "str": "s"}
_INT_RANGE = {"u8": (0, 0xFF), "u16": (0, 0xFFFF), "u32": (0, 0xFFFFFFFF), "i16": (-0x8000, 0x7FFF),
              "i32": (-0x80000000, 0x7FFFFFFF)}
COMMON_OPCODES = range(0, 16)


# appended to the recorded answer when a command packet comes again (``onboard.commands.log``)
REPEATED = " (repeated command: answered again, executed once)"


class DictionaryError(LunarelayError):
    """The dictionary file itself is wrong."""


class CommandRejected(LunarelayError):
    """A command that does not match the dictionary; the message says why."""


@dataclasses.dataclass(frozen=True)
class Arg:
    name: str
    type: str
    min: float | None = None
    max: float | None = None
    length: int = 0
    description: str = ""

    @property
    def format(self) -> str:
        return f"{self.length}s" if self.type == "str" else _FORMATS[self.type]

    def check(self, value: Any, command: str) -> Any:
        where = f"{command}.{self.name}"
        if self.type == "str":
            if not isinstance(value, str):
                raise CommandRejected(f"{where}: expected text, got {value!r}")
            raw = value.encode()
            if len(raw) > self.length:
                raise CommandRejected(f"{where}: {len(raw)} octets exceed the {self.length}-octet field")
            return raw
        if self.type == "bool":
            if not isinstance(value, bool):
                raise CommandRejected(f"{where}: expected true or false, got {value!r}")
            return value
        if self.type.startswith("f"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise CommandRejected(f"{where}: expected a finite number, got {value!r}")
            value = float(value)
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise CommandRejected(f"{where}: expected an integer, got {value!r}")
            lo, hi = _INT_RANGE[self.type]
            if not lo <= value <= hi:
                raise CommandRejected(f"{where}: {value} does not fit {self.type}")
        if self.min is not None and value < self.min or self.max is not None and value > self.max:
            raise CommandRejected(f"{where}: {value} is outside [{self.min}, {self.max}]")
        return value


@dataclasses.dataclass(frozen=True)
class CommandDef:
    module: str            # "" for a common command
    name: str
    opcode: int
    args: tuple[Arg, ...]
    description: str

    @functools.cached_property
    def struct(self) -> struct.Struct:
        return struct.Struct(">B" + "".join(a.format for a in self.args))


class CommandDictionary:
    def __init__(self, common: dict[str, CommandDef], modules: dict[str, dict[str, CommandDef]]):
        self.common = common
        self.modules = modules

    def commands(self, module: str) -> dict[str, CommandDef]:
        """Every command ``module`` accepts, common ones included."""
        return {**self.common, **self.modules.get(module, {})}

    def lookup(self, module: str, name: str) -> CommandDef:
        found = self.commands(module).get(name.upper())
        if found is None:
            raise CommandRejected(f"module {module!r} has no command {name!r}; it has "
                                  f"{', '.join(sorted(self.commands(module)))}")
        return found

    def encode(self, module: str, name: str, /, **args: Any) -> bytes:
        """User data of the command packet: opcode and arguments, checked."""
        cmd = self.lookup(module, name)
        missing = [a.name for a in cmd.args if a.name not in args]
        extra = sorted(set(args) - {a.name for a in cmd.args})
        if missing or extra:
            raise CommandRejected(f"{cmd.name}: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else []) +
                ([f"no argument {', '.join(extra)}"] if extra else [])))
        return cmd.struct.pack(cmd.opcode, *(a.check(args[a.name], cmd.name) for a in cmd.args))

    def decode(self, module: str, data: bytes) -> tuple[CommandDef, dict[str, Any]]:
        """The command and its arguments, or CommandRejected saying why."""
        if not data:
            raise CommandRejected("empty command: no opcode")
        by_opcode = {c.opcode: c for c in self.commands(module).values()}
        cmd = by_opcode.get(data[0])
        if cmd is None:
            raise CommandRejected(f"opcode {data[0]} is not a command of module {module!r}")
        if len(data) != cmd.struct.size:
            raise CommandRejected(f"{cmd.name}: {len(data)} octets, the dictionary says {cmd.struct.size}")
        values = cmd.struct.unpack(data)[1:]
        args = {}
        for arg, value in zip(cmd.args, values, strict=True):
            if arg.type == "str":
                try:
                    value = value.rstrip(b"\0").decode()
                except UnicodeDecodeError:
                    raise CommandRejected(f"{cmd.name}.{arg.name}: not UTF-8 text") from None
            args[arg.name] = value
            arg.check(value, cmd.name)
        return cmd, args

    def parse_line(self, line: str) -> tuple[str, str, dict[str, Any]]:
        """``module.NAME arg=value ...`` (the ground command line) -> (module, name, args)."""
        words = shlex.split(line)
        if not words or "." not in words[0]:
            raise CommandRejected(f"{line!r}: expected MODULE.COMMAND [ARG=VALUE ...]")
        module, name = words[0].split(".", 1)
        cmd = self.lookup(module, name)
        types = {a.name: a.type for a in cmd.args}
        args: dict[str, Any] = {}
        for word in words[1:]:
            key, sep, text = word.partition("=")
            if not sep or key not in types:
                raise CommandRejected(f"{cmd.name}: {word!r} is not ARG=VALUE with ARG one of "
                                      f"{', '.join(types) or '(none)'}")
            try:
                args[key] = (text if types[key] == "str" else text.lower() in ("1", "true", "yes")
                             if types[key] == "bool" else float(text) if types[key].startswith("f")
                             else int(text, 0))
            except ValueError:
                raise CommandRejected(f"{cmd.name}.{key}: {text!r} is not a {types[key]}") from None
        return module, cmd.name, args


def parse_dictionary(text: str, source: str, modules: set[str] | None = None) -> CommandDictionary:
    """Parse and check a dictionary; ``modules`` (registry names) are the modules allowed."""
    doc = TomlDoc(text, source, DictionaryError)
    common: dict[str, CommandDef] = {}
    per_module: dict[str, dict[str, CommandDef]] = {}

    def argument(a: Table) -> Arg:
        name = a.get("name", str)
        kind = a.get("type", str, choices=tuple(_FORMATS))
        length = a.get("length", int, lo=1, hi=65535) if kind == "str" else 0
        lo = hi = None
        if kind not in ("str", "bool"):
            bound = float if kind.startswith("f") else int          # integer bounds for integer types
            lo, hi = a.get("min", bound, None), a.get("max", bound, None)
            if lo is not None and hi is not None and lo > hi:
                raise a.fail("max", f"{hi} is below min {lo}")
        arg = Arg(name, kind, lo, hi, length, a.get("description", str, ""))
        a.finish()
        return arg

    def build(t: Table, kind: str) -> CommandDef:
        name = t.get("name", str)
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise t.fail("name", f"{name!r} is not an UPPER_CASE name")
        opcode = t.get("opcode", int, lo=0, hi=255)
        if kind == "common" and opcode not in COMMON_OPCODES:
            raise t.fail("opcode", f"common commands use opcodes 0..15, not {opcode}")
        if kind == "command" and opcode in COMMON_OPCODES:
            raise t.fail("opcode", f"{opcode} is reserved for common commands (0..15)")
        module = t.get("module", str) if kind == "command" else ""
        if kind == "command" and modules is not None and module not in modules:
            raise t.fail("module", f"{module!r} is not a module of the message registry")
        args = tuple(argument(a) for a in t.tables("args"))
        if len({a.name for a in args}) != len(args):
            raise t.fail("args", "two arguments share a name")
        cmd = CommandDef(module, name, opcode, args, t.get("description", str, ""))
        t.finish()
        return cmd

    for t in doc.root.tables("common"):
        cmd = build(t, "common")
        if cmd.name in common or cmd.opcode in {c.opcode for c in common.values()}:
            raise t.fail("name", "name or opcode reused")
        common[cmd.name] = cmd
    for t in doc.root.tables("command"):
        cmd = build(t, "command")
        mine = per_module.setdefault(cmd.module, {})
        if cmd.name in mine or cmd.name in common:
            raise t.fail("name", f"{cmd.module}.{cmd.name} is defined twice")
        if cmd.opcode in {c.opcode for c in mine.values()}:
            raise t.fail("opcode", f"{cmd.module} already has opcode {cmd.opcode}")
        mine[cmd.name] = cmd
    doc.root.finish()
    return CommandDictionary(common, per_module)


@functools.cache
def default_dictionary() -> CommandDictionary:
    from onboard.bus.registry import default_registry

    ref = importlib.resources.files("onboard.commands") / "dictionary.toml"
    return parse_dictionary(ref.read_text(), "dictionary.toml", set(default_registry().modules))
