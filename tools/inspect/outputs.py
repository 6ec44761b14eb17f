"""Where decoded packets go: JSON lines, CSV (wide or long), Parquet, one file per APID, pcapng.

``Outputs`` is the sink every stream hands its packet batches to.  It decodes each batch once
with the dictionary (when anything needs the fields: an export, the limits, a plot), counts limit
violations per APID, and passes the batch on to the writers.  Every writer works per batch and
per packet type, column-wise: the batch's grouping (``PacketBatch.grouping``) makes each type's
packets one slice, and their columns are numpy arrays handed on without a per-packet step.
Tables are Arrow tables, written to Parquet uncompressed; a directory's files are written a
row group at a time while decoding goes on.  JSON lines are written by the C core
(``lunarelay_tools.inspect.jsonl``) in stream order over every packet type's columns, on a thread
of their own, integers and booleans straight from the columns, every other value's text as
polars' JSON encoder writes it; the polars encoder over whole rows is kept as the reference path
(``JsonLinesWriter(fast=False)``).  The per-APID files get each APID's packets in one gather.

Columns common to every packet: ``packet_index`` (order in the stream), ``time`` (UTC, from the
secondary header, when there is one), ``apid``, ``name`` (the dictionary's packet type), ``type``,
``sec_hdr_flag``, ``seq_flags``, ``seq_count``, ``length`` (whole packet octets), ``vcid`` and
``frame`` (where it came from, -1 for none).  Decoded fields follow as ``<type>.<field>``;
calibrated and enumerated fields also keep ``<type>.<field>.raw``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import os
from typing import TextIO

import numpy as np

from hil import capture as cap
from lunarelay_tools.inspect.dictionaries import Decoded, Dictionary
from lunarelay_tools.inspect.packets import PacketBatch
from lunarelay_tools.inspect.stats import tai_to_unix

COMMON = ("packet_index", "time", "apid", "name", "type", "sec_hdr_flag", "seq_flags", "seq_count", "length",
          "vcid", "frame")


_MS = None


def iso_times(times: np.ndarray):
    """ISO 8601 UTC strings (milliseconds) of TAI times as a pyarrow array, null where unknown.
    Packets of a batch share few distinct seconds: each second is formatted once (numpy's
    ``datetime_as_string``), then joined with its millisecond text by pyarrow."""
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
    text = pa.array(np.datetime_as_string(uniq.astype("datetime64[s]"), unit="s"))
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
        batch = batch.without_idle()
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


@dataclasses.dataclass
class Part:
    """Packets of one packet type in a batch (or of no known type): ``rows`` indices into the
    batch's rows in stream order; ``span`` (first, end) when they are a slice of its grouping."""

    rows: np.ndarray
    span: tuple[int, int] | None
    name: str
    decoded: Decoded | None

    def field(self, batch: PacketBatch, name: str) -> np.ndarray:
        if self.span is not None:
            return batch.grouping().column(name)[self.span[0]:self.span[1]]
        return batch.rows[name][self.rows]


def parts(batch: PacketBatch, decoded: list[Decoded]) -> list[Part]:
    """The batch as parts of one packet type each, then the packets no type decoded."""
    g = batch.grouping()
    out = [Part(d.rows, d.span, d.ptype.name, d) for d in decoded]
    whole = {d.span for d in decoded if d.span is not None}
    partial = [d for d in decoded if d.span is None]
    covered = None
    if partial:
        covered = np.zeros(len(batch), dtype=bool)
        for d in partial:
            covered[d.rows] = True
    for _, _, a, b in g.spans():
        if (a, b) in whole:
            continue
        idx = g.order[a:b]
        if covered is None or not covered[idx].any():
            out.append(Part(idx, (a, b), "", None))
        elif not covered[idx].all():
            out.append(Part(idx[~covered[idx]], None, "", None))
    return out


