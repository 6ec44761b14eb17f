"""The default constellation's geometry over the south-pole lander, against the phasing it replaced.

Over one day from the constellation's epoch, every 5 min, with the truth orbits: how many
navigation nodes are above the lander's 5 deg mask and the PDOP of a fix from them
(``hil.world.contacts.site_pdop``).  The figures are the share of the day with four nodes in
view and PDOP under 10 (10 m in 3D from about 1 m of range error per node, the broadcast
ephemeris' SISE of up to 0.7 m and the receiver's noise), and the median PDOP; the baseline is the
same four orbits phased as they were before (planes 90 deg apart, 10 deg apart in mean anomaly:
all four at apolune together, at one elevation).  The plot of both over the day goes to
``south_pole_pdop.png`` in LUNARELAY_BENCH_DIR (default: the current directory).
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib

import numpy as np

from hil.world.constellation import Constellation, load_constellation
from hil.world.contacts import site_pdop
from lunarelay_tools.bench import Measurement
from onboard.nav.lunar_orbit import KeplerElements

SUITE = "geometry"
DESCRIPTION = "south-pole PDOP of the default constellation over a day vs the 10 deg phasing (PNG)"
PDOP_BOUND = 10.0
DAY_S = 86400.0


def bunched(c: Constellation) -> Constellation:
    """The same nodes in planes 90 deg apart, 10 deg apart in mean anomaly (the former phasing)."""
    nodes = []
    for k, node in enumerate(c.nodes):
        el = node.elements
        moved = KeplerElements(el.a_m, el.e, el.i_rad, math.radians(90.0 * k), el.argp_rad,
                               math.radians(10.0 * k), el.epoch_s)
        nodes.append(dataclasses.replace(node, elements=moved))
    return dataclasses.replace(c, nodes=tuple(nodes), _orbits={})


def day_figures(c: Constellation, step_s: float = 300.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hours = np.arange(0.0, DAY_S, step_s) / 3600.0
    counts, pdop = site_pdop(c, c.surface_users[0], c.epoch_s + hours * 3600.0)
    return hours, counts, pdop


def usable(counts: np.ndarray, pdop: np.ndarray) -> float:
    return float(np.mean((counts >= 4) & (pdop < PDOP_BOUND)))


def run(quick: bool = False) -> list[Measurement]:
    c = load_constellation()
    step = 900.0 if quick else 300.0
    now, before = day_figures(c, step), day_figures(bunched(c), step)
    lander = c.surface_users[0].name
    results = [
        Measurement(SUITE, f"{lander}: share of the day with 4 nodes, PDOP < {PDOP_BOUND:g}",
                    100.0 * usable(*now[1:]), "% of the day", "10 deg phasing", 100.0 * usable(*before[1:])),
        Measurement(SUITE, f"{lander}: share of the day with 4 nodes in view",
                    100.0 * float(np.mean(now[1] >= 4)), "% of the day", "10 deg phasing",
                    100.0 * float(np.mean(before[1] >= 4))),
        Measurement(SUITE, f"{lander}: median PDOP with 4 nodes", _median(now[2]), "PDOP", "10 deg phasing",
                    _median(before[2])),
    ]
    _plot(pathlib.Path(os.environ.get("LUNARELAY_BENCH_DIR", ".")) / "south_pole_pdop.png", now, before)
    return results


def _median(pdop: np.ndarray) -> float:
    finite = pdop[np.isfinite(pdop)]
    return float(np.median(finite)) if finite.size else math.inf


def _plot(path: pathlib.Path, now, before) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, height_ratios=(2, 1))
    for (hours, counts, pdop), label, style in ((now, "default: two pairs half a day apart", "b-"),
                                                (before, "10 deg phasing", "r--")):
        top.semilogy(hours, np.where(np.isfinite(pdop), pdop, np.nan), style, label=label)
        bottom.step(hours, counts, style, where="post", label=label)
    top.axhline(PDOP_BOUND, color="k", lw=0.8, ls=":")
    top.set_ylabel("PDOP (4 nodes in view)")
    top.set_ylim(1.0, 1e3)
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8)
    top.set_title("South-pole lander (-89.66, 129.20): PDOP and nodes above the 5 deg mask over a day")
    bottom.set_ylabel("nodes in view")
    bottom.set_xlabel("hours after the constellation's epoch (WN 2400, TOW 345600)")
    bottom.set_yticks(range(5))
    bottom.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
