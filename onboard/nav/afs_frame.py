"""LunaNet AFS navigation frame (Frame ID 0) encoder and a decoder for clean or hard-decided frames.

LSIS-AFS V1.0 §2.4: one 12 s frame at 500 sps is 6000 symbols,

    sync pattern (68) ‖ SB1 BCH(51,8) (52) ‖ 60×98 interleaved SB2 (2400) ‖ SB3 (1740) ‖ SB4 (1740)

SB1 carries the frame ID (FID, 2 bits) and the time of interval (TOI, 7 bits).  SB2, SB3 and SB4
carry 1176, 846 and 846 data bits; each gets CRC-24Q (App. H) and the rate-1/2 LDPC code of
§2.4.3.1.2 (Annex 1/2 submatrices, shipped in ``onboard/nav/data/``) with its puncturing.  Bits
and symbols are numpy ``uint8`` arrays of 0/1, first-sent first.

The decoder undoes the interleaver, decodes SB1 by correlation against every codeword, rebuilds
the punctured systematic bits from the parity p1 (exact for error-free symbols; it is not an LDPC
decoder) and checks each CRC.  It is what a wipe-off test needs, not a receiver.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import io

import numpy as np

from onboard.errors import FrameError

FRAME_SYMBOLS = 6000
SYNC_SYMBOLS = 68
SB1_SYMBOLS = 52
INTERLEAVED_SYMBOLS = 5880
SB2_DATA_BITS = 1176
SB3_DATA_BITS = 846
SB4_DATA_BITS = 846
DATA_BITS = SB2_DATA_BITS + SB3_DATA_BITS + SB4_DATA_BITS
INTERLEAVER_ROWS = 60
INTERLEAVER_COLUMNS = 98
FID_MAX = 3
TOI_MAX = 99

# LSIS Table 12 (LSIS-330/340, {LSIS-TBC-2021}): 17 hex digits, MSB first.
SYNC_PATTERN_HEX = "CC63F74536F49E04A"
SYNC_PATTERN = np.array([int(b) for d in SYNC_PATTERN_HEX for b in f"{int(d, 16):04b}"], dtype=np.uint8)

# LSIS App. H: g(X) = (1 + X) p(X), coefficients of X^0,1,3,4,5,6,7,10,11,14,17,18,23,24.
CRC24Q_POLY = 0x1864CFB


def _bits(data, n: int | None, what: str) -> np.ndarray:
    bits = np.asarray(data)
    if bits.ndim != 1 or (n is not None and bits.size != n):
        raise FrameError(f"{what} must be a 1-D array of {n} bits, not shape {bits.shape}")
    if bits.size and (bits.min() < 0 or bits.max() > 1):
        raise FrameError(f"{what} must hold only 0 and 1")
    return bits.astype(np.uint8)


# -- CRC-24Q (LSIS App. H, LSIS-FID0-467/469) --------------------------------------------------

@functools.cache
def _crc24q_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        reg = byte << 16
        for _ in range(8):
            reg = (reg << 1) ^ CRC24Q_POLY if reg & 0x800000 else reg << 1
        table[byte] = reg & 0xFFFFFF
    return table


def crc24q(data: bytes) -> int:
    """CRC-24Q of whole bytes: register 0, MSB first, no reflection, no final XOR."""
    table = _crc24q_table()
    reg = 0
    for byte in data:
        reg = ((reg << 8) & 0xFFFFFF) ^ int(table[(reg >> 16) ^ byte])
    return reg


def crc24q_bits(bits) -> np.ndarray:
    """The 24 parity bits p1..p24 of a bit string (a zero register ignores leading zeros, so the
    string is left-padded to whole bytes)."""
    bits = _bits(bits, None, "CRC input")
    padded = np.concatenate([np.zeros(-bits.size % 8, dtype=np.uint8), bits])
    reg = crc24q(np.packbits(padded).tobytes())
    return np.array([(reg >> (23 - i)) & 1 for i in range(24)], dtype=np.uint8)


# -- SB1: BCH(51,8) (LSIS §2.4.2.1) ------------------------------------------------------------

def bch51_encode(fid: int, toi: int) -> np.ndarray:
    """The 52 SB1 symbols for FID (0..3) and TOI (0..99).

    The 9-bit field is FID ‖ TOI (LSIS Tables 13/14).  Its 8 LSBs seed the shift register of
    generator 763 (octal), run as the recurrence of the reciprocal polynomial; the MSB is sent
    first and XORed onto all 51 codeword symbols."""
    if not 0 <= fid <= FID_MAX:
        raise FrameError(f"FID must be 0..{FID_MAX}, not {fid}")
    if not 0 <= toi <= TOI_MAX:
        raise FrameError(f"TOI must be 0..{TOI_MAX}, not {toi}")
    return _bch51_codeword((fid << 7) | toi)


def _bch51_codeword(field: int) -> np.ndarray:
    msb = (field >> 8) & 1
    a = [(field >> (7 - i)) & 1 for i in range(8)]
    for n in range(51 - 8):
        a.append(a[n] ^ a[n + 1] ^ a[n + 2] ^ a[n + 3] ^ a[n + 4] ^ a[n + 7])
    return np.array([msb] + [x ^ msb for x in a], dtype=np.uint8)


@functools.cache
def _bch51_codebook() -> np.ndarray:
    """All 512 SB1 codewords as ±1 rows (logic 1 -> -1), indexed by the 9-bit field."""
    return 1.0 - 2.0 * np.array([_bch51_codeword(f) for f in range(512)], dtype=np.float64)


def bch51_decode(symbols) -> tuple[int, int, float]:
    """Maximum-likelihood SB1 decode by correlation: ``(fid, toi, metric)``.

    ``symbols`` are 52 hard bits (0/1 integers) or soft values (float, +1 for logic 0).  The
    metric is the normalised correlation of the best codeword (1.0 for a clean codeword)."""
    x = np.asarray(symbols)
    if x.shape != (SB1_SYMBOLS,):
        raise FrameError(f"SB1 must be {SB1_SYMBOLS} symbols, not shape {x.shape}")
    soft = 1.0 - 2.0 * x.astype(np.float64) if np.issubdtype(x.dtype, np.integer) else x.astype(float)
    corr = _bch51_codebook() @ soft
    field = int(np.argmax(corr))
    norm = float(np.sum(np.abs(soft))) or 1.0
    return field >> 7, field & 0x7F, float(corr[field]) / norm


# -- LDPC (LSIS §2.4.3.1.2, Fig. 10, Annex 1/2) -----------------------------------------------

@dataclasses.dataclass(frozen=True)
class LdpcCode:
    """One of the two rate-1/2 codes: H = [A B 0; C D I], p1 = B^-1 A s, p2 = C s + D p1."""

    name: str
    info_bits: int  # s: data + CRC + filler
    crc_bits_end: int  # data + CRC; s[crc_bits_end:] is zero filler
    punctured: int  # s[:punctured] is not sent
    p2_sent: int  # p2[:p2_sent] is sent
    a: tuple[np.ndarray, np.ndarray]
    b: tuple[np.ndarray, np.ndarray]
    b_inv: tuple[np.ndarray, np.ndarray]
    c: tuple[np.ndarray, np.ndarray]
    d: tuple[np.ndarray, np.ndarray]
    m1: int
    m2: int

    @property
    def sent_bits(self) -> int:
        return self.crc_bits_end - self.punctured + self.m1 + self.p2_sent


def _load_indices(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A submatrix as (row, column) index arrays of its 1-entries (zero-based)."""
    text = (importlib.resources.files("onboard.nav.data") / name).read_text()
    rc = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int32, ndmin=2)
    return rc[:, 0].copy(), rc[:, 1].copy()


