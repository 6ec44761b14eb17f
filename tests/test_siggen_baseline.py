"""The siggen bench's gps-sdr-sim-style scalar baseline (tools/bench/csrc/siggen_baseline.c, built
for the bench only): it synthesises the same signal as the C core's kernel, and refuses what its
integer loop cannot hold without writing anything."""

import numpy as np
import pytest

from lunarelay_tools.bench.siggen_baseline import BaselineChannel, ScalarBaseline
from onboard.core.siggen import SampleFormat, Synthesizer

FS = 4e6


def test_scalar_baseline_produces_the_signal_of_the_kernel_and_advances_its_code_phase_alike():
    chips = np.random.default_rng(7).integers(0, 2, 1023)
    synth = Synthesizer(FS, seed=1, noise_sigma=0.0, scale=2000.0)
    ch = synth.add_channel(chips, 1.023e6, code_phase_chips=10.3, doppler_hz=1500.0, amplitude=1.0)
    base = ScalarBaseline.like(synth)
    kernel = synth.generate(20000, SampleFormat.CI16).astype(float).ravel()
    loop = base.generate(20000).astype(float).ravel()
    assert kernel @ loop / np.sqrt((kernel @ kernel) * (loop @ loop)) > 0.99
    assert base.code_phase_chips(0) == pytest.approx(ch.code_phase_chips, abs=1e-6)


def test_a_code_step_longer_than_a_one_chip_code_stays_inside_the_table():
    base = ScalarBaseline(FS, [BaselineChannel(np.ones(1), 31.0 * FS)])
    base.generate(100)
    assert 0.0 <= base.code_phase_chips(0) < 1.0


def test_a_gain_beyond_the_integer_loop_is_refused_and_nothing_changes():
    base = ScalarBaseline(FS, [BaselineChannel(np.ones(1023), 1.023e6, code_phase_chips=5.0)], scale=1e9)
    out = np.full((100, 2), 7, np.int16)
    with pytest.raises(ValueError, match="gain beyond 2\\^17"):
        base.generate(100, out)
    assert (out == 7).all() and base.code_phase_chips(0) == 5.0


def test_a_chip_table_entry_other_than_plus_or_minus_one_is_refused():
    base = ScalarBaseline(FS, [BaselineChannel(np.ones(1023), 1.023e6)])
    base._tables[0][100] = -128                 # passes a gain bound that assumes +1/-1 chips
    with pytest.raises(ValueError, match="not \\+1/-1"):
        base.generate(100)