def common_columns(batch: PacketBatch, part: Part, times: np.ndarray, index: np.ndarray,
                   time_column) -> dict:
    """The common columns of a part's packets as numpy arrays (``time`` as ``time_column`` makes
    it from the times, ``name`` left out: it is one constant per part)."""
    cols = {"packet_index": index[part.rows], "time": time_column(times[part.rows])}
    for name in ("apid", "type", "sec_hdr_flag", "seq_flags", "seq_count", "length", "vcid", "frame"):
        cols[name] = part.field(batch, name)
    return cols


def _constant_text(pa, text: str, n: int):
    """A text column of one value: dictionary-encoded, so it costs one index per row."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([text]))


def _arrow_columns(pa, batch: PacketBatch, part: Part, times: np.ndarray, index: np.ndarray) -> dict:
    cols = common_columns(batch, part, times, index, timestamps)
    return {name: _constant_text(pa, part.name, len(part.rows)) if name == "name" else _arrow(pa, cols[name])
            for name in COMMON}


# --- JSON lines ----------------------------------------------------------------------------------------
# control characters other than the ones JSON writes as \n, \r and \t are shown as "?"
_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


def _polars_series(pl, pa, name: str, v):
    """A decoded column as a polars Series: numbers without a copy, non-finite floats as null."""
    if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.isfinite(v).all():
        return pl.Series(name, pa.array(v, mask=~np.isfinite(v)))
    if isinstance(v, np.ndarray) and v.dtype != object:
        return pl.Series(name, v)
    import pyarrow.compute as pc

    arr = v if isinstance(v, pa.Array) else _arrow(pa, v)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = pc.replace_substring_regex(arr, _CONTROL, "?")
    return pl.Series(name, arr)


@functools.cache
def _json_key(name: str) -> str:
    """A name as polars' JSON encoder writes it as a key (quoted and escaped)."""
    import polars as pl

    text = pl.DataFrame({name: [0]}).select(pl.struct(pl.all()).struct.json_encode()).item()
    return text[1:-len(":0}")]


@functools.cache
def _json_text(value: str) -> str:
    """A string as polars' JSON encoder writes it as a value."""
    import polars as pl

    text = pl.DataFrame({"v": [value]}).select(pl.struct(pl.all()).struct.json_encode()).item()
    return text[len('{"v":'):-1]


def _encoded_values(values: list):
    """For each column (floats, strings, times, ...), its values' JSON text as polars' encoder
    writes them (``Text`` ranges over the encoder's own output): each column is encoded as a
    one-field object ``{"v":...}`` and the ranges leave the key and the brace out."""
    import polars as pl
    import pyarrow as pa

    from lunarelay_tools.inspect.jsonl import Text

    exprs = []
    series = []
    for i, v in enumerate(values):
        s = _polars_series(pl, pa, "v", v)
        series.append(s.alias(f"c{i}"))
        exprs.append(pl.struct(pl.col(f"c{i}").alias("v")).struct.json_encode().alias(f"c{i}"))
    frame = pl.DataFrame(series).select(exprs)
    head, tail = len('{"v":'), len("}")
    for i in range(len(values)):
        arr = frame.get_column(f"c{i}").rechunk().to_arrow()
        if not pa.types.is_large_string(arr.type):
            arr = arr.cast(pa.large_string())
        if arr.null_count:
            raise ValueError("the JSON encoder gave a null line")
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if len(arr) else np.empty(0, dtype=np.uint8)
        yield Text(data, offsets[:-1] + head, offsets[1:] - tail)


_MS_JSON = None