def _matvec(m: tuple[np.ndarray, np.ndarray], rows: int, x: np.ndarray) -> np.ndarray:
    rr, cc = m
    return (np.bincount(rr, weights=x[cc], minlength=rows).astype(np.int64) & 1).astype(np.uint8)


@functools.cache
def ldpc_code(which: str) -> LdpcCode:
    """``"sb2"`` (A 480×1200) or ``"sb34"`` (A 352×880), from the Annex 1/2 ``003`` files."""
    if which == "sb2":
        files, info, end, punct, p2_sent, m1, m2 = "abcde", 1200, 1200, 240, 960, 480, 4560
        prefix = "003{}_lunanet_sf2_ldpc_submatrix_{}_ind.csv"
    elif which == "sb34":
        files, info, end, punct, p2_sent, m1, m2 = "fghij", 880, 870, 176, 694, 352, 3344
        prefix = "003{}_lunanet_sf3_ldpc_submatrix_{}_ind.csv"
    else:
        raise ValueError(f"unknown LDPC code {which!r}")
    names = ("a", "b", "b_inv", "c", "d")
    mats = {n: _load_indices(prefix.format(f, n)) for f, n in zip(files, names, strict=True)}
    return LdpcCode(which, info, end, punct, p2_sent, mats["a"], mats["b"], mats["b_inv"], mats["c"],
                    mats["d"], m1, m2)


