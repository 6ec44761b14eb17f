"""The progress line of the long-running commands (``emulate``, ``siggen``) on stderr."""

from __future__ import annotations

import sys


class Progress:
    """A status line redrawn in place on a terminal (with a bar when ``bar``); on a pipe or a file,
    one line per tenth of the run.  Seconds are shown with ``decimals`` decimals."""

    def __init__(self, total_s: float, quiet: bool, bar: bool = False, decimals: int = 0):
        self.total_s, self.quiet, self.bar, self.decimals = total_s, quiet, bar, decimals
        self.tty = sys.stderr.isatty()
        self.decile = -1

    def update(self, done_s: float, text: str) -> None:
        if self.quiet:
            return
        fraction = min(1.0, done_s / self.total_s) if self.total_s else 1.0
        seconds = f"{done_s:.{self.decimals}f}/{self.total_s:g} s  {text}"
        if self.tty:
            bar = f"[{'#' * int(30 * fraction):.<30}] " if self.bar else ""
            sys.stderr.write(f"\r\x1b[K{bar}{seconds}" + ("\n" if fraction >= 1.0 else ""))
        elif int(fraction * 10) > self.decile:
            self.decile = int(fraction * 10)
            sys.stderr.write(f"{fraction:4.0%} {seconds}\n")
        sys.stderr.flush()
