"""Where decoded packets go: JSON lines, CSV (wide or long), Parquet, one file per APID, pcapng.

``Outputs`` is the sink every stream hands its packet batches to.  It decodes each batch once
with the dictionary (when anything needs the fields: an export, the limits, a plot), counts limit
violations per APID, and passes the batch on to the writers.  Every writer works per batch with
numpy and pyarrow: the JSON lines are assembled column-wise by pyarrow's string kernels, the tables
are Arrow tables, the per-APID files get each APID's packets in one gather.

Columns common to every packet: ``packet_index`` (order in the stream), ``time`` (UTC, from the
secondary header, when there is one), ``apid``, ``name`` (the dictionary's packet type), ``type``,
``sec_hdr_flag``, ``seq_flags``, ``seq_count``, ``length`` (whole packet octets), ``vcid`` and
``frame`` (where it came from, -1 for none).  Decoded fields follow as ``<type>.<field>``;
calibrated and enumerated fields also keep ``<type>.<field>.raw``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from typing import TextIO

import numpy as np

from hil import capture as cap
from lunarelay_tools.inspect.dictionaries import Decoded, Dictionary
from lunarelay_tools.inspect.packets import PacketBatch
from lunarelay_tools.inspect.stats import tai_to_unix
from onboard.core.spp import APID_IDLE

COMMON = ("packet_index", "time", "apid", "name", "type", "sec_hdr_flag", "seq_flags", "seq_count", "length",
          "vcid", "frame")


_MS = None


def iso_times(times: np.ndarray):
    """ISO 8601 UTC strings (milliseconds) of TAI times as a pyarrow array, null where unknown.
    Packets of a batch share few distinct seconds: each second is formatted once, then joined
    with its millisecond text by pyarrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    global _MS
    if _MS is None:
        _MS = pa.array([f".{i:03d}Z" for i in range(1000)])
    ok = ~np.isnan(times)
    n = times.size
    if not ok.any():
        return pa.nulls(n, pa.string())
    ms_total = np.floor(tai_to_unix(times[ok]) * 1000.0).astype(np.int64)
    sec, ms = np.divmod(ms_total, 1000)
    uniq, inv = np.unique(sec, return_inverse=True)
    text = pa.array([datetime.datetime.fromtimestamp(int(u), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
                     for u in uniq.tolist()])
    joined = pc.binary_join_element_wise(text.take(pa.array(inv)), _MS.take(pa.array(ms)), "")
    if ok.all():
        return joined
    where = np.cumsum(ok) - 1
    return joined.take(pa.array(where, mask=~ok))


def timestamps(times: np.ndarray):
    """TAI times as a pyarrow UTC timestamp array (milliseconds), null where unknown."""
    import pyarrow as pa

    ok = ~np.isnan(times)
    ms = np.where(ok, np.floor(tai_to_unix(np.nan_to_num(times)) * 1000.0), 0).astype(np.int64)
    return pa.array(ms, type=pa.timestamp("ms", tz="UTC"), mask=~ok)


@dataclasses.dataclass
class LimitCount:
    yellow: int = 0
    red: int = 0
    worst: float | str | None = None


class Outputs:
    """The sink of every stream: decoding, limits, and the writers asked for."""

    def __init__(self, dictionary: Dictionary | None, *, decode: bool = True):
        self.dictionary = dictionary
        self.decode = decode and dictionary is not None
        self.writers: list = []
        self.limits: dict[tuple[str, str], LimitCount] = {}
        self.packets = 0
        self.frame_writers: list = []

    def add(self, writer) -> None:
        self.writers.append(writer)
        if hasattr(writer, "frames"):
            self.frame_writers.append(writer)

    def __call__(self, stream, batch: PacketBatch, times: np.ndarray) -> None:
        keep = batch.rows["apid"] != APID_IDLE
        if not keep.all():
            batch = PacketBatch(batch.buffer, batch.rows[keep])
        if not len(batch):
            return
        index = np.arange(self.packets, self.packets + len(batch), dtype=np.int64)
        self.packets += len(batch)
        decoded = self.dictionary.decode(batch) if self.decode else []
        for d in decoded:
            if d.levels:
                self._count_limits(stream, batch, d)
        for w in self.writers:
            w.write(batch, times, index, decoded)

    def frames(self, kind: str, frames: np.ndarray, params) -> None:
        for w in self.frame_writers:
            w.frames(kind, frames, params)

    def _count_limits(self, stream, batch: PacketBatch, d: Decoded) -> None:
        worst = np.zeros(len(d.rows), dtype=np.uint8)
        for name, lv in d.levels.items():
            c = self.limits.setdefault((d.ptype.name, name), LimitCount())
            c.yellow += int((lv == 1).sum())
            c.red += int((lv == 2).sum())
            if (lv > 0).any():
                c.worst = _py(d.columns[name][np.argmax(lv)])
            worst = np.maximum(worst, lv)
        apids = batch.rows["apid"][d.rows]
        for apid in np.unique(apids[worst > 0]).tolist():
            st = stream.stats.apids.get(int(apid))
            if st is not None:
                sel = apids == apid
                st.limit_yellow += int((worst[sel] == 1).sum())
                st.limit_red += int((worst[sel] == 2).sum())

    def close(self) -> None:
        for w in self.writers:
            w.close()


def _py(v):
    return v.item() if hasattr(v, "item") else v


def common_columns(batch: PacketBatch, rows: np.ndarray | None, times: np.ndarray, index: np.ndarray,
                   name: str, time_column) -> dict:
    """The common columns of the packets ``rows`` (indices into the batch; None: all) as pyarrow
    arrays; ``time_column`` makes the time column from the times (ISO text or timestamps)."""
    import pyarrow as pa

    r = batch.rows if rows is None else batch.rows[rows]
    t = times if rows is None else times[rows]
    i = index if rows is None else index[rows]
    return {"packet_index": pa.array(i), "time": time_column(t), "apid": pa.array(r["apid"]),
            "name": pa.repeat(pa.scalar(name, pa.string()), len(r)), "type": pa.array(r["type"]),
            "sec_hdr_flag": pa.array(r["sec_hdr_flag"]), "seq_flags": pa.array(r["seq_flags"]),
            "seq_count": pa.array(r["seq_count"]), "length": pa.array(r["length"]),
            "vcid": pa.array(r["vcid"]), "frame": pa.array(r["frame"])}


def groups(batch: PacketBatch, decoded: list[Decoded]) -> list[tuple[np.ndarray, str, Decoded | None]]:
    """(row indices, packet type name, decoded) of every group of a batch, the undecoded last."""
    out = []
    rest = np.ones(len(batch), dtype=bool)
    for d in decoded:
        out.append((d.rows, d.ptype.name, d))
        rest[d.rows] = False
    if rest.any():
        out.append((np.nonzero(rest)[0], "", None))
    return out


# --- JSON lines ----------------------------------------------------------------------------------------
def _json_strings(pa, pc, arr, safe: bool = False) -> object:
    """A pyarrow array as JSON value texts (null as null, strings quoted and escaped; ``safe``
    strings, such as times and type names, need no escaping)."""
    t = arr.type
    if (pa.types.is_string(t) or pa.types.is_large_string(t)) and safe:
        out = pc.binary_join_element_wise('"', arr, '"', "")
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        esc = pc.replace_substring(arr, "\\", "\\\\")
        esc = pc.replace_substring(esc, '"', '\\"')
        for ch, rep in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            esc = pc.replace_substring(esc, ch, rep)
        esc = pc.replace_substring_regex(esc, "[\\x00-\\x1f]", "?")
        out = pc.binary_join_element_wise('"', esc, '"', "")
    elif pa.types.is_boolean(t):
        out = pc.if_else(arr, "true", "false")
    elif pa.types.is_floating(t):
        finite = pc.is_finite(arr)
        out = pc.if_else(finite, pc.cast(arr, pa.string()), pa.scalar(None, pa.string()))
    else:
        out = pc.cast(arr, pa.string())
    return pc.fill_null(out, "null")


class JsonLinesWriter:
    """One JSON object per packet: the common columns, then ``fields`` with the decoded values."""

    def __init__(self, out: TextIO | str):
        self._own = isinstance(out, str)
        self.f = open(out, "w", encoding="utf-8") if isinstance(out, str) else out  # noqa: SIM115
        self.lines = 0

    def write(self, batch: PacketBatch, times: np.ndarray, index: np.ndarray, decoded: list[Decoded]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts, order = [], []
        for rows, name, d in groups(batch, decoded):
            cols = common_columns(batch, rows, times, index, name, iso_times)
            pieces = []
            for k, c in enumerate(COMMON):
                key = ("{" if k == 0 else ",") + f'"{c}":'
                if c == "name":            # one packet type per group: a constant
                    pieces.append(pa.scalar(key + json.dumps(name)))
                    continue
                pieces += [pa.scalar(key), _json_strings(pa, pc, cols[c], safe=c == "time")]
            if d is not None:
                pieces.append(pa.scalar(',"fields":{'))
                for k, (fname, col) in enumerate(d.columns.items()):
                    arr = col if isinstance(col, pa.Array) else _arrow(pa, col)
                    key = pa.scalar(("," if k else "") + json.dumps(fname) + ":")
                    pieces += [key, _json_strings(pa, pc, arr)]
                pieces.append(pa.scalar("}"))
            pieces.append(pa.scalar("}\n"))
            parts.append(pc.binary_join_element_wise(*pieces, ""))
            order.append(rows)
        lines = pa.concat_arrays(parts)
        if len(parts) > 1:
            lines = lines.take(pa.array(np.argsort(np.concatenate(order), kind="stable")))
        # the joined lines are one UTF-8 buffer: write it whole
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1,
                                offset=lines.offset * 4)
        data = lines.buffers()[2]
        self.f.write(memoryview(data)[offsets[0]:offsets[-1]].tobytes().decode("utf-8"))
        self.lines += len(lines)

    def summary(self, d: dict) -> None:
        self.f.write(json.dumps({"summary": d}, default=_default) + "\n")

    def close(self) -> None:
        if self._own:
            self.f.close()
        else:
            self.f.flush()


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, set):
        return sorted(o)
    return str(o)


