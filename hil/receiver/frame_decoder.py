"""Soft-decision decoding of the AFS navigation frame (LSIS-AFS V1.0 §2.4): the receiver's side of
:mod:`onboard.nav.afs_frame`.

Input: the 6000 soft symbols of one frame, positive for logic 0 (the +1 level), in any scale.
The 68 sync symbols are checked by correlation; SB1 is decoded by maximum likelihood over its 512
BCH(51,8) codewords (FID and TOI); the 5880 interleaved symbols are de-interleaved and each of SB2,
SB3 and SB4 goes through the C core's layered min-sum LDPC decoder (onboard/core/ldpc.py) on the
code's parity-check matrix H = [A B 0; C D I] (§2.4.3.1.2, the Annex 1/2 submatrices):

- variables: the systematic bits s (data ‖ CRC ‖ zero filler), the parity p1 and the sent part of
  p2.  The punctured leading systematic bits get LLR 0 and the filler a large positive LLR; rows of
  [C D I] whose p2 bit is not sent constrain nothing and are left out;
- then CRC-24Q (App. H) on the data bits says whether the subframe is right.

:func:`find_sync` locates frame starts in a stream of soft symbols when nothing else does (a
data-only signal, without the pilot's tiered code to give the frame phase).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from onboard.core.ldpc import LdpcGraph
from onboard.nav import afs_frame as af
from onboard.nav import afs_message as am

KNOWN_ZERO_LLR = 1e4  # the zero filler of SB3/SB4 (in units of the mean symbol magnitude)
SOFT_SCALE = 4.0  # LLR of a symbol of mean magnitude
SYNC_LEVELS = 1.0 - 2.0 * af.SYNC_PATTERN.astype(np.float64)
SYNC_THRESHOLD = 0.75  # normalised correlation of the 68 sync symbols


@dataclasses.dataclass(frozen=True)
class SubframeLayout:
    which: str
    graph: LdpcGraph
    info_bits: int
    crc_bits_end: int
    punctured: int
    m1: int
    p2_sent: int

    @property
    def sent(self) -> int:
        return self.crc_bits_end - self.punctured + self.m1 + self.p2_sent


@functools.cache
def subframe_layout(which: str) -> SubframeLayout:
    """The decoding graph of ``"sb2"`` or ``"sb34"``: variables s ‖ p1 ‖ p2[:p2_sent]."""
    code = af.ldpc_code(which)
    info, m1, sent2 = code.info_bits, code.m1, code.p2_sent
    rows, cols = [], []
    # [A B 0]: A s + B p1 = 0
    rows += [code.a[0], code.b[0]]
    cols += [code.a[1], info + code.b[1]]
    # [C D I] on the sent p2 bits: C s + D p1 + p2 = 0
    for m, offset in ((code.c, 0), (code.d, info)):
        keep = m[0] < sent2
        rows.append(m1 + m[0][keep])
        cols.append(offset + m[1][keep])
    rows.append(m1 + np.arange(sent2))
    cols.append(info + m1 + np.arange(sent2))
    graph = LdpcGraph(np.concatenate(rows), np.concatenate(cols), m1 + sent2, info + m1 + sent2)
    return SubframeLayout(which, graph, info, code.crc_bits_end, code.punctured, m1, sent2)


@dataclasses.dataclass(frozen=True)
class SubframeDecode:
    bits: np.ndarray  # data bits (without the CRC)
    crc_ok: bool
    ldpc_ok: bool  # every parity check holds
    iterations: int


def decode_subframe(which: str, soft) -> SubframeDecode:
    """LDPC and CRC-24Q of one subframe's sent symbols (2400 for SB2, 1740 for SB3/SB4)."""
    lay = subframe_layout(which)
    x = np.asarray(soft, dtype=np.float64)
    if x.shape != (lay.sent,):
        raise af.FrameError(f"{which} needs {lay.sent} soft symbols, not shape {x.shape}")
    mean = float(np.mean(np.abs(x))) or 1.0
    x = np.nan_to_num(x / mean * SOFT_SCALE, nan=0.0, posinf=KNOWN_ZERO_LLR, neginf=-KNOWN_ZERO_LLR)
    n1 = lay.crc_bits_end - lay.punctured
    llr = np.zeros(lay.graph.n_vars, np.float32)
    llr[lay.punctured:lay.crc_bits_end] = x[:n1]
    llr[lay.crc_bits_end:lay.info_bits] = KNOWN_ZERO_LLR
    llr[lay.info_bits:] = x[n1:]
    result = lay.graph.decode(llr)
    s = result.bits[:lay.crc_bits_end]
    data, parity = s[:-24], s[-24:]
    crc_ok = bool(np.array_equal(af.crc24q_bits(data), parity))
    return SubframeDecode(data.copy(), crc_ok, result.ok, result.iterations)


