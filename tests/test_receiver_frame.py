"""The receiver's soft frame decoder: the luar-space interop frames through noise and the C core's
layered min-sum LDPC (CRC-24Q, FID/TOI, bit-exact data), against the numpy reference decoder."""

import pathlib

import numpy as np
import pytest
from conftest import VECTORS

from hil.receiver import frame_decoder as fd
from onboard.core.ldpc import LdpcGraph, reference_decode
from onboard.nav import afs_frame as af
from onboard.nav import afs_message as am

INTEROP = VECTORS / "lsis" / "interop"
FRAMES = sorted((INTEROP / "frames").glob("frame_*.bin"))
FID_TOI = {"frame_boundary": (3, 99), "frame_boundary_max_fields": (3, 99)}


def frame_symbols(path: pathlib.Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes()[64:], dtype=np.uint8)


def frame_input(path: pathlib.Path) -> np.ndarray:
    return np.frombuffer((INTEROP / "inputs" / f"{path.stem}_input.bin").read_bytes(), dtype=np.uint8)


def noisy(symbols: np.ndarray, es_n0_db: float, rng) -> np.ndarray:
    """BPSK levels (logic 0 -> +1) plus white Gaussian noise at Es/N0."""
    sigma = np.sqrt(1.0 / (2.0 * 10 ** (es_n0_db / 10)))
    return (1.0 - 2.0 * symbols) + sigma * rng.standard_normal(symbols.size)


@pytest.mark.parametrize("path", FRAMES, ids=lambda p: p.stem)
def test_interop_frame_decodes_bit_exact_through_noise_and_soft_ldpc(path, rng):
    symbols = frame_symbols(path)
    soft = noisy(symbols, -0.5, rng)  # rate 1/2: Eb/N0 = 2.5 dB
    hard = (soft < 0).astype(np.uint8)
    assert np.count_nonzero(hard != symbols) > 300  # about 9% of the symbols arrive wrong
    assert not af.decode_frame(hard).ok  # so the hard-decision decoder alone cannot do it
    got = fd.decode_frame(soft)
    assert got.crc_ok == (True, True, True)
    assert all(s.ldpc_ok for s in got.subframes)
    assert (got.fid, got.toi) == FID_TOI.get(path.stem, (0, 0))
    np.testing.assert_array_equal(got.data_bits, frame_input(path))
    assert got.sync_metric > 0.8
    assert got.sb2 == am.parse_sb2(frame_input(path)[:1176])


def test_a_frame_past_the_code_s_reach_fails_its_crcs_without_raising(rng):
    symbols = frame_symbols(FRAMES[0])
    got = fd.decode_frame(noisy(symbols, -6.0, rng))
    assert got.crc_ok == (False, False, False)
    assert got.sb2 is None and got.time is None


def test_the_c_decoder_and_the_numpy_reference_end_on_the_same_codeword(rng):
    lay = fd.subframe_layout("sb34")
    data = rng.integers(0, 2, af.SB3_DATA_BITS, dtype=np.uint8)
    sent = af.encode_subframe(data, "sb34")
    soft = noisy(sent, 0.0, rng) * 4.0
    n1 = lay.crc_bits_end - lay.punctured
    llr = np.zeros(lay.graph.n_vars, np.float32)
    llr[lay.punctured:lay.crc_bits_end] = soft[:n1]
    llr[lay.crc_bits_end:lay.info_bits] = fd.KNOWN_ZERO_LLR
    llr[lay.info_bits:] = soft[n1:]
    fast = lay.graph.decode(llr)
    slow = reference_decode(lay.graph, llr, max_iterations=100)
    assert fast.ok and slow.ok
    np.testing.assert_array_equal(fast.bits, slow.bits)
    np.testing.assert_array_equal(fast.bits[:af.SB3_DATA_BITS], data)
    assert fast.iterations <= slow.iterations  # the layered schedule converges at least as fast


def test_the_decoding_graph_holds_every_sent_codeword():
    for which, n_data in (("sb2", af.SB2_DATA_BITS), ("sb34", af.SB3_DATA_BITS)):
        lay = fd.subframe_layout(which)
        data = (np.arange(n_data) * 7 % 3 == 0).astype(np.uint8)
        sent = af.encode_subframe(data, which)
        code = af.ldpc_code(which)
        filler = np.zeros(code.info_bits - code.crc_bits_end, np.uint8)
        s = np.concatenate([data, af.crc24q_bits(data), filler])
        n1 = code.crc_bits_end - code.punctured
        word = np.concatenate([s, sent[n1:]])
        assert lay.graph.syndrome_weight(word) == 0
        word[5] ^= 1
        assert lay.graph.syndrome_weight(word) > 0


def test_find_sync_finds_each_frame_start_and_the_stream_polarity(rng):
    symbols = np.concatenate([frame_symbols(p) for p in FRAMES[:3]])
    stream = np.concatenate([rng.standard_normal(1234), noisy(symbols, 3.0, rng)])
    hits = fd.find_sync(stream)
    assert [(k, pol) for k, pol, _ in hits] == [(1234, 1), (7234, 1), (13234, 1)]
    inverted = fd.find_sync(-stream)
    assert [(k, pol) for k, pol, _ in inverted] == [(1234, -1), (7234, -1), (13234, -1)]


def test_ldpc_graph_refuses_positions_outside_or_twice():
    with pytest.raises(ValueError, match="outside"):
        LdpcGraph([0, 1], [0, 5], 2, 5)
    with pytest.raises(ValueError, match="twice"):
        LdpcGraph([0, 0], [1, 1], 1, 3)
    g = LdpcGraph([0, 0, 1, 1], [0, 1, 1, 2], 2, 3)
    with pytest.raises(ValueError, match="3 LLRs"):
        g.decode(np.zeros(4))


@pytest.mark.sanitize
def test_hostile_soft_symbols_decode_to_bits_or_fail_their_crcs(rng):
    for soft in (np.full(6000, np.nan), np.full(6000, np.inf), np.zeros(6000),
                 rng.standard_normal(6000) * 1e30, np.where(rng.random(6000) < 0.5, -np.inf, np.nan)):
        got = fd.decode_frame(soft)
        assert got.data_bits.shape == (af.DATA_BITS,) and set(np.unique(got.data_bits)) <= {0, 1}
        assert 0 <= got.fid <= 3 and 0 <= got.toi <= 127
    lay = fd.subframe_layout("sb2")
    weird = np.full(lay.graph.n_vars, np.nan, np.float32)
    weird[::3] = np.inf
    result = lay.graph.decode(weird)
    assert set(np.unique(result.bits)) <= {0, 1}
