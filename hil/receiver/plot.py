"""The receiver's error against truth as a PNG: each fix's east, north and up error over stream time,
and, when the fixes carry an error budget (``lunarelay receive --budget``), its two parts: the
receiver's noise (the fix with the true ephemeris) and the broadcast ephemeris' SISE carried
through the geometry, with the 3D sizes on a log scale so that centimetres and hundreds of metres
read on one axis."""

from __future__ import annotations

import os

import numpy as np

ENU_COLOURS = {"east": "tab:blue", "north": "tab:orange", "up": "tab:green"}


def _enu_panel(ax, t: np.ndarray, enu: np.ndarray, title: str) -> None:
    for k, name in enumerate(ENU_COLOURS):
        ax.plot(t, enu[:, k], marker=".", markersize=4, color=ENU_COLOURS[name], label=name)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_ylabel("error (m)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    ax.grid(True, alpha=0.3)


def error_plot(fixes: list[dict], path: str | os.PathLike, title: str = "") -> None:
    """Write the plot of the fixes that carry ``error_enu_m`` (see ``Receiver``) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    rows = [f for f in fixes if "error_enu_m" in f]
    if not rows:
        raise ValueError("no fix carries an error against truth")
    budget = all("budget" in f for f in rows)
    t = np.array([f["stream_time_s"] for f in rows])
    enu = np.array([f["error_enu_m"] for f in rows])
    err3 = np.array([f["error_3d_m"] for f in rows])
    ephemeris = rows[0].get("ephemeris", "broadcast")
    panels = 3 if budget else 2
    fig, axes = plt.subplots(panels, 1, figsize=(9, 2.6 * panels + 0.8), sharex=True)
    _enu_panel(axes[0], t, enu, f"fix error with the {ephemeris} ephemeris (east, north, up at the true "
                                f"position)")
    sizes = axes[-1]
    # The fix's line is drawn wide and grey beneath its parts, which it may cover where one dominates.
    sizes.plot(t, err3, color="0.55" if budget else "k", linewidth=4 if budget else 1.5, marker=".",
               markersize=4, label="fix")
    if budget:
        noise = np.array([f["budget"]["noise_enu_m"] for f in rows])
        _enu_panel(axes[1], t, noise, "receiver noise: the same measurements fixed with the true ephemeris")
        noise3 = np.array([f["budget"]["noise_3d_m"] for f in rows])
        eph3 = np.array([f["budget"]["ephemeris_3d_m"] for f in rows])
        sizes.plot(t, eph3, marker=".", markersize=4, color="tab:red", label="broadcast\nephemeris (SISE)")
        sizes.plot(t, noise3, marker=".", markersize=4, color="tab:purple", label="receiver noise")
        sise = [abs(n["sise_m"]) for f in rows for n in f["nodes"]]
        sizes.set_title(f"3D error and its parts (as vectors); |SISE| {min(sise):.2f} .. {max(sise):.2f} m "
                        f"along the lines of sight", fontsize=10, loc="left")
    else:
        sizes.set_title("3D error", fontsize=10, loc="left")
    positive = np.concatenate([line.get_ydata() for line in sizes.get_lines()])
    positive = positive[positive > 0]
    if positive.size and positive.max() > 20 * positive.min():
        sizes.set_yscale("log")
    sizes.set_ylabel("3D error (m)")
    sizes.set_xlabel("stream time (s)")
    sizes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    sizes.grid(True, which="both", alpha=0.3)
    pdops = [f["pdop"] for f in rows if "pdop" in f]
    pdop = f", PDOP {np.median(pdops):.1f}" if pdops else ""
    fig.suptitle(title or f"AFS fixes against truth: {len(rows)} fixes, 3D error median "
                          f"{np.median(err3):.2f} m, max {err3.max():.2f} m{pdop}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