@dataclasses.dataclass(frozen=True)
class FrameDecode:
    sync_metric: float  # normalised correlation of the sync symbols with the pattern (1: perfect)
    fid: int
    toi: int
    sb1_metric: float
    subframes: tuple[SubframeDecode, SubframeDecode, SubframeDecode]
    sb2: am.Subframe2 | None  # parsed when its CRC passes
    sb3: am.MessageSb34 | None
    sb4: am.MessageSb34 | None

    @property
    def crc_ok(self) -> tuple[bool, bool, bool]:
        return tuple(s.crc_ok for s in self.subframes)

    @property
    def data_bits(self) -> np.ndarray:
        """SB2 ‖ SB3 ‖ SB4 as decoded (2868 bits), whether or not their CRCs pass."""
        return np.concatenate([s.bits for s in self.subframes])

    @property
    def time(self) -> am.AfsTime | None:
        """WN, ITOW (from SB2) and TOI: the frame's leading edge in the node's time."""
        if self.sb2 is None or not self.sb2.itow_valid:
            return None
        return am.AfsTime(self.sb2.wn, self.sb2.itow, self.toi)


def sync_metric(soft) -> float:
    x = np.asarray(soft, dtype=np.float64)[:af.SYNC_SYMBOLS]
    norm = float(np.sum(np.abs(x)))
    return float(np.dot(x, SYNC_LEVELS)) / norm if norm > 0 else 0.0


def decode_frame(soft) -> FrameDecode:
    """Decode one frame of 6000 soft symbols (see the module docstring)."""
    x = np.asarray(soft, dtype=np.float64)
    if x.shape != (af.FRAME_SYMBOLS,):
        raise af.FrameError(f"a frame is {af.FRAME_SYMBOLS} soft symbols, not shape {x.shape}")
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    sb1 = x[af.SYNC_SYMBOLS:af.SYNC_SYMBOLS + af.SB1_SYMBOLS]
    fid, toi, metric = af.bch51_decode(sb1)
    coded = af.deinterleave(x[af.SYNC_SYMBOLS + af.SB1_SYMBOLS:])
    n2 = subframe_layout("sb2").sent
    n34 = subframe_layout("sb34").sent
    subframes = (decode_subframe("sb2", coded[:n2]), decode_subframe("sb34", coded[n2:n2 + n34]),
                 decode_subframe("sb34", coded[n2 + n34:n2 + 2 * n34]))
    sb2 = am.parse_sb2(subframes[0].bits) if subframes[0].crc_ok else None
    sb3 = am.parse_sb34(subframes[1].bits) if subframes[1].crc_ok else None
    sb4 = am.parse_sb34(subframes[2].bits) if subframes[2].crc_ok else None
    return FrameDecode(sync_metric(x), fid, toi, metric, subframes, sb2, sb3, sb4)


def find_sync(soft, threshold: float = SYNC_THRESHOLD) -> list[tuple[int, int, float]]:
    """Frame starts in a stream of soft symbols: ``(index, polarity, metric)`` for every position
    whose 68 symbols correlate with the sync pattern by at least ``threshold`` in magnitude
    (polarity -1: the stream is inverted, as after a Costas loop's half-cycle lock)."""
    x = np.nan_to_num(np.asarray(soft, dtype=np.float64))
    n = af.SYNC_SYMBOLS
    if x.size < n:
        return []
    corr = np.correlate(x, SYNC_LEVELS, mode="valid")
    norm = np.convolve(np.abs(x), np.ones(n), mode="valid")
    metric = np.divide(corr, norm, out=np.zeros_like(corr), where=norm > 0)
    hits = np.flatnonzero(np.abs(metric) >= threshold)
    return [(int(k), 1 if metric[k] > 0 else -1, float(abs(metric[k]))) for k in hits]
