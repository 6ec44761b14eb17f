"""What ``lunarelay inspect`` says at the end: the detected link, every layer's counters, one table
per APID, and the octet accounting ("why not parsed"), as a dict (``--json`` summary line) and as
``rich`` tables in the terminal."""

from __future__ import annotations

import datetime
import math
import shlex

from lunarelay_tools.inspect.accounting import REASONS, Ledger
from lunarelay_tools.inspect.session import StreamInspection
from lunarelay_tools.inspect.stats import tai_to_unix

MAX_RANGES_SHOWN = 12
LAYER_TITLES = {"cadu": "channel (CADUs)", "master_channel": "master channel (frames)", "tc": "TC frames",
                "cltu": "CLTUs", "serial": "serial framing", "packets": "packet stream",
                "tcp": "TCP stream"}


def utc(tai: float | None) -> str:
    if tai is None or tai != tai:
        return ""
    t = datetime.datetime.fromtimestamp(tai_to_unix(tai), datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stream_summary(s: StreamInspection, dictionary=None) -> dict:
    det = s.detection
    d: dict = {"stream": s.name, "input_octets": s.input_octets}
    if det is not None and det.params is not None:
        d["link"] = det.params.as_dict()
        d["link"]["description"] = det.params.describe()
        d["flags"] = det.params.flags()
        if det.container in ("asm", "kiss", "slip"):
            d["flags"] = ["--format", det.container, "--serial-crc" if det.serial_crc else "--no-serial-crc"]
            d["link"]["description"] = (f"{det.container.upper()} serial frames holding space packets"
                                        + (", CRC-16 after each" if det.serial_crc else ""))
        d["evidence"] = det.evidence
        d["vcids_seen_first_frames"] = list(det.vcids_seen)
    else:
        d["link"] = None
        d["nothing_fits"] = det.why_not() if det is not None else "no octets"
    d["layers"] = s.layer_stats()
    apids = []
    for apid, st in sorted(s.stats.apids.items()):
        row = st.as_dict()
        row["name"] = dictionary.name_of(apid) if dictionary is not None else ""
        row["first_utc"], row["last_utc"] = utc(st.first_time), utc(st.last_time)
        apids.append(row)
    d["apids"] = apids
    d["packets"] = s.stats.totals()
    return d


def summary(name: str, size: int, ledger: Ledger, streams: list[StreamInspection], dictionary=None,
            capture: dict | None = None) -> dict:
    d = {"input": name, "input_octets": size}
    if capture is not None:
        d["capture"] = capture
    d["streams"] = [stream_summary(s, dictionary) for s in streams]
    d["accounting"] = ledger.as_dict(size)
    return d


# --- terminal ------------------------------------------------------------------------------------------
def _fmt_rate(r) -> str:
    return "" if r is None or (isinstance(r, float) and math.isnan(r)) else f"{r:.3g}"


def render(console, d: dict, max_ranges: int = MAX_RANGES_SHOWN) -> None:
    from rich.table import Table

    console.print(f"[bold]{d['input']}[/bold]: {d['input_octets']} octets")
    if "capture" in d:
        c = d["capture"]
        console.print(f"  {c['format']} capture: {c['records']} records on {c['interfaces']} interface(s)"
                      + (f"; {c['unsupported_records']} records not read" if c["unsupported_records"] else "")
                      + (f"; reading stopped: {c['problem']}" if c.get("problem") else ""))
    for s in d["streams"]:
        console.print()
        if s["link"] is None:
            console.print(f"[bold red]{s['stream']}: nothing fits[/bold red] — {s['nothing_fits']}")
            continue
        console.print(f"[bold]{s['stream']}[/bold]: detected {s['link']['description']}")
        for e in s.get("evidence", []):
            console.print(f"  evidence: {e}")
        if s.get("vcids_seen_first_frames"):
            console.print(f"  virtual channels in the first frames: "
                          f"{', '.join(str(v) for v in s['vcids_seen_first_frames'])}")
        console.print(f"  pin it with: [cyan]{shlex.join(s['flags'])}[/cyan]")
        _layers(console, s["layers"], Table)
        _apids(console, s, Table)
    _accounting(console, d["accounting"], Table, max_ranges)


def _layers(console, layers: dict, Table) -> None:
    for key in LAYER_TITLES:
        if key in layers and isinstance(layers[key], dict):
            vals = layers[key]
            title = LAYER_TITLES[key]
            console.print(f"  {title}: " + ", ".join(f"{k}={v}" for k, v in vals.items()))
    if layers.get("spacecraft_ids") and len(layers["spacecraft_ids"]) > 1:
        console.print(f"  spacecraft IDs seen: {layers['spacecraft_ids']}")
    vcs = layers.get("virtual_channels")
    if vcs and any(isinstance(v, dict) and len(v) > 1 for v in vcs.values()):
        t = Table(title="virtual channels", title_justify="left", show_edge=False)
        cols = ["frames", "idle_frames", "vc_gaps", "vc_frames_lost", "vc_out_of_order", "fhp_errors",
                "packet_start_lost", "packet_end_lost", "bad_packets", "packets", "idle_packets"]
        t.add_column("VC", justify="right")
        for c in cols:
            t.add_column(c.replace("_", " "), justify="right")
        for v, st in vcs.items():
            t.add_row(str(v), *(str(st.get(c, "")) for c in cols))
        console.print(t)


def _apids(console, s: dict, Table) -> None:
    if not s["apids"]:
        console.print("  no packets")
        return
    t = Table(title=f"packets by APID ({s['packets']['packets']} packets)", title_justify="left",
              show_edge=False)
    for c in ("APID", "name", "VC", "packets", "octets", "rate /s", "seq gaps", "lost", "dup", "first (UTC)",
              "last (UTC)", "limits Y/R"):
        t.add_column(c, justify="left" if c in ("name", "VC", "first (UTC)", "last (UTC)") else "right")
    for a in s["apids"]:
        lim = f"{a['limit_yellow']}/{a['limit_red']}" if a["limit_yellow"] or a["limit_red"] else ""
        style = "red" if a["limit_red"] else "yellow" if a["limit_yellow"] else None
        t.add_row(f"{a['apid']:#05x}", a["name"], ",".join(str(v) for v in a["vcids"]), str(a["packets"]),
                  str(a["octets"]), _fmt_rate(a["rate_hz"]), str(a["sequence_gaps"]), str(a["packets_lost"]),
                  str(a["duplicates"]), a["first_utc"], a["last_utc"], lim, style=style)
    console.print(t)


def _accounting(console, acc: dict, Table, max_ranges: int) -> None:
    total = acc["input_octets"]
    t = Table(title="where every input octet went", title_justify="left", show_edge=False)
    t.add_column("reason")
    t.add_column("octets", justify="right")
    t.add_column("%", justify="right")
    t.add_column("")
    for reason, n in acc["octets"].items():
        kind, text = REASONS[reason]
        style = "red" if kind == "problem" else None
        t.add_row(reason, str(n), f"{100 * n / total:.2f}" if total else "", text, style=style)
    t.add_row("total", str(acc["total"]), "", f"of {total} input octets; unaccounted {acc['unaccounted']}",
              style="bold")
    console.print()
    console.print(t)
    ranges = acc["ranges"]
    if ranges:
        console.print(f"  problem ranges ({len(ranges) + acc.get('ranges_not_listed', 0)}; octet offsets in "
                      "their stream):")
        for r in ranges[:max_ranges]:
            note = f" ({r['note']})" if r.get("note") else ""
            console.print(f"    {r['space']}: [{r['start']}, {r['end']}) {r['end'] - r['start']} octets "
                          f"{r['reason']}{note}")
        if len(ranges) > max_ranges:
            console.print(f"    ... {len(ranges) - max_ranges} more in the --json summary")
