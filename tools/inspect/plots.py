"""``lunarelay inspect --plot DIR``: PNG plots of a run (matplotlib, no display needed).

- ``packet_rate.png``: packets per second of every APID over time;
- ``link_quality.png``: Reed-Solomon symbols corrected, uncorrectable CADUs, frame count gaps and
  packet sequence gaps over time;
- ``hk_<type>.<field>.png``: one housekeeping field over time (``--plot-field``, or the first one
  whose value changes).

Time is the packets' secondary-header time (UTC); frames and CADUs, which carry none, get the time
of the packets around them.  Inputs without times are plotted against the packet or frame number.
"""

from __future__ import annotations

import os

import numpy as np

from lunarelay_tools.inspect.stats import tai_to_unix

BINS = 60


class PlotCollector:
    """Keeps the decoded housekeeping series; ``render`` draws everything at the end."""

    def __init__(self, directory: str, field: str | None):
        self.directory = directory
        self.field = field
        self.series: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.streams: list = []
        self.names = None

    def write(self, batch, times, index, decoded) -> None:
        for d in decoded:
            asked = self.field is not None and self.field.startswith(d.ptype.name)
            if not d.ptype.name.endswith(".hk") and not asked:
                continue
            t = times[d.rows]
            for name, col in d.columns.items():
                if isinstance(col, np.ndarray) and col.dtype.kind in "uifb":
                    self.series.setdefault(f"{d.ptype.name}.{name}", []).append((t, col.astype(np.float64)))

    def close(self) -> None:
        pass

    def render(self, summary: dict, streams: list | None = None, dictionary=None) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        os.makedirs(self.directory, exist_ok=True)
        written = []
        streams = streams or []
        for k, s in enumerate(streams):
            suffix = "" if len(streams) == 1 else f"_{k}"
            series = s.stats.series_array()
            if series is None or not len(series):
                continue
            timed = ~np.isnan(series["time"])
            x, label = (_utc(series["time"]), "UTC") if timed.mean() > 0.5 else \
                (np.arange(len(series), dtype=np.float64), "packet number")
            keep = _typical(x) if label == "UTC" else np.ones(len(x), dtype=bool)
            written.append(self._rates(plt, series[keep], x[keep], label, dictionary, suffix))
            written.append(self._quality(plt, s, series, x, label, suffix))
        written.append(self._field(plt))
        return [w for w in written if w]

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _rates(self, plt, series, x, label: str, dictionary, suffix: str) -> str:
        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
        lo, hi = float(x.min()), float(x.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1, BINS + 1)
        width = edges[1] - edges[0]
        centers = _dates(edges[:-1] + width / 2) if label == "UTC" else edges[:-1] + width / 2
        apids, counts = np.unique(series["apid"], return_counts=True)
        for apid in apids[np.argsort(-counts)][:12].tolist():
            h, _ = np.histogram(x[series["apid"] == apid], edges)
            name = dictionary.name_of(apid) if dictionary is not None else ""
            ax.plot(centers, h / (width if label == "UTC" else 1), label=f"{apid:#05x} {name}".strip(),
                    lw=1.2)
        ax.set_ylabel("packets per second" if label == "UTC" else "packets per bin")
        ax.set_xlabel(label)
        ax.set_title("packet rate per APID")
        ax.legend(fontsize=7, ncol=2, loc="upper right")
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        path = self._path(f"packet_rate{suffix}.png")
        fig.savefig(path)
        plt.close(fig)
        return path

    def _quality(self, plt, stream, series, x, label: str, suffix: str) -> str:
        from lunarelay_tools.inspect.cadu import CaduLayer

        fig, axes = plt.subplots(3, 1, figsize=(9, 6), dpi=100, sharex=True)
        typical = _typical(x) if label == "UTC" else np.ones(len(x), dtype=bool)
        frame_time = _frame_times(series[typical], x[typical])
        layer = stream.layer
        if isinstance(layer, CaduLayer) and layer.rs_series:
            rs = np.concatenate(layer.rs_series)
            t = frame_time(rs[:, 0])
            corrected = np.where(rs[:, 1] > 0, rs[:, 1], 0)
            failed = (rs[:, 1] < 0).astype(np.float64)
            _binned(axes[0], t, corrected, label, "RS symbols corrected")
            _binned(axes[0], t, failed, label, "uncorrectable CADUs", color="tab:red")
        axes[0].set_title("Reed-Solomon")
        fl = stream.frame_layer()
        if fl is not None and getattr(fl, "series", None):
            fs = np.concatenate(fl.series)
            t = frame_time(fs[:, 0])
            _binned(axes[1], t, fs[:, 2].astype(np.float64), label, "VC frame count gaps")
            _binned(axes[1], t, fs[:, 3].astype(np.float64), label, "FECF failures", color="tab:red")
        axes[1].set_title("frames")
        keep = _typical(x)
        _binned(axes[2], x[keep], series["gap"][keep].astype(np.float64), label, "sequence gaps")
        axes[2].set_title("packets")
        axes[2].set_xlabel(label)
        for ax in axes:
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="upper right")
        fig.autofmt_xdate()
        fig.tight_layout()
        path = self._path(f"link_quality{suffix}.png")
        fig.savefig(path)
        plt.close(fig)
        return path

    def _field(self, plt) -> str | None:
        name = self.field
        if name is None:
            for key, parts in self.series.items():
                v = np.concatenate([p[1] for p in parts])
                if v.size > 1 and np.nanstd(v) > 0 and not key.split(".", 2)[-1].startswith(("command_pipe",
                                                                                               "data_pipe")):
                    name = key
                    break
        if name is None or name not in self.series:
            return None
        t = np.concatenate([p[0] for p in self.series[name]])
        v = np.concatenate([p[1] for p in self.series[name]])
        ok = ~np.isnan(t)
        fig, ax = plt.subplots(figsize=(9, 3.5), dpi=100)
        if ok.any():
            ax.plot(_dates(_utc(t[ok])), v[ok], ".-", ms=3, lw=0.8)
            ax.set_xlabel("UTC")
        else:
            ax.plot(v, ".-", ms=3, lw=0.8)
            ax.set_xlabel("packet number")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        path = self._path(f"hk_{name}.png")
        fig.savefig(path)
        plt.close(fig)
        return path


