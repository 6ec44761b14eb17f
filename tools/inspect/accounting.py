"""Where every input octet went: the ledger behind "why was this not parsed".

Each layer of ``lunarelay inspect`` files the octets it handles under one reason: the octets of
the space packets it delivered, the structure of the link (markers, check symbols, headers,
trailers, capture framing), idle fill, and every way data is lost (sync loss, uncorrectable
codewords, FECF failures, first-header-pointer mismatches, packets cut by a lost frame, ...).
The reasons partition the input: their octets add up to the input size exactly, which
``Ledger.balance`` checks.  Problem reasons also keep their ranges (coalesced, up to a cap), so a
user can find the octets in the file.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# reason -> (kind, description).  kind: "packet" (delivered), "structure" (the link's own octets),
# "idle" (fill), "problem" (data that did not reach a packet).
REASONS: dict[str, tuple[str, str]] = {
    "packet": ("packet", "space packets delivered (headers included)"),
    "asm": ("structure", "attached sync markers"),
    "rs_check": ("structure", "Reed-Solomon check symbols"),
    "frame_header": ("structure", "transfer frame headers (primary, secondary, FHEC, M_PDU, segment)"),
    "frame_trailer": ("structure", "operational control and frame error control fields"),
    "channel_code": ("structure", "convolutional code or soft-symbol octets beyond the decoded bits"),
    "cltu_coding": ("structure", "CLTU start and tail sequences, BCH parity and fill"),
    "capture": ("structure", "capture file structure, link and UDP/TCP/IP headers, serial framing"),
    "retransmitted": ("structure", "TCP payload captured again (retransmissions, overlapping segments)"),
    "idle_packet": ("idle", "idle packets (APID 2047)"),
    "idle_frame": ("idle", "data fields of idle frames"),
    "no_sync": ("problem", "no frame synchronisation: octets outside every CADU (search, sync loss)"),
    "rs_uncorrectable": ("problem", "CADUs with an uncorrectable Reed-Solomon codeword"),
    "crc_failure": ("problem", "frames whose FECF (CRC) does not match"),
    "bad_header": ("problem", "frames whose header is impossible (version, length, FHEC)"),
    "other_spacecraft": ("problem", "frames of another spacecraft ID"),
    "vc_not_selected": ("problem", "frames of virtual channels not selected"),
    "not_packet_data": ("problem", "frame data that is not packets (TM sync flag, AOS B_PDU)"),
    "packet_start_lost": ("problem", "continuation of a packet whose start is not in the input (lost frame, "
                                     "or before the input began)"),
    "packet_end_lost": ("problem", "start of a packet whose continuation was lost (spills into a lost "
                                   "frame)"),
    "fhp_mismatch": ("problem", "packet octets the first header pointer contradicts"),
    "bad_packet": ("problem", "a packet header with a version other than 0 where one was due"),
    "truncated": ("problem", "cut by the end of the input (CADU, frame, CLTU or packet)"),
    "cltu_uncorrectable": ("problem", "CLTUs with an uncorrectable BCH codeblock or no valid TC frame"),
    "sdls_rejected": ("problem", "TC frame data whose SDLS MAC or anti-replay sequence number does not "
                                 "verify"),
    "serial_garbage": ("problem", "serial line octets outside every good frame: noise, text, frames with a "
                                  "bad CRC, length or escape, frames cut short by the next one"),
    "not_a_packet": ("problem", "octets skipped in a packet stream while finding the next packet header"),
    "unsupported_link": ("problem", "capture records of a link type or framing inspect does not read"),
    "capture_damaged": ("problem", "capture octets after the damage that stopped reading"),
    "unrecognised": ("problem", "input no link hypothesis fits"),
}
PROBLEMS = tuple(k for k, (kind, _) in REASONS.items() if kind == "problem")
MAX_RANGES = 20000


@dataclasses.dataclass(frozen=True)
class Range:
    start: int        # octet offset in the ledger's space
    end: int
    reason: str
    note: str = ""


class Ledger:
    """Octets by reason for one octet space (a file, a capture's flow, a decoded stream)."""

    def __init__(self, space: str = "input"):
        self.space = space
        self.totals: dict[str, int] = {}
        self.ranges: list[Range] = []
        self.ranges_dropped = 0
        self.children: list[Ledger] = []

    def add(self, reason: str, octets: int) -> None:
        if reason not in REASONS:
            raise KeyError(f"unknown accounting reason {reason!r}")
        if octets:
            self.totals[reason] = self.totals.get(reason, 0) + int(octets)

    def add_range(self, reason: str, start: int, end: int, note: str = "") -> None:
        """File octets [start, end) under ``reason``, keeping the range if it is a problem."""
        if end <= start:
            return
        self.add(reason, end - start)
        if REASONS[reason][0] == "problem":
            self._keep(reason, int(start), int(end), note)

    def add_ranges(self, reason: str, starts: np.ndarray, ends: np.ndarray) -> None:
        """Many ranges at once (vectorised totals; ranges kept up to the cap)."""
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        if not starts.size:
            return
        self.add(reason, int((ends - starts).clip(0).sum()))
        if REASONS[reason][0] != "problem":
            return
        room = max(0, MAX_RANGES - len(self.ranges))
        for s, e in zip(starts[:room + 1].tolist(), ends[:room + 1].tolist(), strict=True):
            if e > s:
                self._keep(reason, s, e, "")
        self.ranges_dropped += max(0, starts.size - room - 1)

    def _keep(self, reason: str, start: int, end: int, note: str) -> None:
        last = self.ranges[-1] if self.ranges else None
        if last is not None and last.reason == reason and last.end == start and last.note == note:
            self.ranges[-1] = Range(last.start, end, reason, note)
        elif len(self.ranges) < MAX_RANGES:
            self.ranges.append(Range(start, end, reason, note))
        else:
            self.ranges_dropped += 1

    def merge(self, other: Ledger) -> None:
        """Take the totals of ``other`` (a layer within this space) and keep it as a child."""
        for reason, n in other.totals.items():
            self.add(reason, n)
        self.children.append(other)

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def by_kind(self) -> dict[str, int]:
        out = dict.fromkeys(("packet", "structure", "idle", "problem"), 0)
        for reason, n in self.totals.items():
            out[REASONS[reason][0]] += n
        return out

    def balance(self, size: int) -> int:
        """Input octets not accounted for (0 when the ledger partitions the input)."""
        return size - self.total

    def all_ranges(self) -> list[tuple[str, Range]]:
        out = [(self.space, r) for r in self.ranges]
        for child in self.children:
            out.extend(child.all_ranges())
        return out

    def as_dict(self, size: int | None = None) -> dict:
        d = {"space": self.space, "total": self.total,
             "octets": dict(sorted(self.totals.items(), key=lambda kv: -kv[1])),
             "by_kind": self.by_kind()}
        if size is not None:
            d["input_octets"] = size
            d["unaccounted"] = self.balance(size)
        ranges = sorted(self.all_ranges(), key=lambda sr: (sr[0] != self.space, sr[0], sr[1].start))
        d["ranges"] = [{"space": space, "start": r.start, "end": r.end, "reason": r.reason,
                        **({"note": r.note} if r.note else {})} for space, r in ranges]
        dropped = self.ranges_dropped + sum(c.ranges_dropped for c in self.children)
        if dropped:
            d["ranges_not_listed"] = dropped
        return d
