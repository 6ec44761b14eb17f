"""The ``lunarelay`` command.

Exit codes: 0 success, 1 runtime error, 2 usage error.  A failure prints one line
naming what was wrong and with which input; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from lunarelay_tools.commands import NAMES
from lunarelay_tools.options import OneLineParser
from onboard import __version__
from onboard.errors import LunarelayError, UsageError

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``only`` that one (each command's module imports what
    it runs on: a command starts without importing the others')."""
    parser = OneLineParser(
        prog="lunarelay",
        description="Onboard navigation-and-relay emulator for lunar relay satellites.",
    )
    parser.add_argument("--version", action="version", version=f"lunarelay {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in NAMES if only is None else [only]:
        module = importlib.import_module(f"lunarelay_tools.commands.{name}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks on errors")
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def _command_named(argv: list[str]) -> str | None:
    """The command the arguments name (their first word that is not an option), if it is one."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in NAMES else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(_command_named(argv))
    except LunarelayError as exc:  # e.g. a C core that needs rebuilding
        print(f"lunarelay: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return int(args.run(args) or EXIT_OK)
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"lunarelay {args.command}: usage error: {exc}\n")
    except (LunarelayError, OSError, ValueError) as exc:
        if debug:
            traceback.print_exc()
        print(f"lunarelay {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        print(f"lunarelay {args.command}: interrupted", file=sys.stderr)
        return EXIT_RUNTIME
    except Exception as exc:  # noqa: BLE001 - the last line of defence prints one line
        if debug:
            traceback.print_exc()
        print(f"lunarelay {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
