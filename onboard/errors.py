"""The one base error of lunarelay: a failure the user can act on, shown as one line."""


class LunarelayError(Exception):
    """Raised for bad input, bad configuration or a failed operation; the CLI prints it as one line."""


class UsageError(LunarelayError):
    """The command line or a configuration asks for something impossible (exit code 2)."""
