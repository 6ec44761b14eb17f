"""The tracking correlators and loops of the C core (onboard/core/track.py): every kernel against
the float64 numpy reference, epoch positions against the synthesiser's truth, and the binding's checks."""

import numpy as np
import pytest

from hil.world.lunar_sky import pilot_signs as afs_pilot_signs
from onboard.core import codes, simd
from onboard.core.siggen import Component, Synthesizer
from onboard.core.track import Kernel, Mode, SampleFormat, Tracker, code_table, reference_correlate

FS = 10.23e6
CARRIER = 2492.028e6
PRN = 5
KERNELS = [(Kernel.SCALAR, None)] + [(Kernel.SIMD, level) for level in
                                     sorted({simd.SimdLevel.PORTABLE, simd.supported()})]


def afs_node(doppler_hz: float, phase_q: float, noise: float = 0.0, seed: int = 1) -> Synthesizer:
    synth = Synthesizer(FS, seed=seed, noise_sigma=noise)
    scale = 1 + doppler_hz / CARRIER
    rng = np.random.default_rng(seed)
    synth.add_channel(codes.afs_i(PRN), 1.023e6 * scale, code_phase_chips=phase_q / 5, doppler_hz=doppler_hz,
                      amplitude=0.7, carrier_phase_cycles=0.1,
                      epoch_signs=rng.choice(np.array([-1, 1], np.int8), 100))
    synth.add_channel(codes.afs_q_primary(PRN), 5.115e6 * scale, code_phase_chips=phase_q,
                      doppler_hz=doppler_hz, amplitude=0.7, carrier_phase_cycles=0.1, component=Component.Q,
                      epoch_signs=afs_pilot_signs(PRN))
    return synth


def node_tracker(doppler_hz: float, phase_q: float, kernel: Kernel) -> Tracker:
    tracker = Tracker(FS, kernel=kernel)
    tracker.add_channel(codes.afs_q_primary(PRN), 5.115e6, main_component=1, data_chips=codes.afs_i(PRN),
                        code_phase_chips=phase_q, carrier_hz=doppler_hz, carrier_freq_hz=CARRIER,
                        carrier_cycles=0.1)
    return tracker


@pytest.mark.parametrize("kernel, level", KERNELS, ids=lambda k: getattr(k, "name", str(k)))
def test_open_loop_dumps_match_the_float64_reference_epoch_by_epoch(kernel, level):
    doppler, phase = -3210.0, 2345.6
    x = afs_node(doppler, phase).generate(int(0.012 * FS))
    tracker = node_tracker(doppler, phase, kernel)
    if level is None:
        dumps = tracker.process(x).copy()
    else:
        with simd.forced(level):
            dumps = tracker.process(x).copy()
    assert dumps.size == 6 and np.array_equal(dumps["epoch"], np.arange(6))
    rate = 5.115e6 * (1 + doppler / CARRIER)
    step = rate / FS
    want_starts = (10230 - phase) / step + np.arange(5) * 10230 / step
    np.testing.assert_allclose(dumps["start_sample"][1:], want_starts, atol=1e-6)
    ends = np.append(dumps["start_sample"][1:], np.inf)
    for d, end in zip(dumps[1:-1], ends[1:-1], strict=True):
        first, last = int(np.ceil(d["start_sample"])), int(np.ceil(end))
        carrier_first = d["carrier_cycles"] - (end - first) * doppler / FS
        phase_first = (first - d["start_sample"]) * step
        want = reference_correlate(x[first:last], FS, codes.afs_q_primary(PRN), phase_first, rate,
                                   carrier_first, doppler, data_chips=codes.afs_i(PRN))
        got = np.array([d["e_re"] + 1j * d["e_im"], d["p_re"] + 1j * d["p_im"], d["l_re"] + 1j * d["l_im"],
                        d["d_re"] + 1j * d["d_im"]])
        scale = abs(want[1])
        assert scale > 0.6 * 0.7 * (last - first)
        # The scalar kernel's 1024-entry carrier table costs up to 0.2 degree.
        np.testing.assert_allclose(got, want, atol=(5e-3 if kernel == Kernel.SCALAR else 1e-4) * scale)
        assert d["n_samples"] == last - first


