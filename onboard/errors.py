"""The errors of lunarelay: one root, ``LunarelayError``, for every failure the user can act on,
shown as one line that names its input (the CLI prints it; ``--debug`` adds the traceback).

The C core's status travels in ``onboard.core.CoreError``; the rest of the tree raises these, or
subclasses named for their layer (``ScenarioError``, ``PacketError``, ...).  Errors about values
(a frame, a field, a message) are also ``ValueError``, so callers that catch ``ValueError`` keep
working.
"""


class LunarelayError(Exception):
    """Raised for bad input, bad configuration or a failed operation; the CLI prints it as one line."""


class UsageError(LunarelayError):
    """The command line or a configuration asks for something impossible (exit code 2)."""


class FrameError(LunarelayError, ValueError):
    """A byte string is not a usable transfer frame (TM, TC, AOS, Proximity-1, AFS navigation
    frame): the message names the frame kind and what is wrong with it."""
