"""Exchange formats of the LSIS-AFS interoperability effort (luar-space/lsis-afs-test-vectors).

- ``codes_prn{N}.hex``: sections ``[GOLD_CODE]``, ``[WEIL_PRIMARY]``, ``[WEIL_TERTIARY]`` and
  ``[SECONDARY_S0]``..``[SECONDARY_S3]``, each with a ``length:`` line (omitted for the 4-chip
  secondaries, as the reference files do) and a ``hex:`` line.  Chips are MSB-first 4-bit nibbles
  with zero pad bits in front, the encoding of LSIS-AFS V1.0 Annex 3 (2046 chips -> 2 pad bits).
- Frame ``.bin``: a 64-byte little-endian header (magic ``LSISAFS\\0``, version u32 = 1, frame
  length u32 = 6000, PRN u32, Unix timestamp i64, 36 reserved bytes), then one byte per symbol.
- Signal ``.iq``: a 128-byte little-endian header (magic ``LSISIQ\\0\\0``, version u32 = 1, sample
  rate f64, duration f64 in s, PRN u32, sample format as a 16-byte zero-padded string
  ``float32``, 80 reserved bytes), then interleaved float32 I/Q.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import re
import struct
import time

import numpy as np

from onboard.core import codes
from onboard.errors import LunarelayError

FRAME_MAGIC = b"LSISAFS\0"
FRAME_HEADER = struct.Struct("<8sIIIq36x")
IQ_MAGIC = b"LSISIQ\0\0"
IQ_HEADER = struct.Struct("<8sIddI16s80x")
FORMAT_VERSION = 1
IQ_SAMPLE_FORMAT = "float32"

CODE_SECTIONS = ("GOLD_CODE", "WEIL_PRIMARY", "WEIL_TERTIARY",
                 "SECONDARY_S0", "SECONDARY_S1", "SECONDARY_S2", "SECONDARY_S3")


class FormatError(LunarelayError):
    """An interop file is malformed; the message names the file and the field."""


# -- codes_prn{N}.hex ---------------------------------------------------------------------------

def chips_to_hex(chips) -> str:
    """MSB-first nibbles with zero pad bits in front (LSIS Annex 3 encoding)."""
    c = np.asarray(chips, dtype=np.uint8)
    padded = np.concatenate([np.zeros(-c.size % 4, dtype=np.uint8), c])
    nibbles = padded.reshape(-1, 4) @ np.array([8, 4, 2, 1])
    return "".join("0123456789ABCDEF"[n] for n in nibbles)


def hex_to_chips(hexstr: str, length: int) -> np.ndarray:
    """Inverse of :func:`chips_to_hex`: the last ``length`` bits of the nibbles."""
    if not re.fullmatch(r"[0-9A-Fa-f]*", hexstr):
        raise ValueError(f"not a hex string: {hexstr[:20]!r}")
    if len(hexstr) != (length + 3) // 4:
        raise ValueError(f"{len(hexstr)} hex digits cannot hold exactly {length} chips")
    bits = np.array([(int(d, 16) >> (3 - i)) & 1 for d in hexstr for i in range(4)], dtype=np.uint8)
    if bits[:bits.size - length].any():
        raise ValueError("pad bits in front of the chips are not zero")
    return bits[bits.size - length:]


def code_file_name(prn: int) -> str:
    return f"codes_prn{prn:03d}.hex"


def afs_code_set(prn: int) -> dict[str, np.ndarray]:
    """The seven code sections of ``prn`` from the code generators."""
    sections = {"GOLD_CODE": codes.afs_i(prn), "WEIL_PRIMARY": codes.afs_q_primary(prn),
                "WEIL_TERTIARY": codes.afs_q_tertiary(prn)}
    for i in range(4):
        sections[f"SECONDARY_S{i}"] = codes.afs_q_secondary(i)
    return sections


def write_codes_hex(path: str | os.PathLike, prn: int) -> pathlib.Path:
    """Write ``codes_prn{N}.hex`` for ``prn``; a directory ``path`` gets the standard file name."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / code_file_name(prn)
    lines = ["# LSIS-AFS Code Test Vector", f"# PRN: {prn}",
             f"# Generated: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
             "# Implementation: lunarelay",
             "# Encoding: LSIS-AFS V1.0 Annex 3 (MSB-first, 4-bit nibbles)", ""]
    for name, chips in afs_code_set(prn).items():
        lines.append(f"[{name}]")
        if not name.startswith("SECONDARY"):
            lines.append(f"length: {chips.size}")
        lines += [f"hex: {chips_to_hex(chips)}", ""]
    path.write_text("\n".join(lines))
    return path


