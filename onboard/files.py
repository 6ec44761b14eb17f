"""Files written whole or not at all.

An output is written to a temporary file beside its target and renamed over it only once complete
(``os.replace`` is atomic within a directory), so a run that fails midway, or is killed, never
destroys an earlier result and never leaves half a file under the target's name.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

from onboard.errors import LunarelayError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A binary file that appears at ``path`` on :meth:`commit`; :meth:`abort` (or an exception in a
    ``with`` block) removes what was written and leaves ``path`` as it was."""

    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part")
        except OSError as exc:
            raise LunarelayError(f"{self.path}: cannot write: {exc.strerror}") from None
        self.tmp_path = pathlib.Path(tmp)
        os.chmod(fd, 0o666 & ~_umask())          # what open() would have given the file
        self.file = os.fdopen(fd, "wb")

    def write(self, data) -> int:
        return self.file.write(data)

    def commit(self) -> None:
        if self.file.closed:
            return
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()
