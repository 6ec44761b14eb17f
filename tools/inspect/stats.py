"""Per-APID statistics of the packets a stream delivered, and their times.

Counts, octets, sequence-count gaps and packets lost (133.0-B-2 §4.1.3.4.3: the count is per
APID, modulo 16384), duplicates and out-of-order packets, the virtual channels that carried each
APID, and the packets' times from their secondary header (CUC or CDS, 301.0-B-4), from which
rates follow.  Everything is updated per batch with numpy; a small per-packet series (APID,
time, frame, gap) is kept for the plots when asked for (``keep_series``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lunarelay_tools.inspect.packets import PacketBatch
from onboard.bus.packet import TAI_1958_TO_UNIX_S, TAI_MINUS_UTC_S

SEQ_MODULUS = 16384
TIME_CODES = ("cuc", "cds", "none")
# a secondary-header time outside these years is taken as not a time code
PLAUSIBLE_TAI = (0.0, (2100 - 1958) * 365.25 * 86400)
# per packet, for plots and the live view
SERIES_DTYPE = np.dtype([("apid", "<u2"), ("seq_count", "<u2"), ("time", "<f8"), ("frame", "<i8"),
                         ("vcid", "<i2"), ("length", "<u4"), ("gap", "?")])


@dataclasses.dataclass
class ApidStats:
    apid: int
    packets: int = 0
    octets: int = 0
    sequence_gaps: int = 0
    packets_lost: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    first_time: float = float("nan")   # TAI seconds since 1958
    last_time: float = float("nan")
    timed: int = 0
    vcids: set[int] = dataclasses.field(default_factory=set)
    last_seq: int | None = None
    limit_yellow: int = 0
    limit_red: int = 0

    @property
    def rate_hz(self) -> float:
        span = self.last_time - self.first_time
        return (self.timed - 1) / span if self.timed > 1 and span > 0 else float("nan")

    def as_dict(self) -> dict:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("vcids", "last_seq")}
        d["vcids"] = sorted(self.vcids)
        d["rate_hz"] = self.rate_hz
        for k in ("first_time", "last_time", "rate_hz"):
            if d[k] != d[k]:
                d[k] = None
        return d


def packet_times(batch: PacketBatch, rows: np.ndarray, time_code: str) -> np.ndarray:
    """TAI seconds since 1958 from each packet's secondary header (NaN where there is none)."""
    out = np.full(len(rows), np.nan)
    if time_code == "none" or not len(rows):
        return out
    need = 12 if time_code == "cuc" else 14
    has = (rows["sec_hdr_flag"] == 1) & (rows["length"] >= need)
    if not has.any():
        return out
    every = bool(has.all())
    offsets = rows["offset"] if every else rows["offset"][has]
    m = batch.gather(offsets, 6, need - 6)
    if time_code == "cuc":
        # CUC level 1, 4 coarse + 2 fine octets, P-field implicit (the bus's, onboard.bus.packet)
        cuc = m.view(np.dtype([("coarse", ">u4"), ("fine", ">u2")])).reshape(-1)
        t = cuc["coarse"].astype(np.float64) + cuc["fine"].astype(np.float64) / 65536.0
    else:
        # CDS: 2 octets of days, 4 of milliseconds of day, 2 of microseconds (301.0-B-4 §3.3)
        cds = m.view(np.dtype([("days", ">u2"), ("ms", ">u4"), ("us", ">u2")])).reshape(-1)
        t = cds["days"].astype(np.float64) * 86400 + cds["ms"].astype(np.float64) / 1e3 \
            + cds["us"].astype(np.float64) / 1e6
    t[(t < PLAUSIBLE_TAI[0]) | (t > PLAUSIBLE_TAI[1])] = np.nan
    if every:
        return t
    out[has] = t
    return out


def tai_to_unix(tai: float | np.ndarray):
    return tai - TAI_1958_TO_UNIX_S - TAI_MINUS_UTC_S


