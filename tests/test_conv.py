"""CCSDS K=7 convolutional code and soft Viterbi decoding through the Python API, on both SIMD paths."""

import tomllib

import numpy as np
import pytest
from conftest import VECTORS

from onboard.core import simd
from onboard.core.conv import (
    ERASURE,
    ConvEncoder,
    ConvRate,
    EncoderKernel,
    Puncturer,
    ViterbiDecoder,
    decode_frame,
    decode_frame_bits,
    encode_frame,
)

LEVELS = [simd.SimdLevel.PORTABLE, simd.supported()]

# CCSDS 131.0-B-4 §3.3: connection vectors, coefficient k multiplies u[t-k].
G1 = (1, 1, 1, 1, 0, 0, 1)  # 171 octal
G2 = (1, 0, 1, 1, 0, 1, 1)  # 133 octal
# §3.4 table 3-1, per information bit: (C1 sent, C2 sent)
PATTERNS = {
    ConvRate.R1_2: [(1, 1)],
    ConvRate.R2_3: [(1, 1), (0, 1)],
    ConvRate.R3_4: [(1, 1), (0, 1), (1, 0)],
    ConvRate.R5_6: [(1, 1), (0, 1), (1, 0), (0, 1), (1, 0)],
    ConvRate.R7_8: [(1, 1), (0, 1), (0, 1), (0, 1), (1, 0), (0, 1), (1, 0)],
}


def reference_encode(bits, rate=ConvRate.R1_2):
    """Bit-serial shift register straight from the definition, then the puncturing table."""
    invert = 1 if rate == ConvRate.R1_2 else 0
    history = [0] * 7
    pattern = PATTERNS[rate]
    out = []
    for t, u in enumerate(bits):
        history = [int(u)] + history[:6]
        c1 = sum(g * h for g, h in zip(G1, history, strict=True)) % 2
        c2 = (sum(g * h for g, h in zip(G2, history, strict=True)) + invert) % 2
        keep1, keep2 = pattern[t % len(pattern)]
        out += [c1] * keep1 + [c2] * keep2
    return np.array(out, dtype=np.uint8)


