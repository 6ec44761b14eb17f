"""CCSDS TM and TC pseudo-randomizers: published first bytes, a bit-serial oracle, every kernel."""

import tomllib

import numpy as np
import pytest
from conftest import VECTORS

from onboard.core import simd
from onboard.core.rand import (
    RandKernel,
    Sequence,
    derandomize_cadus,
    randomize,
    randomize_frames,
)

# CCSDS 131.0-B-4 §10.4 (TM) and 231.0-B-4 §6 (TC): first bytes (tests/vectors/ccsds_sync/README.md).
_VECTORS = tomllib.loads((VECTORS / "ccsds_sync" / "vectors.toml").read_text())
TM_FIRST = bytes.fromhex(_VECTORS["tm_randomizer"]["first_bytes"])
TC_FIRST = bytes.fromhex(_VECTORS["tc_randomizer"]["first_bytes"])
TAPS = {Sequence.TM: (7, 5, 3, 0), Sequence.TC: (6, 4, 3, 2, 1, 0)}


def sequence_reference(sequence: Sequence, n: int) -> bytes:
    """Run the shift register of h(x) from all ones, one bit at a time."""
    bits = [1] * 8
    while len(bits) < 8 * n:
        k = len(bits) - 8
        bits.append(sum(bits[k + t] for t in TAPS[sequence]) & 1)
    return bytes(int("".join(map(str, bits[8 * i:8 * i + 8])), 2) for i in range(n))


@pytest.mark.parametrize("kernel", list(RandKernel))
def test_tm_randomizer_starts_with_published_bytes(kernel):
    assert randomize(bytes(16), Sequence.TM, kernel=kernel).tobytes() == TM_FIRST


@pytest.mark.parametrize("kernel", list(RandKernel))
def test_tc_randomizer_starts_with_published_bytes(kernel):
    assert randomize(bytes(8), Sequence.TC, kernel=kernel).tobytes() == TC_FIRST


@pytest.mark.parametrize("sequence", list(Sequence))
@pytest.mark.parametrize("level", [simd.SimdLevel.PORTABLE, simd.supported()])
def test_randomizer_matches_shift_register_at_any_phase(rng, sequence, level):
    ref = sequence_reference(sequence, 255 * 5)
    data = rng.integers(0, 256, 700, dtype=np.uint8)
    with simd.forced(level):
        for phase in (0, 1, 31, 254, 255, 300):
            got = randomize(data, sequence, phase)
            want = data ^ np.frombuffer(ref[phase % 255:phase % 255 + 700], dtype=np.uint8)
            assert np.array_equal(got, want)


def test_cadu_derandomizer_leaves_asm_and_restarts_per_frame(rng):
    frames = rng.integers(0, 256, (5, 1115), dtype=np.uint8)
    seq = np.frombuffer(sequence_reference(Sequence.TM, 1115), dtype=np.uint8)
    asm = np.frombuffer(bytes.fromhex("1ACFFC1D"), dtype=np.uint8)
    cadus = np.concatenate([np.concatenate([asm, f ^ seq]) for f in frames])
    plain = derandomize_cadus(cadus, 1119).reshape(5, 1119)
    assert np.array_equal(plain[:, :4], np.tile(asm, (5, 1)))
    assert np.array_equal(plain[:, 4:], frames)


def test_frames_in_place_twice_is_identity(rng):
    data = rng.integers(0, 256, 64 * 9, dtype=np.uint8)
    work = data.copy()
    randomize_frames(work, 64, 0, Sequence.TC, out=work)
    assert not np.array_equal(work, data)
    randomize_frames(work, 64, 0, Sequence.TC, out=work)
    assert np.array_equal(work, data)


def test_ragged_frames_are_rejected():
    with pytest.raises(ValueError, match="whole number of 10-byte frames"):
        randomize_frames(bytes(25), 10)
    with pytest.raises(ValueError, match="skip"):
        randomize_frames(bytes(20), 10, 11)
