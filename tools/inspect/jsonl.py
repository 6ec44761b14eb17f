"""JSON lines from columns, written by the C core (csrc/lr_jsonl.h): one JSON object per row.

A column is its key text (written before every value as it is: the caller escapes names once
and folds constant parts into it) and its values: integers or booleans as numpy arrays, or
``Text`` (octets and each row's range in them) already made valid JSON by the caller.
``Interleaved`` writes the rows of several such column sets interleaved, in stream order, a
buffer at a time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onboard.core._api import check, ffi, lib

SCRATCH_OCTETS = 1 << 20          # a block of lines in the making: cache-sized


@dataclasses.dataclass(frozen=True)
class Text:
    """Row ``i``'s JSON text is ``data[starts[i]:ends[i]]``."""

    data: np.ndarray        # uint8
    starts: np.ndarray      # int64
    ends: np.ndarray        # int64

    def take(self, rows: np.ndarray) -> Text:
        """The text of ``rows`` only (the octets shared)."""
        return Text(self.data, self.starts[rows], self.ends[rows])


_INTEGER_KINDS = {("i", 8): lib.LR_JSONL_I64, ("u", 8): lib.LR_JSONL_U64, ("i", 4): lib.LR_JSONL_I32,
                  ("u", 4): lib.LR_JSONL_U32, ("i", 2): lib.LR_JSONL_I16, ("u", 2): lib.LR_JSONL_U16,
                  ("i", 1): lib.LR_JSONL_I8, ("u", 1): lib.LR_JSONL_U8}


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
        return col, ends - starts
    v = np.asarray(values)
    if v.size != n_rows:
        raise ValueError(f"column {key!r}: {v.size} values for {n_rows} rows")
    if v.dtype == bool:
        v, col.kind = np.ascontiguousarray(v).view(np.uint8), lib.LR_JSONL_BOOL
    elif v.dtype.kind in "iu":
        # integers as they are (native byte order), each width its own kind: no widening copy
        v = np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("="))
        col.kind = _INTEGER_KINDS[v.dtype.kind, v.dtype.itemsize]
    else:
        raise ValueError(f"column {key!r}: {v.dtype} values need JSON text from the caller")
    buf = ffi.from_buffer(v)
    keep.extend((v, buf))
    col.values = buf
    return col, None


class Lines:
    """Columns ready for the core: ``line_room`` is the most octets one of their lines can take."""

    def __init__(self, columns: list[tuple[bytes, object]], n_rows: int, tail: bytes):
        self._keep: list = []
        self._cols = ffi.new("struct lr_jsonl_column[]", max(len(columns), 1))
        self.n_rows, self.n_cols, self.tail = n_rows, len(columns), tail
        per_row = len(tail)
        text = np.zeros(n_rows, dtype=np.int64)
        for i, (key, values) in enumerate(columns):
            col, lengths = _column(key, values, n_rows, self._keep)
            self._cols[i] = col[0]
            per_row += len(key) + 21        # the core wants room for the widest integer before each value
            if lengths is not None:
                text += lengths
        self.line_room = per_row + (int(text.max()) if n_rows else 0)


class Interleaved:
    """The lines of several ``Lines`` in the order given: line ``i`` is row ``row_of[i]`` of
    ``parts[part_of[i]]``.  ``fill`` writes the next lines into a buffer, as many as it holds,
    so a batch goes out a cache-sized buffer at a time."""

    def __init__(self, parts: list[Lines], part_of: np.ndarray, row_of: np.ndarray):
        self.part_of = np.ascontiguousarray(part_of, dtype=np.uint32)
        self.row_of = np.ascontiguousarray(row_of, dtype=np.int64)
        if self.part_of.size != self.row_of.size:
            raise ValueError(f"{self.part_of.size} part indices for {self.row_of.size} rows")
        self._parts = parts
        self._table = ffi.new("struct lr_jsonl_part[]", max(len(parts), 1))
        self._tails = [ffi.from_buffer("char[]", p.tail) for p in parts]
        for i, (p, tail) in enumerate(zip(parts, self._tails, strict=True)):
            t = self._table[i]
            t.cols, t.n_cols, t.n_rows, t.tail, t.tail_len = p._cols, p.n_cols, p.n_rows, tail, len(p.tail)
        self.line_room = max((p.line_room for p in parts), default=0)
        # the core's index of a block of lines, then its scratch for their text (kept in cache)
        index = lib.lr_jsonl_parts_index_octets(len(parts))
        self._work = np.empty((index + max(SCRATCH_OCTETS, self.line_room) + 7) // 8, dtype=np.uint64)
        self._work_ptr = ffi.from_buffer("uint64_t[]", self._work, require_writable=True)
        self._done = ffi.new("size_t *")
        self.next_line = 0

    @property
    def finished(self) -> bool:
        return self.next_line >= self.row_of.size

    def fill(self, out: np.ndarray) -> int:
        """The next lines into ``out`` (uint8, at least ``line_room`` octets); the octets written."""
        if out.size < self.line_room:
            raise ValueError(f"a buffer of {out.size} octets for lines of up to {self.line_room}")
        at = self.next_line
        n = check(lib.lr_jsonl_format_parts(self._table, len(self._parts),
                                            ffi.from_buffer("uint32_t[]", self.part_of[at:]),
                                            ffi.from_buffer("int64_t[]", self.row_of[at:]),
                                            self.row_of.size - at,
                                            self._work_ptr, self._work.nbytes,
                                            ffi.from_buffer("char[]", out, require_writable=True), out.size,
                                            self._done),
                  "JSON lines")
        self.next_line += self._done[0]
        return n
