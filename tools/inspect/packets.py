"""Space packets as ``lunarelay inspect`` carries them between layers, and the packet-stream reader.

A ``PacketBatch`` is a buffer of packets back to back and one row per packet (``PACKET_DTYPE``):
where it is in the buffer, its primary header fields (the C core's batch index), the virtual
channel and frame it came from and the input octet where it started.  Everything after the
frame layer works on these rows with numpy; no layer walks packets one by one in Python.
``PacketBatch.grouping`` sorts a batch once by packet type and APID (a radix sort on 16-bit
keys); the statistics, the dictionary and every writer then take each APID's packets as one
slice of that order.

``PacketStream`` reads bare packets (a packet file, KISS/SLIP payloads, UDP datagrams): the C
indexer walks the chain; where a header is impossible (version not 0) or a length field lies,
it skips to the next offset from which a run of well-formed packets follows, and files the
skipped octets as ``not_a_packet``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lunarelay_tools.inspect.accounting import Ledger
from onboard.core.spp import APID_IDLE, ENTRY_DTYPE, IndexStop, PacketIndexer

# The C indexer's entry (ENTRY_DTYPE) at the same offsets, so a batch of entries is copied in one
# strided block, then where each packet came from.
PACKET_DTYPE = np.dtype({"names": ["offset", "length", "apid", "seq_count", "seq_flags", "type",
                                   "sec_hdr_flag", "version", "vcid", "frame", "input_offset"],
                         "formats": ["<u8", "<u4", "<u2", "<u2", "u1", "u1", "u1", "u1", "<i2", "<i8", "<i8"],
                         "offsets": [0, 8, 12, 14, 16, 17, 18, 19, 20, 24, 32], "itemsize": 40})
RESYNC_RUN = 3           # well-formed packets in a row that make a resynchronisation point
KEEP_FOR_RESYNC = RESYNC_RUN * 65542 + 1


def as_u8(data) -> np.ndarray:
    """A flat uint8 view of bytes, a memoryview or a numpy array."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1)
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


