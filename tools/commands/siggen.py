"""`lunarelay siggen`: generate navigation signals to SigMF files or ZeroMQ streams."""

from __future__ import annotations

import argparse

from onboard.errors import LunarelayError

HELP = "Generate navigation signals (LunaNet AFS, GPS L1 C/A) to SigMF files or ZeroMQ streams"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise LunarelayError("'siggen' is not available in this version of lunarelay")
