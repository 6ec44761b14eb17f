"""`lunarelay encode`: Encode space packets into a CCSDS CADU stream, or TC frames into CLTUs."""

from __future__ import annotations

import argparse

from onboard.errors import LunarelayError

HELP = "Encode space packets into a CCSDS CADU stream, or TC frames into CLTUs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise LunarelayError("'encode' is not available in this version of lunarelay")