# --- tables: CSV and Parquet ---------------------------------------------------------------------------
class TableCollector:
    """Arrow tables of every batch, by packet type; joined at the end on one schema."""

    def __init__(self):
        self.tables: dict[str, list] = {}

    def write(self, batch: PacketBatch, times: np.ndarray, index: np.ndarray, decoded: list[Decoded]) -> None:
        import pyarrow as pa

        for rows, name, d in groups(batch, decoded):
            t = common_columns(batch, rows, times, index, name, timestamps)
            if d is not None:
                for fname, col in d.columns.items():
                    t[f"{name}.{fname}"] = _arrow(pa, col)
                for fname, col in d.raw.items():
                    t[f"{name}.{fname}.raw"] = _arrow(pa, col)
            self.tables.setdefault(name, []).append(pa.table(t))

    def by_type(self):
        """(schema with every column, one dense table per packet type)."""
        import pyarrow as pa

        per_type = {k: pa.concat_tables(v) for k, v in self.tables.items()}
        fields: dict[str, pa.Field] = {}
        for t in per_type.values():
            for f in t.schema:
                fields.setdefault(f.name, f)
        if not fields:
            fields = {c: pa.field(c, pa.int64()) for c in COMMON}
        return pa.schema(list(fields.values())), per_type

    @staticmethod
    def conform(t, schema):
        import pyarrow as pa

        cols = [t.column(f.name) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
                for f in schema]
        return pa.Table.from_arrays(cols, schema=schema)

    def table(self):
        """Every packet in stream order, on the common schema (nulls where a type has no field)."""
        import pyarrow as pa

        schema, per_type = self.by_type()
        if not per_type:
            return schema.empty_table()
        t = pa.concat_tables([self.conform(v, schema) for v in per_type.values()])
        return t.sort_by("packet_index")

    def close(self) -> None:
        pass


