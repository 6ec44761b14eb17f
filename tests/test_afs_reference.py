"""The numpy reference AFS baseband (the oracle for the C synthesis kernel)."""

import numpy as np
import pytest
from conftest import VECTORS
from oracles import afs_reference as ar

from onboard.core import codes
from onboard.nav import afs_frame as af
from onboard.nav import lsis_formats as lf

FS = 10.23e6  # 10 samples per AFS-I chip, 2 per AFS-Q chip
SAMPLES_PER_SYMBOL = 20460
PRN = 3


def interop_frame() -> np.ndarray:
    data = (VECTORS / "lsis" / "interop" / "frames" / "frame_message_5.bin").read_bytes()
    return np.frombuffer(data[64:], dtype=np.uint8)


@pytest.mark.slow
def test_wiping_off_a_clean_12_s_signal_returns_the_frame_symbols_and_the_pilot_overlay():
    """12 s at 10.23 Msps, made and wiped in 0.2 s blocks.  The replicas here index chips by
    integer sample arithmetic (n // 10 and n // 2), independent of the generator's float time base."""
    frame = interop_frame()
    symbols_per_block = 100
    i_code = 1.0 - 2.0 * np.repeat(codes.afs_i(PRN), 10)
    q_code = 1.0 - 2.0 * np.repeat(codes.afs_q_primary(PRN), 2)
    got_symbols, got_overlay = [], []
    rail_amplitudes = set()
    for b in range(6000 // symbols_per_block):
        start = b * symbols_per_block * SAMPLES_PER_SYMBOL
        x = ar.afs_baseband(PRN, frame, FS, symbols_per_block * 0.002, start_sample=start)
        blocks = x.reshape(symbols_per_block, SAMPLES_PER_SYMBOL)
        i_corr = (blocks.real * i_code).sum(axis=1) / SAMPLES_PER_SYMBOL
        q_corr = (blocks.imag * q_code).sum(axis=1) / SAMPLES_PER_SYMBOL
        rail_amplitudes |= set(np.round(np.abs(np.concatenate([i_corr, q_corr])), 9).tolist())
        got_symbols.append((i_corr < 0).astype(np.uint8))
        got_overlay.append((q_corr < 0).astype(np.uint8))
    np.testing.assert_array_equal(np.concatenate(got_symbols), frame)
    np.testing.assert_array_equal(np.concatenate(got_overlay), ar.afs_q_tiered_chips(PRN, 6000))
    # Each rail is a clean ±1/√2 (50/50 power): the wipe-off leaves full magnitude, no chip slips.
    assert rail_amplitudes == {round(1 / np.sqrt(2), 9)}
    assert af.decode_frame(np.concatenate(got_symbols)).ok


def test_lsisiq_file_of_the_reference_signal_wipes_off_to_the_frame_symbols(tmp_path):
    """The interop signal file path: 0.2 s (100 symbols) written in odd-sized blocks and read back."""
    frame = interop_frame()
    path = tmp_path / lf.signal_file_name(PRN, 0.2)
    assert ar.write_lsisiq(path, PRN, frame, duration_s=0.2, block_s=0.0123) == 100 * SAMPLES_PER_SYMBOL
    header, x = lf.read_iq(path)
    assert (header.prn, header.sample_rate_hz, header.duration_s) == (PRN, FS, pytest.approx(0.2))
    assert set(np.unique(x.real)) == {-1.0, 1.0}
    i_code = 1.0 - 2.0 * np.repeat(codes.afs_i(PRN), 10)
    i_corr = (x.real.reshape(100, SAMPLES_PER_SYMBOL) * i_code).sum(axis=1)
    np.testing.assert_array_equal((i_corr < 0).astype(np.uint8), frame[:100])
    np.testing.assert_array_equal(x, ar.afs_baseband(PRN, frame, FS, 0.2, amplitude=np.sqrt(2)))


def test_overlay_is_secondary_times_tertiary_per_2_ms_epoch():
    overlay = ar.afs_q_tiered_chips(PRN, 6000)
    sec = codes.afs_q_secondary((PRN - 1) % 4)
    ter = codes.afs_q_tertiary(PRN)
    for e in (0, 1, 2, 3, 4, 5, 4 * 1499 + 3):
        assert overlay[e] == sec[e % 4] ^ ter[e // 4]


def test_tiered_pilot_repeats_every_12_s_and_not_at_any_earlier_8_ms_multiple():
    """Q chips of one frame against shifted copies: the primary and secondary codes realign every
    8 ms, so only the tertiary code can break the correlation; it must until 1500 x 8 ms = 12 s."""
    overlay = 1.0 - 2.0 * ar.afs_q_tiered_chips(PRN, 2 * 6000)
    one_frame = overlay[:6000]
    corr = np.array([one_frame @ overlay[4 * k:4 * k + 6000] for k in range(1, 1501)]) / 6000
    assert corr[-1] == 1.0  # shift 1500 x 8 ms = 12 s
    assert np.max(np.abs(corr[:-1])) < 0.2
    # The signal itself: 12 s later the Q rail is the same, sample for sample; k x 8 ms later,
    # where tertiary chip k differs from chip 0, it is inverted.
    frame = interop_frame()
    a = ar.afs_baseband(PRN, frame, FS, 0.008)
    b = ar.afs_baseband(PRN, frame, FS, 0.008, start_sample=int(12 * FS))
    k = int(np.flatnonzero(codes.afs_q_tertiary(PRN) != codes.afs_q_tertiary(PRN)[0])[0])
    c = ar.afs_baseband(PRN, frame, FS, 0.008, start_sample=int(k * 0.008 * FS))
    np.testing.assert_array_equal(a.imag, b.imag)
    np.testing.assert_array_equal(a.imag, -c.imag)


def test_rails_carry_half_the_power_each_and_logic_1_is_minus_1():
    symbols = np.zeros(6000, np.uint8)
    x = ar.afs_baseband(1, symbols, FS, 0.002, amplitude=np.sqrt(2))
    assert set(np.unique(x.real)) == {-1.0, 1.0} and set(np.unique(x.imag)) == {-1.0, 1.0}
    # chip 0 of AFS-I PRN 1 is logic 0 (first 24 chips 0x5D6430): +1; chip 1 is logic 1: -1.
    assert x.real[0] == 1.0 and x.real[10] == -1.0
    y = ar.afs_baseband(1, symbols, FS, 0.002)
    assert np.mean(np.abs(y) ** 2) == pytest.approx(1.0)
    assert np.mean(y.real ** 2) == pytest.approx(0.5)


def test_code_phase_and_doppler_shift_the_signal_as_specified():
    frame = interop_frame()
    base = ar.afs_baseband(PRN, frame, FS, 0.004)
    # 100 AFS-I chips into the frame = 1000 samples at 10.23 Msps.
    shifted = ar.afs_baseband(PRN, frame, FS, 0.003, code_phase_chips=100.0)
    np.testing.assert_array_equal(shifted, base[1000:1000 + shifted.size])
    moving = ar.afs_baseband(PRN, frame, FS, 0.001, doppler_hz=1000.0)
    rotation = moving / base[:moving.size]
    np.testing.assert_allclose(np.abs(rotation), 1.0)
    np.testing.assert_allclose(np.angle(rotation[2000]), 2 * np.pi * 1000.0 * 2000 / FS, atol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(prn=0), "PRN must be 1..210"),
    (dict(frame_symbols=np.array([0, 2])), "0 and 1"),
    (dict(fs=0.0), "fs > 0"),
])
def test_bad_generator_arguments_are_rejected(kwargs, match):
    args = dict(prn=1, frame_symbols=np.zeros(10, np.uint8), fs=FS, duration_s=0.001) | kwargs
    with pytest.raises(ValueError, match=match):
        ar.afs_baseband(**args)
