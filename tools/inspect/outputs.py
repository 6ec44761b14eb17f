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


def _time_strings(times: np.ndarray) -> np.ndarray:
    """ISO UTC strings (millisecond) of TAI times; '' where unknown."""
    ok = ~np.isnan(times)
    out = np.full(times.shape, "", dtype=object)
    if ok.any():
        ns = (tai_to_unix(times[ok]) * 1e9).astype("int64").astype("datetime64[ns]")
        out[ok] = np.char.add(np.datetime_as_string(ns, unit="ms"), "Z")
    return out


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


def common_columns(batch: PacketBatch, times: np.ndarray, index: np.ndarray, names: np.ndarray) -> dict:
    r = batch.rows
    return {"packet_index": index, "time": _time_strings(times), "apid": r["apid"], "name": names,
            "type": r["type"], "sec_hdr_flag": r["sec_hdr_flag"], "seq_flags": r["seq_flags"],
            "seq_count": r["seq_count"], "length": r["length"], "vcid": r["vcid"], "frame": r["frame"]}


def _names(batch: PacketBatch, decoded: list[Decoded]) -> np.ndarray:
    names = np.full(len(batch), "", dtype=object)
    for d in decoded:
        names[d.rows] = d.ptype.name
    return names


# --- JSON lines ----------------------------------------------------------------------------------------
def _json_strings(pa, pc, arr) -> object:
    """A pyarrow array as JSON value texts (null as null, strings quoted and escaped)."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
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

        cols = common_columns(batch, times, index, _names(batch, decoded))
        n = len(batch)
        time = pa.array(cols["time"], pa.string())
        time = pc.if_else(pc.equal(time, ""), pa.scalar(None, pa.string()), time)
        head = [pa.scalar('{"packet_index":'), _json_strings(pa, pc, pa.array(cols["packet_index"])),
                pa.scalar(',"time":'), _json_strings(pa, pc, time)]
        for c in COMMON[2:]:
            head += [pa.scalar(f',"{c}":'), _json_strings(pa, pc, pa.array(cols[c], pa.string() if c == "name"
                                                                          else None))]
        base = pc.binary_join_element_wise(*head, "")
        # the decoded fields of each type, then every row's tail put back in stream order
        order, tails = [], []
        undecoded = np.ones(n, dtype=bool)
        for d in decoded:
            pieces = [pa.scalar(',"fields":{')]
            for k, (name, col) in enumerate(d.columns.items()):
                arr = col if isinstance(col, pa.Array) else _arrow(pa, col)
                pieces += [pa.scalar(("," if k else "") + json.dumps(name) + ":"), _json_strings(pa, pc, arr)]
            pieces.append(pa.scalar("}}\n"))
            tails.append(pc.binary_join_element_wise(*pieces, ""))
            order.append(d.rows)
            undecoded[d.rows] = False
        rest = np.nonzero(undecoded)[0]
        order.append(rest)
        tails.append(pa.repeat(pa.scalar("}\n"), rest.size))
        perm = np.argsort(np.concatenate(order), kind="stable")
        lines = pa.concat_arrays(tails).take(pa.array(perm))
        text = pc.binary_join_element_wise(base, lines, "")
        buf = text.buffers()[2]
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=n + 1, offset=text.offset * 4)
        self.f.write(bytes(memoryview(buf)[offsets[0]:offsets[-1]]).decode("utf-8"))
        self.lines += n

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
    """Arrow tables of every batch, one per packet type, joined into one table at the end."""

    def __init__(self):
        self.tables: list = []

    def write(self, batch: PacketBatch, times: np.ndarray, index: np.ndarray, decoded: list[Decoded]) -> None:
        import pyarrow as pa

        cols = common_columns(batch, times, index, _names(batch, decoded))
        undecoded = np.ones(len(batch), dtype=bool)
        for d in decoded:
            undecoded[d.rows] = False
            t = {k: _arrow(pa, v[d.rows]) for k, v in cols.items()}
            for name, col in d.columns.items():
                t[f"{d.ptype.name}.{name}"] = _arrow(pa, col)
            for name, col in d.raw.items():
                t[f"{d.ptype.name}.{name}.raw"] = _arrow(pa, col)
            self.tables.append(pa.table(t))
        if undecoded.any():
            self.tables.append(pa.table({k: _arrow(pa, v[undecoded]) for k, v in cols.items()}))

    def table(self):
        import pyarrow as pa

        if not self.tables:
            return pa.table({c: pa.array([], pa.int64()) for c in COMMON})
        t = pa.concat_tables(self.tables, promote_options="default")
        return t.sort_by("packet_index")

    def close(self) -> None:
        pass


def _arrow(pa, v):
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

        t = self.table()
        if self.layout == "wide":
            pcsv.write_csv(t, self.path)
            return
        # long: one row per (packet, field)
        common = ["packet_index", "time", "apid", "name"]
        parts = []
        for name in t.column_names:
            if name in COMMON:
                continue
            col = t.column(name)
            valid = pc.is_valid(col)
            sub = t.filter(valid)
            if not sub.num_rows:
                continue
            parts.append(pa.table({**{c: sub.column(c) for c in common},
                                   "field": pa.repeat(pa.scalar(name), sub.num_rows),
                                   "value": pc.cast(sub.column(name), pa.string())}))
        out = pa.concat_tables(parts).sort_by("packet_index") if parts else pa.table(
            {c: pa.array([], pa.string()) for c in (*common, "field", "value")})
        pcsv.write_csv(out, self.path)


class ParquetWriter(TableCollector):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def close(self) -> None:
        import pyarrow.parquet as pq

        pq.write_table(self.table(), self.path)


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
