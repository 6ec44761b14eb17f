"""Packet dictionaries: what the user fields of each APID are, and their decoding in batches.

Three sources, one model (``PacketType``: an APID, the packet type bit, an optional discriminator
such as a command opcode, and its ``Field``s at bit offsets from the first octet of the packet,
primary header included, as CCSDSPy counts them):

- the project's own: the message registry (``onboard/bus/msgids.toml``) with each module's
  housekeeping layout, events and pongs, the bus's messages, and the command dictionary
  (``onboard/commands/dictionary.toml``) for commands; ground-side yellow and red limits come
  from ``limits.toml`` beside this module;
- CCSDSPy-style CSV (``name, data_type, bit_length[, bit_offset][, byte_order]``), with optional
  ``unit``, ``calibration`` (polynomial coefficients c0 c1 ...), ``enum`` (``0:OFF 1:ON``) and
  ``yellow_low``/``yellow_high``/``red_low``/``red_high`` columns;
- XTCE, read by space-packet-parser; its sequence containers (inheritance, APID restrictions),
  integer, float, boolean, enumerated and fixed-size string parameters, and polynomial
  calibrators become packet types.

Decoding groups a batch's packets by APID and type.  Whole-octet fields of 1, 2, 4 or 8 octets
(nearly all) go from the packets straight into native-order columns in one pass of the C core
(``csrc/lr_fields.h``); a group with other fields also gathers its fixed part into an (n, width)
array in one step (a row gather over a sliding-window view of the buffer) and reads those with
shifts and masks.  Calibration is a polynomial over the array, enumerations a lookup.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.resources
import pathlib

import numpy as np

from lunarelay_tools.inspect import headers
from lunarelay_tools.inspect.packets import PacketBatch
from onboard.core._api import check, ffi, lib
from onboard.errors import LunarelayError
from onboard.tomlfields import TomlDoc

PRIMARY_BITS = 48
BUS_HEADER_BITS = 96          # primary header and the bus's CUC secondary header
_STRUCT = {"B": ("uint", 8), "b": ("int", 8), "H": ("uint", 16), "h": ("int", 16), "I": ("uint", 32),
           "i": ("int", 32), "Q": ("uint", 64), "q": ("int", 64), "f": ("float", 32), "d": ("float", 64),
           "?": ("bool", 8)}
KINDS = ("uint", "int", "float", "bool", "str", "bytes")


class DictionaryError(LunarelayError):
    """A packet definition that cannot be used; the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class Limits:
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_low: float | None = None
    red_high: float | None = None

    def levels(self, value: np.ndarray) -> np.ndarray:
        """0 in limits, 1 yellow, 2 red, for each value."""
        v = np.asarray(value)
        if v.dtype.kind not in "iuf":
            v = v.astype(np.float64)
        out = np.zeros(v.shape, dtype=np.uint8)
        # red after yellow: a value past both gets the worse level (NaN is past neither)
        for lo, hi, level in ((self.yellow_low, self.yellow_high, 1), (self.red_low, self.red_high, 2)):
            if lo is not None:
                out[v < lo] = level
            if hi is not None:
                out[v > hi] = level
        return out


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    bit_offset: int                 # from the packet's first bit
    bit_length: int | None          # None: to the end of the packet (str / bytes)
    kind: str = "uint"
    byte_order: str = "big"
    unit: str = ""
    calibration: tuple[float, ...] | None = None    # c0 + c1 x + c2 x^2 ...
    enum: dict[int, str] | None = None
    limits: Limits | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DictionaryError(f"field {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        integer = self.kind in ("uint", "int", "bool")
        if self.bit_length is not None and integer and not 1 <= self.bit_length <= 64:
            raise DictionaryError(f"field {self.name}: integers are 1..64 bits, not {self.bit_length}")
        if self.kind == "float" and self.bit_length not in (32, 64):
            raise DictionaryError(f"field {self.name}: floats are 32 or 64 bits, not {self.bit_length}")
        if self.byte_order == "little" and (self.bit_offset % 8 or (self.bit_length or 0) % 8):
            raise DictionaryError(f"field {self.name}: little-endian fields must be whole octets")

    @property
    def end_bit(self) -> int:
        return self.bit_offset + (self.bit_length or 0)


@dataclasses.dataclass(frozen=True)
class PacketType:
    name: str
    apids: tuple[int, ...]
    packet_type: int | None          # 0 telemetry, 1 telecommand, None either
    fields: tuple[Field, ...]
    match: tuple[int, int, int] | None = None     # (bit offset, bit length, value) that must hold
    source: str = ""

    @functools.cached_property
    def min_octets(self) -> int:
        ends = [f.end_bit for f in self.fields] + ([self.match[0] + self.match[1]] if self.match else [])
        return (max(ends, default=PRIMARY_BITS) + 7) // 8


@dataclasses.dataclass
class Decoded:
    """The fields of the packets of one type in a batch."""

    ptype: PacketType
    rows: np.ndarray                 # indices into the batch's rows
    columns: dict[str, object]       # field name -> numpy array (strings: object array)
    raw: dict[str, np.ndarray]       # raw values of calibrated or enumerated fields
    levels: dict[str, np.ndarray]    # limit levels (0/1/2) of fields with limits
    span: tuple[int, int] | None = None   # rows are order[first:end] of the batch's grouping


class Dictionary:
    def __init__(self, types: list[PacketType] | None = None):
        self.types: list[PacketType] = []
        self._by_key: dict[tuple[int, int | None], list[PacketType]] = {}
        for t in types or []:
            self.add(t)

    def add(self, t: PacketType) -> None:
        self.types.append(t)
        for apid in t.apids:
            self._by_key.setdefault((apid, t.packet_type), []).append(t)

    def extend(self, other: Dictionary) -> None:
        for t in other.types:
            self.add(t)

    def candidates(self, apid: int, packet_type: int) -> list[PacketType]:
        return self._by_key.get((apid, packet_type), []) + self._by_key.get((apid, None), [])

    def name_of(self, apid: int, packet_type: int = 0) -> str:
        c = self.candidates(apid, packet_type)
        if not c:
            return ""
        if len(c) == 1 or c[0].match is None:
            return c[0].name
        return c[0].name.rsplit(".", 1)[0] + ".*"

    def field_names(self) -> list[tuple[str, Field]]:
        return [(t.name, f) for t in self.types for f in t.fields]

    # --- decoding ----------------------------------------------------------------------------------
    def decode(self, batch: PacketBatch) -> list[Decoded]:
        if not len(batch.rows):
            return []
        g = batch.grouping()
        out = []
        for apid, ptype, a, b in g.spans():
            types = self.candidates(apid, ptype)
            if not types:
                continue
            idx = g.order[a:b]
            lengths = g.column("length")[a:b]
            taken = np.zeros(idx.size, dtype=bool)
            for t in types:
                sel = ~taken & (lengths >= t.min_octets)
                if t.match is not None:
                    sel_idx = idx[sel]
                    if not sel_idx.size:
                        continue
                    vals = _bits(batch, batch.rows[sel_idx], t.match[0], t.match[1])
                    sub = np.zeros(idx.size, dtype=bool)
                    sub[np.nonzero(sel)[0][vals == t.match[2]]] = True
                    sel = sub
                if sel.all():
                    # the whole group: its rows are one slice of the grouping's order
                    out.append(decode_type(batch, idx, t, span=(a, b)))
                    break
                if not sel.any():
                    continue
                taken |= sel
                out.append(decode_type(batch, idx[sel], t))
        return out


def _window(batch: PacketBatch, rows: np.ndarray, start: int, width: int) -> np.ndarray:
    """(n, width) octets from octet ``start`` of each packet: one row gather, no per-packet loop."""
    return batch.data_matrix(rows, start, width)


def _bits(batch: PacketBatch, rows: np.ndarray, bit_offset: int, bit_length: int) -> np.ndarray:
    b0, b1 = bit_offset // 8, (bit_offset + bit_length + 7) // 8
    return _word(_window(batch, rows, b0, b1 - b0), 0, bit_offset - 8 * b0, bit_length, "big")


def _word(m: np.ndarray, at: int, bit: int, bit_length: int, byte_order: str) -> np.ndarray:
    """Unsigned value of ``bit_length`` bits starting ``bit`` bits into octet ``at`` of each row."""
    nb = (bit + bit_length + 7) // 8
    if nb > 8:
        hi = _word(m, at, bit, bit_length - 8, byte_order)
        lo = _word(m, at + (bit + bit_length - 8) // 8, (bit + bit_length - 8) % 8, 8, byte_order)
        return (hi << np.uint64(8)) | lo
    cols = range(nb) if byte_order == "big" else range(nb - 1, -1, -1)
    word = np.zeros(m.shape[0], dtype=np.uint64)
    for c in cols:
        word = (word << np.uint64(8)) | m[:, at + c].astype(np.uint64)
    shift = 8 * nb - bit - bit_length
    if shift:
        word >>= np.uint64(shift)
    if bit_length < 64:
        word &= np.uint64((1 << bit_length) - 1)
    return word


_NATIVE = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}
_SIGNED = {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How a packet type's fixed fields are read: which are whole octets of 1, 2, 4 or 8 (taken by
    the core), and the octet span to gather for the others (shifted and masked)."""

    lo: int
    hi: int
    whole: tuple[bool, ...]        # for each fixed field


_PLANS: dict[int, tuple[PacketType, _Plan]] = {}


def _plan(t: PacketType) -> _Plan:
    got = _PLANS.get(id(t))
    if got is not None and got[0] is t:
        return got[1]
    fixed = [f for f in t.fields if f.bit_length is not None]
    lo = min((f.bit_offset for f in fixed), default=0) // 8
    hi = (max((f.end_bit for f in fixed), default=0) + 7) // 8
    whole = tuple(f.bit_offset % 8 == 0 and f.bit_length in (8, 16, 32, 64) and f.kind != "str"
                  for f in fixed)
    plan = _Plan(lo, hi, whole)
    _PLANS[id(t)] = (t, plan)
    return plan


def decode_type(batch: PacketBatch, idx: np.ndarray, t: PacketType,
                span: tuple[int, int] | None = None) -> Decoded:
    if span is not None:
        g = batch.grouping()
        offsets, lengths = g.column("offset")[span[0]:span[1]], g.column("length")[span[0]:span[1]]
    else:
        offsets, lengths = batch.rows["offset"][idx], batch.rows["length"][idx]
    fixed = [f for f in t.fields if f.bit_length is not None]
    columns: dict[str, object] = {}
    raw: dict[str, np.ndarray] = {}
    levels: dict[str, np.ndarray] = {}
    if fixed:
        plan = _plan(t)
        lo = plan.lo
        aligned = [f for f, whole in zip(fixed, plan.whole, strict=True) if whole]
        taken = iter(_extract(batch, offsets, aligned))
        m = batch.gather(offsets, lo, plan.hi - lo) if len(aligned) < len(fixed) else None
        for f, whole in zip(fixed, plan.whole, strict=True):
            if whole:
                v = next(taken)
            else:
                b = f.bit_offset // 8 - lo
                if f.kind == "str":
                    _finish(f, _strings_fixed(m, b, f.bit_length // 8), columns, raw, levels)
                    continue
                w = _word(m, b, f.bit_offset % 8, f.bit_length, f.byte_order)
                if f.kind == "int":
                    sign = np.uint64(1 << (f.bit_length - 1))
                    v = (w.astype(np.int64) - ((w & sign).astype(np.int64) << 1)) if f.bit_length < 64 \
                        else w.view(np.int64)
                    v = v.astype(_SIGNED.get(_width(f.bit_length), np.int64))
                elif f.kind == "float":
                    v = (w.astype(np.uint32).view(np.float32) if f.bit_length == 32 else w.view(np.float64))
                elif f.kind == "bool":
                    v = w != 0
                else:
                    v = w.astype(_NATIVE.get(_width(f.bit_length), np.uint64))
            if f.kind == "bool" and v.dtype != bool:
                v = v != 0
            _finish(f, v, columns, raw, levels)
    for f in t.fields:
        if f.bit_length is None and f.kind == "str":
            columns[f.name] = _strings_to_end(batch, offsets, lengths, f.bit_offset // 8)
    return Decoded(t, idx, columns, raw, levels, span)


def _extract(batch: PacketBatch, offsets: np.ndarray, fields: list[Field]) -> list[np.ndarray]:
    """Whole-octet fields of 1, 2, 4 or 8 octets of the packets at ``offsets``, each a column in
    the host's byte order (floats as floats), in one pass of the core."""
    if not fields:
        return []
    offsets = np.ascontiguousarray(offsets, dtype=np.uint64)
    buf = np.ascontiguousarray(batch.buffer, dtype=np.uint8)
    table = ffi.new("struct lr_field[]", len(fields))
    columns, keep = [], []
    for k, f in enumerate(fields):
        col = np.empty(offsets.size, dtype=np.dtype(_fmt(f)).newbyteorder("="))
        columns.append(col)
        ptr = ffi.from_buffer(col, require_writable=True)
        keep.append(ptr)
        row = table[k]
        row.offset, row.width, row.big_endian, row.column = f.bit_offset // 8, f.bit_length // 8, \
            f.byte_order == "big", ptr
    check(lib.lr_fields_extract(ffi.from_buffer("uint8_t[]", buf), buf.size,
                                ffi.from_buffer("uint64_t[]", offsets), offsets.size, table, len(fields)),
          "packet fields")
    return columns


def _width(bits: int) -> int:
    for w in (8, 16, 32, 64):
        if bits <= w:
            return w
    return 64


def _fmt(f: Field) -> str:
    order = ">" if f.byte_order == "big" else "<"
    if f.kind == "float":
        return f"{order}f{f.bit_length // 8}"
    if f.kind == "int":
        return f"{order}i{f.bit_length // 8}"
    if f.kind == "str":
        return f"S{f.bit_length // 8}"
    return f"{order}u{f.bit_length // 8}"


def _finish(f: Field, v: np.ndarray, columns: dict, raw: dict, levels: dict) -> None:
    if f.kind == "str" and v.dtype.kind == "S":
        v = np.char.decode(np.char.rstrip(v, b"\0"), "utf-8", errors="replace").astype(object)
    value = v
    if f.calibration is not None:
        raw[f.name] = v
        value = np.polynomial.polynomial.polyval(v.astype(np.float64), np.array(f.calibration))
    if f.enum is not None:
        raw[f.name] = v
        keys = np.array(sorted(f.enum), dtype=np.int64)
        labels = np.array([f.enum[k] for k in sorted(f.enum)] + [None], dtype=object)
        pos = np.searchsorted(keys, v.astype(np.int64))
        pos = np.where((pos < keys.size) & (keys[np.minimum(pos, keys.size - 1)] == v.astype(np.int64)), pos,
                       keys.size)
        value = labels[pos]
        missing = value == None  # noqa: E711 - elementwise over an object array
        if missing.any():
            value[missing] = v[missing].astype(str)
    if f.limits is not None and f.enum is None:
        levels[f.name] = f.limits.levels(value)
    columns[f.name] = value


def _strings_fixed(m: np.ndarray, at: int, n: int) -> np.ndarray:
    return np.ascontiguousarray(m[:, at:at + n]).view(f"S{n}").reshape(-1)


def _strings_to_end(batch: PacketBatch, offsets: np.ndarray, lengths: np.ndarray, start: int) -> np.ndarray:
    """Text from octet ``start`` to the end of each packet (UTF-8, invalid octets replaced)."""
    lens = np.maximum(lengths.astype(np.int64) - start, 0)
    begin = offsets.astype(np.int64) + start
    total = int(lens.sum())
    if not total:
        return np.array([""] * len(offsets), dtype=object)
    rel = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    octets = batch.buffer[np.repeat(begin, lens) + rel]
    blob = octets.tobytes()
    ends = np.cumsum(lens)
    out = np.empty(len(offsets), dtype=object)
    for i, (a, b) in enumerate(zip((ends - lens).tolist(), ends.tolist(), strict=True)):
        out[i] = blob[a:b].decode("utf-8", errors="replace")
    return out


# --- the project's dictionary ----------------------------------------------------------------------------
def _struct_fields(codes: list[tuple[str, str]], start_bit: int, prefix: str = "") -> tuple[list[Field], int]:
    fields, bit = [], start_bit
    for name, code in codes:
        if code.endswith("s"):
            n = int(code[:-1] or 1)
            fields.append(Field(prefix + name, bit, 8 * n, "str"))
            bit += 8 * n
            continue
        kind, width = _STRUCT[code]
        fields.append(Field(prefix + name, bit, width, kind))
        bit += width
    return fields, bit


def _limits_table() -> list[dict]:
    ref = importlib.resources.files("lunarelay_tools.inspect") / "limits.toml"
    try:
        text = ref.read_text()
    except OSError as exc:
        raise DictionaryError(f"limits.toml: {exc}") from None
    return limit_rows(text, "limits.toml")


def limit_rows(text: str, source: str) -> list[dict]:
    """The ``[[limit]]`` rows of a limits file, every field checked (``onboard.tomlfields``): a
    packet type and a field named, each bound a finite number or left out, nothing else."""
    doc = TomlDoc(text, source, DictionaryError)
    rows = []
    for t in doc.root.tables("limit"):
        row = {"packet": t.get("packet", str), "field": t.get("field", str)}
        row.update({k: t.get(k, float, None) for k in ("yellow_low", "yellow_high", "red_low", "red_high")})
        t.finish()
        rows.append(row)
    doc.root.finish()
    return rows


def _with_limits(t: PacketType, table: list[dict]) -> PacketType:
    fields = []
    for f in t.fields:
        lim = None
        for row in table:
            pkt = row.get("packet", "")
            named = pkt == t.name or (pkt.startswith("*.") and t.name.endswith(pkt[1:]))
            if named and row.get("field") == f.name:
                lim = Limits(*(row.get(k) for k in ("yellow_low", "yellow_high", "red_low", "red_high")))
        fields.append(dataclasses.replace(f, limits=lim) if lim else f)
    return dataclasses.replace(t, fields=tuple(fields))


@functools.cache
def project_dictionary() -> Dictionary:
    """Packet types of the project's registry, housekeeping layouts, events and commands."""
    from hil.ground.housekeeping import hk_layout
    from onboard.bus import messages as bus_messages
    from onboard.bus.client import PipeStats
    from onboard.bus.registry import default_registry
    from onboard.commands import default_dictionary
    from onboard.events import EventId, Severity
    from onboard.modules.base import COMMON_HK_FIELDS

    reg = default_registry()
    commands = default_dictionary()
    limits = _limits_table()
    d = Dictionary()
    pipe_codes = list(zip(("received", "malformed", "lost", "dropped", "high_water", "depth"),
                          PipeStats.HK_FORMAT.lstrip(">"), strict=True))
    for mod in reg.modules.values():
        if mod.name == "bus":
            names = [f.name for f in dataclasses.fields(bus_messages.ProxyStats)]
            hk, _ = _struct_fields([(n, "Q") for n in names], BUS_HEADER_BITS)
        else:
            hk, bit = _struct_fields([(n, "H") for n in COMMON_HK_FIELDS], BUS_HEADER_BITS)
            for pipe in ("command_pipe", "data_pipe"):
                more, bit = _struct_fields(pipe_codes, bit, f"{pipe}.")
                hk += more
            try:
                own = list(hk_layout(mod.name))
            except Exception:  # noqa: BLE001 - a module that cannot be imported here keeps the common part
                own = []
            more, _ = _struct_fields(own, bit)
            hk += more
        if mod.name == "bench_host":       # a bench host's share (hil.bench.hosts.HOST_HK), not a module's
            d.add(PacketType("bench_host.hk", (mod.apid,), 0, (
                Field("board_starts", 96, 16), Field("board_running", 112, 8, "bool"),
                Field("host", 120, None, "str")), source="msgids.toml"))
        elif mod.name not in ("ground",):
            d.add(_with_limits(PacketType(f"{mod.name}.hk", (mod.apid,), 0, tuple(hk), source="msgids.toml"),
                               limits))
        sev = {s.value: s.name for s in Severity}
        d.add(PacketType(f"{mod.name}.event", (mod.event_apid,), 0, (
            Field("source_apid", 96, 16), Field("event_id", 112, 16,
                                                enum={e.value: e.name for e in EventId} | {}),
            Field("severity", 128, 8, enum=sev), Field("text", 136, None, "str")), source="msgids.toml"))
        d.add(PacketType(f"{mod.name}.pong", (mod.pong_apid,), 0,
                         (Field("token", 96, 32), Field("pid", 128, 32)), source="msgids.toml"))
        for cmd in commands.commands(mod.name).values():
            args, _ = _struct_fields([(a.name, a.format) for a in cmd.args], BUS_HEADER_BITS + 8)
            d.add(PacketType(f"{mod.name}.{cmd.name}", (mod.apid,), 1, (Field("opcode", 96, 8), *args),
                             match=(96, 8, cmd.opcode), source="dictionary.toml"))
    msg = {m.name: m for m in reg.messages.values()}
    layouts = {
        "PING": [Field("token", 96, 32)],
        "SCHED_TICK": [Field("tick", 96, 32), Field("hk_due", 128, 8, "bool")],
        "STORE_PLAYBACK": [Field("store_id", 96, 32)],
        "UPLINK_CLCW": [Field("clcw", 96, 32)] + [Field(f"clcw.{b.name}", 96 + b.offset, b.width)
                                                   for b in headers.bit_layout(headers.Clcw)],
        "CLOCK": [Field("mode", 96, 8), Field("scale", 160, 64, "float", "little"),
                  Field("epoch_tai", 224, 64, "float", "little"),
                  Field("anchor_unix", 288, 64, "float", "little")],
    }
    for name, fields in layouts.items():
        if name in msg:
            d.add(PacketType(name.lower(), (msg[name].apid,), 0, tuple(fields), source="msgids.toml"))
    # surface users' data (0x100-0x1FF): a packet number, then reproducible octets (hil.surface.user)
    d.add(PacketType("user_data", tuple(range(0x100, 0x200)), 0, (Field("packet_number", 96, 32),),
                     source="msgids.toml"))
    return d


# --- CCSDSPy-style CSV ---------------------------------------------------------------------------------
def _num(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def load_csv(path: str | pathlib.Path, apid: int, name: str | None = None) -> PacketType:
    """A packet type from a CCSDSPy-style CSV (bit offsets count the primary header, as CCSDSPy's do;
    without them, fields follow each other from the end of the primary header)."""
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DictionaryError(f"{path}: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines(), skipinitialspace=True)
    need = {"name", "data_type", "bit_length"}
    if not reader.fieldnames or not need <= {h.strip() for h in reader.fieldnames}:
        raise DictionaryError(f"{path}: needs the columns name, data_type, bit_length")
    fields, bit = [], PRIMARY_BITS
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        where = f"{path}:{line}"
        dtype = row["data_type"]
        if "(" in dtype:
            raise DictionaryError(f"{where}: array fields ({dtype}) are not supported")
        kind = {"uint": "uint", "int": "int", "float": "float", "str": "str", "fill": "fill"}.get(dtype)
        if kind is None:
            raise DictionaryError(f"{where}: data_type {dtype!r} is not uint, int, float, str or fill")
        try:
            length = int(row["bit_length"])
            offset = int(row["bit_offset"]) if row.get("bit_offset") else bit
        except ValueError:
            raise DictionaryError(f"{where}: bit_length and bit_offset must be integers") from None
        bit = offset + length
        if kind == "fill":
            continue
        cal = tuple(float(c) for c in row.get("calibration", "").split()) or None
        enum = None
        if row.get("enum"):
            try:
                enum = {int(k, 0): v for k, v in (item.split(":", 1) for item in row["enum"].split())}
            except ValueError:
                raise DictionaryError(f"{where}: enum must be VALUE:LABEL pairs") from None
        lims = [_num(row.get(k)) for k in ("yellow_low", "yellow_high", "red_low", "red_high")]
        try:
            limits = Limits(*lims) if any(v is not None for v in lims) else None
            fields.append(Field(row["name"], offset, length, kind, row.get("byte_order") or "big",
                                row.get("unit", ""), cal, enum, limits))
        except DictionaryError as exc:
            raise DictionaryError(f"{where}: {exc}") from None
    if not fields:
        raise DictionaryError(f"{path}: defines no fields")
    return PacketType(name or path.stem, (apid,), None, tuple(fields), source=str(path))


# --- XTCE (space-packet-parser) ------------------------------------------------------------------------
def load_xtce(path: str | pathlib.Path) -> list[PacketType]:
    """Packet types of every concrete container of an XTCE document."""
    try:
        import space_packet_parser as spp
        from space_packet_parser.xtce import calibrators, containers, encodings, parameter_types, parameters
    except ImportError:
        raise DictionaryError("XTCE definitions need space-packet-parser (pip install space-packet-parser)") \
            from None
    try:
        definition = spp.load_xtce(path)
    except Exception as exc:  # noqa: BLE001 - the parser's own errors, reported with the file
        raise DictionaryError(f"{path}: {type(exc).__name__}: {exc}") from None

    def chain(c: containers.SequenceContainer) -> list:
        base = definition.containers.get(c.base_container_name) if c.base_container_name else None
        return (chain(base) if base is not None else []) + [c]

    def entries(c) -> list:
        out = []
        for e in c.entry_list:
            out.extend(entries(e) if isinstance(e, containers.SequenceContainer) else [e])
        return out

    types = []
    for c in definition.containers.values():
        if c.abstract:
            continue
        fields: list[Field] = []
        criteria = []
        bit = 0
        where = {}
        try:
            for cc in chain(c):
                criteria.extend(cc.restriction_criteria)
                for p in entries(cc):
                    if not isinstance(p, parameters.Parameter):
                        raise DictionaryError(f"{path}: container {c.name}: entry {p!r} is not a parameter")
                    f = _xtce_field(p, bit, encodings, parameter_types, calibrators)
                    where[p.name] = f
                    fields.append(f)
                    bit = f.end_bit
        except DictionaryError as exc:
            raise DictionaryError(f"{path}: container {c.name}: {exc}") from None
        apids, match = None, None
        for crit in criteria:
            ref = where.get(getattr(crit, "referenced_parameter", None))
            if ref is None or getattr(crit, "operator", "==") not in ("==", "eq"):
                raise DictionaryError(f"{path}: container {c.name}: restriction {crit!r} is not an "
                                      "equality on a parameter of the packet")
            value = int(float(crit.required_value))
            if (ref.bit_offset, ref.bit_length) == (5, 11):
                apids = (value,)
            else:
                match = (ref.bit_offset, ref.bit_length, value)
        if apids is None:
            raise DictionaryError(f"{path}: container {c.name}: no restriction on the APID")
        # the primary header's own fields are shown by every output already
        user = tuple(f for f in fields if f.bit_offset >= PRIMARY_BITS)
        types.append(PacketType(c.name, apids, None, user, match=match, source=str(path)))
    if not types:
        raise DictionaryError(f"{path}: no concrete container with an APID restriction")
    return types


def _xtce_field(p, bit: int, encodings, parameter_types, calibrators) -> Field:
    pt = p.parameter_type
    enc = pt.encoding
    unit = pt.unit if isinstance(pt.unit, str) else " ".join(pt.unit or ())
    lsb_first = getattr(enc, "byte_order", "mostSignificantByteFirst") == "leastSignificantByteFirst"
    order = "little" if lsb_first else "big"
    cal = None
    if getattr(enc, "default_calibrator", None) is not None:
        c = enc.default_calibrator
        if not isinstance(c, calibrators.PolynomialCalibrator):
            raise DictionaryError(f"parameter {p.name}: only polynomial calibrators are read")
        top = max(t.exponent for t in c.coefficients)
        coeffs = [0.0] * (top + 1)
        for t in c.coefficients:
            coeffs[t.exponent] += t.coefficient
        cal = tuple(coeffs)
    if getattr(enc, "context_calibrators", None):
        raise DictionaryError(f"parameter {p.name}: context calibrators are not read")
    if isinstance(enc, encodings.IntegerDataEncoding):
        kind = "int" if enc.encoding in ("signed", "twosComplement", "twosCompliment") else "uint"
        if enc.encoding not in ("unsigned", "signed", "twosComplement", "twosCompliment"):
            raise DictionaryError(f"parameter {p.name}: integer encoding {enc.encoding} is not read")
        if isinstance(pt, parameter_types.BooleanParameterType):
            kind = "bool"
        enum = dict(pt.enumeration) if isinstance(pt, parameter_types.EnumeratedParameterType) else None
        if enum is not None and cal is not None:
            raise DictionaryError(f"parameter {p.name}: a calibrated enumeration is not read")
        return Field(p.name, bit, enc.size_in_bits, kind, order, unit, cal, enum)
    if isinstance(enc, encodings.FloatDataEncoding):
        if enc.encoding != "IEEE754" and enc.encoding != "IEEE-754":
            raise DictionaryError(f"parameter {p.name}: float encoding {enc.encoding} is not read")
        return Field(p.name, bit, enc.size_in_bits, "float", order, unit, cal)
    if isinstance(enc, encodings.StringDataEncoding) and getattr(enc, "fixed_length", None):
        return Field(p.name, bit, enc.fixed_length, "str", "big", unit)
    raise DictionaryError(f"parameter {p.name}: {type(enc).__name__} of variable size is not read")
