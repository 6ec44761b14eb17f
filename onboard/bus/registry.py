"""The registry of bus message IDs (``msgids.toml``), checked on load.

A module's APID names its housekeeping (TM) and its commands (TC); its events, pong and
other telemetry sit in fixed blocks at the same offset (see the comment in msgids.toml),
so one topic octet subscribes to every event or every pong on the bus.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import re
import tomllib

from onboard.bus.packet import MAX_APID, PacketType, block_topic, topic
from onboard.errors import LunarelayError

USER_DATA_BLOCK = 1
TELEMETRY_BLOCK = 2
PONG_BLOCK = 3
EVENT_BLOCK = 4


class RegistryError(LunarelayError):
    pass


@dataclasses.dataclass(frozen=True)
class ModuleId:
    name: str
    apid: int
    description: str

    @property
    def hk_topic(self) -> bytes:
        return topic(self.apid, PacketType.TM)

    @property
    def cmd_topic(self) -> bytes:
        return topic(self.apid, PacketType.TC)

    @property
    def event_apid(self) -> int:
        return (EVENT_BLOCK << 8) | self.apid

    @property
    def pong_apid(self) -> int:
        return (PONG_BLOCK << 8) | self.apid


@dataclasses.dataclass(frozen=True)
class MessageId:
    name: str
    apid: int
    source: str
    description: str

    @property
    def topic(self) -> bytes:
        return topic(self.apid, PacketType.TM)


EVENTS_TOPIC = block_topic(EVENT_BLOCK)
PONGS_TOPIC = block_topic(PONG_BLOCK)
USER_DATA_TOPIC = block_topic(USER_DATA_BLOCK)


def _line(text: str, key: str, occurrence: int) -> int:
    hits = [m.start() for m in re.finditer(rf"(?m)^\s*{re.escape(key)}\s*=", text)]
    if not hits:
        return 0
    return text.count("\n", 0, hits[min(occurrence, len(hits) - 1)]) + 1


class Registry:
    def __init__(self, modules: dict[str, ModuleId], messages: dict[str, MessageId]):
        self.modules = modules
        self.messages = messages
        self._by_module_apid = {m.apid: m for m in modules.values()}

    def module(self, name: str) -> ModuleId:
        try:
            return self.modules[name]
        except KeyError:
            raise RegistryError(f"no module {name!r} in the message registry; known: "
                                f"{', '.join(sorted(self.modules))}") from None

    def message(self, name: str) -> MessageId:
        try:
            return self.messages[name]
        except KeyError:
            raise RegistryError(f"no message {name!r} in the message registry") from None

    def module_of_apid(self, apid: int) -> ModuleId | None:
        """The module an APID of the module, telemetry, pong or event block belongs to."""
        return self._by_module_apid.get(apid & 0xFF) if (apid >> 8) in (0, 2, 3, 4) else None


def parse_registry(text: str, source: str) -> Registry:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source}: {exc}") from None
    modules: dict[str, ModuleId] = {}
    messages: dict[str, MessageId] = {}
    used: dict[int, str] = {}

    def field(table: dict, kind: str, i: int, key: str, typ: type):
        if key not in table:
            raise RegistryError(f"{source}:{_line(text, 'name', i)}: {kind}[{i}].{key}: missing")
        if not isinstance(table[key], typ) or isinstance(table[key], bool):
            raise RegistryError(f"{source}:{_line(text, key, i)}: {kind}[{i}].{key}: expected "
                                f"{typ.__name__}, got {table[key]!r}")
        return table[key]

    def claim(apid: int, what: str, where: str) -> None:
        if apid in used:
            raise RegistryError(f"{where}: APID {apid:#05x} of {what} is already {used[apid]}")
        used[apid] = what

    for i, t in enumerate(doc.get("module", [])):
        name, apid = field(t, "module", i, "name", str), field(t, "module", i, "apid", int)
        where = f"{source}:{_line(text, 'apid', i)}: module[{i}].apid"
        if not 0 < apid <= 0xFF:
            raise RegistryError(f"{where}: module APID {apid:#x} must be in 0x001..0x0FF")
        if name in modules:
            raise RegistryError(f"{where}: module {name!r} is defined twice")
        modules[name] = ModuleId(name, apid, t.get("description", ""))
        claim(apid, f"module {name}", where)
    n_mod = len(doc.get("module", []))
    for i, t in enumerate(doc.get("message", [])):
        name, apid = field(t, "message", i, "name", str), field(t, "message", i, "apid", int)
        src = field(t, "message", i, "source", str)
        where = f"{source}:{_line(text, 'apid', n_mod + i)}: message[{i}].apid"
        if not 0 <= apid < MAX_APID:
            raise RegistryError(f"{where}: APID {apid:#x} is outside 0x000..0x7FE")
        if src not in modules:
            raise RegistryError(f"{where}: source {src!r} is not a registered module")
        if name in messages:
            raise RegistryError(f"{where}: message {name!r} is defined twice")
        messages[name] = MessageId(name, apid, src, t.get("description", ""))
        claim(apid, f"message {name}", where)
    return Registry(modules, messages)


@functools.cache
def default_registry() -> Registry:
    ref = importlib.resources.files("onboard.bus") / "msgids.toml"
    return parse_registry(ref.read_text(), "msgids.toml")