def _json_times(times: np.ndarray):
    """The ``time`` values' JSON text as two ``Text`` columns, each row a range in a small table:
    the quoted ISO 8601 second (``null`` where unknown) and the milliseconds with the closing
    quote (empty where unknown); the text is ``iso_times``' as polars' encoder writes it."""
    from lunarelay_tools.inspect.jsonl import Text

    global _MS_JSON
    if _MS_JSON is None:
        _MS_JSON = np.frombuffer("".join(f'.{i:03d}Z"' for i in range(1000)).encode(), dtype=np.uint8)
    ok = ~np.isnan(times)
    n = times.size
    ms_total = np.floor(tai_to_unix(np.where(ok, times, 0.0)) * 1000.0).astype(np.int64)
    sec, ms = np.divmod(ms_total, 1000)
    uniq, inv = np.unique(sec[ok], return_inverse=True)
    # "null", then each distinct second quoted ('"YYYY-MM-DDTHH:MM:SS', 20 octets)
    seconds = '"'.join(["null", *np.datetime_as_string(uniq.astype("datetime64[s]"), unit="s").tolist()])
    table = np.frombuffer(seconds.encode(), dtype=np.uint8)
    width = 20
    starts = np.zeros(n, dtype=np.int64)
    ends = np.full(n, 4, dtype=np.int64)
    starts[ok] = 4 + inv.reshape(-1) * width
    ends[ok] = starts[ok] + width
    if table.size != 4 + uniq.size * width:       # a year outside 0000..9999: never in plausible times
        raise ValueError("a time outside the years 0000-9999")
    ms_starts = np.where(ok, ms * 6, 0)
    return (Text(table, starts, ends), Text(_MS_JSON, ms_starts, np.where(ok, ms_starts + 6, 0)))


BUFFER_OCTETS = 4 << 20          # JSON lines formatted at a time: they stay in cache until written


