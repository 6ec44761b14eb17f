"""The emulated RF channel between two ends of a link: what it does to the octets on the way."""

from __future__ import annotations

import numpy as np


class Impairments:
    """What a link does to each transfer unit (a CLTU, a PLTU): independent bit errors, and whole
    units lost."""

    def __init__(self, ber: float = 0.0, drop: float = 0.0, seed: int = 0):
        self.ber, self.drop = ber, drop
        self.rng = np.random.default_rng(seed)
        self.dropped = self.bits_flipped = 0

    def __call__(self, cltu: bytes) -> bytes | None:
        if self.drop and self.rng.random() < self.drop:
            self.dropped += 1
            return None
        if not self.ber:
            return cltu
        bits = np.unpackbits(np.frombuffer(cltu, dtype=np.uint8))
        flips = self.rng.random(bits.size) < self.ber
        self.bits_flipped += int(flips.sum())
        return np.packbits(bits ^ flips).tobytes()
