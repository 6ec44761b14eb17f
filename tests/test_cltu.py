"""TC BCH(63,56) codeblocks and CLTUs: published vectors, error correction, hostile input."""

import tomllib

import numpy as np
import pytest
from conftest import VECTORS

from onboard.core.cltu import (
    START_SEQUENCE,
    TAIL_SEQUENCE,
    CltuDecoder,
    CltuEnd,
    UncorrectableCodeblock,
    bch_decode_block,
    bch_encode,
    bch_parity,
    encode_cltu,
)
from onboard.core.rand import Sequence, randomize

# CCSDS 230.2-G / 231.0-B-4 §3 codeblocks (tests/vectors/ccsds_sync/README.md).
BCH_VECTORS = [(v["info"], int(v["parity"], 16)) for v in
               tomllib.loads((VECTORS / "ccsds_sync" / "vectors.toml").read_text())["bch"]]


def parity_reference(info: bytes) -> int:
    """Long division by g(x) = x^7+x^6+x^2+1, parity complemented, filler bit 0 (§3.2)."""
    reg = int.from_bytes(info, "big") << 7
    for i in range(62, 6, -1):
        if reg >> i & 1:
            reg ^= 0b11000101 << (i - 7)
    return (~reg & 0x7F) << 1


@pytest.mark.parametrize(("info", "parity"), BCH_VECTORS)
def test_bch_parity_matches_published_vector(info, parity):
    assert bch_parity(bytes.fromhex(info)) == parity
    assert bch_encode(bytes.fromhex(info)).tobytes()[-1] == parity


def test_bch_parity_matches_long_division(rng):
    blocks = rng.integers(0, 256, (300, 7), dtype=np.uint8)
    coded = bch_encode(blocks).reshape(300, 8)
    assert coded[:, 7].tolist() == [parity_reference(b.tobytes()) for b in blocks]


def test_bch_decoder_corrects_every_single_bit_error():
    cb = bytes.fromhex("8CC00E010D19065A")
    for bit in range(63):
        bad = bytearray(cb)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        assert bch_decode_block(bad) == (cb[:7], True)
        with pytest.raises(UncorrectableCodeblock):
            bch_decode_block(bad, correct=False)


def test_bch_decoder_rejects_double_errors_and_the_tail():
    bad = bytearray.fromhex("301B000900820054")
    bad[0] ^= 0x81
    with pytest.raises(UncorrectableCodeblock):
        bch_decode_block(bad)
    with pytest.raises(UncorrectableCodeblock):
        bch_decode_block(TAIL_SEQUENCE)


def test_cltu_layout_is_start_codeblocks_fill_tail():
    cltu = encode_cltu(bytes(range(9)))
    assert cltu[:2] == START_SEQUENCE and cltu[-8:] == TAIL_SEQUENCE
    assert cltu[2:9] == bytes(range(7)) and cltu[10:12] == bytes([7, 8])
    assert cltu[12:17] == b"\x55" * 5
    assert len(cltu) == 2 + 16 + 8


def test_randomized_frames_round_trip_through_noisy_cltus(rng):
    frames = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(5, 300, 20)]
    stream = bytearray()
    for f in frames:
        stream += b"\x55" * int(rng.integers(0, 20))
        cltu = bytearray(encode_cltu(randomize(f, Sequence.TC)))
        for block in range(2, len(cltu) - 8, 8):  # one bit error in every other codeblock
            if rng.random() < 0.5:
                bit = int(rng.integers(0, 63))
                cltu[block + bit // 8] ^= 0x80 >> (bit % 8)
        stream += cltu
    decoder = CltuDecoder()
    got = decoder.decode(bytes(stream))
    assert [c.end for c in got] == [CltuEnd.TAIL] * len(frames)
    for cltu, frame in zip(got, frames, strict=True):
        assert randomize(cltu.data, Sequence.TC).tobytes()[:len(frame)] == frame
    assert decoder.counters["corrected"] == sum(c.corrected for c in got) > 0
    assert decoder.counters["tails"] == len(frames)


@pytest.mark.sanitize
def test_cltu_decoder_survives_garbage_and_truncation(rng):
    decoder = CltuDecoder(start_tolerance=1)
    for _ in range(100):
        junk = rng.integers(0, 256, int(rng.integers(2, 3000)), dtype=np.uint8)
        for at in rng.integers(0, junk.size - 1, 20):
            junk[at:at + 2] = (0xEB, 0x90)
        for cltu in decoder.decode(junk):
            assert cltu.end in set(CltuEnd)
            assert len(cltu.data) % 7 == 0
    cut = encode_cltu(bytes(50))[:-12]
    got = CltuDecoder().decode(cut)
    assert [c.end for c in got] == [CltuEnd.TRUNCATED]
    assert CltuDecoder().decode(b"") == []


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="0 or 1 bit"):
        CltuDecoder(start_tolerance=3)
    with pytest.raises(ValueError, match="7-octet"):
        bch_encode(bytes(8))
