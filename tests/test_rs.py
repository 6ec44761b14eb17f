"""CCSDS Reed-Solomon (CCSDS 131.0-B-4 §4) through the Python API, on both SIMD paths."""

import tomllib

import numpy as np
import pytest
from conftest import VECTORS

from onboard.core import simd
from onboard.core.rs import INTERLEAVE_DEPTHS, ReedSolomon

LEVELS = [simd.SimdLevel.PORTABLE, simd.supported()]

# CCSDS 131.0-B-4 Annex F: the matrix T (z = x T) taking the conventional representation
# x = (x0..x7), x0 the coefficient of alpha^7, to the dual-basis one.
T_MATRIX = [
    [1, 0, 0, 0, 1, 1, 0, 1],
    [1, 1, 1, 0, 1, 1, 1, 1],
    [1, 1, 1, 0, 1, 1, 0, 0],
    [1, 0, 0, 0, 0, 1, 1, 0],
    [1, 1, 1, 1, 1, 0, 1, 0],
    [1, 0, 0, 1, 1, 0, 0, 1],
    [1, 0, 1, 0, 1, 1, 1, 1],
    [0, 1, 1, 1, 1, 0, 1, 1],
]


def to_dual(x: int) -> int:
    bits = [(x >> (7 - i)) & 1 for i in range(8)]
    z = [sum(bits[i] * T_MATRIX[i][j] for i in range(8)) % 2 for j in range(8)]
    return int("".join(map(str, z)), 2)


DUAL = [to_dual(x) for x in range(256)]
FROM_DUAL = {z: x for x, z in enumerate(DUAL)}


def gf_mul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x187  # F(x) = x^8+x^7+x^2+x+1, §4.3.4
        b >>= 1
    return r


def gf_pow(a: int, n: int) -> int:
    r = 1
    for _ in range(n):
        r = gf_mul(r, a)
    return r


def generator(e: int) -> list[int]:
    """g(x) coefficients, highest power first: roots beta^j, beta = alpha^11, j = 128-E..127+E."""
    g = [1]
    beta = gf_pow(2, 11)
    for j in range(128 - e, 128 + e):
        root = gf_pow(beta, j)
        g = [a ^ gf_mul(b, root) for a, b in zip(g + [0], [0] + g, strict=True)]
    return g


def reference_parity(e: int, data: bytes) -> bytes:
    """Check symbols (conventional) of one codeword by long division of d(x) x^2E by g(x)."""
    g = generator(e)
    work = list(data) + [0] * (2 * e)
    for i in range(len(data)):
        f = work[i]
        if f:
            for m, gm in enumerate(g):
                work[i + m] ^= gf_mul(f, gm)
    return bytes(work[len(data):])


def test_rs255_223_conventional_vector_from_issue():
    vec = tomllib.loads((VECTORS / "rs" / "rs255_223_conventional.toml").read_text())
    rs = ReedSolomon(e=vec["e"], dual_basis=vec["dual_basis"])
    data = bytes(range(vec["data_first"], vec["data_first"] + vec["data_len"]))
    block = rs.encode(data)
    assert block[:223].tobytes() == data
    assert block[223:].tobytes().hex() == vec["parity"]


def test_reference_generator_has_the_blue_book_roots():
    # A check on the oracle itself: g(beta^j) = 0 for j = 112..143 and not for j = 111.
    g = generator(16)
    beta = gf_pow(2, 11)

    def g_at(x):
        acc = 0
        for c in g:
            acc = gf_mul(acc, x) ^ c
        return acc

    assert all(g_at(gf_pow(beta, j)) == 0 for j in range(112, 144))
    assert g_at(gf_pow(beta, 111)) != 0
    assert len(g) == 33


