"""Bit and frame error rates of the modulated links, measured end to end through the modem.

:func:`uncoded_ber` sends random bits through the modulator, the channel (AWGN at a given
Eb/N0, a carrier offset and phase) and the demodulator, and counts hard-decision errors after
the loops have settled; :func:`coded_ber` does the same with the K=7 rate-1/2 convolutional code
and soft Viterbi decoding; :func:`frame_error_rate` sends whole CADUs (RS + convolutional code,
randomizer) and counts frames that do not come out.  :func:`theory_ber` is the textbook
Q(sqrt(2 Eb/N0)) of coherent BPSK and Gray-coded QPSK.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hil.ground.rf import TmModemReceiver
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.ccsds.rf import ModemConfig, TmModemTransmitter
from onboard.core import conv
from onboard.core.channel import Channel, noise_sigma_for_esn0
from onboard.core.modem import Demodulator, Modulator, Scheme, soft_to_u8

SETTLE_BITS = 20_000  # decisions skipped while the loops acquire


def theory_ber(ebn0_db: float) -> float:
    """Coherent BPSK (and Gray QPSK) in AWGN: Q(sqrt(2 Eb/N0)) = erfc(sqrt(Eb/N0)) / 2."""
    return 0.5 * math.erfc(math.sqrt(10.0 ** (ebn0_db / 10.0)))


def ebn0_for_ber(ber: float) -> float:
    """The Eb/N0 (dB) at which :func:`theory_ber` equals ``ber``."""
    lo, hi = -5.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if theory_ber(mid) > ber:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclasses.dataclass(frozen=True)
class ErrorCount:
    ebn0_db: float
    errors: int
    trials: int

    @property
    def rate(self) -> float:
        return self.errors / self.trials if self.trials else float("nan")

    def bounds(self, z: float = 3.29) -> tuple[float, float]:
        """Wilson score interval of the rate (z = 3.29: 99.9 % two-sided)."""
        n, p = self.trials, self.rate
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def _modem_run(scheme: Scheme, bits: np.ndarray, esn0_db: float, sps: float, seed: int) -> np.ndarray:
    mod = Modulator(scheme, sps)
    x = np.concatenate([mod.modulate(bits), mod.flush()])
    fs = 1e6 * sps
    ch = Channel(fs, seed, freq_hz=700.0, phase_cycles=0.3, noise_sigma=noise_sigma_for_esn0(esn0_db, sps))
    demod = Demodulator(scheme, sps, fs)
    block = 1 << 18
    return np.concatenate([demod.demodulate(ch.process(x[i:i + block])) for i in range(0, x.size, block)])


def _align(reference: np.ndarray, soft: np.ndarray, bps: int) -> np.ndarray:
    """The soft stream put in the reference's order and polarity (found on a settled stretch):
    delay, inversion and, for QPSK, the 90 degree reading."""
    candidates = [soft]
    if bps == 2:
        pairs = soft[: soft.size // 2 * 2].reshape(-1, 2)
        candidates.append(np.stack([pairs[:, 1], -pairs[:, 0]], axis=1).reshape(-1))
    probe = 2.0 * reference[SETTLE_BITS:SETTLE_BITS + 4000].astype(np.float64) - 1.0
    best = None
    for c in candidates:
        for delay in range(-80, 81):
            start = SETTLE_BITS + delay
            if start < 0 or start + 4000 > c.size:
                continue
            score = float(np.dot(np.sign(c[start:start + 4000]), probe))
            if best is None or abs(score) > abs(best[0]):
                best = (score, c, delay)
    score, c, delay = best
    out = c[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay, np.float32), c])
    return out if score > 0 else -out


def uncoded_ber(scheme: Scheme, ebn0_db: float, n_bits: int, sps: float = 4.0, seed: int = 1) -> ErrorCount:
    bits = np.random.default_rng(seed).integers(0, 2, n_bits + SETTLE_BITS, dtype=np.uint8)
    esn0 = ebn0_db + 10 * math.log10(scheme.bits_per_symbol)
    soft = _align(bits, _modem_run(scheme, bits, esn0, sps, seed), scheme.bits_per_symbol)
    n = min(bits.size, soft.size) - 200
    errors = int(np.count_nonzero((soft[SETTLE_BITS:n] > 0) != bits[SETTLE_BITS:n]))
    return ErrorCount(ebn0_db, errors, n - SETTLE_BITS)


def coded_ber(ebn0_db: float, n_bits: int, sps: float = 4.0, seed: int = 1) -> ErrorCount:
    """K=7 rate-1/2 code (CCSDS 131.0-B-4 §3) on BPSK, soft Viterbi after the demodulator."""
    info = np.random.default_rng(seed).integers(0, 2, n_bits + SETTLE_BITS, dtype=np.uint8)
    enc = conv.ConvEncoder(conv.ConvRate.R1_2)
    symbols = enc.encode(np.packbits(info)) > 127
    soft = _align(symbols.astype(np.uint8), _modem_run(Scheme.BPSK, symbols.astype(np.uint8),
                                                        ebn0_db + 10 * math.log10(0.5), sps, seed), 1)
    n_sym = min(symbols.size, soft.size) // 2 * 2 - 400
    vit = conv.ViterbiDecoder(conv.ConvRate.R1_2, start_state=0)
    decoded = np.concatenate([vit.update(soft_to_u8(soft[:n_sym])), vit.finish()])
    n = min(decoded.size, info.size) - 100
    errors = int(np.count_nonzero(decoded[SETTLE_BITS:n] != info[SETTLE_BITS:n]))
    return ErrorCount(ebn0_db, errors, n - SETTLE_BITS)


def frame_error_rate(ebn0_db: float, n_frames: int, sps: float = 4.0, seed: int = 1,
                     chunk_frames: int = 500) -> ErrorCount:
    """CADUs with RS(255,223) x5 and the rate-1/2 code on BPSK: frames that do not come out.
    The stream is made, impaired and received ``chunk_frames`` at a time (30 000 frames are
    20 GB of samples: never held at once)."""
    link = TmLinkConfig(conv="1/2")
    rng = np.random.default_rng(seed)
    tx_chain = TmSendChain(link)
    modem = ModemConfig(Scheme.BPSK, sps, symbol_rate=1e6)
    tx = TmModemTransmitter(link, modem)
    rate = 0.5 * 223 / 255
    ch = Channel(modem.fs_hz, seed, freq_hz=700.0, phase_cycles=0.3,
                 noise_sigma=noise_sigma_for_esn0(ebn0_db + 10 * math.log10(rate), sps))
    rx = TmModemReceiver(link, modem)
    block = 1 << 18

    def receive(x: np.ndarray) -> None:
        for i in range(0, x.size, block):
            rx.push_samples(ch.process(x[i:i + block]))

    receive(tx.send_preamble(SETTLE_BITS))
    for first in range(0, n_frames, chunk_frames):
        # the receive chain counts a frame once its RS codewords decode, whatever it holds
        frame_data = rng.integers(0, 256, (min(chunk_frames, n_frames - first), link.frame_length),
                                  dtype=np.uint8)
        receive(tx.send_cadus(tx_chain.frames_to_cadus(frame_data.reshape(-1))))
    receive(tx.finish())
    rx.flush()
    good = rx.stats()["frames"]  # frames whose every RS codeword decoded
    return ErrorCount(ebn0_db, max(0, n_frames - min(good, n_frames)), n_frames)