def test_pilot_mode_is_driven_through_the_live_channel_view():
    x = afs_node(800.0, 0.0).generate(int(0.02 * FS))
    tracker = node_tracker(800.0, 0.0, Kernel.SIMD)
    ch = tracker.channel(0)
    ch.set_pilot(afs_pilot_signs(PRN), 0, n_coherent=4)
    ch.set_loops(10.0, 0.0, 1.0)
    dumps = tracker.process(x)
    assert ch.mode == Mode.PILOT
    assert dumps["pilot_index"].tolist() == list(range(10))
    assert ch.pilot_index == 10
    assert abs(ch.carrier_hz - 800.0) < 0.5
    assert abs(float(dumps["pll_error_cycles"][-1])) < 0.01
    with pytest.raises(ValueError, match="outside"):
        ch.set_pilot(afs_pilot_signs(PRN), 6000, 1)
    with pytest.raises(ValueError, match="finite"):
        ch.carrier_hz = float("nan")


def test_integer_formats_track_like_cf32():
    synth = afs_node(0.0, 10.0, noise=3.0)
    x16 = synth.generate(int(0.01 * FS), SampleFormat.CI16)
    xf = (x16[:, 0] + 1j * x16[:, 1]).astype(np.complex64)
    a = node_tracker(0.0, 10.0, Kernel.SIMD).process(x16, "ci16").copy()
    b = node_tracker(0.0, 10.0, Kernel.SIMD).process(xf, "cf32").copy()
    assert a.tobytes() == b.tobytes()


def test_the_tracker_the_synthesiser_and_the_iq_layer_give_each_sample_format_one_code():
    from onboard.core._api import lib

    codes_ = [int(f) for f in SampleFormat]   # the one SampleFormat of onboard.core.siggen
    assert codes_ == [lib.LR_TRACK_CF32, lib.LR_TRACK_CI16, lib.LR_TRACK_CI8]
    assert codes_ == [lib.LR_IQ_CF32, lib.LR_IQ_CI16, lib.LR_IQ_CI8]


def test_the_binding_refuses_wrong_sample_arrays_and_bad_codes():
    tracker = node_tracker(0.0, 0.0, Kernel.SIMD)
    with pytest.raises(ValueError, match="complex64"):
        tracker.process(np.zeros(10, np.complex128))
    with pytest.raises(ValueError, match="pairs"):
        tracker.process(np.zeros(3, np.int8), "ci8")
    with pytest.raises(ValueError, match="0/1"):
        code_table(np.array([0, 2, 1]))
    table = code_table(np.array([0, 1, 1, 0], np.uint8))
    assert table.size == 4 + 2 * 32 and table[32:36].tolist() == [0, -1, -1, 0] and table[31] == 0


@pytest.mark.sanitize
def test_hostile_samples_and_channel_values_never_corrupt_the_tracker(rng):
    tracker = node_tracker(100.0, 5.0, Kernel.SIMD)
    ch = tracker.channel(0)
    ch.set_loops(15.0, 10.0, 2.0)
    x = (rng.standard_normal(50_000) + 1j * rng.standard_normal(50_000)).astype(np.complex64)
    x[::5] = np.nan
    x[1::9] = np.inf
    x[2::11] = 3e38
    for kernel in (Kernel.SIMD, Kernel.SCALAR):
        tracker._state.kernel = int(kernel)
        dumps = tracker.process(x)
        assert np.isfinite(dumps["p_re"]).all() and np.isfinite(dumps["pll_error_cycles"]).all()
    assert np.isfinite([ch.carrier_hz, ch.code_rate_cps, ch.code_phase_chips]).all()
    ints = rng.integers(-128, 128, 2 * 30_000, dtype=np.int8)
    assert tracker.process(ints, "ci8").size >= 1
    from onboard.core import CoreError

    ch.early_late_chips = 5.0  # outside 0..2: refused, nothing processed
    before = tracker.next_sample
    with pytest.raises(CoreError, match="arg"):
        tracker.process(x)
    assert tracker.next_sample == before