@pytest.mark.parametrize("e", [8, 16])
@pytest.mark.parametrize("dual_basis", [False, True])
@pytest.mark.parametrize("virtual_fill", [0, 57])
def test_encoder_matches_long_division_reference(rng, e, dual_basis, virtual_fill):
    rs = ReedSolomon(e=e, interleave=3, dual_basis=dual_basis, virtual_fill=virtual_fill)
    data = rng.integers(0, 256, rs.data_len, dtype=np.uint8)
    block = rs.encode(data)
    assert block.size == 3 * (255 - virtual_fill)
    for j in range(3):
        symbols = data[j::3].tolist()
        conv = [FROM_DUAL[s] for s in symbols] if dual_basis else symbols
        parity = reference_parity(e, bytes([0] * virtual_fill + conv))
        want = [DUAL[p] for p in parity] if dual_basis else list(parity)
        assert block[rs.data_len + j::3].tolist() == want


@pytest.mark.parametrize("depth", INTERLEAVE_DEPTHS)
@pytest.mark.parametrize("dual_basis", [False, True])
def test_clean_codeblocks_round_trip_at_every_depth(rng, depth, dual_basis):
    for e, fill in [(16, 0), (8, 0), (16, 100), (8, 238)]:
        rs = ReedSolomon(e=e, interleave=depth, dual_basis=dual_basis, virtual_fill=fill)
        data = rng.integers(0, 256, (4, rs.data_len), dtype=np.uint8)
        blocks = rs.encode(data)
        assert blocks.shape == (4, rs.block_len)
        assert (blocks[:, :rs.data_len] == data).all()
        out, corrected, ok = rs.decode(blocks)
        assert (out == data).all()
        assert corrected.tolist() == [0] * 4 and ok.all()


def corrupt(rng, blocks: np.ndarray, rs: ReedSolomon, errors_per_codeword: int) -> np.ndarray:
    """A copy with that many nonzero symbol errors at distinct random positions of every codeword."""
    rx = blocks.copy()
    for row in rx:
        for j in range(rs.interleave):
            positions = rng.choice(rs.n, errors_per_codeword, replace=False)
            row[positions * rs.interleave + j] ^= rng.integers(1, 256, errors_per_codeword, dtype=np.uint8)
    return rx


@pytest.mark.parametrize("level", LEVELS)
def test_rs_decoder_corrects_16_symbol_errors(rng, level):
    rs = ReedSolomon(e=16, interleave=5)
    data = rng.integers(0, 256, (20, rs.data_len), dtype=np.uint8)
    rx = corrupt(rng, rs.encode(data), rs, 16)
    with simd.forced(level):
        out, corrected, ok = rs.decode(rx)
    assert (out == data).all()
    assert corrected.tolist() == [5 * 16] * 20
    assert ok.all()


@pytest.mark.parametrize("level", LEVELS)
def test_rs255_239_corrects_8_errors_with_virtual_fill(rng, level):
    rs = ReedSolomon(e=8, interleave=2, dual_basis=True, virtual_fill=39)
    data = rng.integers(0, 256, (20, rs.data_len), dtype=np.uint8)
    rx = corrupt(rng, rs.encode(data), rs, 8)
    with simd.forced(level):
        data_out, counts = rs.decode_codewords(rx)
    assert (data_out == data).all()
    assert (counts == 8).all()


def test_more_than_e_errors_are_flagged_and_passed_through(rng):
    rs = ReedSolomon(e=16, interleave=4)
    data = rng.integers(0, 256, (30, rs.data_len), dtype=np.uint8)
    rx = corrupt(rng, rs.encode(data), rs, 17)
    out, counts = rs.decode_codewords(rx)
    assert (counts == -1).all()
    assert (out == rx[:, :rs.data_len]).all()
    decoded = rs.decode(rx)
    assert not decoded.ok.any()
    assert decoded.corrected.tolist() == [0] * 30


def test_one_bad_codeword_marks_only_its_codeblock(rng):
    rs = ReedSolomon(e=8, interleave=3)
    data = rng.integers(0, 256, (3, rs.data_len), dtype=np.uint8)
    rx = rs.encode(data)
    rx[1, 1:rs.n * 3:3][:20] ^= 0x5A      # codeword 1 of codeblock 1: 20 errors
    rx[2, 0:rs.n * 3:3][:5] ^= 0x01       # codeword 0 of codeblock 2: 5 errors
    out, corrected, ok = rs.decode(rx)
    assert ok.tolist() == [True, False, True]
    assert corrected.tolist() == [0, 0, 5]
    assert (out[[0, 2]] == data[[0, 2]]).all()


