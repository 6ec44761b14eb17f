"""The signal-synthesis kernel against its numpy reference, on both SIMD paths, and its C/N0."""

import numpy as np
import pytest
from conftest import require_cpu

from onboard.core import codes, simd
from onboard.core.siggen import (
    Component,
    SampleFormat,
    Synthesizer,
    amplitude_for_cn0,
    chip_table,
    reference_signal,
)

FS = 4.0e6
L1_HZ = 1575.42e6
PATHS = sorted({simd.SimdLevel.PORTABLE, simd.supported()})


def gps_channel(prn: int, doppler_hz: float, code_phase: float, amplitude: float, **extra) -> dict:
    return dict(chips=codes.gps_l1ca(prn), code_rate_cps=1.023e6 * (1 + doppler_hz / L1_HZ),
                code_phase_chips=code_phase, doppler_hz=doppler_hz, amplitude=amplitude, **extra)


def mixed_channels(rng) -> list[dict]:
    nav = rng.choice([-1, 1], 40).astype(np.int8)
    return [
        gps_channel(1, -4321.7, 17.31234, 0.5, carrier_phase_cycles=0.3, epoch_signs=nav),
        gps_channel(7, 2500.25, 901.777, 0.25, doppler_rate_hz_s=-40.0),
        gps_channel(19, 0.0, 0.0, 0.125, component=Component.Q),
        # A long code at a high chip rate in quadrature, like AFS-Q.
        dict(chips=codes.afs_q_primary(3), code_rate_cps=5.115e6, code_phase_chips=5000.5, doppler_hz=1234.5,
             amplitude=0.2, component=Component.Q, epoch_signs=np.array([1, 1, 1, -1], np.int8)),
    ]


def build(channels: list[dict], fs: float = FS, **kw) -> Synthesizer:
    synth = Synthesizer(fs, **kw)
    for ch in channels:
        synth.add_channel(**ch)
    return synth


@pytest.mark.parametrize("if_hz", [0.0, 1.25e6])
@pytest.mark.parametrize("level", PATHS)
def test_c_kernel_matches_numpy_reference_for_mixed_channels(rng, level, if_hz):
    channels = mixed_channels(rng)
    synth = build(channels, noise_sigma=0.0, if_hz=if_hz)
    with simd.forced(level):
        got = synth.generate(30011)
    want = reference_signal(FS, 30011, channels, if_hz=if_hz)
    err = np.abs(got - want)
    # Chips agree everywhere but within 2^-24 chip of a chip edge; carriers to float precision.
    assert np.count_nonzero(err > 1e-4) <= 3
    assert np.median(err) < 1e-5
    assert synth.channel(0).epochs == 7  # 30011 samples = 7.5 ms of C/A epochs, starting at 17 chips


@pytest.mark.parametrize("level", PATHS)
def test_doppler_and_amplitude_changes_between_blocks_keep_phase_continuous(level):
    first = gps_channel(5, 1000.0, 100.25, 0.5, carrier_phase_cycles=0.1)
    synth = build([first], noise_sigma=0.0)
    with simd.forced(level):
        a = synth.generate(9000)
        ch = synth.channel(0)
        code_phase, carrier_phase = ch.code_phase_chips, ch.carrier_phase_cycles
        ch.doppler_hz = -3000.0
        ch.code_rate_cps = 1.023e6 * (1 - 3000.0 / L1_HZ)
        ch.amplitude = 0.75
        b = synth.generate(7000)
    t1 = 9000 / FS
    assert carrier_phase == pytest.approx((0.1 + 1000.0 * t1) % 1.0, abs=1e-9)
    assert code_phase == pytest.approx((100.25 + first["code_rate_cps"] * t1) % 1023, abs=1e-9)
    second = gps_channel(5, -3000.0, code_phase, 0.75, carrier_phase_cycles=carrier_phase)
    want = np.concatenate([reference_signal(FS, 9000, [first]), reference_signal(FS, 7000, [second])])
    err = np.abs(np.concatenate([a, b]) - want)
    assert np.count_nonzero(err > 1e-4) <= 2
    # No jump at the boundary: the step between the last and first sample is the signal's own.
    assert abs(b[0] - want[9000]) < 1e-4


