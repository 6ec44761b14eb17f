"""Per-APID statistics of the packets a stream delivered, and their times.

Counts, octets, sequence-count gaps and packets lost (133.0-B-2 §4.1.3.4.3: the count is per
APID, modulo 16384), duplicates and out-of-order packets, the virtual channels that carried each
APID, and the packets' times from their secondary header (CUC or CDS, 301.0-B-4), from which
rates follow.  Everything is updated per batch with numpy; a small per-packet series (APID,
time, frame, gap) is kept for plots and for the live view.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lunarelay_tools.inspect.packets import PacketBatch
from onboard.bus.packet import TAI_1958_TO_UNIX_S, TAI_MINUS_UTC_S
from onboard.core.spp import APID_IDLE

SEQ_MODULUS = 16384
TIME_CODES = ("cuc", "cds", "none")
# a secondary-header time outside these years is taken as not a time code
PLAUSIBLE_TAI = (0.0, (2100 - 1958) * 365.25 * 86400)


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
    m = np.ascontiguousarray(batch.data_matrix(rows[has], 6, need - 6))
    if time_code == "cuc":
        # CUC level 1, 4 coarse + 2 fine octets, P-field implicit (the bus's, onboard.bus.packet)
        cuc = m.view(np.dtype([("coarse", ">u4"), ("fine", ">u2")])).reshape(-1)
        t = cuc["coarse"].astype(np.float64) + cuc["fine"].astype(np.float64) / 65536.0
    else:
        m = m.astype(np.uint64)
        # CDS: 2 octets of days, 4 of milliseconds of day, 2 of microseconds (301.0-B-4 §3.3)
        days = (m[:, 0] << np.uint64(8)) | m[:, 1]
        ms = (m[:, 2] << np.uint64(24)) | (m[:, 3] << np.uint64(16)) | (m[:, 4] << np.uint64(8)) | m[:, 5]
        us = (m[:, 6] << np.uint64(8)) | m[:, 7]
        t = days.astype(np.float64) * 86400 + ms.astype(np.float64) / 1e3 + us.astype(np.float64) / 1e6
    t[(t < PLAUSIBLE_TAI[0]) | (t > PLAUSIBLE_TAI[1])] = np.nan
    out[has] = t
    return out


def tai_to_unix(tai: float | np.ndarray):
    return tai - TAI_1958_TO_UNIX_S - TAI_MINUS_UTC_S


class PacketStats:
    """Per-APID counters over every batch of one stream."""

    def __init__(self, time_code: str = "cuc"):
        if time_code not in TIME_CODES:
            raise ValueError(f"time code must be one of {', '.join(TIME_CODES)}, not {time_code!r}")
        self.time_code = time_code
        self.apids: dict[int, ApidStats] = {}
        self.series: list[np.ndarray] = []
        self.packets = 0

    def update(self, batch: PacketBatch) -> np.ndarray:
        """Count the batch's packets (idle ones excluded); returns their times (NaN if none)."""
        rows = batch.rows
        keep = rows["apid"] != APID_IDLE
        rows = rows[keep]
        n = len(rows)
        times = packet_times(batch, rows, self.time_code)
        if not n:
            return times
        self.packets += n
        apid = rows["apid"].astype(np.int64)
        seq = rows["seq_count"].astype(np.int64)
        order = np.argsort(apid, kind="stable")
        a, s, t = apid[order], seq[order], times[order]
        first = np.ones(n, dtype=bool)
        first[1:] = a[1:] != a[:-1]
        prev = np.empty(n, dtype=np.int64)
        prev[1:] = s[:-1]
        has_prev = ~first
        for i in np.nonzero(first)[0].tolist():
            st = self.apids.get(int(a[i]))
            if st is not None and st.last_seq is not None:
                prev[i] = st.last_seq
                has_prev[i] = True
        step = (s - prev) % SEQ_MODULUS
        gap = has_prev & (step != 1)
        dup = gap & (step == 0)
        back = gap & (step >= SEQ_MODULUS // 2)
        fwd = gap & ~dup & ~back
        lost = np.where(fwd, step - 1, 0)
        gap_flag = np.zeros(n, dtype=bool)
        gap_flag[order] = gap
        starts = np.nonzero(first)[0]
        bounds = np.append(starts, n)
        lengths = rows["length"][order].astype(np.int64)
        vc = rows["vcid"][order]
        for k, i in enumerate(starts.tolist()):
            j = int(bounds[k + 1])
            ap = int(a[i])
            st = self.apids.get(ap)
            if st is None:
                st = self.apids[ap] = ApidStats(ap)
            st.packets += j - i
            st.octets += int(lengths[i:j].sum())
            st.sequence_gaps += int(gap[i:j].sum())
            st.packets_lost += int(lost[i:j].sum())
            st.duplicates += int(dup[i:j].sum())
            st.out_of_order += int(back[i:j].sum())
            st.last_seq = int(s[j - 1])
            st.vcids.update(int(v) for v in np.unique(vc[i:j]).tolist() if v >= 0)
            tt = t[i:j]
            tt = tt[~np.isnan(tt)]
            if tt.size:
                st.timed += tt.size
                lo, hi = float(tt.min()), float(tt.max())
                st.first_time = lo if st.first_time != st.first_time else min(st.first_time, lo)
                st.last_time = hi if st.last_time != st.last_time else max(st.last_time, hi)
        self.series.append(np.rec.fromarrays(
            [rows["apid"], rows["seq_count"], times, rows["frame"], rows["vcid"], rows["length"], gap_flag],
            names=("apid", "seq_count", "time", "frame", "vcid", "length", "gap")))
        return times

    def series_array(self) -> np.ndarray | None:
        return np.concatenate(self.series) if self.series else None

    def totals(self) -> dict:
        return {"packets": self.packets,
                "sequence_gaps": sum(s.sequence_gaps for s in self.apids.values()),
                "packets_lost": sum(s.packets_lost for s in self.apids.values()),
                "apids": len(self.apids)}