def ldpc_encode(code: LdpcCode, s) -> np.ndarray:
    """Sent bits ``s[punctured:crc_bits_end] ‖ p1 ‖ p2[:p2_sent]`` for the systematic bits ``s``
    (data ‖ CRC, ``crc_bits_end`` long; the zero filler is added here)."""
    s = _bits(s, code.crc_bits_end, f"{code.name} LDPC input")
    full = np.concatenate([s, np.zeros(code.info_bits - code.crc_bits_end, dtype=np.uint8)])
    p1 = _matvec(code.b_inv, code.m1, _matvec(code.a, code.m1, full))
    p2 = _matvec(code.c, code.m2, full) ^ _matvec(code.d, code.m2, p1)
    return np.concatenate([s[code.punctured:], p1, p2[:code.p2_sent]])


def _gf2_left_inverse(m: np.ndarray) -> np.ndarray:
    """L with L·m = I over GF(2) for a tall matrix m of full column rank."""
    rows, cols = m.shape
    aug = np.concatenate([m.astype(np.uint8) & 1, np.eye(rows, dtype=np.uint8)], axis=1)
    for c in range(cols):
        pivots = np.nonzero(aug[c:, c])[0]
        if pivots.size == 0:
            raise ValueError("matrix has no left inverse over GF(2)")
        p = c + int(pivots[0])
        if p != c:
            aug[[c, p]] = aug[[p, c]]
        hits = np.nonzero(aug[:, c])[0]
        hits = hits[hits != c]
        aug[hits] ^= aug[c]
    return aug[:cols, cols:]


