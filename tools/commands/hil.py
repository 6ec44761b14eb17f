"""`lunarelay hil`: Run the hardware-in-the-loop bench described by a bench file."""

from __future__ import annotations

import argparse

from onboard.errors import LunarelayError

HELP = "Run the hardware-in-the-loop bench described by a bench file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise LunarelayError("'hil' is not available in this version of lunarelay")
