"""The emulated RF channel between two ends of a link: what it does to the octets on the way."""

from __future__ import annotations

import numpy as np


class Impairments:
    """What a link does to each transfer unit (a CLTU, a PLTU, a CADU): units lost whole
    (``drop``), a burst of ``burst_octets`` random octets over a random stretch of a unit
    (``corrupt``, e.g. an interferer or a fade too deep for the code), and independent bit
    errors everywhere (``ber``).  Every effect is counted; one seed makes them reproducible."""

    def __init__(self, ber: float = 0.0, drop: float = 0.0, seed: int = 0, corrupt: float = 0.0,
                 burst_octets: int = 128):
        for name, p in (("bit error rate", ber), ("drop probability", drop),
                        ("corruption probability", corrupt)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} {p} is not within 0..1")
        self.ber, self.drop, self.corrupt, self.burst_octets = ber, drop, corrupt, burst_octets
        self.rng = np.random.default_rng(seed)
        self.units = self.dropped = self.bursts = self.corrupted = self.bits_flipped = 0

    def __call__(self, cltu: bytes) -> bytes | None:
        self.units += 1
        if self.drop and self.rng.random() < self.drop:
            self.dropped += 1
            return None
        hit = False
        if self.corrupt and self.rng.random() < self.corrupt:
            unit = bytearray(cltu)
            n = min(self.burst_octets, len(unit))
            at = int(self.rng.integers(0, len(unit) - n + 1))
            unit[at:at + n] = self.rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            cltu, hit = bytes(unit), True
            self.bursts += 1
        if self.ber:
            bits = np.unpackbits(np.frombuffer(cltu, dtype=np.uint8))
            flips = self.rng.random(bits.size) < self.ber
            n_flips = int(flips.sum())
            if n_flips:
                self.bits_flipped += n_flips
                cltu, hit = np.packbits(bits ^ flips).tobytes(), True
        self.corrupted += hit
        return cltu

    def stats(self) -> dict[str, int]:
        """Units seen, dropped, hit by a burst, changed at all (burst or bit errors), bits flipped."""
        return {"units": self.units, "dropped": self.dropped, "bursts": self.bursts,
                "corrupted": self.corrupted, "bits_flipped": self.bits_flipped}
