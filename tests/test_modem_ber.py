"""Bit error rates through the whole modem (modulator, channel with offset and phase,
demodulator and its loops) against theory, as CI can afford: uncoded BPSK and QPSK at two
Eb/N0 values each, and the rate-1/2 soft Viterbi code at 4 dB.  The measured rate must be
explained by an Eb/N0 within 0.5 dB of the nominal: the 99.9 % Wilson interval of the count
must overlap theory's BER between Eb/N0 - 0.5 dB and Eb/N0 + 0.5 dB.  The full curves, to 1e-5,
are ``lunarelay bench ber``."""

from __future__ import annotations

import pytest

from hil.ber import coded_ber, ebn0_for_ber, theory_ber, uncoded_ber
from onboard.core.modem import Scheme


@pytest.mark.parametrize("scheme", [Scheme.BPSK, Scheme.QPSK])
@pytest.mark.parametrize("ebn0_db, n_bits", [(4.0, 200_000), (7.0, 600_000)])
def test_uncoded_ber_is_within_half_a_db_of_theory(scheme, ebn0_db, n_bits):
    count = uncoded_ber(scheme, ebn0_db, n_bits, seed=3)
    assert count.trials >= n_bits - 1000
    assert count.errors >= 100  # enough errors for the bound to mean something
    lo, hi = count.bounds()
    assert lo <= theory_ber(ebn0_db - 0.5), (count, lo)
    assert hi >= theory_ber(ebn0_db + 0.5), (count, hi)
    # and the point estimate itself is within 0.5 dB
    assert abs(ebn0_for_ber(count.rate) - ebn0_db) < 0.5


def test_the_comparison_can_fail_a_demodulator_that_loses_3_db():
    # the same measurement at 3 dB less Eb/N0 lies outside the band around the nominal value
    count = uncoded_ber(Scheme.BPSK, 4.0, 200_000, seed=3)
    shifted = uncoded_ber(Scheme.BPSK, 1.0, 200_000, seed=3)
    assert shifted.bounds()[0] > theory_ber(4.0 - 0.5)
    assert count.bounds()[0] <= theory_ber(4.0 - 0.5)


def test_rate_half_soft_viterbi_after_the_demodulator_is_below_1e_4_at_4_db():
    # K=7 r=1/2 with soft decisions reaches 1e-5 near 4.4 dB (uncoded BPSK at 4 dB: 1.25e-2);
    # errors come in bursts, so the bound is on a count of bits, not of independent events
    count = coded_ber(4.0, 400_000, seed=5)
    assert count.trials >= 390_000
    assert count.bounds()[1] < 1e-4
    assert count.rate < theory_ber(4.0) / 100
