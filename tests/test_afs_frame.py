"""AFS navigation frame (LSIS-AFS V1.0 §2.4): bit-exact against the luar-space interop frames."""

import pathlib

import numpy as np
import pytest
from conftest import VECTORS

from onboard.nav import afs_frame as af

INTEROP = VECTORS / "lsis" / "interop"
FRAMES = sorted((INTEROP / "frames").glob("frame_*.bin"))
# interop/README.md: the boundary frames are FID 3 / TOI 99, the message frames FID 0 / TOI 0.
FID_TOI = {"frame_boundary": (3, 99), "frame_boundary_max_fields": (3, 99)}


def frame_symbols(path: pathlib.Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes()[64:], dtype=np.uint8)


def frame_input(path: pathlib.Path) -> np.ndarray:
    return np.frombuffer((INTEROP / "inputs" / f"{path.stem}_input.bin").read_bytes(), dtype=np.uint8)


def test_every_interop_frame_is_present():
    assert len(FRAMES) == 7


@pytest.mark.parametrize("path", FRAMES, ids=lambda p: p.stem)
def test_encoder_is_bit_exact_against_interop_frame(path):
    fid, toi = FID_TOI.get(path.stem, (0, 0))
    got = af.encode_frame(frame_input(path), fid=fid, toi=toi)
    want = frame_symbols(path)
    assert got.shape == (6000,)
    assert np.flatnonzero(got != want).tolist() == []


@pytest.mark.parametrize("path", FRAMES, ids=lambda p: p.stem)
def test_decoder_recovers_fid_toi_and_data_with_good_crcs(path):
    decoded = af.decode_frame(frame_symbols(path))
    assert decoded.sync_ok and decoded.crc_ok == (True, True, True)
    assert (decoded.fid, decoded.toi) == FID_TOI.get(path.stem, (0, 0))
    np.testing.assert_array_equal(decoded.data_bits, frame_input(path))


@pytest.mark.parametrize("prn", [2, 3, 12])
def test_pocketsdr_decoded_baseline_frames_decode_and_re_encode_bit_exact(prn):
    """PocketSDR-AFS's channel symbols and its own FEC-decoded bits for frames not in frames/."""
    folder = INTEROP / "pocketsdr-decoded"
    symbols = np.frombuffer((folder / f"decoded_signal_prn{prn}_baseline_12s.bin").read_bytes(), np.uint8)
    bits = np.frombuffer((folder / f"decoded_fec_signal_prn{prn}_baseline_12s.bin").read_bytes(), np.uint8)
    decoded = af.decode_frame(symbols)
    assert decoded.ok
    np.testing.assert_array_equal(decoded.data_bits, bits)
    np.testing.assert_array_equal(af.encode_frame(bits, decoded.fid, decoded.toi), symbols)


def test_sync_pattern_is_cc63f74536f49e04a():
    assert "".join(map(str, af.SYNC_PATTERN.tolist())) == (
        "11001100011000111111011101000101001101101111010010011110000001001010")


def test_crc24q_check_value_of_123456789_is_cde703():
    assert af.crc24q(b"123456789") == 0xCDE703


def test_crc24q_bits_ignore_leading_zeros_and_detect_a_flip(rng):
    bits = rng.integers(0, 2, 846, dtype=np.uint8)
    parity = af.crc24q_bits(bits)
    np.testing.assert_array_equal(af.crc24q_bits(np.concatenate([np.zeros(5, np.uint8), bits])), parity)
    bits[100] ^= 1
    assert not np.array_equal(af.crc24q_bits(bits), parity)


def test_bch51_vector_fid3_toi99_and_all_zero_fid0_toi0():
    # PARAMETERS.md §6: LANS frame / LUAR frame_boundary symbols 68..119.
    assert "".join(map(str, af.bch51_encode(3, 99).tolist())) == (
        "1000111001111111000011000101011011111010010010110100")
    assert not af.bch51_encode(0, 0).any()


def test_bch51_codewords_are_at_least_distance_16_apart():
    book = np.array([af._bch51_codeword(f) for f in range(512)])
    dist = (book[:, None, :] != book[None, :, :]).sum(axis=2)
    np.fill_diagonal(dist, 99)
    assert dist.min() >= 16


def test_bch51_correlation_decoder_corrects_7_symbol_errors(rng):
    for fid, toi in [(0, 0), (1, 42), (3, 99), (2, 7)]:
        word = af.bch51_encode(fid, toi)
        flip = rng.choice(52, 7, replace=False)
        word[flip] ^= 1
        got_fid, got_toi, metric = af.bch51_decode(word)
        assert (got_fid, got_toi) == (fid, toi)
        assert metric == pytest.approx((52 - 14) / 52)


def test_interleaver_writes_rows_and_reads_columns():
    x = np.arange(5880) % 2
    ramp = np.arange(5880)
    out = af.interleave(x)
    assert out.shape == (5880,)
    # out[c*60 + r] = in[r*98 + c]
    idx = ramp.reshape(60, 98).T.ravel()
    np.testing.assert_array_equal(out, x[idx])
    assert idx[1] == 98 and idx[60] == 1
    np.testing.assert_array_equal(af.deinterleave(out), x)


def test_ldpc_codewords_satisfy_every_parity_check(rng):
    """H = [A B 0; C D I] times (s, p1, p2) is zero for the unpunctured codeword."""
    for which in ("sb2", "sb34"):
        code = af.ldpc_code(which)
        s = np.concatenate([rng.integers(0, 2, code.crc_bits_end, dtype=np.uint8),
                            np.zeros(code.info_bits - code.crc_bits_end, np.uint8)])
        p1 = af._matvec(code.b_inv, code.m1, af._matvec(code.a, code.m1, s))
        p2 = af._matvec(code.c, code.m2, s) ^ af._matvec(code.d, code.m2, p1)
        assert not (af._matvec(code.a, code.m1, s) ^ af._matvec(code.b, code.m1, p1)).any()
        assert not (af._matvec(code.c, code.m2, s) ^ af._matvec(code.d, code.m2, p1) ^ p2).any()
        assert p1.any() and p2.any()
        sent = af.ldpc_encode(code, s[:code.crc_bits_end])
        assert sent.size == {"sb2": 2400, "sb34": 1740}[which]
        np.testing.assert_array_equal(af.ldpc_recover_systematic(code, sent), s[:code.crc_bits_end])


def test_random_frames_round_trip_and_a_flipped_symbol_fails_its_crc(rng):
    data = rng.integers(0, 2, af.DATA_BITS, dtype=np.uint8)
    frame = af.encode_frame(data, fid=2, toi=55)
    decoded = af.decode_frame(frame)
    assert decoded.ok and (decoded.fid, decoded.toi) == (2, 55)
    np.testing.assert_array_equal(decoded.data_bits, data)
    frame[120 + 3000] ^= 1
    assert not af.decode_frame(frame).ok


@pytest.mark.parametrize("call, match", [
    (lambda: af.encode_frame(np.zeros(2867, np.uint8)), "2868 bits"),
    (lambda: af.encode_frame(np.full(2868, 2, np.uint8)), "only 0 and 1"),
    (lambda: af.bch51_encode(4, 0), "FID must be 0..3"),
    (lambda: af.bch51_encode(0, 100), "TOI must be 0..99"),
    (lambda: af.decode_frame(np.zeros(5999, np.uint8)), "6000 bits"),
])
def test_bad_frame_input_is_rejected_with_a_clear_message(call, match):
    with pytest.raises(af.FrameError, match=match):
        call()
