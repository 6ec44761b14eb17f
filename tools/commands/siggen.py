"""`lunarelay siggen`: generate navigation signals to SigMF files or ZeroMQ streams.

The plan comes from a scenario TOML (its ``[siggen]`` table) or from flags.  Samples
are made block by block by the C synthesiser and handed to a sink; a sink has
``write(block)`` and ``close()``, and a file sink ``abort()`` (a failed run leaves no recording
and keeps an earlier one).  :func:`open_sink` chooses it: the SigMF file writer
for ``-o``, and a gr-zeromq-compatible :class:`IqSink` for ``--zmq``.
"""

from __future__ import annotations

import argparse
import sys
import time

from lunarelay_tools.options import number, numbers
from onboard.core import simd
from onboard.errors import UsageError
from onboard.links.sigmf import ChannelTruth, SigmfWriter
from onboard.links.zmq_iq import IqSink
from onboard.nav.gps_sky import GpsReceiver
from onboard.nav.scenario_signal import (
    SIGNALS,
    SignalPlan,
    build_synthesizer,
    load_plan,
    plan_from_flags,
    signal_metadata,
)

HELP = "Generate navigation signals (LunaNet AFS, GPS L1 C/A) to SigMF files or ZeroMQ streams"
BLOCK_SAMPLES = 1 << 18


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?",
                        help="TOML file with a [siggen] table (the signal flags are then ignored)")
    parser.add_argument("--signal", choices=SIGNALS, default="gps-l1ca", help="signal (default gps-l1ca)")
    parser.add_argument("--prn", type=numbers(True, lo=1, hi=210), default=[], metavar="N[,N...]",
                        help="PRNs, comma-separated (default 1; with lnav every satellite in view)")
    parser.add_argument("--doppler", type=numbers(lo=-100e3, hi=100e3), default=[0.0], metavar="HZ[,HZ...]",
                        help="carrier Doppler in Hz: one for all PRNs or one per PRN (default 0)")
    parser.add_argument("--cn0", type=numbers(lo=0.0, hi=100.0), default=[45.0], metavar="DBHZ[,DBHZ...]",
                        help="C/N0 in dB-Hz: one for all PRNs or one per PRN (default 45)")
    parser.add_argument("--fs", type=number(lo=2e6, hi=50e6), default=4e6,
                        help="sample rate in Hz, 2e6..50e6 (default 4e6)")
    parser.add_argument("--if", dest="if_hz", type=number(lo=-25e6, hi=25e6), default=0.0,
                        help="IF offset in Hz (default 0)")
    parser.add_argument("--format", choices=("cf32", "ci16", "ci8"), default="ci16",
                        help="sample format (default ci16)")
    parser.add_argument("--duration", type=number(above=0.0, hi=1e6), default=1.0,
                        help="seconds of signal (default 1)")
    parser.add_argument("--seed", type=number(True, lo=0, hi=2**64 - 1), default=0,
                        help="noise, code phase and data seed (default 0)")
    parser.add_argument("--nav-data", choices=("random", "zero", "lsis", "lnav"), default="random",
                        help="navigation symbols: random, all zero, or (AFS) lsis frames from each "
                             "node's orbit and clock, or (GPS) lnav: IS-GPS-200 LNAV with Doppler, "
                             "code phase and data from the sky at --receiver-llh and --gps-time "
                             "(default random)")
    parser.add_argument("--receiver-llh", metavar="LAT,LON,H",
                        type=numbers(each=({"lo": -90.0, "hi": 90.0}, {"lo": -180.0, "hi": 360.0},
                                           {"lo": -1e4, "hi": 1e7})),
                        help="lnav: receiver latitude, longitude (deg) and height (m), WGS-84")
    parser.add_argument("--gps-time", metavar="WEEK,TOW",
                        type=numbers(each=({"integer": True, "lo": 0, "hi": 8191},
                                           {"lo": 0.0, "hi": 604799.999})),
                        help="lnav: GPS week and time of week (s) of the first sample (default 2360,345625)")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="BASE",
                     help="SigMF recording to write: BASE.sigmf-meta and BASE.sigmf-data")
    out.add_argument("--zmq", metavar="ENDPOINT", help="stream over ZeroMQ (gr-zeromq compatible)")
    zmq_opts = parser.add_argument_group("ZeroMQ streaming (with --zmq; gr-zeromq compatible)")
    zmq_opts.add_argument("--zmq-role", choices=("pub", "push", "rep"), default="push",
                          help="socket role, as gr-zeromq's pub/push/rep sinks; GNU Radio reads it with "
                               "sub/pull/req_source, srsRAN with its REQ radio (default push)")
    zmq_opts.add_argument("--zmq-connect", action="store_true",
                          help="connect to ENDPOINT instead of binding it")
    zmq_opts.add_argument("--zmq-pace", choices=("realtime", "consumer"), default="realtime",
                          help="real time at the sample rate, or as fast as the consumer takes "
                               "(default realtime)")
    zmq_opts.add_argument("--zmq-pass-tags", action="store_true",
                          help="send gr-zeromq's tag header, with an rx_time tag (wall clock at start; "
                               "on PUB again every second, for subscribers that join late)")
    zmq_opts.add_argument("--zmq-hwm", type=number(True, lo=0, hi=2**31 - 1), metavar="N",
                          help="send high-water mark in messages")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