def read_codes_hex(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every section of a ``codes_prn{N}.hex`` file as chips (secondaries default to 4 chips)."""
    path = pathlib.Path(path)
    sections: dict[str, dict[str, str]] = {}
    current = None
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not ASCII text ({exc.reason} at byte {exc.start})") from None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.fullmatch(r"\[([A-Z0-9_]+)\]", line):
            current = m.group(1)
            sections[current] = {}
        elif m := re.fullmatch(r"(length|hex)\s*:\s*(\S*)", line):
            if current is None:
                raise FormatError(f"{path}:{lineno}: {m.group(1)} outside a section")
            sections[current][m.group(1)] = m.group(2)
        else:
            raise FormatError(f"{path}:{lineno}: cannot parse {line[:40]!r}")
    out = {}
    for name, fields in sections.items():
        if "hex" not in fields:
            raise FormatError(f"{path}: section [{name}] has no hex line")
        try:
            length = int(fields.get("length", len(fields["hex"]) * 4))
            out[name] = hex_to_chips(fields["hex"], length)
        except ValueError as e:
            raise FormatError(f"{path}: section [{name}]: {e}") from None
    return out


# -- frame .bin ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FrameFile:
    prn: int
    timestamp: int
    symbols: np.ndarray
    version: int = FORMAT_VERSION


def frame_bytes(symbols, prn: int, timestamp: int | None = None) -> bytes:
    """A frame file's bytes: the 64-byte header, then one byte (0/1) per symbol."""
    s = np.asarray(symbols, dtype=np.uint8)
    if s.ndim != 1 or (s.size and s.max() > 1):
        raise ValueError("frame symbols must be a 1-D array of 0 and 1")
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return FRAME_HEADER.pack(FRAME_MAGIC, FORMAT_VERSION, s.size, prn, ts) + s.tobytes()


def write_frame_bin(path: str | os.PathLike, symbols, prn: int, timestamp: int | None = None) -> None:
    pathlib.Path(path).write_bytes(frame_bytes(symbols, prn, timestamp))


def read_frame_bin(path: str | os.PathLike) -> FrameFile:
    data = pathlib.Path(path).read_bytes()
    if len(data) < FRAME_HEADER.size:
        raise FormatError(f"{path}: {len(data)} bytes is shorter than the 64-byte frame header")
    magic, version, length, prn, ts = FRAME_HEADER.unpack_from(data)
    if magic != FRAME_MAGIC:
        raise FormatError(f"{path}: magic {magic!r} is not {FRAME_MAGIC!r}")
    if version != FORMAT_VERSION:
        raise FormatError(f"{path}: frame format version {version} is not {FORMAT_VERSION}")
    if len(data) != FRAME_HEADER.size + length:
        raise FormatError(f"{path}: header says {length} symbols, file holds {len(data) - 64}")
    symbols = np.frombuffer(data, dtype=np.uint8, offset=FRAME_HEADER.size)
    if symbols.size and symbols.max() > 1:
        raise FormatError(f"{path}: symbols must be 0 or 1")
    return FrameFile(prn, ts, symbols, version)


# -- LSISIQ signal .iq --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class IqHeader:
    sample_rate_hz: float
    duration_s: float
    prn: int
    sample_format: str = IQ_SAMPLE_FORMAT
    version: int = FORMAT_VERSION

    def pack(self) -> bytes:
        return IQ_HEADER.pack(IQ_MAGIC, self.version, self.sample_rate_hz, self.duration_s, self.prn,
                              self.sample_format.encode().ljust(16, b"\0"))


def signal_file_name(prn: int, duration_s: float) -> str:
    return f"signal_{prn}_{duration_s:g}s.iq"


class IqWriter:
    """Writes an LSISIQ file block by block (a 12 s file at 10.23 Msps is about 1 GB)."""

    def __init__(self, path: str | os.PathLike, header: IqHeader):
        self.path = pathlib.Path(path)
        self.header = header
        self._f = open(self.path, "wb")
        self._f.write(header.pack())
        self.samples = 0

    def write(self, samples) -> None:
        x = np.asarray(samples)
        if not np.iscomplexobj(x):
            raise ValueError("LSISIQ samples must be complex")
        self._f.write(x.astype(np.complex64).tobytes())
        self.samples += x.size

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> IqWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_iq(path: str | os.PathLike, samples, sample_rate_hz: float, prn: int) -> None:
    """Write a whole signal; the duration field is the sample count over the sample rate."""
    x = np.asarray(samples)
    with IqWriter(path, IqHeader(sample_rate_hz, x.size / sample_rate_hz, prn)) as w:
        w.write(x)


def read_iq_header(path: str | os.PathLike) -> IqHeader:
    with open(path, "rb") as f:
        raw = f.read(IQ_HEADER.size)
    if len(raw) < IQ_HEADER.size:
        raise FormatError(f"{path}: shorter than the 128-byte LSISIQ header")
    magic, version, rate, duration, prn, fmt = IQ_HEADER.unpack(raw)
    if magic != IQ_MAGIC:
        raise FormatError(f"{path}: magic {magic!r} is not {IQ_MAGIC!r}")
    if version != FORMAT_VERSION:
        raise FormatError(f"{path}: LSISIQ version {version} is not {FORMAT_VERSION}")
    name = fmt.rstrip(b"\0").decode("ascii", "replace")
    if name != IQ_SAMPLE_FORMAT:
        raise FormatError(f"{path}: sample format {name!r} is not supported (only float32)")
    if not 0 < rate < math.inf:
        raise FormatError(f"{path}: sample rate {rate} must be positive and finite")
    if not 0 <= duration < math.inf:
        raise FormatError(f"{path}: duration {duration} s must be finite and not negative")
    return IqHeader(rate, duration, prn, name, version)


def read_iq(path: str | os.PathLike, offset_samples: int = 0, count: int = -1) -> tuple[IqHeader, np.ndarray]:
    """Header and complex64 samples (a memory map: nothing is read until used)."""
    header = read_iq_header(path)
    size = os.path.getsize(path) - IQ_HEADER.size
    if size % 8:
        raise FormatError(f"{path}: {size} data bytes is not a whole number of float32 I/Q pairs")
    total = size // 8
    if not 0 <= offset_samples <= total:
        raise ValueError(f"offset {offset_samples} is outside the {total} samples of {path}")
    n = total - offset_samples if count < 0 else min(count, total - offset_samples)
    if n == 0:
        return header, np.zeros(0, dtype=np.complex64)
    data = np.memmap(path, dtype=np.complex64, mode="r", offset=IQ_HEADER.size + 8 * offset_samples,
                     shape=(n,))
    return header, data