@functools.cache
def _punctured_recovery(which: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense A restricted to the punctured columns, and its GF(2) left inverse."""
    code = ldpc_code(which)
    a0 = np.zeros((code.m1, code.punctured), dtype=np.uint8)
    rr, cc = code.a
    keep = cc < code.punctured
    a0[rr[keep], cc[keep]] = 1
    return a0, _gf2_left_inverse(a0)


def ldpc_recover_systematic(code: LdpcCode, sent) -> np.ndarray | None:
    """The systematic bits (data ‖ CRC) of an error-free codeword, rebuilding the punctured ones
    from A·s = B·p1; None when the sent bits are not consistent with any codeword."""
    sent = _bits(sent, code.sent_bits, f"{code.name} codeword")
    n1 = code.crc_bits_end - code.punctured
    s1, p1, p2 = sent[:n1], sent[n1:n1 + code.m1], sent[n1 + code.m1:]
    s_known = np.zeros(code.info_bits, dtype=np.uint8)
    s_known[code.punctured:code.crc_bits_end] = s1
    rhs = _matvec(code.b, code.m1, p1) ^ _matvec(code.a, code.m1, s_known)
    a0, left = _punctured_recovery(code.name)
    s0 = ((left.astype(np.int64) @ rhs) & 1).astype(np.uint8)
    if not np.array_equal((a0.astype(np.int64) @ s0) & 1, rhs):
        return None
    s = np.concatenate([s0, s1])
    full = np.concatenate([s, np.zeros(code.info_bits - code.crc_bits_end, dtype=np.uint8)])
    p2_want = _matvec(code.c, code.m2, full) ^ _matvec(code.d, code.m2, p1)
    if not np.array_equal(p2_want[:code.p2_sent], p2):
        return None
    return s


# -- Interleaver (LSIS §2.4.3.1.5) -------------------------------------------------------------

def interleave(symbols) -> np.ndarray:
    """Write 60 rows of 98 row by row, read column by column: out[c*60 + r] = in[r*98 + c]."""
    x = _bits(symbols, INTERLEAVED_SYMBOLS, "interleaver input")
    return np.ascontiguousarray(x.reshape(INTERLEAVER_ROWS, INTERLEAVER_COLUMNS).T).ravel()


def deinterleave(symbols) -> np.ndarray:
    """Inverse of :func:`interleave` (also for soft symbols)."""
    x = np.asarray(symbols)
    if x.shape != (INTERLEAVED_SYMBOLS,):
        raise FrameError(f"deinterleaver input must be {INTERLEAVED_SYMBOLS} symbols, not {x.shape}")
    return np.ascontiguousarray(x.reshape(INTERLEAVER_COLUMNS, INTERLEAVER_ROWS).T).ravel()


# -- Whole frame --------------------------------------------------------------------------------

def _split_data(data_bits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = _bits(data_bits, DATA_BITS, "AFS frame data (SB2 ‖ SB3 ‖ SB4)")
    return (d[:SB2_DATA_BITS], d[SB2_DATA_BITS:SB2_DATA_BITS + SB3_DATA_BITS],
            d[SB2_DATA_BITS + SB3_DATA_BITS:])


def encode_subframe(data_bits, which: str) -> np.ndarray:
    """CRC-24Q and LDPC of one subframe: ``which`` is ``"sb2"`` or ``"sb34"``."""
    code = ldpc_code(which)
    d = _bits(data_bits, code.crc_bits_end - 24, f"{which} data")
    return ldpc_encode(code, np.concatenate([d, crc24q_bits(d)]))


def encode_frame(data_bits, fid: int = 0, toi: int = 0) -> np.ndarray:
    """The 6000 symbols of one AFS frame from the 2868 SB2 ‖ SB3 ‖ SB4 data bits."""
    sb2, sb3, sb4 = _split_data(data_bits)
    coded = np.concatenate([encode_subframe(sb2, "sb2"), encode_subframe(sb3, "sb34"),
                            encode_subframe(sb4, "sb34")])
    return np.concatenate([SYNC_PATTERN, bch51_encode(fid, toi), interleave(coded)])


@dataclasses.dataclass(frozen=True)
class DecodedFrame:
    sync_ok: bool
    fid: int
    toi: int
    sb1_metric: float
    data_bits: np.ndarray  # 2868 bits; subframes that could not be rebuilt are zeros
    crc_ok: tuple[bool, bool, bool]  # SB2, SB3, SB4

    @property
    def ok(self) -> bool:
        return self.sync_ok and all(self.crc_ok)


def decode_frame(symbols) -> DecodedFrame:
    """Decode the non-LDPC layers of a frame of 6000 hard symbols (see the module docstring)."""
    x = _bits(symbols, FRAME_SYMBOLS, "AFS frame")
    sync_ok = bool(np.array_equal(x[:SYNC_SYMBOLS], SYNC_PATTERN))
    fid, toi, metric = bch51_decode(x[SYNC_SYMBOLS:SYNC_SYMBOLS + SB1_SYMBOLS])
    coded = deinterleave(x[SYNC_SYMBOLS + SB1_SYMBOLS:])
    parts, oks = [], []
    start = 0
    for which, n_data in (("sb2", SB2_DATA_BITS), ("sb34", SB3_DATA_BITS), ("sb34", SB4_DATA_BITS)):
        code = ldpc_code(which)
        s = ldpc_recover_systematic(code, coded[start:start + code.sent_bits])
        start += code.sent_bits
        if s is None:
            parts.append(np.zeros(n_data, dtype=np.uint8))
            oks.append(False)
            continue
        parts.append(s[:n_data])
        oks.append(bool(np.array_equal(crc24q_bits(s[:n_data]), s[n_data:n_data + 24])))
    return DecodedFrame(sync_ok, fid, toi, metric, np.concatenate(parts), tuple(oks))