def _arrow(pa, v):
    if isinstance(v, pa.Array):
        return v
    if isinstance(v, np.ndarray) and v.dtype == object:
        return pa.array(v.tolist(), from_pandas=True)
    return pa.array(v)


class CsvWriter(TableCollector):
    def __init__(self, path: str, layout: str):
        super().__init__()
        self.path, self.layout = path, layout

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        if self.layout == "wide":
            pcsv.write_csv(self.table(), self.path)
            return
        # long: one row per (packet, field)
        common = ["packet_index", "time", "apid", "name"]
        parts = []
        for name, tables in self.tables.items():
            t = pa.concat_tables(tables)
            for col in t.column_names:
                if col in COMMON:
                    continue
                parts.append(pa.table({**{c: t.column(c) for c in common},
                                       "field": pa.repeat(pa.scalar(col[len(name) + 1:]), t.num_rows),
                                       "value": pc.cast(t.column(col), pa.string())}))
        if parts:
            out = pa.concat_tables(parts).sort_by([("packet_index", "ascending")])
        else:
            out = pa.table({c: pa.array([], pa.string()) for c in (*common, "field", "value")})
        pcsv.write_csv(out, self.path)


class ParquetWriter(TableCollector):
    """Parquet, one row per packet with its decoded fields.

    A path ending in ``.parquet`` is one file holding every packet type (its columns are the union
    of theirs, null where a type has no such field; rows are written a type at a time, and
    ``packet_index`` gives the order in the stream).  Any other path is a directory with one dense
    file per packet type (``<type>.parquet``, ``undecoded.parquet``), a dataset
    ``pyarrow.dataset`` reads whole; it is the faster of the two."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.path.endswith(".parquet"):
            schema, per_type = self.by_type()
            with pq.ParquetWriter(self.path, schema, **_parquet_options(schema)) as w:
                for t in per_type.values():
                    w.write_table(self.conform(t, schema))
            return
        os.makedirs(self.path, exist_ok=True)
        for name, tables in self.tables.items():
            t = pa.concat_tables(tables)
            pq.write_table(t, os.path.join(self.path, f"{name or 'undecoded'}.parquet"),
                           **_parquet_options(t.schema))


def _parquet_options(schema) -> dict:
    """Snappy pages; dictionary encoding for text columns only (type names, enumeration labels),
    where it pays: on counters it costs several times the write and saves little after snappy."""
    import pyarrow as pa

    text = [f.name for f in schema if pa.types.is_string(f.type)]
    return {"compression": "snappy", "use_dictionary": text or False}


# --- packets by APID ------------------------------------------------------------------------------------
def gather_packets(batch: PacketBatch, rows: np.ndarray) -> np.ndarray:
    """The octets of ``rows``' packets back to back, in one gather."""
    lens = rows["length"].astype(np.int64)
    total = int(lens.sum())
    if not total:
        return np.empty(0, dtype=np.uint8)
    starts = rows["offset"].astype(np.int64)
    rel = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
    return batch.buffer[np.repeat(starts, lens) + rel]


