"""JSON lines from columns, written by the C core (csrc/lr_jsonl.h): one JSON object per row.

A column is its key text (written before every value as it is: the caller escapes names once
and folds constant parts into it) and its values: integers or booleans as numpy arrays, or
``Text`` (octets and each row's range in them) already made valid JSON by the caller.
``gather_lines`` puts whole lines in another order in one pass.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onboard.core._api import check, ffi, lib


@dataclasses.dataclass(frozen=True)
class Text:
    """Row ``i``'s JSON text is ``data[starts[i]:ends[i]]``."""

    data: np.ndarray        # uint8
    starts: np.ndarray      # int64
    ends: np.ndarray        # int64


def _column(key: bytes, values, n_rows: int, keep: list):
    col = ffi.new("struct lr_jsonl_column *")
    k = ffi.from_buffer("char[]", key)
    keep.append(k)
    col.key, col.key_len = k, len(key)
    if isinstance(values, Text):
        data = np.ascontiguousarray(values.data, dtype=np.uint8)
        starts = np.ascontiguousarray(values.starts, dtype=np.int64)
        ends = np.ascontiguousarray(values.ends, dtype=np.int64)
        if starts.size != n_rows or ends.size != n_rows:
            raise ValueError(f"text column {key!r}: {starts.size} ranges for {n_rows} rows")
        if n_rows and (int(ends.max()) > data.size):
            raise ValueError(f"text column {key!r}: a range runs past its {data.size} octets")
        bufs = (ffi.from_buffer("char[]", data), ffi.from_buffer("int64_t[]", starts),
                ffi.from_buffer("int64_t[]", ends))
        keep.extend((data, starts, ends, *bufs))
        col.kind = lib.LR_JSONL_TEXT
        col.text, col.starts, col.ends = bufs
        return col, int((ends - starts).sum()) if n_rows else 0
    v = np.asarray(values)
    if v.size != n_rows:
        raise ValueError(f"column {key!r}: {v.size} values for {n_rows} rows")
    if v.dtype == bool:
        v, col.kind = np.ascontiguousarray(v).view(np.uint8), lib.LR_JSONL_BOOL
    elif v.dtype.kind == "u" and v.dtype.itemsize == 8:
        v, col.kind = np.ascontiguousarray(v), lib.LR_JSONL_U64
    elif v.dtype.kind in "iu":
        v, col.kind = np.ascontiguousarray(v, dtype=np.int64), lib.LR_JSONL_I64
    else:
        raise ValueError(f"column {key!r}: {v.dtype} values need JSON text from the caller")
    buf = ffi.from_buffer(v)
    keep.extend((v, buf))
    col.values = buf
    return col, 0


class Lines:
    """Columns ready for the core: ``room`` is the most octets their lines can take."""

    def __init__(self, columns: list[tuple[bytes, object]], n_rows: int, tail: bytes):
        self._keep: list = []
        self._cols = ffi.new("struct lr_jsonl_column[]", max(len(columns), 1))
        self.n_rows, self.n_cols, self.tail = n_rows, len(columns), tail
        per_row = len(tail)
        text = 0
        for i, (key, values) in enumerate(columns):
            col, n_text = _column(key, values, n_rows, self._keep)
            self._cols[i] = col[0]
            per_row += len(key) + 21        # the core wants room for the widest integer before each value
            text += n_text
        self.room = n_rows * per_row + text

    def format_into(self, out: np.ndarray) -> tuple[int, np.ndarray]:
        """Write the lines at the start of ``out`` (uint8, at least ``room`` octets): (octets
        written, offset just past each line)."""
        ends = np.empty(self.n_rows, dtype=np.uint64)
        tail = ffi.from_buffer("char[]", self.tail)
        n = check(lib.lr_jsonl_format(self._cols, self.n_cols, self.n_rows, tail, len(self.tail),
                                      ffi.from_buffer("char[]", out, require_writable=True),
                                      out.size, ffi.from_buffer("uint64_t[]", ends, require_writable=True)),
                  "JSON lines")
        return n, ends


def format_lines(columns: list[tuple[bytes, object]], n_rows: int,
                 tail: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(octets of the ``n_rows`` lines, offset just past each line)."""
    lines = Lines(columns, n_rows, tail)
    out = np.empty(lines.room, dtype=np.uint8)
    n, ends = lines.format_into(out)
    return out[:n], ends


def gather_lines(text: np.ndarray, line_ends: np.ndarray, order: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
    """The lines of ``text`` (ending at ``line_ends``) in ``order``: line ``order[i]`` goes i-th;
    written into ``out`` when it is given and large enough."""
    text = np.ascontiguousarray(text, dtype=np.uint8)
    line_ends = np.ascontiguousarray(line_ends, dtype=np.uint64)
    order = np.ascontiguousarray(order, dtype=np.int64)
    sizes = np.diff(line_ends, prepend=np.uint64(0))
    need = int(sizes[order].sum()) if order.size else 0
    if out is None or out.size < need:
        out = np.empty(need, dtype=np.uint8)
    n = check(lib.lr_jsonl_gather(ffi.from_buffer("char[]", text), ffi.from_buffer("uint64_t[]", line_ends),
                                  line_ends.size, ffi.from_buffer("int64_t[]", order), order.size,
                                  ffi.from_buffer("char[]", out, require_writable=True), out.size),
              "JSON lines gather")
    return out[:n]
