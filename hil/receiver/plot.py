"""The receiver's error against truth as a PNG: east, north, up and 3D error of each fix over time."""

from __future__ import annotations

import os

import numpy as np


def error_plot(fixes: list[dict], path: str | os.PathLike, title: str = "") -> None:
    """Write the plot of the fixes that carry ``error_enu_m`` (see ``Receiver``) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    rows = [f for f in fixes if "error_enu_m" in f]
    if not rows:
        raise ValueError("no fix carries an error against truth")
    t = np.array([f["stream_time_s"] for f in rows])
    enu = np.array([f["error_enu_m"] for f in rows])
    err3 = np.array([f["error_3d_m"] for f in rows])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for k, name in enumerate(("east", "north", "up")):
        top.plot(t, enu[:, k], marker=".", label=name)
    top.axhline(0.0, color="0.6", linewidth=0.8)
    top.set_ylabel("error (m)")
    top.legend(loc="best")
    top.grid(True, alpha=0.3)
    bottom.plot(t, err3, marker=".", color="k", label="3D")
    bottom.set_ylabel("3D error (m)")
    bottom.set_xlabel("stream time (s)")
    bottom.grid(True, alpha=0.3)
    median = float(np.median(err3))
    fig.suptitle(title or f"AFS fixes against truth: {len(rows)} fixes, median 3D error {median:.2f} m")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