class SplitWriter:
    """``DIR/apid-0xNNN.bin``: each APID's packets, back to back, in stream order."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.files: dict[int, object] = {}
        self.counts: dict[int, int] = {}

    def path(self, apid: int) -> str:
        return os.path.join(self.directory, f"apid-{apid:#05x}.bin")

    def write(self, batch: PacketBatch, times, index, decoded) -> None:
        apids = batch.rows["apid"]
        for apid in np.unique(apids).tolist():
            rows = batch.rows[apids == apid]
            f = self.files.get(apid)
            if f is None:
                f = self.files[apid] = open(self.path(apid), "wb")  # noqa: SIM115 - closed in close()
            f.write(gather_packets(batch, rows).tobytes())
            self.counts[apid] = self.counts.get(apid, 0) + len(rows)

    def close(self) -> None:
        for f in self.files.values():
            f.close()


# --- pcapng ---------------------------------------------------------------------------------------------
class PcapngOut:
    """Frames (one interface per frame kind, link parameters in its description) and packets, one
    record each; times are the packets' secondary-header times where known."""

    def __init__(self, path: str):
        self.writer = cap.PcapngWriter(open(path, "wb"))  # noqa: SIM115 - closed in close()
        self.ifaces: dict[str, int] = {}
        self.last_ns = 0

    def _iface(self, kind: str, params) -> int:
        key = kind
        if key not in self.ifaces:
            linktype = cap.LINKTYPE_OF[kind]
            desc = {"link": kind}
            if params is not None and kind in ("tm", "aos"):
                scid = f"{params.scid:#x}" if params.scid is not None else None
                desc.update(frame_length=params.frame_length, scid=scid, ocf=params.ocf, fecf=params.fecf,
                            fhec=params.fhec if kind == "aos" else None)
            elif params is not None and kind == "tc":
                desc.update(fecf=params.fecf)
            link = desc.pop("link")
            self.ifaces[key] = self.writer.add_interface(linktype, f"lunarelay {kind}",
                                                         cap.format_description(link, **desc))
        return self.ifaces[key]

    def frames(self, kind: str, frames, params) -> None:
        itf = self._iface(kind, params)
        for f in frames:
            self.writer.write(itf, self.last_ns, bytes(f))

    def write(self, batch: PacketBatch, times: np.ndarray, index, decoded) -> None:
        itf = self._iface("packet", None)
        ns = np.where(np.isnan(times), -1, (tai_to_unix(np.nan_to_num(times)) * 1e9)).astype(np.int64)
        buf = batch.buffer
        for r, t in zip(batch.rows.tolist(), ns.tolist(), strict=True):
            if t >= 0:
                self.last_ns = t
            off, length = int(r[0]), int(r[1])
            self.writer.write(itf, self.last_ns, buf[off:off + length].tobytes())

    def close(self) -> None:
        self.writer.close()
