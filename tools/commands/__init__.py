"""One module per ``lunarelay`` subcommand.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
"""

NAMES = ["emulate", "siggen", "receive", "encode", "decode", "inspect", "bench", "hil"]