class Grouping:
    """A batch's packets by packet type and APID: ``order`` lists the rows group after group (stream
    order kept within each), group ``g`` being ``order[bounds[g]:bounds[g + 1]]`` with key
    ``keys[g]`` (APID | packet type << 11).  ``column`` gives a row field in that order, so a group's
    values are one contiguous slice."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows
        key = rows["apid"].astype(np.uint16) | (rows["type"].astype(np.uint16) << np.uint16(11))
        # a stable sort of 16-bit keys is numpy's radix sort: linear, no comparisons
        self.order = np.argsort(key, kind="stable")
        sk = key[self.order]
        starts = np.flatnonzero(sk[1:] != sk[:-1]) + 1 if sk.size else np.empty(0, dtype=np.int64)
        starts = np.concatenate([[0], starts]) if sk.size else starts
        self.bounds = np.append(starts, sk.size).astype(np.int64)
        self.keys = sk[starts]
        self._columns: dict[str, np.ndarray] = {}
        self._sorted: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def spans(self):
        """(APID, packet type, first, end) of every group: rows ``order[first:end]``."""
        for k, a, b in zip(self.keys.tolist(), self.bounds[:-1].tolist(), self.bounds[1:].tolist(),
                           strict=True):
            yield k & 0x7FF, k >> 11, a, b

    def column(self, name: str) -> np.ndarray:
        got = self._columns.get(name)
        if got is None:
            if self._sorted is None:
                # the rows gathered once in group order, as opaque records (a fancy index of a
                # structured dtype is slower); each column is then a strided copy
                rows = np.ascontiguousarray(self.rows)
                self._sorted = rows.view(f"V{rows.itemsize}")[self.order].view(rows.dtype)
            got = self._columns[name] = self._sorted[name].copy()
        return got


@dataclasses.dataclass(eq=False)
class PacketBatch:
    buffer: np.ndarray                 # uint8: the packets' octets
    rows: np.ndarray                   # PACKET_DTYPE, offsets into buffer

    def __len__(self) -> int:
        return len(self.rows)

    def grouping(self) -> Grouping:
        """The batch by packet type and APID, made once (again if ``rows`` was replaced)."""
        g = self.__dict__.get("_grouping")
        if g is None or g.rows is not self.rows:
            g = self.__dict__["_grouping"] = Grouping(self.rows)
        return g

    @classmethod
    def empty(cls) -> PacketBatch:
        return cls(np.empty(0, dtype=np.uint8), np.empty(0, dtype=PACKET_DTYPE))

    @classmethod
    def concat(cls, batches: list[PacketBatch]) -> PacketBatch:
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            return batches[0]
        base = np.cumsum([0] + [b.buffer.size for b in batches[:-1]])
        rows = np.concatenate([b.rows for b in batches])
        rows["offset"] += np.repeat(base, [len(b) for b in batches]).astype(np.uint64)
        return cls(np.concatenate([b.buffer for b in batches]), rows)

    def packet(self, i: int) -> bytes:
        r = self.rows[i]
        return self.buffer[int(r["offset"]):int(r["offset"]) + int(r["length"])].tobytes()

    def without_idle(self) -> PacketBatch:
        # the stream, the statistics and the outputs each ask: the answer is kept with its rows
        if self.__dict__.get("_idle_free") is self.rows:
            return self
        keep = self.rows["apid"] != APID_IDLE
        out = self if keep.all() else PacketBatch(self.buffer, self.rows[keep])
        out.__dict__["_idle_free"] = out.rows
        return out

    def data_matrix(self, rows: np.ndarray, start: int, width: int) -> np.ndarray:
        """(n, width) octets from ``start`` of each packet of ``rows``; see ``gather``."""
        return self.gather(rows["offset"], start, width)

    def gather(self, offsets: np.ndarray, start: int, width: int) -> np.ndarray:
        """(n, width) contiguous octets from octet ``start`` of the packets at ``offsets`` (all long
        enough): one row gather over a sliding-window view of the buffer."""
        buf = self.buffer
        if buf.size < start + width:
            buf = np.concatenate([buf, np.zeros(start + width, dtype=np.uint8)])
        if width <= 0:
            return np.empty((len(offsets), 0), dtype=np.uint8)
        # the buffer as overlapping records of ``width`` octets, one starting at every octet: a
        # fancy index copies whole records (faster than rows of a 2-D sliding window)
        windows = np.ascontiguousarray(buf[start:])
        records = np.ndarray((windows.size - width + 1,), dtype=f"V{width}", buffer=windows, strides=(1,))
        at = np.minimum(offsets, records.shape[0] - 1).astype(np.intp, copy=False)
        return records[at].view(np.uint8).reshape(-1, width)


def rows_from_index(entries: np.ndarray, base: int = 0) -> np.ndarray:
    """PACKET_DTYPE rows from the C indexer's entries, offsets shifted by ``base``."""
    n = len(entries)
    rows = np.empty(n, dtype=PACKET_DTYPE)
    head = ENTRY_DTYPE.fields["reserved"][1]       # the entry's fields before its reserved word
    rows.view(np.uint8).reshape(n, PACKET_DTYPE.itemsize)[:, :head] = \
        np.ascontiguousarray(entries).view(np.uint8).reshape(n, ENTRY_DTYPE.itemsize)[:, :head]
    if base:
        rows["offset"] += np.uint64(base)
    rows["vcid"] = -1
    rows["frame"] = -1
    rows["input_offset"] = 0
    return rows


def index_all(data: np.ndarray, start: int = 0) -> tuple[np.ndarray, int, IndexStop, int]:
    """Index the packet chain of ``data`` from ``start``: (entries with offsets relative to
    ``data``, end of the last whole packet, why it stopped, octets missing if truncated)."""
    indexer = PacketIndexer()
    chunks, pos = [], start
    while True:
        idx = indexer.index(data[pos:])
        if len(idx.entries):
            e = idx.entries               # its own array, made by this call
            if pos:
                e["offset"] += np.uint64(pos)
            chunks.append(e)
        pos += idx.consumed
        if idx.stop != IndexStop.FULL:
            if len(chunks) == 1:
                return chunks[0], pos, idx.stop, idx.missing      # the common case: no copy
            entries = np.concatenate(chunks) if chunks else np.empty(0, dtype=ENTRY_DTYPE)
            return entries, pos, idx.stop, idx.missing


def plausible_run(data: np.ndarray, at: int, run: int = RESYNC_RUN) -> bool:
    """Whether ``run`` well-formed packets start at ``at`` (or fewer that end the data exactly)."""
    pos = at
    for _ in range(run):
        if pos == data.size:
            return pos > at
        if data.size - pos < 7 or data[pos] >> 5:
            return False
        length = (int(data[pos + 4]) << 8 | int(data[pos + 5])) + 7
        if pos + length > data.size:
            return False
        pos += length
    return True


