"""The numpy FFT acquisition (oracles.acquisition) on the C kernel's AFS output.

One AFS node from :class:`onboard.core.siggen.Synthesizer`: AFS-I with data symbols as epoch signs
and AFS-Q in quadrature with its secondary x tertiary overlay as epoch signs, code Doppler on both,
complex noise from the kernel at 45 dB-Hz in total (42 dB-Hz per component, LSIS 50/50 split).
"""

import numpy as np
import pytest
from oracles import acquisition as acq
from oracles import afs_reference as ar

from onboard.core import codes, simd
from onboard.core.siggen import Component, Synthesizer

FS = 10.23e6
PATHS = sorted({simd.SimdLevel.PORTABLE, simd.supported()})


def afs_node(rng, prn: int, code_phase_chips: float, doppler_hz: float, cn0_dbhz: float,
             seed: int) -> Synthesizer:
    scale = 1 + doppler_hz / ar.CARRIER_HZ
    symbols = rng.integers(0, 2, 64, dtype=np.uint8)
    synth = Synthesizer(FS, seed=seed, noise_sigma=1.0)
    per_component = cn0_dbhz - 10 * np.log10(2)
    synth.add_channel(codes.afs_i(prn), ar.AFS_I_CHIP_RATE_HZ * scale, code_phase_chips=code_phase_chips,
                      doppler_hz=doppler_hz, carrier_phase_cycles=float(rng.uniform()),
                      cn0_dbhz=per_component, epoch_signs=1 - 2 * symbols.astype(np.int8))
    synth.add_channel(codes.afs_q_primary(prn), ar.AFS_Q_CHIP_RATE_HZ * scale,
                      code_phase_chips=5 * code_phase_chips, doppler_hz=doppler_hz,
                      carrier_phase_cycles=float(rng.uniform()), cn0_dbhz=per_component,
                      component=Component.Q,
                      epoch_signs=1 - 2 * ar.afs_q_tiered_chips(prn, 64).astype(np.int8))
    return synth


def circular_distance(a: int, b: int, n: int) -> int:
    d = abs(a - b) % n
    return min(d, n - d)


@pytest.mark.parametrize("level", PATHS)
@pytest.mark.parametrize("prn, code_phase, doppler", [(7, 1000.5, -1530.0), (150, 17.25, 3890.0)])
def test_afs_i_and_q_from_the_c_kernel_are_acquired_at_the_annotated_phase_and_doppler(
        rng, level, prn, code_phase, doppler):
    synth = afs_node(rng, prn, code_phase, doppler, 45.0, seed=prn)
    with simd.forced(level):
        x = synth.generate(int(0.012 * FS))
    # The kernel is code_phase chips into the AFS-I period at sample 0, so the next period (of
    # AFS-I and of AFS-Q, which runs at 5x the rate from 5x the phase) starts this much later.
    rate = ar.AFS_I_CHIP_RATE_HZ * (1 + doppler / ar.CARRIER_HZ)
    want = (2046 - code_phase) * FS / rate
    for signal in (acq.Signal.AFS_I, acq.Signal.AFS_Q):
        result = acq.acquire(x, FS, signal, prn)
        assert result.detected, signal
        assert circular_distance(result.code_phase_samples, round(want), result.samples_per_period) <= 1
        assert abs(result.doppler_hz - doppler) <= result.doppler_step_hz
    # Another PRN's code is not found in the same samples.
    assert not acq.acquire(x, FS, acq.Signal.AFS_I, prn + 1).detected