class JsonLinesWriter:
    """One JSON object per packet: the common columns, then ``fields`` with the decoded values.

    The lines are written by the C core (``lunarelay_tools.inspect.jsonl``): integers and booleans straight
    from the columns, names escaped once per packet type, and the text of every other value
    (floats, strings, times) as polars' JSON encoder writes it, so the output is the reference
    path's (``fast=False``: polars encodes whole rows), octet for octet.

    The lines go out a cache-sized buffer (``BUFFER_OCTETS``) at a time, in stream order.  Into a
    file of its own, a batch's lines are formatted and written on a thread of their own while
    the next batch is decoded and its columns made (the core and the file write release the
    GIL); at most one batch waits, and a write error is raised by the next batch or by
    ``close``."""

    def __init__(self, out: TextIO | str, fast: bool = True):
        self._own = isinstance(out, str)
        self.f = open(out, "wb") if isinstance(out, str) else out  # noqa: SIM115
        self.lines = 0
        self.fast = fast
        self._buffer = np.empty(0, dtype=np.uint8)       # the fast path's, kept between batches
        self._writing: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: concurrent.futures.Future | None = None

    def _wait_for_batch(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _write_octets(self, octets: np.ndarray) -> None:
        if self._own:
            self.f.write(memoryview(octets))
            return
        binary = getattr(self.f, "buffer", None)
        if binary is None:
            self.f.write(octets.tobytes().decode("utf-8"))
            return
        self.f.flush()
        binary.write(memoryview(octets))
        binary.flush()

    def _write_lines(self, pl, lines) -> None:
        """Each line (one JSON text) and a line end, back to back."""
        frame = pl.DataFrame([lines])
        options = {"include_header": False, "quote_style": "never"}
        if self._own:
            frame.write_csv(self.f, **options)
            return
        binary = getattr(self.f, "buffer", None)
        if binary is None:
            self.f.write(frame.write_csv(None, **options))
            return
        self.f.flush()
        frame.write_csv(binary, **options)
        binary.flush()

    def write(self, batch: PacketBatch, times: np.ndarray, index: np.ndarray, decoded: list[Decoded]) -> None:
        if self.fast:
            self._write_fast(batch, times, index, decoded)
        else:
            self._write_reference(batch, times, index, decoded)

    def _write_fast(self, batch: PacketBatch, times: np.ndarray, index: np.ndarray,
                    decoded: list[Decoded]) -> None:
        from lunarelay_tools.inspect.jsonl import Interleaved, Lines, Text

        prepared, order = [], []
        # the times' text for the whole batch at once, each part taking its rows' ranges
        time_text = _json_times(times)
        for part in parts(batch, decoded):
            cols = common_columns(batch, part, times, index,
                                  lambda _, rows=part.rows: tuple(t.take(rows) for t in time_text))
            columns, by_encoder = [], {}
            key = "{"
            for c in COMMON:
                if c == "name":
                    # one value for the whole part: folded into the next key
                    key += f"{_json_key(c)}:{_json_text(part.name)},"
                    continue
                if c == "time":
                    second, millisecond = cols[c]
                    columns.append([(key + _json_key(c) + ":").encode(), second])
                    columns.append([b"", millisecond])
                else:
                    columns.append([(key + _json_key(c) + ":").encode(), cols[c]])
                key = ","
            d = part.decoded
            tail = b"}\n"
            if d is not None and d.columns:
                key = ',"fields":{'
                for k, v in d.columns.items():
                    columns.append([(key + _json_key(k) + ":").encode(), v])
                    key = ","
                tail = b"}}\n"
            for i, (_, v) in enumerate(columns):
                if not (isinstance(v, (np.ndarray, Text)) and (isinstance(v, Text) or v.dtype.kind in "iu"
                                                                or v.dtype == bool)):
                    by_encoder[i] = v
            if by_encoder:
                for i, text in zip(by_encoder, _encoded_values(list(by_encoder.values())), strict=True):
                    columns[i][1] = text
            prepared.append(Lines([tuple(c) for c in columns], len(part.rows), tail))
            order.append(part.rows)
        if not prepared:
            return
        # line i of the stream is row row_of[i] of part part_of[i]
        n_lines = sum(len(r) for r in order)
        part_of = np.empty(n_lines, dtype=np.uint32)
        row_of = np.empty(n_lines, dtype=np.int64)
        for k, rows in enumerate(order):
            part_of[rows] = k
            row_of[rows] = np.arange(len(rows))
        lines = Interleaved(prepared, part_of, row_of)
        if self._own:
            self._wait_for_batch()              # the batch before is formatted and written
            if self._writing is None:
                self._writing = concurrent.futures.ThreadPoolExecutor(max_workers=1)
            self._pending = self._writing.submit(self._emit, lines)
        else:
            self._emit(lines)
        self.lines += n_lines

    def _emit(self, lines) -> None:
        """Format and write ``lines`` (an ``Interleaved``) a cache-sized buffer at a time."""
        size = max(BUFFER_OCTETS, lines.line_room)
        if self._buffer.size < size:
            self._buffer = np.empty(size, dtype=np.uint8)
        while not lines.finished:
            self._write_octets(self._buffer[:lines.fill(self._buffer)])

    def _write_reference(self, batch: PacketBatch, times: np.ndarray, index: np.ndarray,
                         decoded: list[Decoded]) -> None:
        import polars as pl
        import pyarrow as pa

        chunks, order = [], []
        for part in parts(batch, decoded):
            cols = common_columns(batch, part, times, index, iso_times)
            n = len(part.rows)
            series = [pl.Series(c, cols[c]) if c != "name" else pl.repeat(part.name, n, eager=True).alias(c)
                      for c in COMMON]
            df = pl.DataFrame(series)
            d = part.decoded
            if d is not None and d.columns:
                fields = pl.DataFrame([_polars_series(pl, pa, k, v) for k, v in d.columns.items()])
                df = df.with_columns(fields.to_struct("fields"))
            # each row as one JSON text (the JSON encoder escapes every newline in a string)
            chunks.append(df.select(pl.struct(pl.all()).struct.json_encode().alias("line")).to_series())
            order.append(part.rows)
        if not chunks:
            return
        lines = pl.concat(chunks, rechunk=False) if len(chunks) > 1 else chunks[0]
        if len(chunks) > 1:
            # back to stream order: one gather of the lines' views, no text copied
            stream_order = np.empty(len(lines), dtype=np.int64)
            stream_order[np.concatenate(order)] = np.arange(len(lines))
            lines = lines.gather(stream_order)
        self._write_lines(pl, lines)
        self.lines += len(lines)

    def summary(self, d: dict) -> None:
        text = json.dumps({"summary": d}, default=_default) + "\n"
        if self._own:
            self._wait_for_batch()
            self.f.write(text.encode())
        else:
            self.f.write(text)

    def close(self) -> None:
        if self._own:
            try:
                self._wait_for_batch()
            finally:
                if self._writing is not None:
                    self._writing.shutdown()
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

        for part in parts(batch, decoded):
            t = _arrow_columns(pa, batch, part, times, index)
            d = part.decoded
            if d is not None:
                for fname, col in d.columns.items():
                    t[f"{part.name}.{fname}"] = _arrow(pa, col)
                for fname, col in d.raw.items():
                    t[f"{part.name}.{fname}.raw"] = _arrow(pa, col)
            self.tables.setdefault(part.name, []).append(pa.table(t))

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
    if isinstance(v, np.ndarray) and not v.flags.c_contiguous:
        v = np.ascontiguousarray(v)
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
    ``pyarrow.dataset`` reads whole; it is the faster of the two: its files are written while the
    input is still being decoded (a row group per type each time ``FLUSH_ROWS`` packets are
    waiting, on a thread of its own, as Arrow releases the GIL while it encodes and writes), so
    little is left to write at the end and nothing is joined or sorted."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.one_file = path.endswith(".parquet")
        self._pending_rows = 0
        self._files: dict[str, object] = {}          # packet type -> pyarrow.parquet.ParquetWriter
        self._writing = None                          # the thread writing row groups, once started
        self._flushes: list = []
        if not self.one_file:
            os.makedirs(self.path, exist_ok=True)

    def write(self, batch: PacketBatch, times: np.ndarray, index: np.ndarray, decoded: list[Decoded]) -> None:
        super().write(batch, times, index, decoded)
        if self.one_file:
            return
        self._pending_rows += len(batch)
        if self._pending_rows >= FLUSH_ROWS:
            if self._writing is None:
                self._writing = concurrent.futures.ThreadPoolExecutor(max_workers=1)
            waiting, self.tables, self._pending_rows = self.tables, {}, 0
            # a packet type's row groups go out in stream order: one thread writes them all
            self._flushes.append(self._writing.submit(self._flush, waiting))

    def _file(self, name: str, schema):
        import pyarrow.parquet as pq

        w = self._files.get(name)
        if w is None:
            path = os.path.join(self.path, f"{name or 'undecoded'}.parquet")
            w = self._files[name] = pq.ParquetWriter(path, schema, **_parquet_options(schema))
        return w

    def _write_type(self, name: str, tables: list) -> None:
        import pyarrow as pa

        t = pa.concat_tables(tables)
        w = self._file(name, t.schema)
        if t.schema != w.schema:
            t = t.cast(w.schema)      # a column all null in the first row group, say
        w.write_table(t, row_group_size=ROW_GROUP)

    def _flush(self, waiting: dict[str, list]) -> None:
        for name, tables in waiting.items():
            self._write_type(name, tables)

    def close(self) -> None:
        import pyarrow.parquet as pq

        if self.one_file:
            schema, per_type = self.by_type()
            with pq.ParquetWriter(self.path, schema, **_parquet_options(schema)) as w:
                for t in per_type.values():
                    w.write_table(self.conform(t, schema), row_group_size=ROW_GROUP)
            return
        try:
            for done in self._flushes:
                done.result()
            # what is left: one file per packet type, Arrow writing them on as many threads as cores
            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                for done in [pool.submit(self._write_type, k, v) for k, v in self.tables.items()]:
                    done.result()
        finally:
            if self._writing is not None:
                self._writing.shutdown()
            for w in self._files.values():
                w.close()
            self._files, self.tables = {}, {}


# packets waiting in memory before a row group of each packet type goes to its file
FLUSH_ROWS = 1 << 18
ROW_GROUP = 1 << 22


def _parquet_options(schema) -> dict:
    """Uncompressed pages in row groups of up to 4 Mi rows: a housekeeping column is small counters
    that a codec shrinks little for the time it costs.  Statistics (for readers' row-group
    pruning) on the common columns only; dictionary encoding on text only."""
    import pyarrow as pa

    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)]
    stats = [c for c in ("packet_index", "time", "apid", "seq_count", "vcid", "frame") if c in schema.names]
    return {"compression": "none", "use_dictionary": text or False, "write_statistics": stats or False}


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