def find_resync(data: np.ndarray, start: int, run: int = RESYNC_RUN,
                known_apids: set[int] | None = None) -> int:
    """The first offset after ``start`` from which a run of well-formed packets follows, or the end.
    With ``known_apids`` (the APIDs the stream has shown), a run must start with one of them: random
    octets hold chance runs of headers, but rarely of the stream's own APIDs."""
    # candidate headers: version 0 and a length that does not run past the data
    cand = np.nonzero((data[start + 1:] >> 5) == 0)[0] + start + 1
    if cand.size:
        hi = np.minimum(cand + 4, data.size - 1)
        lo = np.minimum(cand + 5, data.size - 1)
        length = (data[hi].astype(np.int64) << 8 | data[lo]) + 7
        cand = cand[(cand + 7 <= data.size) & (cand + length <= data.size)]
    if known_apids:
        apid = (data[cand].astype(np.int64) & 0x07) << 8 | data[np.minimum(cand + 1, data.size - 1)]
        cand = cand[np.isin(apid, list(known_apids))]
    for at in cand.tolist():
        if plausible_run(data, at, run):
            return at
    return data.size


class PacketStream:
    """Bare space packets back to back, in pieces of any size; ``push`` returns whole packets."""

    def __init__(self, ledger: Ledger, resync: bool = True):
        self.ledger = ledger
        self.resync = resync
        self._pending = np.empty(0, dtype=np.uint8)
        self._pending_at = 0          # input offset of _pending[0]
        self.bad_headers = 0          # places the chain broke and had to be found again
        self.apids: set[int] = set()

    def push(self, data, final: bool = False) -> PacketBatch:
        new = as_u8(data)
        buf = np.concatenate([self._pending, new]) if self._pending.size else np.ascontiguousarray(new)
        base = self._pending_at
        out_rows, pos = [], 0
        while pos < buf.size:
            entries, end, stop, _missing = index_all(buf, pos)
            if len(entries):
                if len(self.apids) < 256:
                    seen = np.bincount(entries["apid"], minlength=2048)
                    self.apids.update(np.flatnonzero(seen).tolist())
                rows = rows_from_index(entries)
                rows["input_offset"] = rows["offset"].astype(np.int64) + base
                out_rows.append(rows)
                idle = entries["apid"] == APID_IDLE
                self.ledger.add("packet", int(entries["length"][~idle].sum()))
                self.ledger.add("idle_packet", int(entries["length"][idle].sum()))
            pos = end
            if stop == IndexStop.END:
                break
            if stop == IndexStop.TRUNCATED and not final:
                break                                  # the rest may come in the next piece
            if stop == IndexStop.TRUNCATED and not self.resync:
                self.ledger.add_range("truncated", base + pos, base + buf.size, "packet cut by the end")
                pos = buf.size
                break
            # a header with a bad version, or a length that runs past the end of the input
            nxt = find_resync(buf, pos, known_apids=self.apids) if self.resync else buf.size
            if nxt >= buf.size and not final:
                # The next packet may start in the part still to come: keep what a run of packets
                # starting there could still need, and file the rest (no run starting there fits).
                give_up = buf.size - KEEP_FOR_RESYNC
                if give_up > pos:
                    self.bad_headers += 1
                    self.ledger.add_range("not_a_packet", base + pos, base + give_up)
                    pos = give_up
                break
            self.bad_headers += 1
            reason = "truncated" if stop == IndexStop.TRUNCATED and nxt >= buf.size else "not_a_packet"
            self.ledger.add_range(reason, base + pos, base + nxt,
                                  "packet cut by the end" if reason == "truncated" else "")
            pos = nxt
        self._pending = buf[pos:].copy()
        self._pending_at = base + pos
        rows = out_rows[0] if len(out_rows) == 1 else \
            np.concatenate(out_rows) if out_rows else np.empty(0, dtype=PACKET_DTYPE)
        # a view: the buffer is the piece just read (or a join made here), not kept after this batch
        return PacketBatch(buf[:pos] if len(rows) else np.empty(0, dtype=np.uint8), rows)

    def finish(self) -> PacketBatch:
        if not self._pending.size:
            return PacketBatch.empty()
        pending, self._pending = self._pending, np.empty(0, dtype=np.uint8)
        return self.push(pending, final=True)