class Progress:
    """A bar redrawn in place on a terminal; on a pipe or file, one line per tenth of the run."""

    def __init__(self, total_s: float, quiet: bool):
        self.total_s, self.quiet, self.tty = total_s, quiet, sys.stderr.isatty()
        self.decile = -1

    def update(self, done_s: float, text: str) -> None:
        if self.quiet:
            return
        fraction = min(1.0, done_s / self.total_s) if self.total_s else 1.0
        if self.tty:
            end = "\n" if fraction >= 1.0 else ""
            bar = "#" * int(30 * fraction)
            sys.stderr.write(f"\r[{bar:.<30}] {done_s:.3f}/{self.total_s:g} s  {text}{end}")
        elif int(fraction * 10) > self.decile:
            self.decile = int(fraction * 10)
            sys.stderr.write(f"{fraction:4.0%} {done_s:.3f}/{self.total_s:g} s  {text}\n")
        sys.stderr.flush()


def _receiver(args: argparse.Namespace) -> GpsReceiver | None:
    if args.nav_data != "lnav":
        return None
    if not args.receiver_llh:
        raise UsageError("--nav-data lnav needs --receiver-llh LAT,LON,H")
    week, tow = args.gps_time or (2360, 345625.0)
    return GpsReceiver.from_llh(*args.receiver_llh, week, tow)


def make_plan(args: argparse.Namespace) -> SignalPlan:
    if args.scenario:
        return load_plan(args.scenario)
    try:
        return plan_from_flags(args.signal, args.prn, args.doppler, args.cn0, args.fs, args.format,
                               args.duration, args.seed, args.if_hz, args.nav_data, _receiver(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def open_sink(args: argparse.Namespace, plan: SignalPlan, truths: list[ChannelTruth]):
    """Where the samples go: an object with write(block) and close()."""
    if args.zmq:
        return open_zmq_sink(args, plan)
    description = ", ".join(f"{t.signal} PRN {t.prn}" for t in truths)
    return SigmfWriter(args.output, plan.fmt.name.lower(), plan.fs_hz,
                       center_frequency_hz=plan.center_frequency_hz - plan.if_hz,
                       description=f"lunarelay siggen: {description}", truths=truths,
                       extra_global={"lunarelay:seed": plan.seed, "lunarelay:if_hz": plan.if_hz,
                                     **signal_metadata(plan)})


def open_zmq_sink(args: argparse.Namespace, plan: SignalPlan) -> IqSink:
    fmt = plan.fmt.name.lower()
    if fmt not in ("cf32", "ci16"):
        raise UsageError(f"--zmq streams cf32 or ci16 items (gr-zeromq), not {fmt}")
    sink = IqSink(args.zmq, args.zmq_role, fmt, bind=not args.zmq_connect, pass_tags=args.zmq_pass_tags,
                  hwm=args.zmq_hwm, pacing=args.zmq_pace, sample_rate_sps=plan.fs_hz,
                  rx_time=time.time() if args.zmq_pass_tags else None,
                  rx_time_interval_s=1.0 if args.zmq_pass_tags and args.zmq_role == "pub" else None,
                  linger_ms=1000)
    if args.zmq_role == "pub":
        if not args.quiet:
            sys.stderr.write(f"waiting for a subscriber on {sink.endpoint}\n")
        while not sink.wait_for_subscriber(timeout_s=1.0):
            pass
    return sink


def run(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    synth, truths = build_synthesizer(plan)
    sink = open_sink(args, plan, truths)
    total = plan.n_samples
    progress = Progress(plan.duration_s, args.quiet)
    wall0 = time.monotonic()
    done = 0
    try:
        while done < total:
            n = min(BLOCK_SAMPLES, total - done)
            sink.write(synth.generate(n, plan.fmt))
            done += n
            progress.update(done / plan.fs_hz, f"{done} samples")
    except BaseException:
        # a recording is complete or not there, so an earlier one survives; a stream just stops
        getattr(sink, "abort", sink.close)()
        raise
    sink.close()
    speed = plan.duration_s / max(time.monotonic() - wall0, 1e-9)
    where = args.output or args.zmq
    sent = (f"; {sink.stats.blocks} messages, {sink.stats.drops} dropped, {sink.stats.late_blocks} late"
            if isinstance(sink, IqSink) else "")
    print(f"{where}: {total} {plan.fmt.name.lower()} samples at {plan.fs_hz / 1e6:g} Msps, "
          f"{len(truths)} channel(s), {synth.clipped} clipped components; "
          f"{speed:.1f}x real time on the {simd.active().name.lower()} path{sent}")
    return 0
