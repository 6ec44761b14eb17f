"""`lunarelay inspect`: Inspect CCSDS packets and frames in files, pcaps and live ZeroMQ streams."""

from __future__ import annotations

import argparse

from onboard.errors import LunarelayError

HELP = "Inspect CCSDS packets and frames in files, pcaps and live ZeroMQ streams"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise LunarelayError("'inspect' is not available in this version of lunarelay")
