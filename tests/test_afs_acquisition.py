"""Reference FFT acquisition on synthetic signals built here: GPS L1 C/A, AFS-I and AFS-Q."""

import numpy as np
import pytest
from oracles import acquisition as acq
from oracles import afs_reference as ar

from onboard.core import codes

CN0_DBHZ = 45.0


def sampled_code(chips: np.ndarray, chip_rate_hz: float, fs: float, n: int, delay_samples: int,
                 doppler_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Chip index per sample for a code that starts ``delay_samples`` into the record, with the
    code Doppler of a 1.57542 GHz / 2492.028 MHz carrier; also the period index."""
    carrier = 1575.42e6 if chip_rate_hz == 1.023e6 and chips.size == 1023 else 2492.028e6
    rate = chip_rate_hz * (1 + doppler_hz / carrier)
    phase = (np.arange(n) - delay_samples) * rate / fs
    k = np.floor(phase).astype(np.int64)
    return chips[k % chips.size], k // chips.size


def awgn(rng, n: int, fs: float, cn0_dbhz: float) -> np.ndarray:
    """Complex noise for a unit-power signal at ``cn0_dbhz``: variance N0 * fs."""
    sigma2 = fs / 10 ** (cn0_dbhz / 10)
    return np.sqrt(sigma2 / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))


def synthetic_afs(rng, prn: int, fs: float, duration_s: float, delay_i_samples: int, doppler_hz: float,
                  cn0_dbhz: float = CN0_DBHZ) -> np.ndarray:
    """AFS-I with random data symbols on I and AFS-Q with random overlay chips on Q, 50/50 power;
    the Q code starts at the same instant as the I code."""
    n = int(duration_s * fs)
    ci, per_i = sampled_code(codes.afs_i(prn), 1.023e6, fs, n, delay_i_samples, doppler_hz)
    cq, per_q = sampled_code(codes.afs_q_primary(prn), 5.115e6, fs, n, delay_i_samples, doppler_hz)
    data = rng.integers(0, 2, per_i.max() - per_i.min() + 1)[per_i - per_i.min()]
    overlay = rng.integers(0, 2, per_q.max() - per_q.min() + 1)[per_q - per_q.min()]
    base = ((1 - 2.0 * (ci ^ data)) + 1j * (1 - 2.0 * (cq ^ overlay))) / np.sqrt(2)
    carrier = np.exp(2j * np.pi * (doppler_hz * np.arange(n) / fs + rng.uniform()))
    return base * carrier + awgn(rng, n, fs, cn0_dbhz)


def circular_distance(a: int, b: int, n: int) -> int:
    d = abs(a - b) % n
    return min(d, n - d)


@pytest.mark.parametrize("prn, delay, doppler", [(1, 1234, 2345.0), (17, 3999, -4321.0), (32, 7, 0.0)])
def test_gps_l1ca_found_within_one_sample_and_one_doppler_bin(rng, prn, delay, doppler):
    fs = 4.0e6
    n = int(0.010 * fs)
    chips, _ = sampled_code(codes.gps_l1ca(prn), 1.023e6, fs, n, delay, doppler)
    x = (1 - 2.0 * chips) * np.exp(2j * np.pi * doppler * np.arange(n) / fs) + awgn(rng, n, fs, CN0_DBHZ)
    result = acq.acquire(x, fs, "gps-l1ca", prn, doppler_max_hz=5000)
    assert result.detected
    assert circular_distance(result.code_phase_samples, delay, 4000) <= 1
    assert abs(result.doppler_hz - doppler) <= result.doppler_step_hz
    assert result.code_phase_chips == pytest.approx(result.code_phase_samples * 1.023e6 / fs)


@pytest.mark.parametrize("prn, delay, doppler", [(1, 5000, 1800.0), (12, 17, -3300.0), (210, 7777, 60.0)])
def test_afs_i_found_within_one_sample_and_one_doppler_bin(rng, prn, delay, doppler):
    fs = 4.0e6
    x = synthetic_afs(rng, prn, fs, 0.012, delay, doppler)
    result = acq.acquire(x, fs, acq.Signal.AFS_I, prn)
    assert result.detected
    assert result.samples_per_period == 8000
    assert circular_distance(result.code_phase_samples, delay, 8000) <= 1
    assert abs(result.doppler_hz - doppler) <= result.doppler_step_hz


@pytest.mark.parametrize("prn, delay, doppler", [(2, 12345, -2600.0), (99, 100, 4100.0)])
def test_afs_q_primary_found_within_one_sample_and_one_doppler_bin(rng, prn, delay, doppler):
    fs = 12.0e6
    x = synthetic_afs(rng, prn, fs, 0.008, delay, doppler)
    result = acq.acquire(x, fs, "afs-q", prn)
    assert result.detected
    assert circular_distance(result.code_phase_samples, delay, 24000) <= 1
    assert abs(result.doppler_hz - doppler) <= result.doppler_step_hz
    assert result.code_phase_chips == pytest.approx(result.code_phase_samples * 5.115e6 / fs)


def test_absent_prn_is_not_detected(rng):
    fs = 4.0e6
    x = synthetic_afs(rng, 5, fs, 0.012, 321, 1000.0)
    assert acq.acquire(x, fs, "afs-i", 5).detected
    assert not acq.acquire(x, fs, "afs-i", 6).detected


def test_acquisition_finds_the_reference_generator_at_its_code_phase_and_doppler(rng):
    """The oracle's ``code_phase_chips`` = chips into the frame at sample 0, so the next AFS-I
    period starts (2046 - phase mod 2046) chips later; the AFS-Q period starts at the same instant."""
    fs, doppler, phase_chips = 10.23e6, -1500.0, 3 * 2046 + 1000.5
    symbols = rng.integers(0, 2, 6000, dtype=np.uint8)
    x = ar.afs_baseband(7, symbols, fs, 0.020, doppler_hz=doppler, code_phase_chips=phase_chips)
    x = x + awgn(rng, x.size, fs, CN0_DBHZ)
    want = (2046 - phase_chips % 2046) * fs / 1.023e6
    for signal in (acq.Signal.AFS_I, acq.Signal.AFS_Q):
        result = acq.acquire(x, fs, signal, 7)
        assert result.detected
        assert circular_distance(result.code_phase_samples, round(want), result.samples_per_period) <= 1
        assert abs(result.doppler_hz - doppler) <= result.doppler_step_hz


@pytest.mark.parametrize("kwargs, match", [
    (dict(samples=np.zeros(10000, complex)), "at least two code periods"),
    (dict(samples=np.zeros(20000)), "complex"),
    (dict(samples=np.zeros(20000, complex), periods=3), "periods must be 2..2"),
    (dict(samples=np.zeros(20000, complex), doppler_step_hz=0), "Doppler step"),
])
def test_bad_acquisition_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        acq.acquire(fs=4e6, signal="afs-i", prn=1, **kwargs)
