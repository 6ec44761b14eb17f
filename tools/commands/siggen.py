"""`lunarelay siggen`: generate navigation signals to SigMF files or ZeroMQ streams.

The plan comes from a scenario TOML (its ``[siggen]`` table) or from flags.  Samples
are made block by block by the C synthesiser and handed to a sink; a sink has
``write(block)`` and ``close()``, and a file sink ``abort()`` (a failed run leaves no recording
and keeps an earlier one).  :func:`open_sink` chooses it: the SigMF file writer
for ``-o``, and a gr-zeromq-compatible :class:`IqSink` for ``--zmq``.
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np

from hil.scenario_signal import (
    AFS_CARRIER_HZ,
    DEFAULT_MOON_START_S,
    SIGNALS,
    SignalPlan,
    build_synthesizer,
    load_plan,
    plan_from_flags,
    quantise,
    quantiser_table,
    signal_metadata,
)
from hil.world.gps_sky import GpsReceiver
from hil.world.lunar_sky import EPHEMERIS_MODES, LunarReceiver
from lunarelay_tools import zmq_output
from lunarelay_tools.options import number, numbers
from lunarelay_tools.progress import Progress
from onboard.core import simd
from onboard.core.siggen import SampleFormat
from onboard.errors import UsageError
from onboard.links.sigmf import ChannelTruth, SigmfWriter
from onboard.links.zmq_iq import IqSink
from onboard.nav.afs_message import SECONDS_PER_WEEK

MOON_START = divmod(DEFAULT_MOON_START_S, SECONDS_PER_WEEK)   # (WN, TOW) of a lunar receiver's first sample
HELP = "Generate navigation signals (LunaNet AFS, GPS L1 C/A) to SigMF files or ZeroMQ streams"
BLOCK_SAMPLES = 1 << 18


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Comma-separated values that start with a minus sign (a southern latitude, a negative
    # Doppler) are values, not options: argparse only knows single negative numbers.
    parser._negative_number_matcher = re.compile(r"^-[\d.][\d.,eE+-]*$")
    parser.add_argument("scenario", nargs="?",
                        help="TOML file with a [siggen] table (the signal flags are then ignored)")
    parser.add_argument("--signal", choices=SIGNALS, default="gps-l1ca", help="signal (default gps-l1ca)")
    parser.add_argument("--prn", type=numbers(True, lo=1, hi=210), default=[], metavar="N[,N...]",
                        help="PRNs, comma-separated (default 1; with lnav every satellite in view)")
    parser.add_argument("--doppler", type=numbers(lo=-100e3, hi=100e3), default=[0.0], metavar="HZ[,HZ...]",
                        help="carrier Doppler in Hz: one for all PRNs or one per PRN (default 0)")
    parser.add_argument("--cn0", type=numbers(lo=0.0, hi=100.0), metavar="DBHZ[,DBHZ...]",
                        help="C/N0 in dB-Hz: one for all PRNs or one per PRN (default 45); with "
                             "--receiver-moon-llh one value for every node instead of the link budget")
    parser.add_argument("--fs", type=number(lo=2e6, hi=50e6), default=4e6,
                        help="sample rate in Hz, 2e6..50e6 (default 4e6)")
    parser.add_argument("--if", dest="if_hz", type=number(lo=-25e6, hi=25e6), default=0.0,
                        help="IF offset in Hz (default 0)")
    parser.add_argument("--format", choices=("cf32", "ci16", "ci8"), default=None,
                        help="sample format (default ci16; ci8 with --bits)")
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
    moon = parser.add_argument_group("AFS from the constellation's geometry (with --receiver-moon-llh)")
    moon.add_argument("--receiver-moon-llh", metavar="LAT,LON,H",
                      type=numbers(each=({"lo": -90.0, "hi": 90.0}, {"lo": -180.0, "hi": 360.0},
                                         {"lo": -1e4, "hi": 1e5})),
                      help="AFS: a receiver on the Moon (deg, deg, m above the 1737.4 km sphere, ME frame); "
                           "every node in view is synthesised from its orbit, clock and frames")
    moon.add_argument("--start", metavar="WN,TOW",
                      type=numbers(each=({"integer": True, "lo": 0, "hi": 8191},
                                         {"lo": 0.0, "hi": 604799.999})),
                      help=f"AFS week and time of week (s) of the first sample (default {MOON_START[0]:.0f},"
                           f"{MOON_START[1]:g}: the default constellation's four nodes in view of the south "
                           "pole)")
    moon.add_argument("--code-doppler-carrier", type=number(lo=1e8, hi=1e10), metavar="HZ",
                      default=AFS_CARRIER_HZ,
                      help="carrier frequency the Doppler and code Doppler follow (default the S-band "
                           "2492.028e6; L-band front ends run AFS on 1575.42e6)")
    moon.add_argument("--ephemeris", choices=EPHEMERIS_MODES, default="broadcast",
                      help="SB2 ephemeris: the node's own (broadcast) or fitted to the truth orbit (truth)")
    parser.add_argument("--bits", type=int, choices=(2, 3, 4),
                        help="quantise the ci8 output to 2, 3 or 4 bits like a front end's ADC")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="BASE",
                     help="SigMF recording to write: BASE.sigmf-meta and BASE.sigmf-data")
    parser.add_argument("--sha512", action="store_true",
                        help="with -o: put the data file's SHA-512 in the metadata (core:sha512, optional in "
                             "SigMF; it costs about a fifth of the time of a 12 Msps synthesis)")
    out.add_argument("--zmq", metavar="ENDPOINT", help="stream over ZeroMQ (gr-zeromq compatible)")
    zmq_output.add_arguments(parser.add_argument_group("ZeroMQ streaming (with --zmq; gr-zeromq compatible)"),
                             "realtime", "send gr-zeromq's tag header, with an rx_time tag (wall clock at "
                                         "start; on PUB again every second, for subscribers that join late)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _receiver(args: argparse.Namespace) -> GpsReceiver | None:
    if args.nav_data != "lnav":
        return None
    if not args.receiver_llh:
        raise UsageError("--nav-data lnav needs --receiver-llh LAT,LON,H")
    week, tow = args.gps_time or (2360, 345625.0)
    return GpsReceiver.from_llh(*args.receiver_llh, week, tow)


def _moon_receiver(args: argparse.Namespace) -> LunarReceiver | None:
    if args.receiver_moon_llh is None:
        if args.start is not None:
            raise UsageError("--start needs --receiver-moon-llh LAT,LON,H")
        return None
    week, tow = args.start or MOON_START
    return LunarReceiver.from_week(*args.receiver_moon_llh, int(week), tow)


def make_plan(args: argparse.Namespace) -> SignalPlan:
    if args.scenario:
        return load_plan(args.scenario)
    fmt = args.format or ("ci8" if args.bits else "ci16")
    moon = _moon_receiver(args)
    cn0_moon = None
    if moon is not None and args.cn0 is not None:
        if len(args.cn0) != 1:
            raise UsageError("with --receiver-moon-llh, --cn0 takes one C/N0 for every node")
        cn0_moon = args.cn0[0]
    try:
        return plan_from_flags(args.signal, args.prn, args.doppler, args.cn0 or [45.0], args.fs, fmt,
                               args.duration, args.seed, args.if_hz, args.nav_data, _receiver(args),
                               moon, args.ephemeris, args.code_doppler_carrier, args.bits, cn0_moon)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def open_sink(args: argparse.Namespace, plan: SignalPlan, truths: list[ChannelTruth]):
    """Where the samples go: an object with write(block) and close()."""
    if args.zmq:
        return open_zmq_sink(args, plan)
    description = ", ".join(f"{t.signal} PRN {t.prn}" for t in truths)
    glob, annotations = signal_metadata(plan)
    return SigmfWriter(args.output, plan.fmt.name.lower(), plan.fs_hz,
                       center_frequency_hz=plan.center_frequency_hz - plan.if_hz,
                       description=f"lunarelay siggen: {description}", truths=truths,
                       extra_global={"lunarelay:seed": plan.seed, "lunarelay:if_hz": plan.if_hz, **glob},
                       annotations=annotations, sha512=args.sha512)


def open_zmq_sink(args: argparse.Namespace, plan: SignalPlan) -> IqSink:
    if args.sha512:
        raise UsageError("--sha512 is for a SigMF recording (-o), not a --zmq stream")
    return zmq_output.open_sink(args, plan.fmt.name.lower(), plan.fs_hz, quiet=args.quiet, linger_ms=1000)


def run(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    synth, truths = build_synthesizer(plan)
    sink = open_sink(args, plan, truths)
    total = plan.n_samples
    progress = Progress(plan.duration_s, args.quiet, bar=True, decimals=3)
    wall0 = time.monotonic()
    done = 0
    table = quantiser_table(plan.bits) if plan.bits else None
    # One block buffer for the whole run: the sinks write or copy a block before they return.
    buffer = (np.empty(min(BLOCK_SAMPLES, total), np.complex64) if plan.fmt == SampleFormat.CF32
              else np.empty((min(BLOCK_SAMPLES, total), 2), plan.fmt.component_dtype))
    try:
        while done < total:
            n = min(BLOCK_SAMPLES, total - done)
            block = synth.generate(n, plan.fmt, out=buffer[:n])
            sink.write(block if table is None else quantise(block, table))
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
