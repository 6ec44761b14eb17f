"""SigMF recordings (``.sigmf-meta`` + ``.sigmf-data``), written block by block.

The data file grows as blocks arrive, written straight from each block's buffer, so a recording
of any length never sits in memory.  Both files are written beside their names and renamed only
by :meth:`SigmfWriter.close` (``onboard.files``): a run that fails, and calls
:meth:`SigmfWriter.abort`, leaves an earlier recording of the same name as it was.  The data's
SHA-512 (``core:sha512``, an optional field of SigMF's Global object) is computed on the way when
asked for: at about 0.75 GB/s it would take a fifth of the one-core budget of a 12 Msps
synthesis, so ``lunarelay siggen`` leaves it to ``--sha512``.  The metadata (SigMF core 1.2) is
written on :meth:`SigmfWriter.close`: global fields, one capture at sample 0, one annotation per
synthesised channel carrying its truth in the ``lunarelay`` extension namespace (signal, PRN,
Doppler, C/N0, code phase at start), and any further annotations the writer was given (the truth
of each AFS node per second, a modulated link's frame starts).  Files are readable by the
``sigmf`` package and by GNU Radio / GNSS-SDR file sources.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import pathlib
from typing import Any

import numpy as np

from onboard import __version__
from onboard.errors import LunarelayError
from onboard.files import AtomicFile

SIGMF_VERSION = "1.2.0"
EXTENSION = "lunarelay"
# SigMF core:datatype of each sample format (SigMF 1.2 §2.1.4: complex, little-endian).
DATATYPES = {"cf32": "cf32_le", "ci16": "ci16_le", "ci8": "ci8"}
_COMPONENT_DTYPES = {"cf32": np.dtype("<f4"), "ci16": np.dtype("<i2"), "ci8": np.dtype("i1")}


class SigmfError(LunarelayError):
    pass


@dataclasses.dataclass(frozen=True)
class ChannelTruth:
    """What a receiver should find in the recording for one channel."""

    signal: str  # "gps-l1ca", "afs-i", "afs-q"
    prn: int
    doppler_hz: float
    cn0_dbhz: float
    code_phase_chips: float  # at sample 0
    code_rate_cps: float
    carrier_frequency_hz: float
    doppler_rate_hz_s: float = 0.0
    component: str = "I"

    def annotation(self, sample_count: int) -> dict[str, Any]:
        label = f"{self.signal} PRN {self.prn}"
        fields = {f"{EXTENSION}:{k}": v for k, v in dataclasses.asdict(self).items()}
        return {"core:sample_start": 0, "core:sample_count": sample_count, "core:label": label, **fields}


def base_paths(path: str | pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """(meta, data) paths of a recording named by its base path or either file."""
    path = pathlib.Path(path)
    if path.suffix in (".sigmf-meta", ".sigmf-data"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".sigmf-meta"), path.with_name(path.name + ".sigmf-data")


class SigmfWriter:
    """Write a SigMF recording: ``write(block)`` as often as needed, then ``close()``."""

    def __init__(self, path: str | pathlib.Path, fmt: str, sample_rate_hz: float, *,
                 center_frequency_hz: float | None = None, description: str = "",
                 truths: list[ChannelTruth] | None = None, extra_global: dict[str, Any] | None = None,
                 annotations: list[dict[str, Any]] | None = None, sha512: bool = True):
        if fmt not in DATATYPES:
            raise SigmfError(f"{path}: unknown sample format {fmt!r}; known: {', '.join(DATATYPES)}")
        self.meta_path, self.data_path = base_paths(path)
        self.fmt = fmt
        self.sample_rate_hz = float(sample_rate_hz)
        self.center_frequency_hz = center_frequency_hz
        self.description = description
        self.truths = list(truths or [])
        self.extra_global = dict(extra_global or {})
        # further annotations (each AFS node's truth per second, a modulated link's frame starts);
        # the caller may append to this list until close()
        self.annotations = list(annotations or [])
        self.samples_written = 0
        self._sha = hashlib.sha512() if sha512 else None
        self._started = datetime.datetime.now(datetime.UTC)
        try:
            self._data = AtomicFile(self.data_path)
        except LunarelayError as exc:
            raise SigmfError(str(exc)) from None

    def write(self, block: np.ndarray) -> None:
        """Append samples: complex64 for cf32, or an (n, 2) / interleaved array of the format's integers."""
        want = _COMPONENT_DTYPES[self.fmt]
        if self.fmt == "cf32" and block.dtype == np.complex64:
            raw = block.view(np.float32)
        else:
            raw = block
        if raw.dtype != want:
            raise SigmfError(f"{self.data_path}: {self.fmt} needs {want} components, got {block.dtype}")
        raw = np.ascontiguousarray(raw).reshape(-1)
        if raw.size % 2:
            raise SigmfError(f"{self.data_path}: odd number of components ({raw.size}); I and Q pair up")
        # A view (no copy) on a little-endian machine.
        data = memoryview(raw.astype(want.newbyteorder("<"), copy=False)).cast("B")
        if self._sha is not None:
            self._sha.update(data)
        self._data.write(data)
        self.samples_written += raw.size // 2

    def metadata(self) -> dict[str, Any]:
        glob = {
            "core:datatype": DATATYPES[self.fmt],
            "core:sample_rate": self.sample_rate_hz,
            "core:version": SIGMF_VERSION,
            "core:num_channels": 1,
            "core:recorder": f"lunarelay {__version__}",
            "core:extensions": [{"name": EXTENSION, "version": __version__, "optional": True}],
        }
        if self._sha is not None:
            glob["core:sha512"] = self._sha.hexdigest()
        if self.description:
            glob["core:description"] = self.description
        glob.update(self.extra_global)
        capture: dict[str, Any] = {"core:sample_start": 0,
                                   "core:datetime": self._started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        if self.center_frequency_hz is not None:
            capture["core:frequency"] = float(self.center_frequency_hz)
        # SigMF 1.2 §2.5: annotations in order of their first sample.
        annotations = [t.annotation(self.samples_written) for t in self.truths]
        written = max(self.samples_written, 1)
        annotations += [a for a in self.annotations if a["core:sample_start"] < written]
        annotations.sort(key=lambda a: a["core:sample_start"])
        return {"global": glob, "captures": [capture], "annotations": annotations}

    def close(self) -> None:
        """Finish the recording: the data file, then its metadata, take their names."""
        if self._data.file.closed:
            return
        try:
            meta = AtomicFile(self.meta_path)
        except LunarelayError as exc:
            self._data.abort()
            raise SigmfError(str(exc)) from None
        try:
            meta.write((json.dumps(self.metadata(), indent=2) + "\n").encode())
        except BaseException:
            meta.abort()
            self._data.abort()
            raise
        self._data.commit()
        meta.commit()

    def abort(self) -> None:
        """Drop the recording: nothing is written under its names."""
        self._data.abort()

    def __enter__(self) -> SigmfWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close() if kind is None else self.abort()


_TRUTH_TYPES = {f.name: f.type for f in dataclasses.fields(ChannelTruth)}
_TRUTH_REQUIRED = [f.name for f in dataclasses.fields(ChannelTruth) if f.default is dataclasses.MISSING]


def _truth_value(name: str, value: Any, where: str) -> Any:
    kind = _TRUTH_TYPES[name]
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise SigmfError(f"{where}: {EXTENSION}:{name} must be {'text' if kind == 'str' else 'a number'}, "
                     f"not {value!r}")


def read_truths(path: str | pathlib.Path) -> list[ChannelTruth]:
    """The channel truths recorded in a lunarelay SigMF file's annotations."""
    meta_path, _ = base_paths(path)
    try:
        meta = json.loads(meta_path.read_bytes())
    except OSError as exc:
        raise SigmfError(f"{meta_path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:                    # not JSON, or not UTF-8 text
        raise SigmfError(f"{meta_path}: not JSON: {exc}") from None
    annotations = meta.get("annotations", []) if isinstance(meta, dict) else None
    if not isinstance(annotations, list):
        raise SigmfError(f"{meta_path}: SigMF metadata is an object whose annotations are an array")
    truths = []
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict) or f"{EXTENSION}:signal" not in ann:
            continue                             # another tool's annotation
        where = f"{meta_path}: annotations[{i}]"
        missing = [n for n in _TRUTH_REQUIRED if f"{EXTENSION}:{n}" not in ann]
        if missing:
            raise SigmfError(f"{where}: a {EXTENSION} channel truth needs {', '.join(missing)}")
        truths.append(ChannelTruth(**{n: _truth_value(n, ann[f"{EXTENSION}:{n}"], where) for n in _TRUTH_TYPES
                                      if f"{EXTENSION}:{n}" in ann}))
    return truths