def bits_of(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def test_all_zero_input_gives_alternating_symbols_from_the_inverted_g2():
    out = ConvEncoder().encode_packed(bytes(4))
    assert out.tolist() == [0x55] * 8


@pytest.mark.parametrize("kernel", list(EncoderKernel))
def test_packed_encoder_matches_bit_serial_definition(rng, kernel):
    data = rng.integers(0, 256, 77, dtype=np.uint8).tobytes()
    enc = ConvEncoder(kernel=kernel)
    got = np.concatenate([enc.encode_packed(data[:30]), enc.encode_packed(data[30:])])
    assert np.unpackbits(got).tolist() == reference_encode(bits_of(data)).tolist()


@pytest.mark.parametrize("rate", list(ConvRate))
def test_frame_encoder_with_tail_and_puncturing_matches_definition(rng, rate):
    data = rng.integers(0, 256, 41, dtype=np.uint8).tobytes()
    want = reference_encode(np.concatenate([bits_of(data), np.zeros(6, dtype=np.uint8)]), rate)
    assert encode_frame(data, rate, soft=False).tolist() == want.tolist()
    assert encode_frame(data, rate, soft=True).tolist() == (want * 255).tolist()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("rate", list(ConvRate))
def test_error_free_round_trip_at_every_rate(rng, rate, level):
    data = rng.integers(0, 256, 1115, dtype=np.uint8).tobytes()
    with simd.forced(level):
        assert decode_frame(encode_frame(data, rate), len(data), rate) == data


@pytest.mark.parametrize("level", LEVELS)
def test_viterbi_corrects_one_percent_hard_symbol_errors_at_rate_half(rng, level):
    data = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    symbols = encode_frame(data)
    flips = rng.random(symbols.size) < 0.01
    assert flips.sum() > 500
    with simd.forced(level):
        assert decode_frame(symbols ^ (flips * np.uint8(255)), len(data)) == data


def test_soft_symbols_near_the_threshold_decode_better_than_their_hard_decisions(rng):
    data = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    ideal = encode_frame(data).astype(float) - 127.5
    noisy = np.clip(np.rint(127.5 + 0.6 * ideal + rng.normal(0, 110, ideal.size)), 0, 255).astype(np.uint8)
    hard = np.where(noisy >= 128, 255, 0).astype(np.uint8)
    want = bits_of(data)
    soft_errors = int((decode_frame_bits(noisy, want.size) != want).sum())
    hard_errors = int((decode_frame_bits(hard, want.size) != want).sum())
    assert soft_errors < hard_errors


def test_erasures_carry_no_information(rng):
    data = rng.integers(0, 256, 500, dtype=np.uint8).tobytes()
    symbols = encode_frame(data)
    symbols[::9] = ERASURE
    assert decode_frame(symbols, len(data)) == data


def test_streaming_in_uneven_chunks_equals_whole_block_on_both_paths(rng):
    soft = rng.integers(0, 256, 30000, dtype=np.uint8)
    results = []
    for level in LEVELS:
        with simd.forced(level):
            whole = ViterbiDecoder(start_state=None)
            a = np.concatenate([whole.update(soft), whole.finish()])
            chunked = ViterbiDecoder(start_state=None)
            cuts = [0, 1, 2, 7, 1000, 4095, 4096, 20000, soft.size]
            parts = [chunked.update(soft[i:j]) for i, j in zip(cuts, cuts[1:], strict=False)]
            b = np.concatenate([*parts, chunked.finish()])
        assert a.size == soft.size // 2
        assert a.tolist() == b.tolist()
        results.append(a)
    assert results[0].tolist() == results[-1].tolist()


def test_unknown_start_state_locks_on_mid_stream(rng):
    data = rng.integers(0, 256, 800, dtype=np.uint8).tobytes()
    symbols = encode_frame(data)
    dec = ViterbiDecoder(start_state=None)
    bits = np.concatenate([dec.update(symbols[16 * 100:16 * 800]), dec.finish()])
    assert bits[32:].tolist() == bits_of(data[100:])[32:].tolist()


def test_punctured_stream_decodes_through_the_streaming_decoder(rng):
    data = rng.integers(0, 256, 900, dtype=np.uint8).tobytes()
    symbols = encode_frame(data, ConvRate.R3_4)
    dec = ViterbiDecoder(ConvRate.R3_4, depth=192)
    bits = np.concatenate([dec.update(symbols[:1001]), dec.update(symbols[1001:]), dec.finish(0)])
    assert np.packbits(bits[:8 * len(data)]).tobytes() == data


def test_depuncturer_puts_erasures_where_the_table_sends_nothing():
    p = Puncturer(ConvRate.R2_3)
    sent = p.puncture(np.arange(1, 9, dtype=np.uint8))
    assert sent.tolist() == [1, 2, 4, 5, 6, 8]
    assert Puncturer(ConvRate.R2_3).depuncture(sent).tolist() == [1, 2, ERASURE, 4, 5, 6, ERASURE, 8]


def test_rate_names_parse_and_bad_ones_are_refused():
    assert ConvRate.parse("7/8") == ConvRate.R7_8
    with pytest.raises(ValueError, match="unknown convolutional code rate '4/5'"):
        ConvRate.parse("4/5")


def test_bad_decoder_settings_are_refused():
    with pytest.raises(ValueError, match="traceback depth 4"):
        ViterbiDecoder(depth=4)
    with pytest.raises(ValueError, match="start state 64"):
        ViterbiDecoder(start_state=64)
    with pytest.raises(ValueError, match="more than a 8-bit frame"):
        decode_frame_bits(np.zeros(100, dtype=np.uint8), 8)
    with pytest.raises(ValueError, match="packed output is for rate 1/2"):
        ConvEncoder(ConvRate.R3_4).encode_packed(b"x")


@pytest.mark.sanitize
def test_garbage_and_short_inputs_never_crash(rng):
    for n in list(range(0, 40)) + [4095, 4096, 4097, 9999]:
        soft = rng.integers(0, 256, n, dtype=np.uint8)
        for rate in ConvRate:
            dec = ViterbiDecoder(rate, start_state=None)
            out = np.concatenate([dec.update(soft), dec.update(soft[: n // 3]), dec.finish()])
            assert set(np.unique(out).tolist()) <= {0, 1}
            bits = decode_frame_bits(soft[: n // 2], 8 + n // 2, rate)
            assert bits.size == 8 + n // 2


def _nrzm(bits: np.ndarray, level: int) -> np.ndarray:
    out = []
    for b in bits.tolist():
        level ^= b
        out.append(level)
    return np.array(out, dtype=np.uint8)


def test_encoded_asm_matches_goestools_correlator_words():
    vectors = tomllib.loads((VECTORS / "conv" / "encoded_asm.toml").read_text())
    for name, v in vectors.items():
        bits = bits_of(bytes.fromhex(v["asm"]))
        if v["nrzm_initial_level"] != "none":
            bits = _nrzm(bits, v["nrzm_initial_level"])
        got = ConvEncoder(invert_g2=False).encode_packed(np.packbits(bits)).tobytes()[:8]
        if "symbols_complemented" in v:
            assert bytes(b ^ 0xFF for b in got).hex() == v["symbols_complemented"], name
        else:
            assert got.hex() == v["symbols"], name


def test_arrays_of_wider_types_are_refused_not_read_as_raw_bytes():
    with pytest.raises(ValueError, match="soft symbols must be bytes or a uint8 array, not a float64 array"):
        ViterbiDecoder().update(np.zeros(8))
    with pytest.raises(ValueError, match="data must be bytes or a uint8 array, not a int64 array"):
        ConvEncoder().encode(np.arange(4))
