"""CRC-16/CCITT-FALSE through the Python API, on every kernel and both SIMD paths."""

import numpy as np
import pytest

from onboard.core import simd
from onboard.core.crc import CrcKernel, crc16_ccitt, crc16_ccitt_frames, crc32_prox1


def crc16_reference(data: bytes, crc: int = 0xFFFF) -> int:
    """Bit-serial definition: generator 0x1021, MSB first (CCSDS 132.0-B-3 §4.1.6.2)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


@pytest.mark.parametrize("kernel", list(CrcKernel))
def test_check_value_of_123456789_is_29b1(kernel):
    assert crc16_ccitt(b"123456789", kernel=kernel) == 0x29B1


def test_space_packet_vector_gives_75fb():
    assert crc16_ccitt(bytes.fromhex("06000CF000040055 8873C9000005 21".replace(" ", ""))) == 0x75FB


def test_crc_continues_across_split_buffers(rng):
    data = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert crc16_ccitt(data[1234:], crc16_ccitt(data[:1234])) == crc16_ccitt(data)


@pytest.mark.parametrize("level", [simd.SimdLevel.PORTABLE, simd.supported()])
def test_frames_batch_matches_reference_on_each_simd_path(rng, level):
    data = rng.integers(0, 256, 1113 * 7, dtype=np.uint8)
    with simd.forced(level):
        got = crc16_ccitt_frames(data, 1113)
    want = [crc16_reference(data[i * 1113:(i + 1) * 1113].tobytes()) for i in range(7)]
    assert got.tolist() == want


def test_frames_batch_rejects_ragged_buffer():
    with pytest.raises(ValueError, match="whole number of 10-byte frames"):
        crc16_ccitt_frames(bytes(25), 10)


@pytest.mark.sanitize
def test_random_buffers_and_lengths_agree_across_kernels(rng):
    for n in list(range(0, 200)) + [1113, 4096, 65537]:
        data = rng.integers(0, 256, n, dtype=np.uint8)
        init = int(rng.integers(0, 0x10000))
        results = {crc16_ccitt(data, init, k) for k in CrcKernel}
        assert len(results) == 1
    assert crc16_ccitt(data[:300].tobytes()) == crc16_reference(data[:300].tobytes())


def test_register_outside_16_bits_is_rejected():
    with pytest.raises(ValueError, match="does not fit 16 bits"):
        crc16_ccitt(b"x", 0x10000)


def crc32_prox1_reference(data: bytes, crc: int = 0) -> int:
    """Bit-serial definition: generator 0x00A00805, MSB first, preset 0 (CCSDS 211.2-B-3 §3.3.3)."""
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x00A00805) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def test_prox1_crc32_vector_12345678_gives_34d74cb3():
    assert crc32_prox1(bytes.fromhex("12345678")) == 0x34D74CB3


def test_prox1_crc32_matches_bitwise_reference_and_continues(rng):
    data = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    assert crc32_prox1(data) == crc32_prox1_reference(data)
    assert crc32_prox1(data[999:], crc32_prox1(data[:999])) == crc32_prox1(data)
    with pytest.raises(ValueError, match="does not fit 32 bits"):
        crc32_prox1(b"", 1 << 32)


def test_empty_multidimensional_buffer_has_the_crc_of_nothing():
    assert crc16_ccitt(np.zeros((0, 4), dtype=np.uint8)) == 0xFFFF


def test_empty_writable_buffer_stays_writable():
    from onboard.core._api import byte_ptr

    ptr, n = byte_ptr(bytearray(), writable=True)
    assert n == 0