def _typical(x: np.ndarray) -> np.ndarray:
    """Times within the span of the bulk of the packets: a packet stamped years off (a clock not
    yet set) would otherwise stretch every axis to nothing."""
    ok = ~np.isnan(x)
    if ok.sum() < 10:
        return ok
    lo, hi = np.percentile(x[ok], [1, 99])
    margin = 0.1 * (hi - lo) + 1.0
    return ok & (x >= lo - margin) & (x <= hi + margin)


def _utc(tai: np.ndarray) -> np.ndarray:
    return tai_to_unix(tai)


def _dates(unix: np.ndarray):
    return (np.asarray(unix) * 1e3).astype("int64").astype("datetime64[ms]")


def _frame_times(series, x):
    """Time of a frame number: that of the packets that started in the frames around it."""
    frames = series["frame"].astype(np.float64)
    ok = (frames >= 0) & ~np.isnan(x)
    if ok.sum() < 2:
        return lambda f: np.asarray(f, dtype=np.float64)
    order = np.argsort(frames[ok], kind="stable")
    fx, tx = frames[ok][order], x[ok][order]
    return lambda f: np.interp(np.asarray(f, dtype=np.float64), fx, tx)


def _binned(ax, t: np.ndarray, values: np.ndarray, label: str, name: str, color: str | None = None) -> None:
    if not t.size:
        return
    lo, hi = float(np.nanmin(t)), float(np.nanmax(t))
    edges = np.linspace(lo, hi if hi > lo else lo + 1, BINS + 1)
    h, _ = np.histogram(t, edges, weights=values)
    centers = edges[:-1] + (edges[1] - edges[0]) / 2
    ax.step(_dates(centers) if label == "UTC" else centers, h, where="mid",
            label=f"{name} (total {int(values.sum())})", color=color, lw=1.2)
