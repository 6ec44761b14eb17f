"""`lunarelay receive`: acquire, track and decode the LunaNet AFS and fix the position on the Moon.

Reads a SigMF recording (cf32, ci16 or ci8; lunarelay's or anyone's), an LSISIQ interop file, or a
gr-zeromq IQ stream, and runs the receiver of :mod:`hil.receiver`.  Fixes go out as JSON lines
(``-o`` or stdout), decoded frames as JSON lines with ``--frames``, events (acquisition, lock,
tiered-code sync, frames, losses) as text on stderr.  When the recording carries the receiver's
true position a PNG of the error against it goes to ``--plot`` (default: the ``-o`` file's name
with ``.png``).  When it also carries the nodes' truth (``lunarelay siggen --receiver-moon-llh``),
``--ephemeris truth`` fixes with the true orbits and clocks, ``--sise`` adds each node's broadcast
ephemeris error along the line of sight, and ``--budget`` splits every fix's error into receiver
noise and that SISE through the geometry, with a summary line of the budget.  A recording that
ends inside a sample, or a stream that fails, ends the run with its results so far and a one-line
error (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import sys

import numpy as np

from hil.receiver.acquisition import DEFAULT_DOPPLER_MAX_HZ
from hil.receiver.channel import DecodedFrame, Event, Stage
from hil.receiver.receiver import DEFAULT_PRNS, Receiver, ReceiverConfig, Summary
from hil.receiver.source import StreamSource, open_recording
from onboard.core import codes, simd
from onboard.errors import LunarelayError, UsageError

HELP = "Acquire, track and decode the LunaNet AFS from a recording or stream and fix the position"


def _prns(text: str) -> tuple[int, ...] | None:
    if text == "all":
        return tuple(range(1, codes.AFS_PRN_MAX + 1))
    try:
        prns = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--prn takes comma-separated PRNs or 'all', not {text!r}") from None
    bad = [p for p in prns if not 1 <= p <= codes.AFS_PRN_MAX]
    if bad or not prns:
        raise argparse.ArgumentTypeError(f"AFS PRNs are 1..{codes.AFS_PRN_MAX}, not {text!r}")
    return prns


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("input", nargs="?", help="SigMF recording (base name, .sigmf-meta or .sigmf-data) "
                                              "or LSISIQ file")
    src.add_argument("--zmq", metavar="ENDPOINT", help="receive a gr-zeromq IQ stream instead")
    parser.add_argument("--prn", type=_prns, metavar="N[,N...]|all",
                        help="PRNs to search (default: the recording's own, else "
                             f"{DEFAULT_PRNS[0]}..{DEFAULT_PRNS[-1]})")
    parser.add_argument("--doppler-max", type=float, default=DEFAULT_DOPPLER_MAX_HZ, metavar="HZ",
                        help=f"Doppler search range +/- HZ (default {DEFAULT_DOPPLER_MAX_HZ:g})")
    parser.add_argument("--code-doppler-carrier", type=float, metavar="HZ",
                        help="carrier whose Doppler the code rate follows (default: the recording's, "
                             "else 2492.028e6)")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of signal")
    parser.add_argument("--fix-interval", type=float, default=1.0, metavar="S",
                        help="seconds of signal between fixes (default 1)")
    parser.add_argument("--ephemeris", choices=("broadcast", "truth"), default="broadcast",
                        help="node positions and clocks from the broadcast SB2 (default) or the truth "
                             "model, to split the error budget")
    parser.add_argument("--sise", action="store_true",
                        help="report each node's broadcast ephemeris error along the line of sight (SISE) "
                             "against the truth the recording carries")
    parser.add_argument("--budget", action="store_true",
                        help="solve each fix with the broadcast and the true ephemeris and split its error "
                             "into receiver noise and the broadcast ephemeris' SISE (needs a recording "
                             "with truth)")
    parser.add_argument("-o", "--output", metavar="FILE", help="fixes as JSON lines (default stdout)")
    parser.add_argument("--frames", metavar="FILE", help="decoded frames as JSON lines")
    parser.add_argument("--plot", metavar="PNG", help="error-against-truth plot (default: -o's name .png)")
    parser.add_argument("--quiet", action="store_true", help="no event lines on stderr")
    zmq_opts = parser.add_argument_group("ZeroMQ stream (with --zmq; gr-zeromq compatible)")
    zmq_opts.add_argument("--zmq-role", choices=("sub", "pull", "req"), default="pull",
                          help="socket role, as gr-zeromq's sub/pull/req sources (default pull)")
    zmq_opts.add_argument("--zmq-bind", action="store_true", help="bind ENDPOINT instead of connecting")
    zmq_opts.add_argument("--zmq-pass-tags", action="store_true", help="messages carry gr-zeromq tag headers")
    zmq_opts.add_argument("--zmq-timeout", type=float, default=5.0, metavar="S",
                          help="end of stream after S seconds without data (default 5)")
    zmq_opts.add_argument("--fs", type=float, help="stream sample rate in Hz")
    zmq_opts.add_argument("--format", choices=("cf32", "ci16"), default="cf32", help="stream item format")
    zmq_opts.add_argument("--if", dest="if_hz", type=float, default=0.0, help="stream IF in Hz (default 0)")


def open_source(args: argparse.Namespace):
    if args.zmq:
        if args.fs is None:
            raise UsageError("--zmq needs --fs (a stream carries no sample rate)")
        if not args.zmq_timeout > 0:
            raise UsageError(f"--zmq-timeout must be positive, not {args.zmq_timeout}")
        return StreamSource(args.zmq, args.zmq_role, args.format, args.fs, bind=args.zmq_bind,
                            pass_tags=args.zmq_pass_tags, timeout_s=args.zmq_timeout, if_hz=args.if_hz)
    return open_recording(args.input)


def config_from(args: argparse.Namespace) -> ReceiverConfig:
    if not args.doppler_max >= 0:
        raise UsageError(f"--doppler-max must be >= 0, not {args.doppler_max}")
    if not args.fix_interval > 0:
        raise UsageError(f"--fix-interval must be positive, not {args.fix_interval}")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be positive, not {args.duration}")
    return ReceiverConfig(prns=args.prn, doppler_max_hz=args.doppler_max, fix_interval_s=args.fix_interval,
                          ephemeris=args.ephemeris, sise=args.sise, budget=args.budget,
                          max_duration_s=args.duration)


def frame_record(frame: DecodedFrame) -> dict:
    d = frame.decode
    t = d.time
    return {"prn": frame.prn, "start_sample": frame.start_sample, "start_epoch": frame.start_epoch,
            "fid": d.fid, "toi": d.toi, "wn": t.wn if t else None, "itow": t.itow if t else None,
            "time_s": t.seconds if t else None, "sync_metric": round(d.sync_metric, 4),
            "sb1_metric": round(d.sb1_metric, 4), "crc_ok": list(d.crc_ok),
            "ldpc_iterations": [s.iterations for s in d.subframes], "polarity": frame.polarity,
            "data_bits_hex": np.packbits(d.data_bits).tobytes().hex()}


def summary_line(name: str, s: Summary) -> str:
    frames = s.frames
    good = sum(1 for f in frames if all(f.decode.crc_ok))
    tracked = sorted({ch.prn for ch in s.channels})
    lost = [p for p in tracked if all(ch.stage is Stage.LOST for ch in s.channels if ch.prn == p)]
    text = f"{name}: {len(tracked)} node(s) tracked of {len(s.searched)} searched"
    if lost:
        text += f" ({len(lost)} lost by the end: PRN {', '.join(map(str, lost))})"
    text += (f", {len(frames)} frame(s) decoded ({good} with every CRC good), {len(s.fixes)} fix(es)")
    bad_sync = sum(ch.sync_failures for ch in s.channels)
    if bad_sync:
        text += f", {bad_sync} frame(s) whose sync pattern did not match"
    errors = s.errors_3d_m
    if errors:
        text += f", 3D error median {np.median(errors):.2f} m, max {np.max(errors):.2f} m"
    speed = s.seconds / s.wall_s if s.wall_s > 0 else float("inf")
    return text + (f"; {s.seconds:.3f} s of signal at {speed:.2f}x real time on the "
                   f"{simd.active().name.lower()} path")


def budget_line(fixes: list[dict]) -> str | None:
    """The error budget over the fixes that carry one: medians of the 3D error and of its parts."""
    rows = [f for f in fixes if "budget" in f]
    if not rows:
        return None
    sise = [abs(n["sise_m"]) for f in rows for n in f["nodes"]]

    def median(key: str) -> float:
        return float(np.median([f["budget"][key] for f in rows]))

    error = np.median([f["error_3d_m"] for f in rows])
    return (f"error budget over {len(rows)} fix(es), medians: 3D error "
            f"{error:.2f} m = receiver noise {median('noise_3d_m'):.2f} m "
            f"(the fix with the true ephemeris) + broadcast ephemeris {median('ephemeris_3d_m'):.2f} m "
            f"(|SISE| median {np.median(sise):.2f} m, max {np.max(sise):.2f} m, through PDOP "
            f"{np.median([f['pdop'] for f in rows]):.2f}), added as vectors; unexplained at most "
            f"{max(f['budget']['closure_m'] for f in rows):.3f} m")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot writes a PNG file, not {args.plot!r}")
    source = open_source(args)
    if args.code_doppler_carrier is not None:
        if not args.code_doppler_carrier > 0:
            raise UsageError(f"--code-doppler-carrier must be positive, not {args.code_doppler_carrier}")
        source.carrier_hz = args.code_doppler_carrier
    with contextlib.ExitStack() as stack:
        stack.callback(source.close)
        fix_out = stack.enter_context(open(args.output, "w")) if args.output else sys.stdout
        frame_out = stack.enter_context(open(args.frames, "w")) if args.frames else None

        def on_fix(record: dict) -> None:
            fix_out.write(json.dumps(record) + "\n")
            fix_out.flush()

        def on_event(event: Event) -> None:
            if not args.quiet:
                sys.stderr.write(f"{event.sample / source.fs_hz:9.3f} s  {event.text}\n")

        def on_frame(frame: DecodedFrame) -> None:
            if frame_out is not None:
                frame_out.write(json.dumps(frame_record(frame)) + "\n")

        receiver = Receiver(source, config, on_fix, on_event, on_frame)
        failure: LunarelayError | None = None
        try:
            summary = receiver.run()
        except LunarelayError as exc:  # SourceError and ReceiveError included: report what was found
            failure = exc
            summary = receiver.summary
        plot = args.plot or (str(pathlib.Path(args.output).with_suffix(".png")) if args.output else None)
        if plot and source.truth_fixed_m is not None and summary.errors_3d_m:
            from hil.receiver.plot import error_plot

            error_plot(summary.fixes, plot)
        line = summary_line(source.name, summary)
        budget = budget_line(summary.fixes)
        for text in (line, budget) if budget else (line,):
            print(text, file=sys.stdout if args.output else sys.stderr)
    if failure is not None:
        raise failure
    if summary.problem:
        raise LunarelayError(summary.problem)
    return 0
