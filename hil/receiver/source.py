"""Where the receiver's samples come from: SigMF and LSISIQ recordings, and ZeroMQ IQ streams.

A source gives the sample rate, the sample format the C tracker reads directly (cf32, ci16 or ci8,
no conversion), the hints a recording carries (PRNs in its annotations or header, the carrier the
code Doppler follows, an IF) and the truth when it has one, as ``lunarelay siggen`` writes it: the
receiver's true position (``lunarelay:receiver_moon_llh``, ME latitude, longitude and height,
turned into the receiver's Moon-fixed frame) and every node's true orbit and clock
(:mod:`hil.receiver.truth`).  The carrier the code Doppler follows is ``lunarelay:carrier_hz``,
else the capture's frequency.  ``read(n)`` returns up to ``n`` samples (complex64, or interleaved
integers), empty at the end.

Recordings are memory-mapped, never read whole.  A data file that stops inside a sample is read to
its last whole sample and the source says so in ``problem``; malformed metadata, a missing data
file and impossible sample rates are a :class:`SourceError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
import pathlib

import numpy as np

from hil.receiver import afs, moon_frame
from hil.receiver.truth import NodeTruth, TruthError, node_truths
from onboard.core.track import SampleFormat
from onboard.errors import LunarelayError
from onboard.links import sigmf
from onboard.links.zmq_iq import IqSource, ZmqIqError
from onboard.nav import lsis_formats

MIN_RATE_HZ = 1e6
MAX_RATE_HZ = 100e6
# SigMF core:datatype (SigMF 1.2 §2.1.4) -> the tracker's format; byte order little-endian.
SIGMF_FORMATS = {"cf32_le": SampleFormat.CF32, "ci16_le": SampleFormat.CI16, "ci8": SampleFormat.CI8,
                 "ci8_le": SampleFormat.CI8}
TRUTH_LLH_KEY = "lunarelay:receiver_moon_llh"  # [lat deg, lon deg, height m]: ME, on the 1737.4 km sphere
CARRIER_KEY = "lunarelay:carrier_hz"  # the carrier the Doppler and the code Doppler follow


class SourceError(LunarelayError):
    """A recording or stream the receiver cannot read; the message names it and what is wrong."""


def _rate(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SourceError(f"{where}: sample rate {value!r} is not a number")
    if not MIN_RATE_HZ <= value <= MAX_RATE_HZ:
        raise SourceError(f"{where}: sample rate {value:g} Hz is outside {MIN_RATE_HZ:g} .. {MAX_RATE_HZ:g}")
    return float(value)


class FileSource:
    """A memory-mapped recording (built by :func:`open_recording`)."""

    def __init__(self, name: str, data_path: pathlib.Path, data_offset: int, fmt: SampleFormat, fs_hz: float,
                 *, if_hz: float = 0.0, carrier_hz: float = afs.CARRIER_HZ, prns: tuple[int, ...] = (),
                 truth_fixed_m: np.ndarray | None = None, metadata: dict | None = None,
                 node_truth: dict[int, NodeTruth] | None = None):
        self.name, self.fmt, self.fs_hz, self.if_hz = name, fmt, fs_hz, if_hz
        self.carrier_hz, self.prns, self.truth_fixed_m = carrier_hz, prns, truth_fixed_m
        self.metadata = metadata or {}
        self.node_truth = node_truth or {}
        self.problem: str | None = None
        try:
            size = os.path.getsize(data_path) - data_offset
        except OSError as exc:
            raise SourceError(f"{data_path}: cannot read: {exc.strerror}") from None
        item = 2 * fmt.component_dtype.itemsize
        self.total_samples = max(size, 0) // item
        if size % item:
            self.problem = (f"{data_path}: the data ends {size % item} byte(s) into a sample; "
                            f"read to the last whole sample ({self.total_samples})")
        self._data = None
        if self.total_samples:
            count = self.total_samples if fmt == SampleFormat.CF32 else 2 * self.total_samples
            dtype = np.complex64 if fmt == SampleFormat.CF32 else fmt.component_dtype
            self._data = np.memmap(data_path, dtype=dtype, mode="r", offset=data_offset, shape=(count,))
        self.position = 0

    def read(self, n: int) -> np.ndarray:
        n = max(0, min(n, self.total_samples - self.position))
        if n == 0 or self._data is None:
            dtype = np.complex64 if self.fmt == SampleFormat.CF32 else self.fmt.component_dtype
            return np.zeros(0, dtype)
        per = 1 if self.fmt == SampleFormat.CF32 else 2
        block = self._data[per * self.position:per * (self.position + n)]
        self.position += n
        return block

    def close(self) -> None:
        self._data = None


def _truth(glob: dict, where: str) -> np.ndarray | None:
    """The receiver's true Moon-fixed position from the SigMF global fields, if any."""
    if TRUTH_LLH_KEY not in glob:
        return None
    value = glob[TRUTH_LLH_KEY]
    ok = isinstance(value, list) and len(value) == 3 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok or not -90 <= value[0] <= 90 or not -10e3 <= value[2] <= 100e3:
        raise SourceError(f"{where}: {TRUTH_LLH_KEY} must be a latitude (deg), longitude (deg) and height "
                          f"(m) on the Moon, not {value!r}")
    return moon_frame.llh_to_fixed(*value)


