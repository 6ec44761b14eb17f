"""`lunarelay decode`: Decode a CCSDS CADU stream back to frames and packets, with per-layer statistics."""

from __future__ import annotations

import argparse

from onboard.errors import LunarelayError

HELP = "Decode a CCSDS CADU stream back to frames and packets, with per-layer statistics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise LunarelayError("'decode' is not available in this version of lunarelay")