def test_bytes_input_gives_flat_arrays_and_shapes_follow_input():
    rs = ReedSolomon(e=16, interleave=2, dual_basis=False)
    data = bytes(range(256)) * 4
    flat = rs.encode(data[:rs.data_len * 2])
    assert flat.shape == (2 * rs.block_len,)
    out, corrected, ok = rs.decode(flat.tobytes())
    assert out.tobytes() == data[:rs.data_len * 2]
    assert corrected.shape == ok.shape == (2,)


@pytest.mark.parametrize("kwargs, message", [
    ({"e": 10}, "E must be 8"),
    ({"interleave": 6}, "interleave depth must be one of"),
    ({"virtual_fill": 223}, "virtual fill must be in 0..222"),
    ({"e": 8, "virtual_fill": -1}, "virtual fill must be in 0..238"),
])
def test_impossible_configurations_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReedSolomon(**kwargs)


def test_arrays_of_wider_integers_are_rejected():
    rs = ReedSolomon(e=8)
    with pytest.raises(ValueError, match="must be bytes or a uint8 array, not a int64 array"):
        rs.encode(np.zeros(rs.data_len, dtype=np.int64))
    with pytest.raises(ValueError, match="codeblocks must be bytes or a uint8 array"):
        rs.decode(np.zeros((2, rs.block_len), dtype=np.uint16))


def test_empty_batches_give_empty_results():
    rs = ReedSolomon(e=16, interleave=4)
    assert rs.encode(np.zeros((0, rs.data_len), dtype=np.uint8)).shape == (0, rs.block_len)
    data, corrected, ok = rs.decode(np.zeros((0, rs.block_len), dtype=np.uint8))
    assert data.shape == (0, rs.data_len) and corrected.shape == ok.shape == (0,)
    assert rs.encode(b"").size == 0


def test_non_contiguous_arrays_are_rejected():
    rs = ReedSolomon(e=8)
    with pytest.raises(ValueError, match="contiguous"):
        rs.encode(np.zeros((2, 2 * rs.data_len), dtype=np.uint8)[:, ::2])


def test_ragged_input_is_rejected():
    rs = ReedSolomon(e=16, interleave=2)
    with pytest.raises(ValueError, match="not a whole number of 446-byte"):
        rs.encode(bytes(447))
    with pytest.raises(ValueError, match="not a whole number of 510-byte codeblocks"):
        rs.decode(bytes(509))


@pytest.mark.sanitize
def test_garbage_codeblocks_are_flagged_without_crashing(rng):
    for e, depth, fill in [(16, 8, 0), (8, 5, 100), (16, 1, 222)]:
        rs = ReedSolomon(e=e, interleave=depth, virtual_fill=fill)
        rx = rng.integers(0, 256, (50, rs.block_len), dtype=np.uint8)
        _, counts = rs.decode_codewords(rx)
        assert counts.shape == (50, depth)
        assert ((counts >= -1) & (counts <= e)).all()
        # Random words fall within E of a codeword with probability < 1e-4 (far less for
        # short codewords), except with fill 222 where n = 33 and k = 1.
        if fill < 200:
            assert (counts == -1).mean() > 0.99


@pytest.mark.sanitize
def test_simd_paths_agree_on_random_error_counts(rng):
    rs = ReedSolomon(e=16, interleave=3, virtual_fill=10)
    data = rng.integers(0, 256, (40, rs.data_len), dtype=np.uint8)
    blocks = rs.encode(data)
    rx = np.concatenate([corrupt(rng, blocks[i:i + 1], rs, i % 20) for i in range(40)])
    results = []
    for level in LEVELS:
        with simd.forced(level):
            results.append(rs.decode_codewords(rx))
            encoded = rs.encode(data)
        assert (encoded == blocks).all()
    assert (results[0][0] == results[-1][0]).all()
    assert (results[0][1] == results[-1][1]).all()
    assert (results[0][1][:17] == np.arange(17)[:, None] % 20).all()
