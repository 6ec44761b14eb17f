"""Pure-numpy reference AFS baseband: the oracle the C synthesis kernel is tested against.

LSIS-AFS V1.0 §2.3: I = AFS-I Gold code (1.023 Mcps, 2046 chips = one 2 ms symbol) times the
navigation symbols; Q = AFS-Q primary Weil code (5.115 Mcps, 10230 chips = 2 ms) times the
secondary code (one chip per primary epoch) times the tertiary code (one chip per 8 ms, 1500 chips
= 12 s).  Power is split 50/50 (Table 3) and logic 1 maps to -1 (Table 8).  The tertiary code and
the frame both start at the leading edge of the first sync-pattern symbol (LSIS-220).

Written for clarity, not speed: it is a test oracle.  Long signals are made in blocks with
``start_sample`` so that a 12 s signal at 10.23 Msps never has to sit in memory whole.
"""

from __future__ import annotations

import os

import numpy as np

from onboard.core import codes
from onboard.nav import lsis_formats

CARRIER_HZ = 2492.028e6  # LSIS-020
AFS_I_CHIP_RATE_HZ = 1.023e6
AFS_Q_CHIP_RATE_HZ = 5.115e6
SYMBOL_RATE_HZ = 500.0
FRAME_SECONDS = 12.0


def chips_to_levels(chips) -> np.ndarray:
    """Logic 0 -> +1, logic 1 -> -1 (LSIS Table 8)."""
    return 1.0 - 2.0 * np.asarray(chips, dtype=np.float64)


def _check(prn: int, frame_symbols: np.ndarray, fs: float, duration_s: float) -> None:
    if not 1 <= prn <= codes.AFS_PRN_MAX:
        raise ValueError(f"AFS PRN must be 1..{codes.AFS_PRN_MAX}, not {prn}")
    if frame_symbols.ndim != 1 or frame_symbols.size == 0 or frame_symbols.max() > 1:
        raise ValueError("frame symbols must be a non-empty 1-D array of 0 and 1")
    if not fs > 0 or duration_s < 0:
        raise ValueError(f"need fs > 0 and duration >= 0, not fs={fs} duration={duration_s}")


def chip_phase(n, fs: float, chip_rate_hz: float, doppler_hz: float = 0.0,
               offset_chips: float = 0.0) -> np.ndarray:
    """Chips since the frame start at sample indices ``n``, for a code at ``chip_rate_hz``.

    The code rate carries the carrier's Doppler scaled to the chip rate.  Without Doppler the
    product n * rate is an exact float64 integer and one correctly rounded division follows, so
    chip edges fall on the right sample."""
    n = np.asarray(n, dtype=np.float64)
    return offset_chips + n * (chip_rate_hz * (1.0 + doppler_hz / CARRIER_HZ)) / fs


def afs_baseband(prn: int, frame_symbols, fs: float, duration_s: float, doppler_hz: float = 0.0,
                 code_phase_chips: float = 0.0, *, start_sample: int = 0,
                 amplitude: float = 1.0, secondary_index: int | None = None) -> np.ndarray:
    """Complex baseband of AFS node ``prn``: ``round(duration_s * fs)`` samples from ``start_sample``.

    ``code_phase_chips`` is how far (in AFS-I chips, 2046 per symbol) the signal is into its frame
    at sample 0; the AFS-Q codes sit at 5x that in their own chips.  ``frame_symbols`` repeat
    (one 12 s frame of 6000 symbols, or any other length).  The total power is ``amplitude**2``,
    half on each rail (so each rail is ±amplitude/√2; pass √2 for the interop "BPSK ±1").
    ``secondary_index`` defaults to S[(prn - 1) mod 4] (LSIS Table 11)."""
    symbols = np.asarray(frame_symbols, dtype=np.uint8)
    _check(prn, symbols, fs, duration_s)
    sec = codes.afs_q_secondary(codes.afs_q_secondary_index(prn) if secondary_index is None
                                else secondary_index)
    n = start_sample + np.arange(int(round(duration_s * fs)), dtype=np.int64)
    chip_i = np.floor(chip_phase(n, fs, AFS_I_CHIP_RATE_HZ, doppler_hz, code_phase_chips)).astype(np.int64)
    chip_q = np.floor(chip_phase(n, fs, AFS_Q_CHIP_RATE_HZ, doppler_hz,
                                 5.0 * code_phase_chips)).astype(np.int64)
    i_bits = codes.afs_i(prn)[chip_i % codes.AFS_I_CHIPS] ^ symbols[(chip_i // codes.AFS_I_CHIPS)
                                                                    % symbols.size]
    epoch = chip_q // codes.AFS_Q_PRIMARY_CHIPS
    q_bits = (codes.afs_q_primary(prn)[chip_q % codes.AFS_Q_PRIMARY_CHIPS] ^ sec[epoch % 4]
              ^ codes.afs_q_tertiary(prn)[(epoch // 4) % codes.AFS_Q_TERTIARY_CHIPS])
    rail = amplitude / np.sqrt(2.0)
    x = rail * (chips_to_levels(i_bits) + 1j * chips_to_levels(q_bits))
    if doppler_hz:
        x *= np.exp(2j * np.pi * doppler_hz * (n / fs))
    return x


def afs_q_tiered_chips(prn: int, epochs: int, secondary_index: int | None = None) -> np.ndarray:
    """The AFS-Q pilot overlay (secondary x tertiary) for ``epochs`` 2 ms primary epochs, as logic
    levels: chip e = S[e mod 4] XOR T[(e // 4) mod 1500]."""
    sec = codes.afs_q_secondary(codes.afs_q_secondary_index(prn) if secondary_index is None
                                else secondary_index)
    e = np.arange(epochs)
    return sec[e % 4] ^ codes.afs_q_tertiary(prn)[(e // 4) % codes.AFS_Q_TERTIARY_CHIPS]


def write_lsisiq(path: str | os.PathLike, prn: int, frame_symbols, fs: float = 10.23e6,
                 duration_s: float = FRAME_SECONDS, block_s: float = 0.2, **kwargs) -> int:
    """Write an interop LSISIQ signal file (level 3: 12 s at 10.23 Msps, each rail BPSK ±1) block
    by block; ``kwargs`` go to :func:`afs_baseband`.  Returns the number of samples written."""
    total = int(round(duration_s * fs))
    block = max(1, int(round(block_s * fs)))
    kwargs.setdefault("amplitude", np.sqrt(2.0))
    header = lsis_formats.IqHeader(fs, total / fs, prn)
    with lsis_formats.IqWriter(path, header) as w:
        for start in range(0, total, block):
            n = min(block, total - start)
            w.write(afs_baseband(prn, frame_symbols, fs, n / fs, start_sample=start, **kwargs))
    return total
