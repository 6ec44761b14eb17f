"""The gr-zeromq-compatible IQ stream that ``lunarelay siggen --zmq`` and ``lunarelay encode
--modulate ... --zmq`` write: its options (role, bind or connect, pacing, tag header, high-water
mark) and the opening of its :class:`~onboard.links.zmq_iq.IqSink`, one way for both commands.
"""

from __future__ import annotations

import argparse
import sys
import time

from lunarelay_tools.options import number
from onboard.errors import UsageError
from onboard.links.zmq_iq import IqSink


def add_arguments(group: argparse._ArgumentGroup, pace_default: str, tags_help: str) -> None:
    """The stream's options (``--zmq ENDPOINT`` itself is the command's: alone or beside a file)."""
    group.add_argument("--zmq-role", choices=("pub", "push", "rep"), default="push",
                       help="socket role, as gr-zeromq's pub/push/rep sinks; GNU Radio reads it with "
                            "sub/pull/req_source, srsRAN with its REQ radio (default push)")
    group.add_argument("--zmq-connect", action="store_true", help="connect to ENDPOINT instead of binding it")
    group.add_argument("--zmq-pace", choices=("realtime", "consumer"), default=pace_default,
                       help=f"real time at the sample rate, or as fast as the consumer takes "
                            f"(default {pace_default})")
    group.add_argument("--zmq-pass-tags", action="store_true", help=tags_help)
    group.add_argument("--zmq-hwm", type=number(True, lo=0, hi=2**31 - 1), metavar="N",
                       help="send high-water mark in messages")


def open_sink(args: argparse.Namespace, fmt: str, sample_rate_sps: float, *, quiet: bool,
              linger_ms: int) -> IqSink:
    """The stream ``args`` asks for, of ``fmt`` items at ``sample_rate_sps``; a PUB waits here
    until a subscriber is there, so the stream's start is not lost.  With ``--zmq-pass-tags`` the
    first message carries ``rx_time`` (the wall clock now), and on PUB so does one a second."""
    if fmt not in ("cf32", "ci16"):
        raise UsageError(f"--zmq streams cf32 or ci16 items (gr-zeromq), not {fmt}")
    tags = args.zmq_pass_tags
    sink = IqSink(args.zmq, args.zmq_role, fmt, bind=not args.zmq_connect, pass_tags=tags,
                  hwm=args.zmq_hwm, pacing=args.zmq_pace, sample_rate_sps=sample_rate_sps,
                  rx_time=time.time() if tags else None,
                  rx_time_interval_s=1.0 if tags and args.zmq_role == "pub" else None, linger_ms=linger_ms)
    if args.zmq_role == "pub":
        if not quiet:
            sys.stderr.write(f"waiting for a subscriber on {sink.endpoint}\n")
        while not sink.wait_for_subscriber(timeout_s=1.0):
            pass
    return sink
