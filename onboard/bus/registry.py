"""The registry of bus message IDs (``msgids.toml``), checked on load.

A module's APID names its housekeeping (TM) and its commands (TC); its events, pong and
other telemetry sit in fixed blocks at the same offset (see the comment in msgids.toml),
so one topic octet subscribes to every event or every pong on the bus.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources

from onboard.bus.packet import MAX_APID, PacketType, block_topic, topic
from onboard.errors import LunarelayError
from onboard.tomlfields import Table, TomlDoc

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
    doc = TomlDoc(text, source, RegistryError)
    modules: dict[str, ModuleId] = {}
    messages: dict[str, MessageId] = {}
    used: dict[int, str] = {}

    def claim(t: Table, apid: int, what: str) -> None:
        if apid in used:
            raise t.fail("apid", f"APID {apid:#05x} of {what} is already {used[apid]}")
        used[apid] = what

    for t in doc.root.tables("module"):
        name, apid = t.get("name", str), t.get("apid", int)
        if not 0 < apid <= 0xFF:
            raise t.fail("apid", f"module APID {apid:#x} must be in 0x001..0x0FF")
        if name in modules:
            raise t.fail("name", f"module {name!r} is defined twice")
        modules[name] = ModuleId(name, apid, t.get("description", str, ""))
        claim(t, apid, f"module {name}")
        t.finish()
    for t in doc.root.tables("message"):
        name, apid, src = t.get("name", str), t.get("apid", int), t.get("source", str)
        if not 0 <= apid < MAX_APID:
            raise t.fail("apid", f"APID {apid:#x} is outside 0x000..0x7FE")
        if src not in modules:
            raise t.fail("source", f"source {src!r} is not a registered module")
        if name in messages:
            raise t.fail("name", f"message {name!r} is defined twice")
        messages[name] = MessageId(name, apid, src, t.get("description", str, ""))
        claim(t, apid, f"message {name}")
        t.finish()
    doc.root.finish()
    return Registry(modules, messages)


@functools.cache
def default_registry() -> Registry:
    ref = importlib.resources.files("onboard.bus") / "msgids.toml"
    return parse_registry(ref.read_text(), "msgids.toml")