def correlation_snr_db(samples: np.ndarray, replica: np.ndarray, n_per: int) -> float:
    """Post-correlation SNR |mean|^2 / var of n_per-sample coherent sums."""
    y = (samples * np.conj(replica))[: samples.size // n_per * n_per].reshape(-1, n_per).sum(axis=1)
    return 10 * np.log10(abs(y.mean()) ** 2 / y.var())


@pytest.mark.parametrize("cn0", [39.0, 45.0])
def test_commanded_cn0_is_measured_after_correlation(cn0):
    fs, seconds = 4.0e6, 0.6
    target = gps_channel(3, 1700.0, 3.5, 1.0)
    other = gps_channel(11, -2200.0, 600.0, 1.0)
    synth = Synthesizer(fs, seed=11, noise_sigma=1.0)
    target.pop("amplitude")
    other.pop("amplitude")
    synth.add_channel(**target, cn0_dbhz=cn0)
    synth.add_channel(**other, cn0_dbhz=45.0)
    n = int(fs * seconds)
    x = synth.generate(n)
    replica = reference_signal(fs, n, [dict(target, amplitude=1.0)])
    # Coherent 1 ms sums: SNR = T * C/N0 (see onboard.core.siggen).
    expected = cn0 + 10 * np.log10(1e-3)
    assert correlation_snr_db(x, replica, 4000) == pytest.approx(expected, abs=0.5)


def test_amplitude_for_cn0_follows_the_documented_convention():
    # C = a^2, N0 = 2 sigma^2 / fs: 50 dB-Hz at 2 Msps with sigma 3.
    a = amplitude_for_cn0(50.0, 2e6, 3.0)
    assert 10 * np.log10(a**2 / (2 * 3.0**2 / 2e6)) == pytest.approx(50.0)


@pytest.mark.parametrize("fmt", list(SampleFormat))
def test_portable_and_avx2_paths_agree_with_noise(rng, fmt):
    require_cpu("avx2")
    scale = {SampleFormat.CF32: 1.0, SampleFormat.CI16: 2000.0, SampleFormat.CI8: 20.0}[fmt]
    outs = []
    for level in (simd.SimdLevel.PORTABLE, simd.SimdLevel.AVX2):
        synth = build(mixed_channels(np.random.default_rng(5)), seed=99, noise_sigma=1.0, scale=scale)
        with simd.forced(level):
            out = synth.generate(20001, fmt)
        outs.append(out.astype(np.complex128 if fmt == SampleFormat.CF32 else np.int32))
    diff = np.abs(outs[0] - outs[1])
    # Stated tolerance: 1e-5 of full scale in cf32, one LSB in ci16/ci8 (FMA rounding).
    assert diff.max() <= (1e-5 if fmt == SampleFormat.CF32 else 1)


def test_noise_does_not_depend_on_how_the_run_is_split(rng):
    whole = build(mixed_channels(np.random.default_rng(1)), seed=3).generate(25000)
    split = build(mixed_channels(np.random.default_rng(1)), seed=3)
    parts, done = [], 0
    while done < 25000:
        n = min(int(rng.integers(1, 4000)), 25000 - done)
        parts.append(split.generate(n))
        done += n
    assert np.abs(np.concatenate(parts) - whole).max() < 1e-4
    assert split.sample_index == 25000


def test_noise_seeds_differ_and_noise_has_the_commanded_power():
    a = Synthesizer(FS, seed=1, noise_sigma=2.0).generate(200000)
    b = Synthesizer(FS, seed=2, noise_sigma=2.0).generate(200000)
    assert np.mean(np.abs(a) ** 2) == pytest.approx(2 * 2.0**2, rel=0.01)
    assert abs(np.vdot(a, b)) / np.sqrt(np.vdot(a, a).real * np.vdot(b, b).real) < 0.01
    # White: neighbouring samples are uncorrelated.
    assert abs(np.vdot(a[1:], a[:-1])) / np.vdot(a, a).real < 0.01


def test_ci8_output_counts_clipped_components():
    synth = build([gps_channel(1, 0.0, 0.5, 1.0)], noise_sigma=0.0, scale=200.0)
    out = synth.generate(1000, SampleFormat.CI8)
    assert out.dtype == np.int8 and out.shape == (1000, 2)
    assert synth.clipped == np.count_nonzero(np.abs(out) == 127)
    assert synth.clipped > 0
    assert np.abs(out).max() == 127


def test_chip_table_maps_logic_one_to_minus_one_and_pads_by_wrapping():
    t = chip_table(np.array([0, 1, 1, 0, 1], np.uint8))
    assert t[:5].tolist() == [1, -1, -1, 1, -1]
    assert t[5:].tolist() == [1, -1, -1, 1, -1, 1, -1, -1]


def test_output_array_of_the_wrong_type_is_rejected():
    synth = Synthesizer(FS)
    with pytest.raises(ValueError, match="ci16 output needs a int16 array"):
        synth.generate(10, SampleFormat.CI16, np.zeros(40, np.int8))


def test_bad_channel_arguments_are_rejected_with_clear_messages():
    synth = Synthesizer(FS)
    with pytest.raises(ValueError, match="0/1 logic levels or"):
        synth.add_channel(np.array([0, 2, 1]), 1e6, amplitude=1.0)
    with pytest.raises(ValueError, match="exactly one of amplitude and cn0_dbhz"):
        synth.add_channel(codes.gps_l1ca(1), 1e6)
    with pytest.raises(ValueError, match="chips per sample"):
        synth.add_channel(codes.gps_l1ca(1), 200e6, amplitude=1.0)
    with pytest.raises(ValueError, match="outside 1 kHz"):
        Synthesizer(10.0)
    ch = synth.add_channel(codes.gps_l1ca(1), 1e6, amplitude=1.0)
    with pytest.raises(ValueError, match="must be finite"):
        ch.doppler_hz = float("nan")
    with pytest.raises(ValueError, match="\\+1 or -1"):
        ch.set_epoch_signs(np.array([1, 0, 1]))


@pytest.mark.sanitize
@pytest.mark.parametrize("level", PATHS)
def test_random_parameters_and_block_sizes_give_finite_output(rng, level):
    synth = Synthesizer(float(rng.uniform(2e6, 20e6)), seed=int(rng.integers(2**63)))
    for _ in range(int(rng.integers(1, 41))):
        n_chips = int(rng.integers(1, 3000))
        chips = rng.integers(0, 2, n_chips, dtype=np.uint8)
        synth.add_channel(chips, float(rng.uniform(0, 31.9) * synth.fs_hz) if rng.random() < 0.2
                          else float(rng.uniform(0, 1.2e7)),
                          code_phase_chips=float(rng.uniform(0, n_chips)),
                          doppler_hz=float(rng.normal(0, 1e4)),
                          doppler_rate_hz_s=float(rng.normal(0, 100)), amplitude=float(rng.uniform(0, 2)),
                          component=Component(int(rng.integers(2))),
                          epoch_signs=rng.choice([-1, 1], int(rng.integers(1, 50))))
    for _ in range(30):
        fmt = SampleFormat(int(rng.integers(3)))
        synth.scale = float(rng.choice([1.0, 30.0, 3000.0]))
        with simd.forced(level):
            out = synth.generate(int(rng.integers(0, 5000)), fmt)
        assert np.all(np.isfinite(out.astype(np.float64) if fmt != SampleFormat.CF32 else out))


def test_afs_node_matches_the_numpy_afs_reference(rng):
    """AFS-I data plus AFS-Q tiered pilot in quadrature, against oracles.afs_reference."""
    from oracles import afs_reference

    fs, n, prn, doppler, phase = 10.23e6, 60000, 12, 2345.6, 1000.25
    symbols = rng.integers(0, 2, 6000, dtype=np.uint8)
    scale = 1 + doppler / afs_reference.CARRIER_HZ
    rail = 1 / np.sqrt(2)
    synth = Synthesizer(fs, noise_sigma=0.0)
    synth.add_channel(codes.afs_i(prn), 1.023e6 * scale, code_phase_chips=phase, doppler_hz=doppler,
                      amplitude=rail, epoch_signs=1 - 2 * symbols.astype(np.int8))
    synth.add_channel(codes.afs_q_primary(prn), 5.115e6 * scale, code_phase_chips=5 * phase,
                      doppler_hz=doppler, amplitude=rail, component=Component.Q,
                      epoch_signs=1 - 2 * afs_reference.afs_q_tiered_chips(prn, 6000).astype(np.int8))
    got = synth.generate(n)
    want = afs_reference.afs_baseband(prn, symbols, fs, n / fs, doppler_hz=doppler, code_phase_chips=phase)
    err = np.abs(got - want)
    assert np.count_nonzero(err > 1e-4) <= 3
    assert np.median(err) < 1e-5


@pytest.mark.parametrize("level", PATHS)
def test_noise_distribution_is_near_gaussian_within_the_documented_tolerances(level):
    """The Irwin-Hall approximation of csrc/lr_siggen.h: mean 0, variance 1, kurtosis 2.996, the
    Gaussian tail probabilities to 3.5 sigma, thinner beyond 4 sigma and nothing beyond 4.33 sigma."""
    synth = Synthesizer(FS, seed=12345, noise_sigma=1.0)
    with simd.forced(level):
        x = synth.generate(2_000_000).astype(np.complex128)
    v = np.concatenate([x.real, x.imag])
    n = v.size
    assert abs(v.mean()) < 5 / np.sqrt(n)
    assert v.var() == pytest.approx(1.0, abs=5 * np.sqrt(2 / n))
    assert np.mean(v**4) / v.var() ** 2 == pytest.approx(3.0, abs=0.03)  # standard error 0.0024
    tails = {t: np.mean(np.abs(v) > t) for t in (1.0, 2.0, 3.0, 3.5, 4.0)}
    assert tails[1.0] == pytest.approx(0.3173, rel=0.01)
    assert tails[2.0] == pytest.approx(0.0455, rel=0.02)
    assert tails[3.0] == pytest.approx(0.0027, rel=0.12)
    assert tails[3.5] == pytest.approx(4.65e-4, rel=0.2)
    assert 5e-6 < tails[4.0] < 4e-5  # Gaussian 6.3e-5; the approximation gives 2.0e-5
    assert np.abs(v).max() < 4.34
    # I and Q independent of each other, not just uncorrelated: |n|^2 is exponential (E|n|^4 = 2 E|n|^2^2).
    assert abs(np.corrcoef(x.real, x.imag)[0, 1]) < 5 / np.sqrt(x.size)
    assert abs(np.corrcoef(x.real**2, x.imag**2)[0, 1]) < 5 / np.sqrt(x.size)
    assert np.mean(np.abs(x) ** 4) / np.mean(np.abs(x) ** 2) ** 2 == pytest.approx(2.0, abs=0.01)


GEOMETRY_BASE_S = (0.0205, 0.0253)  # each node's code epoch starts 0.5 and 0.3 ms before the first sample


def _geometry_channels() -> tuple[list, list]:
    """Two AFS-like nodes whose transmit-time offsets drift and curve: (sources, tracked channels)."""
    from hil.world.signal_geometry import TrackedChannel

    sources = [lambda t: -0.02 - 3.1e-6 * t + 4e-8 * t * t, lambda t: -0.025 + 2.2e-6 * t - 1e-8 * t * t]
    tracked = []
    for node, base in enumerate(GEOMETRY_BASE_S):
        tracked.append(TrackedChannel(2 * node, node, codes.AFS_I_CHIP_RATE_HZ, codes.AFS_I_CHIPS, base,
                                      2492.028e6))
        tracked.append(TrackedChannel(2 * node + 1, node, codes.AFS_Q_CHIP_RATE_HZ, codes.AFS_Q_PRIMARY_CHIPS,
                                      base, 2492.028e6))
    return sources, tracked


def _geometry_synth(fs: float) -> Synthesizer:
    sources, _ = _geometry_channels()
    synth = Synthesizer(fs, seed=5, noise_sigma=1.0, scale=16.0)
    for node, prn in enumerate((3, 8)):
        into_epoch_s = GEOMETRY_BASE_S[node] + sources[node](0.0)
        synth.add_channel(codes.afs_i(prn), codes.AFS_I_CHIP_RATE_HZ, cn0_dbhz=50.0,
                          code_phase_chips=into_epoch_s * codes.AFS_I_CHIP_RATE_HZ)
        synth.add_channel(codes.afs_q_primary(prn), codes.AFS_Q_CHIP_RATE_HZ, cn0_dbhz=50.0,
                          component=Component.Q, code_phase_chips=into_epoch_s * codes.AFS_Q_CHIP_RATE_HZ)
    return synth


@pytest.mark.parametrize("level", PATHS)
def test_geometry_updates_made_in_the_kernel_equal_updates_made_between_blocks(level):
    """The kernel applies the 100 Hz schedule itself; the same updates made from Python between
    blocks (set the rate that reaches the geometry's code count at the update's end, and the mean
    Doppler) give the same samples bit for bit."""
    from hil.world.signal_geometry import GeometrySynthesizer

    fs = 2.4e6
    sources, tracked = _geometry_channels()
    geo = GeometrySynthesizer(_geometry_synth(fs), sources, tracked, batch_updates=7)
    by_hand = _geometry_synth(fs)
    interval = geo.interval
    span = interval / fs
    n = 23 * interval + 1234
    with simd.forced(level):
        # Blocks of several updates that cross the batches of the schedule.  (A block that ends
        # inside an update restarts the kernel's sub-blocks there, so the float carrier takes other
        # roundings: csrc/tests/test_siggen.c checks that case.)
        blocks = (interval, 5 * interval, 11 * interval, n - 17 * interval)
        got = np.concatenate([geo.generate(k, SampleFormat.CF32) for k in blocks])
        want = np.empty(n, np.complex64)
        done = 0
        while done < n:
            update = done // interval
            t0, t1 = update * span, (update + 1) * span
            for tc in tracked:
                c = by_hand.channel(tc.channel)
                now = c.epochs * tc.n_chips + c.code_phase_chips
                target = (tc.base_s + t1 + sources[tc.source](t1)) * tc.chip_rate_hz
                c.code_rate_cps = (target - now) / span
                c.doppler_hz = tc.carrier_hz * (sources[tc.source](t1) - sources[tc.source](t0)) / span
            k = min(interval, n - done)
            by_hand.generate(k, SampleFormat.CF32, out=want[done:done + k])
            done += k
    np.testing.assert_array_equal(got, want)
    # And the code is where the geometry puts it at the last update.
    t_end = 23 * span
    assert geo.synth.channel(1).doppler_hz == pytest.approx(
        2492.028e6 * (sources[0](t_end + span) - sources[0](t_end)) / span)


def test_a_schedule_must_hold_one_row_per_channel_and_a_positive_interval():
    from onboard.core.siggen import Schedule

    with pytest.raises(ValueError, match="one row of code counts and Doppler per channel"):
        Schedule(100, 0, [0, 1], np.zeros((1, 5)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match="interval >= 1"):
        Schedule(0, 0, [0], np.zeros((1, 5)), np.zeros((1, 5)))
    synth = _geometry_synth(2.4e6)
    behind = Schedule(100, 0, [0], np.full((1, 3), -5.0), np.zeros((1, 3)))  # would need a negative rate
    out = np.empty((300, 2), np.int8)
    with pytest.raises(Exception, match="siggen generate"):
        synth.generate_scheduled(behind, 300, SampleFormat.CI8, out)
    assert synth.sample_index == 0
    start = synth.channel(0).code_phase_chips
    ahead = Schedule(100, 0, [0], np.array([[start + 40.0, start + 80.0, start + 120.0]]), np.zeros((1, 3)))
    assert synth.generate_scheduled(ahead, 1000, SampleFormat.CI8, np.empty((1000, 2), np.int8)) == 300
    assert synth.channel(0).code_phase_chips == pytest.approx(start + 120.0, abs=1e-6)