class PacketStats:
    """Per-APID counters over every batch of one stream."""

    def __init__(self, time_code: str = "cuc", keep_series: bool = False):
        if time_code not in TIME_CODES:
            raise ValueError(f"time code must be one of {', '.join(TIME_CODES)}, not {time_code!r}")
        self.time_code = time_code
        self.keep_series = keep_series
        self.apids: dict[int, ApidStats] = {}
        self.series: list[np.ndarray] = []
        self.packets = 0
        self._last_seq: dict[int, int] = {}      # APID | packet type << 11 -> last sequence count

    def update(self, batch: PacketBatch) -> np.ndarray:
        """Count the batch's packets (idle ones excluded); returns their times (NaN if none), one per
        packet of ``batch.without_idle()``."""
        batch = batch.without_idle()
        rows = batch.rows
        n = len(rows)
        times = packet_times(batch, rows, self.time_code)
        if not n:
            return times
        self.packets += n
        g = batch.grouping()
        s = g.column("seq_count").astype(np.int64)
        t = times[g.order]
        lengths = g.column("length")
        vc = g.column("vcid")
        prev = np.empty(n, dtype=np.int64)
        prev[1:] = s[:-1]
        has_prev = np.ones(n, dtype=bool)
        spans = list(g.spans())
        # a group's first packet follows the last one of its APID (and type) in earlier batches
        for apid, ptype, i, _ in spans:
            last = self._last_seq.get(apid | ptype << 11)
            has_prev[i] = last is not None
            prev[i] = last if last is not None else 0
        step = (s - prev) % SEQ_MODULUS
        gap = has_prev & (step != 1)
        dup = gap & (step == 0)
        back = gap & (step >= SEQ_MODULUS // 2)
        fwd = gap & ~dup & ~back
        lost = np.where(fwd, step - 1, 0)
        # per-group sums in one call each: reduceat over the group starts
        starts = g.bounds[:-1]
        sums = {name: np.add.reduceat(v, starts) for name, v in
                (("octets", lengths.astype(np.int64)), ("gaps", gap.astype(np.int64)), ("lost", lost),
                 ("dup", dup.astype(np.int64)), ("back", back.astype(np.int64)))}
        timed = ~np.isnan(t)
        n_timed = np.add.reduceat(timed.astype(np.int64), starts)
        t_lo = np.fmin.reduceat(t, starts)
        t_hi = np.fmax.reduceat(t, starts)
        for k, (apid, ptype, i, j) in enumerate(spans):
            st = self.apids.get(apid)
            if st is None:
                st = self.apids[apid] = ApidStats(apid)
            st.packets += j - i
            st.octets += int(sums["octets"][k])
            st.sequence_gaps += int(sums["gaps"][k])
            st.packets_lost += int(sums["lost"][k])
            st.duplicates += int(sums["dup"][k])
            st.out_of_order += int(sums["back"][k])
            st.last_seq = self._last_seq[apid | ptype << 11] = int(s[j - 1])
            if vc[i] >= 0 or vc[j - 1] >= 0:
                st.vcids.update(v for v in np.unique(vc[i:j]).tolist() if v >= 0)
            if n_timed[k]:
                st.timed += int(n_timed[k])
                lo, hi = float(t_lo[k]), float(t_hi[k])
                st.first_time = lo if st.first_time != st.first_time else min(st.first_time, lo)
                st.last_time = hi if st.last_time != st.last_time else max(st.last_time, hi)
        if self.keep_series:
            self._keep(rows, times, g.order, gap)
        return times

    def _keep(self, rows: np.ndarray, times: np.ndarray, order: np.ndarray, gap: np.ndarray) -> None:
        gap_flag = np.empty(len(rows), dtype=bool)
        gap_flag[order] = gap
        series = np.empty(len(rows), dtype=SERIES_DTYPE)
        for name, v in (("apid", rows["apid"]), ("seq_count", rows["seq_count"]), ("time", times),
                        ("frame", rows["frame"]), ("vcid", rows["vcid"]), ("length", rows["length"]),
                        ("gap", gap_flag)):
            series[name] = v
        self.series.append(series.view(np.recarray))

    def series_array(self) -> np.ndarray | None:
        return np.concatenate(self.series) if self.series else None

    def totals(self) -> dict:
        return {"packets": self.packets,
                "sequence_gaps": sum(s.sequence_gaps for s in self.apids.values()),
                "packets_lost": sum(s.packets_lost for s in self.apids.values()),
                "apids": len(self.apids)}