def open_sigmf(path: str | os.PathLike) -> FileSource:
    meta_path, data_path = sigmf.base_paths(path)
    try:
        meta = json.loads(meta_path.read_text())
    except OSError as exc:
        raise SourceError(f"{meta_path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{meta_path}: not JSON: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("global"), dict):
        raise SourceError(f"{meta_path}: no 'global' object")
    glob = meta["global"]
    datatype = glob.get("core:datatype")
    if datatype not in SIGMF_FORMATS:
        raise SourceError(f"{meta_path}: core:datatype {datatype!r} is not one of {', '.join(SIGMF_FORMATS)}")
    fs = _rate(glob.get("core:sample_rate"), f"{meta_path}: core:sample_rate")
    if_hz = glob.get("lunarelay:if_hz", 0.0)
    if isinstance(if_hz, bool) or not isinstance(if_hz, int | float) or not abs(if_hz) < fs / 2:
        raise SourceError(f"{meta_path}: lunarelay:if_hz {if_hz!r} is not an IF inside the band")
    carrier = afs.CARRIER_HZ
    captures = meta.get("captures")
    if isinstance(captures, list) and captures and isinstance(captures[0], dict):
        freq = captures[0].get("core:frequency")
        if isinstance(freq, int | float) and not isinstance(freq, bool) and math.isfinite(freq) and freq > 0:
            carrier = float(freq) + float(if_hz)
    code_carrier = glob.get(CARRIER_KEY)
    if isinstance(code_carrier, int | float) and not isinstance(code_carrier, bool) and code_carrier > 0:
        carrier = float(code_carrier)
    annotations = meta.get("annotations")
    annotations = annotations if isinstance(annotations, list) else []
    prns = []
    for ann in annotations:
        if isinstance(ann, dict) and str(ann.get("lunarelay:signal", "")).startswith("afs"):
            prn = ann.get("lunarelay:prn")
            if isinstance(prn, int) and not isinstance(prn, bool) and 1 <= prn <= 210 and prn not in prns:
                prns.append(prn)
    if not data_path.exists():
        raise SourceError(f"{data_path}: the recording's data file is missing")
    try:
        nodes = node_truths(glob, annotations, fs, str(meta_path))
    except TruthError as exc:
        raise SourceError(str(exc)) from None
    return FileSource(str(data_path), data_path, 0, SIGMF_FORMATS[datatype], fs, if_hz=float(if_hz),
                      carrier_hz=carrier, prns=tuple(prns), truth_fixed_m=_truth(glob, str(meta_path)),
                      metadata=glob, node_truth=nodes)


def open_lsisiq(path: str | os.PathLike) -> FileSource:
    try:
        header = lsis_formats.read_iq_header(path)
    except lsis_formats.FormatError as exc:
        raise SourceError(str(exc)) from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from None
    fs = _rate(header.sample_rate_hz, f"{path}: LSISIQ sample rate")
    prns = (header.prn,) if 1 <= header.prn <= 210 else ()
    return FileSource(str(path), pathlib.Path(path), lsis_formats.IQ_HEADER.size, SampleFormat.CF32, fs,
                      prns=prns)


def open_recording(path: str | os.PathLike) -> FileSource:
    """A SigMF recording (base name, .sigmf-meta or .sigmf-data) or an LSISIQ file (by its magic)."""
    p = pathlib.Path(path)
    meta, _data = sigmf.base_paths(p)
    if p.suffix in (".sigmf-meta", ".sigmf-data") or meta.exists():
        return open_sigmf(p)
    try:
        with open(p, "rb") as f:
            magic = f.read(len(lsis_formats.IQ_MAGIC))
    except OSError as exc:
        raise SourceError(f"{p}: cannot read: {exc.strerror}") from None
    if magic == lsis_formats.IQ_MAGIC:
        return open_lsisiq(p)
    raise SourceError(f"{p}: neither a SigMF recording (no {meta.name}) nor an LSISIQ file (magic {magic!r})")


class StreamSource:
    """IQ from a ZeroMQ stream (gr-zeromq compatible); ends after ``timeout_s`` without data."""

    def __init__(self, endpoint: str, role: str, fmt: str, fs_hz: float, *, bind: bool = False,
                 pass_tags: bool = False, timeout_s: float = 5.0, if_hz: float = 0.0,
                 carrier_hz: float = afs.CARRIER_HZ, prns: tuple[int, ...] = ()):
        if fmt not in ("cf32", "ci16"):
            raise SourceError(f"{endpoint}: ZeroMQ streams carry cf32 or ci16 items, not {fmt}")
        self.name = endpoint
        self.fmt = SampleFormat.parse(fmt)
        self.fs_hz = _rate(fs_hz, f"{endpoint}: --fs")
        self.if_hz, self.carrier_hz, self.prns = if_hz, carrier_hz, prns
        self.truth_fixed_m = None
        self.metadata: dict = {}
        self.node_truth: dict[int, NodeTruth] = {}
        self.problem: str | None = None
        self.total_samples = None
        self.timeout_s = timeout_s
        try:
            self._src = IqSource(endpoint, role, fmt, bind=bind, pass_tags=pass_tags)
        except ZmqIqError as exc:
            raise SourceError(str(exc)) from None
        self._pending = np.zeros(0, np.complex64 if self.fmt == SampleFormat.CF32 else np.int16)
        self._ended = False

    def read(self, n: int) -> np.ndarray:
        per = 1 if self.fmt == SampleFormat.CF32 else 2
        while self._pending.size < per * n and not self._ended:
            try:
                got = self._src.receive(int(self.timeout_s * 1000))
            except ZmqIqError as exc:
                self.problem = str(exc)
                self._ended = True
                break
            if got is None:
                self._ended = True
                break
            self._pending = np.concatenate([self._pending, got[0]])
        block, self._pending = self._pending[:per * n], self._pending[per * n:]
        return block

    def close(self) -> None:
        self._src.close()
