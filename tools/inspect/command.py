"""The body of ``lunarelay inspect``: dictionaries and outputs from the options, the input read in
pieces (or as a capture, or live), the summary printed and written."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from hil.capture import is_capture
from lunarelay_tools.inspect import report
from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.dictionaries import (
    Dictionary,
    DictionaryError,
    load_csv,
    load_xtce,
    project_dictionary,
)
from lunarelay_tools.inspect.outputs import (
    CsvWriter,
    JsonLinesWriter,
    Outputs,
    ParquetWriter,
    PcapngOut,
    SplitWriter,
)
from lunarelay_tools.inspect.session import Options, StreamInspection, inspect_capture
from onboard.errors import LunarelayError, UsageError

PIECE = 8 << 20
LIVE = ("udp://", "tcp://", "tcp-listen://", "serial:", "zmq+sub://", "bus:")


def build_dictionary(defines: list[str], project: bool) -> Dictionary:
    d = Dictionary()
    if project:
        d.extend(project_dictionary())
    for spec in defines:
        m = re.fullmatch(r"(?:(0x[0-9a-fA-F]+|\d+)=)?(.+)", spec)
        apid_text, path = m.group(1), m.group(2)
        if not os.path.exists(path):
            raise LunarelayError(f"--define {spec}: {path}: no such file")
        try:
            if path.lower().endswith(".xml"):
                for t in load_xtce(path):
                    d.add(t)
            else:
                if apid_text is None:
                    raise UsageError(f"--define {spec}: a CSV definition needs its APID: "
                                     f"--define APID={path}")
                apid = int(apid_text, 0)
                if not 0 <= apid < 2047:
                    raise UsageError(f"--define {spec}: APID {apid} is outside 0..2046")
                d.add(load_csv(path, apid))
        except DictionaryError as exc:
            raise LunarelayError(str(exc)) from None
    return d


def build_outputs(args: argparse.Namespace, dictionary: Dictionary,
                  stdout) -> tuple[Outputs, JsonLinesWriter | None]:
    outputs = Outputs(dictionary, decode=True)
    json_writer = None
    if args.json:
        json_writer = JsonLinesWriter(stdout if args.json == "-" else args.json)
        outputs.add(json_writer)
    if args.csv:
        outputs.add(CsvWriter(args.csv, args.csv_layout))
    if args.parquet:
        outputs.add(ParquetWriter(args.parquet))
    if args.split_dir:
        outputs.add(SplitWriter(args.split_dir))
    if args.pcapng:
        outputs.add(PcapngOut(args.pcapng))
    if args.plot:
        from lunarelay_tools.inspect.plots import PlotCollector

        outputs.add(PlotCollector(args.plot, args.plot_field))
    return outputs, json_writer


def _console(stream):
    from rich.console import Console

    tty = stream.isatty() if hasattr(stream, "isatty") else False
    return Console(file=stream, width=None if tty else 160, highlight=False, soft_wrap=False,
                   force_terminal=None if tty else False)


def inspect_main(args: argparse.Namespace, pinned: dict, stdout, stderr) -> int:
    dictionary = build_dictionary(args.define, not args.no_project_dictionary)
    outputs, json_writer = build_outputs(args, dictionary, stdout)
    if args.sdls_keys is not None:
        from onboard.ccsds.sdls import Sdls, SdlsConfigError

        try:
            Sdls.from_key_file(args.sdls_keys)          # a bad key file is one clear error, up front
        except SdlsConfigError as exc:
            raise LunarelayError(f"--sdls-keys: {exc}") from None
    options = Options(pinned=pinned, time_code=args.time_code, frame_sink=outputs.frames,
                      sdls_keys=args.sdls_keys, series=bool(args.plot))
    try:
        if args.input.startswith(LIVE) or args.follow:
            from lunarelay_tools.inspect.live import run_live

            summary, ok, streams = run_live(args, options, outputs, dictionary,
                                            _console(stderr if json_writer and args.json == "-" else stdout))
        else:
            summary, ok, streams = inspect_file(args.input, options, outputs, dictionary)
    finally:
        outputs.close()
    if args.plot:
        for w in outputs.writers:
            if hasattr(w, "render"):
                summary["plots"] = w.render(summary, streams, dictionary)
    if json_writer is not None:
        if args.json == "-":
            json_writer.summary(summary)
            sys.stdout.flush()
        else:
            with open(args.json, "a", encoding="utf-8") as f:
                f.write(json.dumps({"summary": summary}, default=str) + "\n")
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, default=str)
    console = _console(stderr if json_writer is not None and args.json == "-" else stdout)
    if not args.follow:
        report.render(console, summary, args.max_ranges)
        if outputs.limits:
            _print_limits(console, outputs.limits)
    if not ok:
        reasons = [s.get("nothing_fits") for s in summary["streams"] if s.get("link") is None]
        print(f"lunarelay inspect: error: {args.input}: nothing fits"
              + (f" ({reasons[0]})" if reasons and reasons[0] else ""), file=stderr)
        return 1
    return 0


def _print_limits(console, limits) -> None:
    bad = {k: v for k, v in limits.items() if v.yellow or v.red}
    if not bad:
        return
    console.print("  limit violations:")
    for (ptype, field), c in sorted(bad.items()):
        console.print(f"    {ptype}.{field}: {c.yellow} yellow, {c.red} red (worst value {c.worst})",
                      style="red" if c.red else "yellow")


def _read_pieces(path: str):
    if path == "-":
        stream = sys.stdin.buffer
        while piece := stream.read(PIECE):
            yield piece
        return
    with open(path, "rb") as f:
        while piece := f.read(PIECE):
            yield piece


def inspect_file(path: str, options: Options, outputs: Outputs,
                 dictionary: Dictionary | None) -> tuple[dict, bool, list[StreamInspection]]:
    """A file (or stdin) whole: a capture's flows, or one stream; (summary, recognised, streams)."""
    pieces = _read_pieces(path)
    first = next(pieces, b"")
    name = "stdin" if path == "-" else path
    if is_capture(first[:4]) and options.pinned.get("format") in (None, "pcap"):
        data = first + b"".join(pieces)
        result = inspect_capture(data, name, options, [outputs])
        c = result.capture
        capture = {"format": c.format, "records": len(c.records), "interfaces": len(c.interfaces),
                   "unsupported_records": result.unsupported_records, "problem": c.problem,
                   "link_types": sorted({i.linktype for i in c.interfaces})}
        summary = report.summary(name, c.size, result.ledger, result.flows, dictionary, capture)
        ok = any(f.detection is not None and f.detection.params is not None for f in result.flows) or \
            (not result.flows and not c.records and c.problem is None)
        return summary, ok, result.flows
    stream = StreamInspection(name, options, [outputs])
    stream.push(first)
    for piece in pieces:
        stream.push(piece)
    stream.finish()
    ledger = Ledger(name)
    ledger.merge(stream.ledger)
    summary = report.summary(name, stream.input_octets, ledger, [stream], dictionary)
    ok = stream.detection is not None and stream.detection.params is not None or stream.input_octets == 0
    return summary, ok, [stream]
